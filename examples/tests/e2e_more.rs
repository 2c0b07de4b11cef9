//! More end-to-end tests through the local Runtime API emulator, with the real function
//! binaries: `run_concurrent` attribution (issue 3), validation outcomes (issue 6) and the
//! `/tmp` wipe's place in the invocation cycle (issue 7).
#![allow(missing_docs)]

use fnshield_tests::emulator::{
    Emulator, FunctionProcess, RequestId, TimelineEntry, TimelineEvent,
};
use serde_json::{json, Value};
use std::path::Path;

mod common;
use common::Setup;

fn setup(name: &str, sinks: &str, extra_toml: &str) -> Setup {
    common::setup(&format!("e2e-more-{name}"), sinks, extra_toml)
}

async fn start(s: &Setup, bin: &str, envs: &[(&str, &str)]) -> (Emulator, FunctionProcess) {
    common::start(s, bin, "e2e-more", envs).await
}

const SHIELDED_FN: &str = env!("CARGO_BIN_EXE_shielded_fn");
const CONCURRENT_FN: &str = env!("CARGO_BIN_EXE_concurrent_fn");

/// A fixture from `tests/data/events/`.
fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/events")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Copies the order schema (2020-12) into the task root as `schemas/order.json`.
fn order_schema(s: &Setup) {
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/events/schemas/order.2020-12.json"),
        s.task.join("schemas/order.json"),
    )
    .unwrap();
}

fn count_next(t: &[TimelineEntry]) -> usize {
    t.iter()
        .filter(|e| matches!(e.event(), TimelineEvent::NextRequested))
        .count()
}

// ---- issue 3: run_concurrent ----

#[tokio::test(flavor = "multi_thread")]
async fn run_concurrent_attributes_each_event_to_its_own_invocation() {
    const N: usize = 4;
    // One forbidden listener per invocation: the port tells whose connect an event is.
    let targets: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.2:0").unwrap())
        .collect();
    let s = setup("concurrent", r#"["json"]"#, "");
    let (emu, _p) = start(&s, CONCURRENT_FN, &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]).await;
    // The function's handler waits until all four are in flight, then connects: the four
    // connects happen while four invocations are running.
    let calls: Vec<(RequestId, u16)> = targets
        .iter()
        .map(|l| {
            let port = l.local_addr().unwrap().port();
            let id = emu.invoke(json!({
                "action": "fetch",
                "target": format!("127.0.0.2:{port}"),
                "barrier": true,
            }));
            (id, port)
        })
        .collect();
    for (id, _) in &calls {
        let r = emu.result(id).await.expect_response();
        assert_eq!(r["ok"], false, "{r}");
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .contains("Operation not permitted"),
            "{r}"
        );
    }
    // Each of the four pollers asks for its next event after it has flushed its invocation's
    // events: 4 initial polls + 4 after the results.
    emu.wait_timeline("every poller back at /next", |t| {
        (count_next(t) >= 2 * N).then_some(())
    })
    .await;
    let all = emu.shield_events();
    for (id, port) in &calls {
        let mine: Vec<&Value> = all
            .iter()
            .filter(|v| v["details"]["port"] == *port)
            .collect();
        assert_eq!(
            mine.len(),
            1,
            "one event for port {port}:\n{}",
            emu.render_timeline()
        );
        let e = mine[0];
        assert_eq!(
            e["request_id"],
            id.as_str(),
            "the connect to port {port} was made by {id}:\n{}",
            emu.render_timeline()
        );
        assert_eq!(e["policy"], "outbound_connectivity");
        assert_eq!(e["action"], "blocked");
        assert_eq!(e["details"]["ip"], "127.0.0.2");
        assert_eq!(e["count"], 1);
        assert_eq!(
            emu.shield_events_for(id).len(),
            1,
            "{}",
            emu.render_timeline()
        );
    }
    assert!(
        !all.iter().any(|v| v["request_id"] == "unknown"),
        "{}",
        emu.render_timeline()
    );
}

// ---- issue 6: validation through the emulator ----

