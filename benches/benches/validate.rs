//! Event validation: fnshield's `Validator::check_event` against raw `serde_json` +
//! `jsonschema` `is_valid` on the same schema and bytes, in the same run (issue 6).
//! `cargo bench -p benches --bench validate`
//!
//! Both sides start from the raw event bytes, as the Runtime API delivers them, and end with
//! a yes/no answer on a valid event (the common case):
//!
//! * `fnshield`: `Validator::check_event(raw)` — parse within the limits (size, depth, array
//!   length, checked in the same pass), envelope, schema.
//! * `raw`: `serde_json::from_slice::<Value>(raw)` then `Validator::is_valid` of a schema
//!   compiled with the same `jsonschema` options fnshield uses (formats validated, the
//!   linear-time `regex` engine), so that both do the same schema work. The raw side parses the
//!   whole event into a `Value`, as a handler using `serde_json` does; fnshield builds only the
//!   fields its envelope reads (the HTTP body; a batch's record payloads) and skips the rest
//!   while still parsing it and holding it to the limits.
//!
//! Payloads (schema: `tests/data/events/schemas/order.2020-12.json`, uuid / email /
//! date-time formats and a `$ref`):
//!
//! * `validate_order`: one order document (~130 bytes), whole-event envelope.
//! * `validate_500_orders`: an array of 500 orders (~70 kB) against `{"type": "array",
//!   "items": <order>}`, whole-event envelope.
//! * `validate_api_gateway_v1`: `tests/data/events/api_gateway_v1_valid.json` (~2.4 kB) with
//!   the `api_gateway_v1` envelope; the raw side parses the event, takes `body`, parses it
//!   and validates it.
//!
//! * `validate_kinesis_gzip`: `tests/data/events/kinesis_cloudwatch_logs_valid.json`, a
//!   Kinesis batch of two CloudWatch Logs records (base64 of gzip JSON), `kinesis` envelope,
//!   schema `cloudwatch_logs.json`. The raw side parses the event, base64-decodes and gunzips
//!   each record's data, parses it and validates it.
//! * `validate_dynamodb_streams`: `tests/data/events/dynamodb_streams_valid.json`, a DynamoDB
//!   Streams batch (one INSERT, one MODIFY: three images), `dynamodb_streams` envelope. The raw
//!   side parses the event, unmarshals each image from attribute-value JSON and validates it.
//!
//! For the two decoding envelopes, each group also has `schema_only` (raw `jsonschema` on the
//! already-extracted documents) and `decode_only` (the raw side's decoding without the schema),
//! and `fnshield_decode_only` (fnshield with the schema `true`: its own parse, limits,
//! envelope and decoding).
//!
//! After the criterion benchmarks, the same pairs run again as interleaved A/B rounds (bursts
//! of about 2 ms, alternating) so that load from other processes on a shared machine hits
//! both sides alike; the summary gives the median of the per-round ratios as well.
//!
//! **The issue's goal for the decoding envelopes** ("a ratio against raw `jsonschema` on the
//! already-extracted documents, ≤ 1.1× plus the cost of the decoding itself, measured
//! separately") is checked on rotated rounds: each round runs one burst of fnshield (F), raw
//! decode + schema (R), the raw decoding alone (D), raw schema on the extracted documents alone
//! (S) and fnshield's own decoding (O), in an order that rotates from round to round. The goal
//! row is the median over rounds of `F / (D + 1.1 × S)`, met at ≤ 1; the next rows give
//! `(F − D) / S` (the same goal as a ratio against the schema work alone, ≤ 1.1×; noisy, since
//! S is a few percent of F) and `O / D`. For information, a sixth side (L) is a lean raw
//! side that deserializes typed events with only the payload fields (what fnshield's
//! projections do, without limits or error locations): `F / L` shows what fnshield costs
//! against a handler that skips the rest of the event too. The decoding D is the raw side's: base64, the same
//! flate2 decoder fnshield uses (`bufread::MultiGzDecoder` over the slice, not the `read`
//! decoder and its extra 32 KiB buffer), `serde_json`; for DynamoDB a minimal unmarshalling
//! of the types the fixture uses. It skips nothing getting the documents requires and adds
//! nothing they do not (it is the code a handler would write with the same crates).
//!
//! Goal: every `fnshield / raw` ratio ≤ 1.1×. The summary also gives the cost of the API
//! Gateway body envelope: `validate_api_gateway_v1/fnshield − validate_order/fnshield` (the
//! same order document, delivered inside the envelope or alone).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use benches::{criterion_dir, fmt_ns, interleave, median, verdict, Summary};
use criterion::Criterion;
use fnshield::validate::{Envelope, EventVerdict, ValidationConfig, Validator};
use serde_json::{json, Value};

