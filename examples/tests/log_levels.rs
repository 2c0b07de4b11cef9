//! Issue 15, items 3–5: the shield's log lines and metrics survive Lambda's log-level
//! filtering, one EMF line per invocation, one dimension name, one attribution per event.
//!
//! Lambda's rule (JSON log format, `AWS_LAMBDA_LOG_LEVEL`), from the "Log-level filtering"
//! page of the Lambda developer guide: a line is classified by its `level` key; a line that is
//! not a JSON object, or has no valid `level`, or no valid RFC 3339 `timestamp`, is INFO. Lines
//! below the configured level are dropped. [`lambda_keeps`] implements exactly that.
#![allow(missing_docs)]

use fnshield_tests::emulator::{Emulator, FunctionProcess, RequestId};
use serde_json::{json, Value};

mod common;

const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

fn rank(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .expect("a Lambda log level")
}

/// A valid RFC 3339 date-time in the shape Lambda accepts (`2024-11-02T16:51:31.587199Z`).
fn rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (s.ends_with('Z') || s[19..].contains('+') || s[19..].contains('-'))
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .iter()
            .all(|r| b[r.clone()].iter().all(u8::is_ascii_digit))
}

/// The level Lambda gives a line it reads from the function's stdout.
fn lambda_level(line: &str) -> usize {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(line) else {
        return rank("INFO");
    };
    let ts_ok = m
        .get("timestamp")
        .and_then(Value::as_str)
        .is_some_and(rfc3339);
    match m.get("level").and_then(Value::as_str) {
        Some(l) if ts_ok && LEVELS.iter().any(|k| k.eq_ignore_ascii_case(l)) => rank(l),
        _ => rank("INFO"),
    }
}

/// Whether Lambda forwards `line` under `AWS_LAMBDA_LOG_LEVEL=filter`.
fn lambda_keeps(line: &str, filter: &str) -> bool {
    lambda_level(line) >= rank(filter)
}

async fn start(name: &str, filter: &str) -> (Emulator, FunctionProcess, common::Setup) {
    let s = common::setup(
        &format!("levels-{name}"),
        r#"["json", "emf"]"#,
        "[outbound_connectivity]\nmode = \"alert\"\n",
    );
    let (emu, p) = common::start(
        &s,
        env!("CARGO_BIN_EXE_shielded_fn"),
        "levels",
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", filter),
        ],
    )
    .await;
    (emu, p, s)
}

/// The lines Lambda would keep, parsed, that belong to invocation `id`.
fn kept_for(p: &FunctionProcess, filter: &str, id: &RequestId) -> Vec<Value> {
    p.stdout_lines()
        .iter()
        .filter(|l| lambda_keeps(l, filter))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["request_id"] == id.as_str())
        .collect()
}

fn is_emf(v: &Value) -> bool {
    v["_aws"].is_object()
}