#[tokio::test(flavor = "multi_thread")]
async fn api_gateway_v1_invalid_body_gets_a_400_that_echoes_nothing() {
    let s = setup(
        "apigw",
        r#"["json"]"#,
        "[validation]\nschema = \"schemas/order.json\"\nenvelope = \"api_gateway_v1\"\n",
    );
    order_schema(&s);
    let (emu, _p) = start(&s, SHIELDED_FN, &[]).await;

    // A valid request reaches the handler (the example echoes an event without "action").
    let r = emu
        .call(fixture("api_gateway_v1_valid.json"))
        .await
        .expect_response();
    assert_eq!(r["httpMethod"], "POST", "{r}");

    for (name, path) in [
        ("api_gateway_v1_invalid.json", "/body/orderId"),
        ("api_gateway_v1_not_json.json", "/body"),
    ] {
        let id = emu.invoke(fixture(name));
        let result = emu.result(&id).await;
        let r = result.expect_response();
        assert_eq!(r["statusCode"], 400, "{name}: {r}");
        assert!(
            r.get("httpMethod").is_none(),
            "{name}: the handler ran: {r}"
        );
        let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        let errors = body["errors"].as_array().unwrap();
        assert!(!errors.is_empty(), "{name}: {body}");
        for e in errors {
            assert!(e["path"].is_string() && e["message"].is_string(), "{e}");
        }
        assert!(
            errors.iter().any(|e| e["path"] == path),
            "{name}: no error at {path}: {body}"
        );
        let raw = serde_json::to_string(&r).unwrap();
        assert!(!raw.contains("SECRET"), "{name}: input echoed: {raw}");

        emu.wait_next_after(&id).await;
        let lines = emu.shield_events_for(&id);
        assert_eq!(lines.len(), 1, "{}", emu.render_timeline());
        assert_eq!(lines[0]["policy"], "input_validation");
        assert_eq!(lines[0]["action"], "blocked");
        assert!(!lines[0].to_string().contains("SECRET"), "{}", lines[0]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqs_partial_batch_hands_valid_records_on_and_reports_the_invalid_one() {
    let s = setup(
        "sqs",
        r#"["json"]"#,
        "[validation]\nschema = \"schemas/order.json\"\nenvelope = \"sqs\"\nsqs_partial_batch = true\n",
    );
    order_schema(&s);
    // Three records of the realistic mixed batch: valid, invalid (schema), valid.
    let mut event = fixture("sqs_mixed.json");
    let records = event["Records"].as_array_mut().unwrap();
    records.remove(2); // the not-JSON record
    assert_eq!(records.len(), 3);
    let ids: Vec<String> = records
        .iter()
        .map(|r| r["messageId"].as_str().unwrap().to_owned())
        .collect();
    let (emu, _p) = start(&s, SHIELDED_FN, &[]).await;
    let r = emu.call(event).await.expect_response();
    // The example handler echoes the event it got (an SQS event has no "action").
    let seen: Vec<&str> = r["Records"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|rec| rec["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(seen, vec![ids[0].as_str(), ids[2].as_str()], "{r}");
    assert_eq!(
        r["batchItemFailures"],
        json!([{"itemIdentifier": ids[1]}]),
        "{r}"
    );
    assert!(!r.to_string().contains("SECRET"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_response_is_blocked() {
    let s = setup(
        "response",
        r#"["json"]"#,
        "[validation]\nresponse_schema_json = '{\"type\":\"object\",\"required\":[\"ok\"]}'\n",
    );
    let (emu, _p) = start(&s, SHIELDED_FN, &[]).await;
    // A response with "ok" passes.
    let r = emu
        .call(json!({"action": "exists", "target": "/nonexistent-fnshield"}))
        .await
        .expect_response();
    assert_eq!(r, json!({"ok": true, "result": "false"}));
    // The echo has no "ok": withheld.
    let id = emu.invoke(json!({"action": "echo", "secret": "SECRET-value"}));
    let result = emu.result(&id).await;
    let e = result.expect_error();
    assert_eq!(e.error_type(), "Shield.InvalidResponse", "{e}");
    assert!(!e.error_message().contains("SECRET"), "{e}");
    emu.wait_next_after(&id).await;
    let lines = emu.shield_events_for(&id);
    assert_eq!(lines.len(), 1, "{}", emu.render_timeline());
    assert_eq!(lines[0]["policy"], "input_validation");
    assert_eq!(lines[0]["details"]["target"], "response");
}

// ---- issue 7: the wipe's place in the cycle ----

#[tokio::test(flavor = "multi_thread")]
async fn tmp_wipe_runs_after_the_response_and_before_next() {
    let s = setup("wipe", r#"["json", "emf"]"#, "");
    let (emu, _p) = start(&s, SHIELDED_FN, &[]).await;
    let planted = s.tmp.join("planted");
    let id = emu.invoke(json!({"action": "write", "target": planted}));
    assert_eq!(emu.result(&id).await.expect_response()["ok"], true);
    emu.wait_next_after(&id).await;

    let t = emu.timeline();
    let posted = t.iter().position(|e| e.event().is_result_of(&id)).unwrap();
    let next = posted
        + t[posted..]
            .iter()
            .position(|e| matches!(e.event(), TimelineEvent::NextRequested))
            .unwrap();
    // The wipe's EMF lines, with their position and FilesRemoved.
    let wipes: Vec<(usize, u64)> = t
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e.event() {
            TimelineEvent::LogLine { line, .. } if line.contains("\"FilesRemoved\"") => {
                let v: Value = serde_json::from_str(line).ok()?;
                Some((i, v["FilesRemoved"].as_u64()?))
            }
            _ => None,
        })
        .collect();
    let removing: Vec<usize> = wipes
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(
        removing.len(),
        1,
        "one wipe removed the planted file:\n{}",
        emu.render_timeline()
    );
    assert!(
        posted < removing[0] && removing[0] < next,
        "expected response posted ({posted}) < wipe report ({}) < next ({next}):\n{}",
        removing[0],
        emu.render_timeline()
    );
    assert_eq!(wipes.iter().find(|(i, _)| *i == removing[0]).unwrap().1, 1);
    // And it *began* after the response had been received by the Runtime API: the wipe's start
    // (wall clock, µs, from the function) is not earlier than the emulator's record of the
    // posted response (wall clock, same machine).
    let TimelineEvent::LogLine { line, .. } = t[removing[0]].event() else {
        unreachable!()
    };
    let started_us = serde_json::from_str::<Value>(line).unwrap()["WipeStartedAtMicros"]
        .as_u64()
        .unwrap();
    let posted_us = t[posted]
        .wall()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    assert!(
        started_us >= posted_us,
        "the wipe began {} µs before the response was posted",
        posted_us - started_us
    );

    // Invocation 2 does not find invocation 1's file.
    let r = emu
        .call(json!({"action": "exists", "target": planted}))
        .await
        .expect_response();
    assert_eq!(r["result"], "false", "invocation 1's file survived");
    assert!(!planted.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_partial_batches_answer_each_source_in_its_own_shape() {
    let s = setup(
        "auto-batches",
        r#"["json"]"#,
        "[validation]\nschema = \"schemas/order.json\"\nenvelope = \"auto\"\npartial_batch = true\n",
    );
    order_schema(&s);
    let (emu, _p) = start(&s, SHIELDED_FN, &[]).await;

    // DynamoDB Streams: record 1 is invalid, record 2 is withheld (same shard, order kept).
    let event = fixture("dynamodb_streams_invalid.json");
    let id = emu.invoke(event.clone());
    let r = emu.result(&id).await.expect_response();
    assert_eq!(r["Records"], json!([event["Records"][0]]), "{r}");
    assert_eq!(
        r["batchItemFailures"],
        json!([
            {"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]},
            {"itemIdentifier": event["Records"][2]["dynamodb"]["SequenceNumber"]},
        ]),
        "{r}"
    );
    assert!(!r.to_string().contains("SECRET"), "{r}");
    emu.wait_next_after(&id).await;
    let lines = emu.shield_events_for(&id);
    assert_eq!(lines.len(), 1, "{}", emu.render_timeline());
    assert_eq!(
        lines[0]["details"]["envelope"], "dynamodb_streams",
        "{}",
        lines[0]
    );

    // Kafka: identifiers are {partition, offset}; the other partition is untouched.
    let event = fixture("kafka_invalid.json");
    let r = emu.call(event.clone()).await.expect_response();
    assert_eq!(
        r["records"],
        json!({"orders-0": [event["records"]["orders-0"][0]],
               "orders-1": event["records"]["orders-1"]}),
        "{r}"
    );
    assert_eq!(
        r["batchItemFailures"],
        json!([
            {"itemIdentifier": {"partition": "orders-0", "offset": 16}},
            {"itemIdentifier": {"partition": "orders-0", "offset": 17}},
        ]),
        "{r}"
    );

    // Firehose: the handler's answer (here its echo of the two valid records) plus
    // ProcessingFailed for the invalid one, with its original data.
    let event = fixture("kinesis_firehose_invalid.json");
    let r = emu.call(event.clone()).await.expect_response();
    let records = r["records"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(records.len(), 3, "{r}");
    assert_eq!(records[0], event["records"][0]);
    assert_eq!(records[1], event["records"][2]);
    assert_eq!(
        records[2],
        json!({"recordId": event["records"][1]["recordId"], "result": "ProcessingFailed",
               "data": event["records"][1]["data"]})
    );
}