const ORDER_SCHEMA: &str = include_str!("../../tests/data/events/schemas/order.2020-12.json");
/// Interleaved rounds per payload in the paired measurement.
const ROUNDS: usize = 101;
const API_GATEWAY_V1: &[u8] = include_bytes!("../../tests/data/events/api_gateway_v1_valid.json");
const CWL_SCHEMA: &str = include_str!("../../tests/data/events/schemas/cloudwatch_logs.json");
const KINESIS_GZIP: &[u8] =
    include_bytes!("../../tests/data/events/kinesis_cloudwatch_logs_valid.json");
const DYNAMODB: &[u8] = include_bytes!("../../tests/data/events/dynamodb_streams_valid.json");

/// `{"type": "array", "items": <order>}`, with the order's `$defs` moved to the root so its
/// `$ref` still resolves.
fn array_schema() -> Value {
    let mut order: Value = serde_json::from_str(ORDER_SCHEMA).expect("order schema is JSON");
    let o = order.as_object_mut().expect("order schema is an object");
    let defs = o.remove("$defs").expect("order schema has $defs");
    o.remove("$schema");
    o.remove("$id");
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "array",
        "items": order,
        "$defs": defs,
    })
}

fn orders(n: usize) -> Vec<u8> {
    let list: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "orderId": format!("{i:08x}-4b5a-4c7d-9e8f-0a1b2c3d4e5f"),
                "customerEmail": format!("customer{i}@example.com"),
                "quantity": i % 1000 + 1,
                "createdAt": "2024-05-01T12:30:00Z",
            })
        })
        .collect();
    serde_json::to_vec(&list).expect("serialise orders")
}

fn shielded(schema: &Value, envelope: Envelope) -> Validator {
    let cfg = ValidationConfig::new()
        .schema_json(schema.to_string())
        .envelope(envelope);
    Validator::new(&cfg, Path::new("/var/task")).expect("valid bench schema")
}

fn raw(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(schema)
        .expect("valid bench schema")
}

fn raw_check(v: &jsonschema::Validator, bytes: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(doc) => v.is_valid(&doc),
        Err(_) => false,
    }
}

fn raw_check_api_gateway(v: &jsonschema::Validator, bytes: &[u8]) -> bool {
    let Ok(event) = serde_json::from_slice::<Value>(bytes) else {
        return false;
    };
    match event.get("body").and_then(Value::as_str) {
        Some(body) => match serde_json::from_str::<Value>(body) {
            Ok(doc) => v.is_valid(&doc),
            Err(_) => false,
        },
        None => false,
    }
}

/// The raw side's decoding of a Kinesis batch: each record's data, base64 then gzip then JSON.
fn decode_kinesis_gzip(bytes: &[u8]) -> Option<Vec<Value>> {
    use base64::Engine as _;
    use std::io::Read as _;
    let event: Value = serde_json::from_slice(bytes).ok()?;
    let mut docs = Vec::new();
    for record in event.get("Records")?.as_array()? {
        let data = record.get("kinesis")?.get("data")?.as_str()?;
        let gz = base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?;
        // `bufread` over the slice, the decoder fnshield uses: `read::GzDecoder` would add a
        // 32 KiB buffer per record that neither side needs.
        let mut json = Vec::new();
        flate2::bufread::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut json)
            .ok()?;
        docs.push(serde_json::from_slice(&json).ok()?);
    }
    Some(docs)
}

/// Attribute-value JSON to plain JSON (the bench's own, minimal: the types the fixture uses
/// and the containers).
fn unmarshal(attr: &Value) -> Option<Value> {
    let (ty, v) = attr.as_object()?.iter().next()?;
    Some(match ty.as_str() {
        "S" | "B" | "BOOL" => v.clone(),
        "N" => Value::Number(v.as_str()?.parse().ok()?),
        "NULL" => Value::Null,
        "M" => Value::Object(
            v.as_object()?
                .iter()
                .map(|(k, x)| Some((k.clone(), unmarshal(x)?)))
                .collect::<Option<_>>()?,
        ),
        "L" => Value::Array(v.as_array()?.iter().map(unmarshal).collect::<Option<_>>()?),
        _ => v.clone(),
    })
}