/// One blocked read of `/proc/self/environ`, one alerted connect.
async fn block_then_alert(emu: &Emulator) -> (RequestId, RequestId) {
    let block = emu.invoke(json!({"action": "read", "target": "/proc/self/environ"}));
    assert_eq!(emu.result(&block).await.expect_response()["ok"], false);
    emu.wait_next_after(&block).await;
    // Nothing listens on 127.0.0.2:9: the connect is refused, after the alert.
    let alert = emu.invoke(json!({"action": "fetch", "target": "127.0.0.2:9"}));
    emu.result(&alert).await.expect_response();
    emu.wait_next_after(&alert).await;
    (block, alert)
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_and_blocks_survive_a_warn_filter_with_their_metrics() {
    let (emu, p, _s) = start("warn", "WARN").await;
    let (block, alert) = block_then_alert(&emu).await;

    let kept = kept_for(&p, "WARN", &block);
    let events: Vec<_> = kept
        .iter()
        .filter(|v| v["function_shield"] == true)
        .collect();
    assert_eq!(events.len(), 1, "{kept:?}\n{}", emu.render_timeline());
    assert_eq!(events[0]["policy"], "read_handler");
    assert_eq!(events[0]["level"], "ERROR");
    let emf: Vec<_> = kept.iter().filter(|v| is_emf(v)).collect();
    assert_eq!(emf.len(), 1, "one EMF line per invocation: {kept:?}");
    assert_eq!(emf[0]["read_handler_blocked"], 1, "{kept:?}");

    let kept = kept_for(&p, "WARN", &alert);
    let events: Vec<_> = kept
        .iter()
        .filter(|v| v["function_shield"] == true)
        .collect();
    assert_eq!(events.len(), 1, "{kept:?}\n{}", emu.render_timeline());
    assert_eq!(events[0]["policy"], "outbound_connectivity");
    assert_eq!(events[0]["action"], "alerted");
    let emf: Vec<_> = kept.iter().filter(|v| is_emf(v)).collect();
    assert_eq!(emf.len(), 1, "{kept:?}");
    assert_eq!(emf[0]["outbound_connectivity_alerted"], 1, "{kept:?}");

    // One dimension name everywhere, and every metric line names its function under it.
    for line in p.stdout_lines().iter().filter(|l| l.contains("\"_aws\"")) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"]]),
            "{line}"
        );
        assert_eq!(v["FunctionName"], emu.function_name(), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blocks_survive_an_error_filter_with_their_metrics() {
    let (emu, p, _s) = start("error", "ERROR").await;
    let (block, alert) = block_then_alert(&emu).await;

    let kept = kept_for(&p, "ERROR", &block);
    assert_eq!(
        kept.iter().filter(|v| v["function_shield"] == true).count(),
        1,
        "{kept:?}\n{}",
        emu.render_timeline()
    );
    let emf: Vec<_> = kept.iter().filter(|v| is_emf(v)).collect();
    assert_eq!(emf.len(), 1, "{kept:?}");
    assert_eq!(emf[0]["read_handler_blocked"], 1);
    // An alert is a WARN: an ERROR filter drops it and its metric line, and only those.
    assert!(kept_for(&p, "ERROR", &alert).is_empty());
    assert_eq!(kept_for(&p, "WARN", &alert).len(), 2);
}

/// The `tracing` sink through the subscriber `#[fnshield::handler]` sets up: in the JSON log
/// format its lines must carry an RFC 3339 `timestamp` as well as `level`, or Lambda counts
/// them as INFO and a WARN filter drops every event (the subscriber printed no time).
#[tokio::test(flavor = "multi_thread")]
async fn tracing_sink_lines_survive_a_warn_filter() {
    let s = common::setup(
        "levels-tracing",
        r#"["tracing"]"#,
        "[outbound_connectivity]\nmode = \"alert\"\n",
    );
    let (emu, p) = common::start(
        &s,
        env!("CARGO_BIN_EXE_macro_fn"),
        "levels",
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
        ],
    )
    .await;
    let (block, alert) = block_then_alert(&emu).await;
    let lines = p.stdout_lines();
    let kept = |id: &RequestId, filter: &str| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| lambda_keeps(l, filter))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["fields"]["request_id"] == id.as_str())
            .collect()
    };
    let b = kept(&block, "ERROR");
    assert_eq!(b.len(), 1, "{lines:#?}\n{}", emu.render_timeline());
    assert_eq!(b[0]["fields"]["policy"], "read_handler", "{b:?}");
    let a = kept(&alert, "WARN");
    assert_eq!(a.len(), 1, "{lines:#?}");
    assert_eq!(a[0]["fields"]["policy"], "outbound_connectivity", "{a:?}");
    assert!(kept(&alert, "ERROR").is_empty(), "an alert is a WARN");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_invocation_prints_no_metric_line() {
    let (emu, p, _s) = start("quiet", "WARN").await;
    let id = emu.invoke(json!({"action": "echo"}));
    emu.result(&id).await.expect_response();
    emu.wait_next_after(&id).await;
    let lines = p.stdout_lines();
    assert!(
        lines.iter().all(|l| !l.contains("\"_aws\"")),
        "no events and nothing wiped, yet: {lines:?}"
    );
}

#[test]
fn the_filter_model_follows_lambdas_rule() {
    assert!(!lambda_keeps("plain text", "WARN"));
    assert!(!lambda_keeps(r#"{"msg":"x"}"#, "WARN"));
    assert!(
        !lambda_keeps(r#"{"level":"ERROR"}"#, "WARN"),
        "no timestamp"
    );
    assert!(lambda_keeps(
        r#"{"level":"error","timestamp":"2024-11-02T16:51:31.587199Z"}"#,
        "ERROR"
    ));
    assert!(!lambda_keeps(
        r#"{"level":"WARN","timestamp":"2024-11-02T16:51:31.587Z"}"#,
        "ERROR"
    ));
}