/// The raw side's decoding of a DynamoDB Streams batch: every NewImage and OldImage, plain.
fn decode_dynamodb(bytes: &[u8]) -> Option<Vec<Value>> {
    let event: Value = serde_json::from_slice(bytes).ok()?;
    let mut docs = Vec::new();
    for record in event.get("Records")?.as_array()? {
        let ddb = record.get("dynamodb")?;
        for key in ["NewImage", "OldImage"] {
            if let Some(image) = ddb.get(key) {
                docs.push(Value::Object(
                    image
                        .as_object()?
                        .iter()
                        .map(|(k, x)| Some((k.clone(), unmarshal(x)?)))
                        .collect::<Option<_>>()?,
                ));
            }
        }
    }
    Some(docs)
}

/// The lean raw side: typed events with only the payload fields (serde skips the rest without
/// building it), as a handler that declares its event types would write it. Compared for
/// information: it is what fnshield's projections do, without limits or error locations.
mod lean {
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Deserialize)]
    pub struct Event<R> {
        #[serde(rename = "Records")]
        pub records: Vec<R>,
    }

    #[derive(Deserialize)]
    pub struct KinesisRecord {
        pub kinesis: KinesisData,
    }

    #[derive(Deserialize)]
    pub struct KinesisData {
        pub data: String,
    }

    #[derive(Deserialize)]
    pub struct DynamoDbRecord {
        pub dynamodb: Images,
    }

    #[derive(Deserialize)]
    #[allow(non_snake_case)]
    pub struct Images {
        pub NewImage: Option<Value>,
        pub OldImage: Option<Value>,
    }
}

/// [`decode_kinesis_gzip`] on the lean typed event.
fn decode_kinesis_gzip_lean(bytes: &[u8]) -> Option<Vec<Value>> {
    use base64::Engine as _;
    use std::io::Read as _;
    let event: lean::Event<lean::KinesisRecord> = serde_json::from_slice(bytes).ok()?;
    let mut docs = Vec::new();
    for record in event.records {
        let gz = base64::engine::general_purpose::STANDARD
            .decode(record.kinesis.data)
            .ok()?;
        let mut json = Vec::new();
        flate2::bufread::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut json)
            .ok()?;
        docs.push(serde_json::from_slice(&json).ok()?);
    }
    Some(docs)
}

/// [`decode_dynamodb`] on the lean typed event.
fn decode_dynamodb_lean(bytes: &[u8]) -> Option<Vec<Value>> {
    let event: lean::Event<lean::DynamoDbRecord> = serde_json::from_slice(bytes).ok()?;
    let mut docs = Vec::new();
    for record in event.records {
        for image in [record.dynamodb.NewImage, record.dynamodb.OldImage]
            .into_iter()
            .flatten()
        {
            docs.push(Value::Object(
                image
                    .as_object()?
                    .iter()
                    .map(|(k, x)| Some((k.clone(), unmarshal(x)?)))
                    .collect::<Option<_>>()?,
            ));
        }
    }
    Some(docs)
}

fn raw_check_kinesis_gzip(v: &jsonschema::Validator, bytes: &[u8]) -> bool {
    decode_kinesis_gzip(bytes).is_some_and(|docs| docs.iter().all(|d| v.is_valid(d)))
}

fn raw_check_dynamodb(v: &jsonschema::Validator, bytes: &[u8]) -> bool {
    decode_dynamodb(bytes).is_some_and(|docs| docs.iter().all(|d| v.is_valid(d)))
}

/// Calls per burst: about 2 ms of `f`.
fn burst_len(f: &dyn Fn() -> bool) -> u64 {
    let t = Instant::now();
    for _ in 0..10 {
        black_box(f());
    }
    (2_000_000 / (t.elapsed().as_nanos() / 10).max(1)).max(1) as u64
}

/// ns per call of `f` over `n` calls.
fn burst(n: u64, f: &dyn Fn() -> bool) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// `rounds` rounds of one burst of each side, the order rotating from round to round so that
/// no side always runs first or after the same neighbour: ns per call, per round, per side.
fn rotate<const K: usize>(rounds: usize, n: u64, sides: &[&dyn Fn() -> bool; K]) -> Vec<[f64; K]> {
    for side in sides {
        burst(n, *side);
    }
    (0..rounds)
        .map(|round| {
            let mut t = [0.0; K];
            for k in 0..K {
                let side = (round + k) % K;
                t[side] = burst(n, sides[side]);
            }
            t
        })
        .collect()
}

fn valid(v: &Validator, bytes: &[u8]) -> bool {
    matches!(v.check_event(bytes), EventVerdict::Valid)
}

fn main() {
    let measuring = benches::measuring();
    let mut summary = Summary::new("validate: fnshield check_event vs raw jsonschema is_valid");
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .without_plots()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    let order_schema: Value = serde_json::from_str(ORDER_SCHEMA).expect("order schema is JSON");
    let array_schema = array_schema();
    let api_event: Value = serde_json::from_slice(API_GATEWAY_V1).expect("fixture is JSON");
    let one_order = api_event["body"]
        .as_str()
        .expect("fixture has a string body")
        .as_bytes()
        .to_vec();
    let many = orders(500);

    type RawCheck = fn(&jsonschema::Validator, &[u8]) -> bool;
    type Decode = fn(&[u8]) -> Option<Vec<Value>>;
    let cwl_schema: Value = serde_json::from_str(CWL_SCHEMA).expect("CloudWatch Logs schema");
    let cases: [(&str, &Value, Envelope, &[u8], RawCheck); 5] = [
        (
            "validate_order",
            &order_schema,
            Envelope::Whole,
            &one_order,
            raw_check,
        ),
        (
            "validate_500_orders",
            &array_schema,
            Envelope::Whole,
            &many,
            raw_check,
        ),
        (
            "validate_api_gateway_v1",
            &order_schema,
            Envelope::ApiGatewayV1,
            API_GATEWAY_V1,
            raw_check_api_gateway,
        ),
        (
            "validate_kinesis_gzip",
            &cwl_schema,
            Envelope::Kinesis,
            KINESIS_GZIP,
            raw_check_kinesis_gzip,
        ),
        (
            "validate_dynamodb_streams",
            &order_schema,
            Envelope::DynamoDbStreams,
            DYNAMODB,
            raw_check_dynamodb,
        ),
    ];
    let mut pairs = Vec::new();
    let mut goal_rounds = Vec::new();
    for (group, schema, envelope, bytes, raw_fn) in cases {
        let s = shielded(schema, envelope.clone());
        let r = raw(schema);
        // Both must accept the payload, or the bench compares different work.
        assert!(valid(&s, bytes), "{group}: fnshield rejects the payload");
        assert!(
            raw_fn(&r, bytes),
            "{group}: raw jsonschema rejects the payload"
        );
        let mut g = c.benchmark_group(group);
        g.bench_function("fnshield", |b| b.iter(|| valid(&s, black_box(bytes))));
        g.bench_function("raw", |b| b.iter(|| raw_fn(&r, black_box(bytes))));
        let decode: Option<Decode> = match envelope {
            Envelope::Kinesis => Some(decode_kinesis_gzip),
            Envelope::DynamoDbStreams => Some(decode_dynamodb),
            _ => None,
        };
        if let Some(decode) = decode {
            let docs = decode(bytes).expect("the raw side decodes the fixture");
            g.bench_function("schema_only", |b| {
                b.iter(|| black_box(&docs).iter().all(|d| r.is_valid(d)))
            });
            g.bench_function("decode_only", |b| b.iter(|| decode(black_box(bytes))));
            // fnshield's own decoding (limits, envelope, locations), measured separately: the
            // same envelope with the schema `true`, which validates nothing.
            let d = shielded(&json!(true), envelope.clone());
            assert!(
                valid(&d, bytes),
                "{group}: fnshield's decoding rejects the payload"
            );
            g.bench_function("fnshield_decode_only", |b| {
                b.iter(|| valid(&d, black_box(bytes)))
            });
        }
        g.finish();
        if let (true, Some(decode)) = (measuring, decode) {
            // The goal rounds: fnshield, raw (decode + schema), the raw decoding alone, raw
            // schema on the already-extracted documents alone, and fnshield's own decoding
            // (schema `true`), and the lean raw side: one burst each per round, in a rotating
            // order.
            let docs = decode(bytes).expect("the raw side decodes the fixture");
            let d = shielded(&json!(true), envelope.clone());
            let n = burst_len(&|| raw_fn(&r, black_box(bytes)));
            let lean: Decode = match envelope {
                Envelope::Kinesis => decode_kinesis_gzip_lean,
                _ => decode_dynamodb_lean,
            };
            assert!(
                lean(bytes).is_some_and(|docs| docs.iter().all(|doc| r.is_valid(doc))),
                "{group}: the lean raw side rejects the payload"
            );
            let sides: [&dyn Fn() -> bool; 6] = [
                &|| valid(&s, black_box(bytes)),
                &|| raw_fn(&r, black_box(bytes)),
                &|| decode(black_box(bytes)).is_some(),
                &|| black_box(&docs).iter().all(|doc| r.is_valid(doc)),
                &|| valid(&d, black_box(bytes)),
                &|| {
                    lean(black_box(bytes))
                        .is_some_and(|docs| docs.iter().all(|doc| r.is_valid(doc)))
                },
            ];
            goal_rounds.push((group, rotate(ROUNDS, n, &sides)));
        }
        if measuring {
            let n = burst_len(&|| raw_fn(&r, black_box(bytes)));
            let rounds = interleave(
                ROUNDS,
                || burst(n, &|| valid(&s, black_box(bytes))),
                || burst(n, &|| raw_fn(&r, black_box(bytes))),
            );
            pairs.push((group, rounds));
        }
    }
    c.final_summary();

    for (what, group) in [
        ("one order (~130 B)", "validate_order"),
        ("500 orders (~70 kB)", "validate_500_orders"),
        (
            "API Gateway v1 event, body envelope (~2.4 kB)",
            "validate_api_gateway_v1",
        ),
        (
            "Kinesis batch of 2 gzip CloudWatch Logs records (raw = decode + schema)",
            "validate_kinesis_gzip",
        ),
        (
            "DynamoDB Streams batch, 3 images (raw = unmarshal + schema)",
            "validate_dynamodb_streams",
        ),
    ] {
        summary.ratio(what, group, "fnshield", "raw", Some(1.1));
    }
    // The decoding envelopes' goal is checked on the rotated rounds below (paired), not on
    // these criterion medians, which run seconds apart.
    if let (Some(env), Some(alone)) = (
        summary.median("validate_api_gateway_v1", "fnshield"),
        summary.median("validate_order", "fnshield"),
    ) {
        summary.row(
            "API Gateway v1 body envelope cost (event − body alone)",
            fmt_ns(env - alone),
            "—",
        );
    }
    for (group, rounds) in &pairs {
        let r = median(rounds.iter().map(|(s, r)| s / r));
        summary.row(
            format!("paired: {group} ({ROUNDS} interleaved rounds, median of ratios)"),
            format!(
                "{r:.3}× (fnshield {}, raw {})",
                fmt_ns(median(rounds.iter().map(|p| p.0))),
                fmt_ns(median(rounds.iter().map(|p| p.1)))
            ),
            format!("≤ 1.1× — {}", verdict(r, 1.1)),
        );
    }
    for (group, rounds) in &goal_rounds {
        // Per round: F fnshield, R raw (decode + schema), D raw decoding, S raw schema on the
        // extracted documents, O fnshield's own decoding, L the lean raw side.
        let col = |k: usize| median(rounds.iter().map(|t| t[k]));
        let (f, raw, d, s, o) = (col(0), col(1), col(2), col(3), col(4));
        let goal = median(rounds.iter().map(|t| t[0] / (t[2] + 1.1 * t[3])));
        summary.row(
            format!("goal: {group}: fnshield / (raw decoding + 1.1 × raw schema on the extracted documents), median of {ROUNDS} rotated rounds"),
            format!(
                "{goal:.3} (fnshield {}, raw decoding {}, raw schema {}, raw decode + schema {})",
                fmt_ns(f),
                fmt_ns(d),
                fmt_ns(s),
                fmt_ns(raw)
            ),
            format!("≤ 1 — {}", verdict(goal, 1.0)),
        );
        let beyond = median(rounds.iter().map(|t| (t[0] - t[2]) / t[3]));
        summary.row(
            format!("  {group}: (fnshield − raw decoding) / raw schema, median of rounds"),
            format!("{beyond:.2}×"),
            format!("≤ 1.1× — {}", verdict(beyond, 1.1)),
        );
        let lean = median(rounds.iter().map(|t| t[0] / t[5]));
        summary.row(
            format!("  {group}: fnshield / lean raw (typed event, payload fields only; no limits, no locations), for information"),
            format!("{lean:.3}× ({} vs {})", fmt_ns(f), fmt_ns(col(5))),
            "—",
        );
        let own = median(rounds.iter().map(|t| t[4] / t[2]));
        summary.row(
            format!("  {group}: fnshield's own decoding (schema `true`) / raw decoding"),
            format!("{own:.3}× ({} vs {})", fmt_ns(o), fmt_ns(d)),
            "—",
        );
    }
    summary.row("load average at the end", benches::load_average(), "—");
    if measuring {
        summary.print();
    }
}
