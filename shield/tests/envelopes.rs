//! Every envelope (issue 16): for each AWS event source Powertools knows, a valid fixture passes
//! and an invalid one is rejected with a path into the original event and the response shape of
//! its trigger; batch sources report per record; `envelope = "auto"` recognises every fixture.
//!
//! Fixtures: `tests/data/events/*.json`, written from the documented AWS sample events by
//! `tests/data/events/generate.py`. Payloads are orders (`schemas/order.2020-12.json`) or S3
//! notifications (`schemas/s3_*.json`); invalid payloads carry `SECRET` markers that must never
//! be echoed.

use std::path::{Path, PathBuf};

use fnshield::validate::envelope::detect::detect;
use fnshield::validate::{
    BatchSource, Envelope, EventVerdict, Rejection, ValidationConfig, Validator, Violation,
    ViolationKind,
};
use serde_json::{json, Value};

fn task_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/events")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(task_root().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn parsed(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

const ORDER: &str = "schemas/order.2020-12.json";
const CWL: &str = "schemas/cloudwatch_logs.json";
const S3: &str = "schemas/s3_notification.json";
const S3_EB: &str = "schemas/s3_eventbridge_detail.json";

/// One source: its envelope, schema, fixtures, a path the invalid fixture must be reported at,
/// and what `auto` detects on its fixtures (the outer trigger for chains).
struct Case {
    envelope: &'static str,
    schema: &'static str,
    valid: &'static str,
    invalid: &'static str,
    path: &'static str,
    auto: &'static str,
}

const CASES: &[Case] = &[
    Case {
        envelope: "api_gateway_v1",
        schema: ORDER,
        valid: "api_gateway_v1_valid.json",
        invalid: "api_gateway_v1_invalid.json",
        path: "/body/orderId",
        auto: "api_gateway_v1",
    },
    Case {
        envelope: "api_gateway_v2",
        schema: ORDER,
        valid: "api_gateway_v2_valid.json",
        invalid: "api_gateway_v2_invalid.json",
        path: "/body/customerEmail",
        auto: "api_gateway_v2",
    },
    Case {
        envelope: "api_gateway_websocket",
        schema: ORDER,
        valid: "api_gateway_websocket_valid.json",
        invalid: "api_gateway_websocket_invalid.json",
        path: "/body/quantity",
        auto: "api_gateway_websocket",
    },
    Case {
        envelope: "alb",
        schema: ORDER,
        valid: "alb_valid.json",
        invalid: "alb_invalid.json",
        path: "/body/createdAt",
        auto: "alb",
    },
    Case {
        envelope: "function_url",
        schema: ORDER,
        valid: "function_url_valid.json",
        invalid: "function_url_invalid.json",
        path: "/body/orderId",
        auto: "function_url",
    },
    Case {
        envelope: "vpc_lattice",
        schema: ORDER,
        valid: "vpc_lattice_valid.json",
        invalid: "vpc_lattice_invalid.json",
        path: "/body/orderId",
        auto: "vpc_lattice",
    },
    Case {
        envelope: "vpc_lattice_v2",
        schema: ORDER,
        valid: "vpc_lattice_v2_valid.json",
        invalid: "vpc_lattice_v2_invalid.json",
        path: "/body/customerEmail",
        auto: "vpc_lattice_v2",
    },
    Case {
        envelope: "sqs",
        schema: ORDER,
        valid: "sqs_valid.json",
        invalid: "sqs_mixed.json",
        path: "/Records/1/body/orderId",
        auto: "sqs",
    },
    Case {
        envelope: "sns",
        schema: ORDER,
        valid: "sns_valid.json",
        invalid: "sns_invalid.json",
        path: "/Records/0/Sns/Message/customerEmail",
        auto: "sns",
    },
    Case {
        envelope: "sns_sqs",
        schema: ORDER,
        valid: "sns_sqs_valid.json",
        invalid: "sns_sqs_invalid.json",
        path: "/Records/1/body/Message/quantity",
        auto: "sqs",
    },
    Case {
        envelope: "eventbridge",
        schema: ORDER,
        valid: "eventbridge_valid.json",
        invalid: "eventbridge_invalid.json",
        path: "/detail/quantity",
        auto: "eventbridge",
    },
    Case {
        envelope: "cloudwatch_events_scheduled",
        schema: ORDER,
        valid: "cloudwatch_events_scheduled_valid.json",
        invalid: "cloudwatch_events_scheduled_invalid.json",
        path: "/detail/orderId",
        auto: "cloudwatch_events_scheduled",
    },
    Case {
        envelope: "kinesis",
        schema: ORDER,
        valid: "kinesis_valid.json",
        invalid: "kinesis_invalid.json",
        path: "/Records/1/kinesis/data/createdAt",
        auto: "kinesis",
    },
    Case {
        envelope: "kinesis",
        schema: CWL,
        valid: "kinesis_cloudwatch_logs_valid.json",
        invalid: "kinesis_cloudwatch_logs_invalid.json",
        path: "/Records/1/kinesis/data/logEvents/0/message",
        auto: "kinesis",
    },
    Case {
        envelope: "kinesis_firehose",
        schema: ORDER,
        valid: "kinesis_firehose_valid.json",
        invalid: "kinesis_firehose_invalid.json",
        path: "/records/1/data/orderId",
        auto: "kinesis_firehose",
    },
    Case {
        envelope: "cloudwatch_logs",
        schema: CWL,
        valid: "cloudwatch_logs_valid.json",
        invalid: "cloudwatch_logs_invalid.json",
        path: "/awslogs/data/logEvents/0/message",
        auto: "cloudwatch_logs",
    },
    Case {
        envelope: "dynamodb_streams",
        schema: ORDER,
        valid: "dynamodb_streams_valid.json",
        invalid: "dynamodb_streams_invalid.json",
        path: "/Records/1/dynamodb/NewImage/quantity/N",
        auto: "dynamodb_streams",
    },
    Case {
        envelope: "kafka",
        schema: ORDER,
        valid: "kafka_valid.json",
        invalid: "kafka_invalid.json",
        path: "/records/orders-0/1/value/orderId",
        auto: "kafka",
    },
    Case {
        envelope: "bedrock_agent",
        schema: ORDER,
        valid: "bedrock_agent_valid.json",
        invalid: "bedrock_agent_invalid.json",
        path: "/inputText/customerEmail",
        auto: "bedrock_agent",
    },
    Case {
        envelope: "s3_sqs",
        schema: S3,
        valid: "s3_sqs_valid.json",
        invalid: "s3_sqs_invalid.json",
        path: "/Records/1/body/Records/0/s3/object/key",
        auto: "sqs",
    },
    Case {
        envelope: "s3_sns_sqs",
        schema: S3,
        valid: "s3_sns_sqs_valid.json",
        invalid: "s3_sns_sqs_invalid.json",
        path: "/Records/0/body/Message/Records/0/s3/object/size",
        auto: "sqs",
    },
    Case {
        envelope: "s3_eventbridge_sqs",
        schema: S3_EB,
        valid: "s3_eventbridge_sqs_valid.json",
        invalid: "s3_eventbridge_sqs_invalid.json",
        path: "/Records/0/body/detail/object/key",
        auto: "sqs",
    },
    Case {
        envelope: "s3_firehose",
        schema: S3,
        valid: "s3_firehose_valid.json",
        invalid: "s3_firehose_invalid.json",
        path: "/records/1/data/Records/0/s3/object/size",
        auto: "kinesis_firehose",
    },
];

fn validator(envelope: &str, schema: &str, partial: bool) -> Validator {
    let cfg = ValidationConfig::new()
        .schema_file(schema)
        .envelope(envelope.parse().expect("envelope name"))
        .partial_batch(partial);
    Validator::new(&cfg, &task_root()).expect("valid configuration")
}

fn invalid(verdict: EventVerdict, what: &str) -> (Vec<Violation>, Rejection) {
    match verdict {
        EventVerdict::Invalid {
            violations,
            rejection,
        } => (violations, rejection),
        other => panic!("{what}: expected Invalid, got {other:?}"),
    }
}

/// Checks the rejection has the shape of `envelope`'s trigger and lists `path`.
fn assert_rejection_shape(rejection: &Rejection, envelope: &Envelope, path: &str, what: &str) {
    match rejection {
        Rejection::Http400(resp) => {
            assert!(envelope.is_http(), "{what}: a 400 for a non-HTTP source");
            assert_eq!(resp["statusCode"], 400, "{what}");
            let body: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
            assert!(
                body["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["path"] == path),
                "{what}: {body}"
            );
        }
        Rejection::InvocationError {
            error_type,
            message,
        } => {
            assert!(
                !envelope.is_http(),
                "{what}: an invocation error for an HTTP source"
            );
            assert_eq!(*error_type, "Shield.InvalidEvent", "{what}");
            assert!(message.contains(path), "{what}: {message}");
        }
        other => panic!("{what}: unexpected rejection {other:?}"),
    }
}

fn assert_masked(violations: &[Violation], rejection: &Rejection, what: &str) {
    let mut seen = format!("{violations:?}");
    if let Rejection::Http400(r) = rejection {
        seen.push_str(&r.to_string());
    } else if let Rejection::InvocationError { message, .. } = rejection {
        seen.push_str(message);
    }
    assert!(!seen.contains("SECRET"), "{what} echoes input: {seen}");
}

#[test]
fn every_named_envelope_has_a_case() {
    for name in [
        "api_gateway_v1",
        "api_gateway_v2",
        "api_gateway_websocket",
        "alb",
        "function_url",
        "vpc_lattice",
        "vpc_lattice_v2",
        "sqs",
        "sns",
        "sns_sqs",
        "eventbridge",
        "cloudwatch_events_scheduled",
        "kinesis",
        "kinesis_firehose",
        "cloudwatch_logs",
        "dynamodb_streams",
        "kafka",
        "bedrock_agent",
        "s3_sqs",
        "s3_sns_sqs",
        "s3_eventbridge_sqs",
        "s3_firehose",
    ] {
        assert!(
            CASES.iter().any(|c| c.envelope == name),
            "no case for {name}"
        );
    }
}

#[test]
fn every_envelope_passes_its_valid_fixture_and_rejects_its_invalid_one() {
    for c in CASES {
        let what = format!("{} / {}", c.envelope, c.invalid);
        let v = validator(c.envelope, c.schema, false);
        assert_eq!(
            v.check_event(&fixture(c.valid)),
            EventVerdict::Valid,
            "{}",
            c.valid
        );
        let (violations, rejection) = invalid(v.check_event(&fixture(c.invalid)), &what);
        assert!(
            violations
                .iter()
                .any(|x| x.path() == c.path && x.kind() == ViolationKind::Schema),
            "{what}: no schema violation at {}: {violations:?}",
            c.path
        );
        assert!(
            violations.iter().all(|x| x.envelope() == Some(c.envelope)),
            "{what}: {violations:?}"
        );
        let envelope: Envelope = c.envelope.parse().unwrap();
        assert_rejection_shape(&rejection, &envelope, c.path, &what);
        assert_masked(&violations, &rejection, &what);
        // Every reported path exists in the original event, or lies inside a decoded payload
        // whose string it starts with.
        let original = parsed(c.invalid);
        for x in &violations {
            let mut p = x.path().to_owned();
            while original.pointer(&p).is_none() {
                p.truncate(p.rfind('/').expect("a path into the event"));
            }
            assert!(!p.is_empty() || x.path().is_empty(), "{what}: {}", x.path());
        }
    }
}

#[test]
fn kinesis_delivered_gzip_cloudwatch_logs_validate() {
    // The public report: "Kinesis data is not valid JSON (line 1, column 1)" for every batch.
    let v = validator("kinesis", CWL, false);
    assert_eq!(
        v.check_event(&fixture("kinesis_cloudwatch_logs_valid.json")),
        EventVerdict::Valid
    );
    let raw = parsed("kinesis_cloudwatch_logs_valid.json");
    let data = raw["Records"][0]["kinesis"]["data"].as_str().unwrap();
    assert!(
        data.starts_with("H4sI"),
        "the fixture's data is base64 gzip"
    );
    // zlib-compressed records are recognised the same way.
    assert_eq!(
        validator("kinesis", ORDER, false).check_event(&fixture("kinesis_zlib_valid.json")),
        EventVerdict::Valid
    );
}

/// What a partial batch must report: the identifiers (as JSON Pointers to the field in the
/// original event, or a Kafka `{partition, offset}`), and the records kept, as pointers.
struct Batch {
    envelope: &'static str,
    schema: &'static str,
    fixture: &'static str,
    failed: &'static [&'static str],
    withheld: usize,
    kept: &'static [&'static str],
}

const BATCHES: &[Batch] = &[
    Batch {
        envelope: "sqs",
        schema: ORDER,
        fixture: "sqs_mixed.json",
        failed: &["/Records/1/messageId", "/Records/2/messageId"],
        withheld: 0,
        kept: &["/Records/0", "/Records/3"],
    },
    Batch {
        envelope: "sqs",
        schema: ORDER,
        fixture: "sqs_fifo_mixed.json",
        failed: &["/Records/1/messageId", "/Records/2/messageId"],
        withheld: 1,
        kept: &["/Records/0"],
    },
    Batch {
        envelope: "sns_sqs",
        schema: ORDER,
        fixture: "sns_sqs_invalid.json",
        failed: &["/Records/1/messageId"],
        withheld: 0,
        kept: &["/Records/0"],
    },
    Batch {
        envelope: "s3_sqs",
        schema: S3,
        fixture: "s3_sqs_invalid.json",
        failed: &["/Records/1/messageId"],
        withheld: 0,
        kept: &["/Records/0"],
    },
    Batch {
        envelope: "s3_sns_sqs",
        schema: S3,
        fixture: "s3_sns_sqs_invalid.json",
        failed: &["/Records/0/messageId"],
        withheld: 0,
        kept: &[],
    },
    Batch {
        envelope: "s3_eventbridge_sqs",
        schema: S3_EB,
        fixture: "s3_eventbridge_sqs_invalid.json",
        failed: &["/Records/0/messageId"],
        withheld: 0,
        kept: &[],
    },
    Batch {
        envelope: "kinesis",
        schema: ORDER,
        fixture: "kinesis_invalid.json",
        failed: &["/Records/1/kinesis/sequenceNumber"],
        withheld: 0,
        kept: &["/Records/0"],
    },
    Batch {
        envelope: "kinesis",
        schema: CWL,
        fixture: "kinesis_cloudwatch_logs_invalid.json",
        failed: &["/Records/1/kinesis/sequenceNumber"],
        withheld: 0,
        kept: &["/Records/0"],
    },
    Batch {
        envelope: "dynamodb_streams",
        schema: ORDER,
        fixture: "dynamodb_streams_invalid.json",
        failed: &[
            "/Records/1/dynamodb/SequenceNumber",
            "/Records/2/dynamodb/SequenceNumber",
        ],
        withheld: 1,
        kept: &["/Records/0"],
    },
    Batch {
        envelope: "kafka",
        schema: ORDER,
        fixture: "kafka_invalid.json",
        failed: &["/records/orders-0/1", "/records/orders-0/2"],
        withheld: 1,
        kept: &["/records/orders-0/0", "/records/orders-1/0"],
    },
];

#[test]
fn batch_sources_report_each_invalid_record_with_its_source_identifier() {
    for b in BATCHES {
        let what = format!("{} / {}", b.envelope, b.fixture);
        let original = parsed(b.fixture);
        let v = validator(b.envelope, b.schema, true);
        let EventVerdict::PartialBatch {
            valid_event,
            failures,
        } = v.check_event(&fixture(b.fixture))
        else {
            panic!("{what}: expected PartialBatch")
        };
        let expected_ids: Vec<Value> = b
            .failed
            .iter()
            .map(|p| {
                if b.envelope == "kafka" {
                    let r = original.pointer(p).unwrap();
                    json!({"partition": format!("{}-{}", r["topic"].as_str().unwrap(), r["partition"]), "offset": r["offset"]})
                } else {
                    original.pointer(p).unwrap().clone()
                }
            })
            .collect();
        let ids: Vec<Value> = failures
            .records()
            .iter()
            .map(|r| r.identifier().clone())
            .collect();
        assert_eq!(ids, expected_ids, "{what}");
        let withheld = failures
            .records()
            .iter()
            .filter(|r| r.violations()[0].kind() == ViolationKind::Withheld)
            .count();
        assert_eq!(withheld, b.withheld, "{what}");
        // The handler gets exactly the valid records, unchanged.
        let kept: Vec<Value> = match b.envelope {
            "kafka" => valid_event["records"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|l| l.as_array().unwrap().clone())
                .collect(),
            _ => valid_event["Records"].as_array().unwrap().clone(),
        };
        let expected_kept: Vec<Value> = b
            .kept
            .iter()
            .map(|p| original.pointer(p).unwrap().clone())
            .collect();
        assert_eq!(kept, expected_kept, "{what}");
        // What Lambda receives when the handler reports nothing itself.
        let merged = failures.merge(None);
        let items: Vec<Value> = merged["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["itemIdentifier"].clone())
            .collect();
        assert_eq!(items, expected_ids, "{what}");
        let source = failures.source();
        assert_ne!(source, BatchSource::Firehose);
    }
}

#[test]
fn firehose_answers_invalid_records_with_processing_failed() {
    for (envelope, schema, name, bad) in [
        (
            "kinesis_firehose",
            ORDER,
            "kinesis_firehose_invalid.json",
            1,
        ),
        ("s3_firehose", S3, "s3_firehose_invalid.json", 1),
    ] {
        let original = parsed(name);
        let EventVerdict::PartialBatch {
            valid_event,
            failures,
        } = validator(envelope, schema, true).check_event(&fixture(name))
        else {
            panic!("{name}: expected PartialBatch")
        };
        let all = original["records"].as_array().unwrap();
        let kept: Vec<&Value> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != bad)
            .map(|(_, r)| r)
            .collect();
        assert_eq!(
            valid_event["records"]
                .as_array()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            kept,
            "{name}"
        );
        // The handler transformed the records it got; Firehose needs an answer for every one.
        let handler = json!({"records": kept.iter().map(|r| json!({"recordId": r["recordId"], "result": "Ok", "data": r["data"]})).collect::<Vec<_>>()});
        let merged = failures.merge(Some(handler));
        let answered = merged["records"].as_array().unwrap();
        assert_eq!(answered.len(), all.len(), "{name}");
        let failed = answered
            .iter()
            .find(|r| r["recordId"] == all[bad]["recordId"])
            .unwrap();
        assert_eq!(failed["result"], "ProcessingFailed");
        assert_eq!(
            failed["data"], all[bad]["data"],
            "the original data goes back"
        );
    }
}

#[test]
fn auto_recognises_every_fixture() {
    for c in CASES {
        for name in [c.valid, c.invalid] {
            assert_eq!(detect(&parsed(name)).name(), c.auto, "{name}");
        }
    }
    assert_eq!(
        detect(&parsed("kafka_self_managed_valid.json")),
        Envelope::Kafka
    );
}

#[test]
fn auto_validates_the_detected_part_and_names_the_source() {
    for c in CASES
        .iter()
        .filter(|c| c.auto == c.envelope && c.schema == ORDER)
    {
        let v = validator("auto", c.schema, false);
        assert_eq!(
            v.check_event(&fixture(c.valid)),
            EventVerdict::Valid,
            "{}",
            c.valid
        );
        let (violations, rejection) = invalid(v.check_event(&fixture(c.invalid)), c.invalid);
        assert!(
            violations.iter().any(|x| x.path() == c.path),
            "{}: {violations:?}",
            c.invalid
        );
        assert!(
            violations.iter().all(|x| x.envelope() == Some(c.auto)),
            "{violations:?}"
        );
        let detected: Envelope = c.auto.parse().unwrap();
        assert_rejection_shape(&rejection, &detected, c.path, c.invalid);
        if let Rejection::InvocationError { message, .. } = &rejection {
            assert!(
                message.contains(&format!("detected as `{}`", c.auto)),
                "{message}"
            );
        }
    }
    // Unrecognised: validated whole, and said so.
    let v = validator("auto", ORDER, false);
    let (violations, _) = invalid(
        v.check_event(br#"{"orderId": "x", "customerEmail": "a@b.c", "quantity": 1, "createdAt": "2024-05-01T12:30:00Z"}"#),
        "whole",
    );
    assert_eq!(violations[0].path(), "/orderId");
    assert_eq!(violations[0].envelope(), Some("none"));
    // A bare order is an order, not an unwrapped envelope.
    let body = std::str::from_utf8(&fixture("sqs_valid.json"))
        .unwrap()
        .to_owned();
    let order = parsed("sqs_valid.json")["Records"][0]["body"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(body.contains("Records"));
    assert_eq!(v.check_event(order.as_bytes()), EventVerdict::Valid);
}

#[test]
fn auto_with_partial_batch_reports_per_record_for_detected_batch_sources() {
    let v = validator("auto", ORDER, true);
    let EventVerdict::PartialBatch { failures, .. } =
        v.check_event(&fixture("kinesis_invalid.json"))
    else {
        panic!("expected PartialBatch")
    };
    assert_eq!(failures.source(), BatchSource::Kinesis);
    assert_eq!(
        failures.records()[0].violations()[0].envelope(),
        Some("kinesis")
    );
    // A non-batch source is rejected whole.
    let (_, rejection) = invalid(
        v.check_event(&fixture("api_gateway_v1_invalid.json")),
        "http",
    );
    assert!(matches!(rejection, Rejection::Http400(_)));
}

#[test]
fn malformed_stream_payloads_point_into_the_original_event() {
    // A DynamoDB attribute value with a number that is not one.
    let mut ev = parsed("dynamodb_streams_valid.json");
    ev["Records"][1]["dynamodb"]["OldImage"]["quantity"] = json!({"N": "SECRET-two"});
    let (violations, _) = invalid(
        validator("dynamodb_streams", ORDER, false).check_event(ev.to_string().as_bytes()),
        "ddb",
    );
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        violations[0].path(),
        "/Records/1/dynamodb/OldImage/quantity/N"
    );
    assert_eq!(violations[0].kind(), ViolationKind::Malformed);
    assert!(!violations[0].message().contains("SECRET"));

    // A Kafka tombstone (null value).
    let mut ev = parsed("kafka_valid.json");
    ev["records"]["orders-1"][0]["value"] = Value::Null;
    let (violations, _) = invalid(
        validator("kafka", ORDER, false).check_event(ev.to_string().as_bytes()),
        "kafka",
    );
    assert_eq!(violations[0].path(), "/records/orders-1/0/value");
    assert_eq!(violations[0].kind(), ViolationKind::Malformed);

    // A Firehose record without data; a batch record without an identifier cannot be reported
    // partially, so the whole batch is rejected.
    let mut ev = parsed("kinesis_firehose_valid.json");
    ev["records"][0].as_object_mut().unwrap().remove("recordId");
    ev["records"][1]["data"] = json!("SECRET%%%");
    let (violations, _) = invalid(
        validator("kinesis_firehose", ORDER, true).check_event(ev.to_string().as_bytes()),
        "firehose",
    );
    assert_eq!(violations[0].path(), "/records/0/recordId");
}

#[test]
fn a_gzip_bomb_in_a_stream_record_stops_at_max_bytes() {
    use base64::Engine as _;
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 8 << 20]).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let mut ev = parsed("kinesis_valid.json");
    ev["Records"][0]["kinesis"]["data"] = json!(data);
    let cfg = ValidationConfig::new()
        .schema_file(ORDER)
        .envelope(Envelope::Kinesis)
        .max_bytes(1 << 20);
    let (violations, _) = invalid(
        Validator::new(&cfg, &task_root())
            .unwrap()
            .check_event(ev.to_string().as_bytes()),
        "bomb",
    );
    assert_eq!(violations[0].path(), "/Records/0/kinesis/data");
    assert_eq!(violations[0].kind(), ViolationKind::Limit);
}

#[test]
fn the_attribute_macro_accepts_exactly_the_envelope_names() {
    // shield-macros checks `envelope = "..."` at compile time against its own list; it must be
    // the library's list.
    let attr = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shield-macros/src/attr.rs"),
    )
    .unwrap();
    let start = attr
        .find("const ENVELOPES: &[&str] = &[")
        .expect("the macro's list");
    let end = start + attr[start..].find("];").unwrap();
    let macro_names: Vec<&str> = attr[start..end].split('"').skip(1).step_by(2).collect();
    let names: Vec<&str> = Envelope::names().collect();
    assert_eq!(macro_names, names);
    for n in names {
        assert_eq!(n.parse::<Envelope>().unwrap().name(), n);
    }
}

/// The limits are checked while each document is parsed (one pass), not by a scan before it:
/// they still hold inside inflated records, inside DynamoDB images, and in the parts of the
/// event an envelope does not build.
#[test]
fn limits_hold_in_one_pass_inside_decoded_records_images_and_skipped_fields() {
    use base64::Engine as _;
    use std::io::Write;
    let limit = |ev: &Value, envelope: &str| -> Violation {
        let (violations, _) = invalid(
            validator(envelope, ORDER, false).check_event(ev.to_string().as_bytes()),
            envelope,
        );
        assert_eq!(violations.len(), 1, "{envelope}: {violations:?}");
        assert_eq!(violations[0].kind(), ViolationKind::Limit, "{violations:?}");
        violations[0].clone()
    };

    // A gzip-compressed Kinesis record nested 100 000 levels deep: refused at the record,
    // after max_depth + 1 brackets (no stack overflow).
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(deep.as_bytes()).unwrap();
    let mut ev = parsed("kinesis_valid.json");
    ev["Records"][1]["kinesis"]["data"] =
        json!(base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap()));
    let v = limit(&ev, "kinesis");
    assert_eq!(v.path(), "/Records/1/kinesis/data");
    assert!(v.message().contains("64 levels"), "{v:?}");

    // A list of 10 001 items inside a DynamoDB image: the event itself is over the limit.
    let mut ev = parsed("dynamodb_streams_valid.json");
    ev["Records"][0]["dynamodb"]["NewImage"]["tags"] =
        json!({"L": vec![json!({"S": "t"}); 10_001]});
    let v = limit(&ev, "dynamodb_streams");
    assert_eq!(v.path(), "");
    assert!(v.message().contains("10000 elements"), "{v:?}");
    // At the limit it is parsed, unmarshalled and only a schema matter (orders take no `tags`).
    ev["Records"][0]["dynamodb"]["NewImage"]["tags"] =
        json!({"L": vec![json!({"S": "t"}); 10_000]});
    let (violations, _) = invalid(
        validator("dynamodb_streams", ORDER, false).check_event(ev.to_string().as_bytes()),
        "at the limit",
    );
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].kind(), ViolationKind::Schema);
    assert_eq!(violations[0].path(), "/Records/0/dynamodb/NewImage/tags");

    // Fields the envelope does not read are parsed without being built, and still held to the
    // limits and to JSON syntax.
    for envelope in ["kinesis", "dynamodb_streams"] {
        let fixture = format!("{envelope}_valid.json");
        let mut ev = parsed(&fixture);
        // serde_json cannot build a 100 000-deep value: splice the text in.
        ev["Records"][0]["unrelated"] = json!(null);
        let text =
            ev.to_string()
                .replacen("\"unrelated\":null", &format!("\"unrelated\":{deep}"), 1);
        let (violations, _) = invalid(
            validator(envelope, ORDER, false).check_event(text.as_bytes()),
            envelope,
        );
        assert_eq!(violations[0].kind(), ViolationKind::Limit, "{violations:?}");
        let mut ev = parsed(&fixture);
        ev["eventually"] = json!(vec![0; 10_001]);
        assert_eq!(limit(&ev, envelope).path(), "");
        let text =
            parsed(&fixture)
                .to_string()
                .replacen("\"Records\"", "\"junk\":[1,,2],\"Records\"", 1);
        let (violations, _) = invalid(
            validator(envelope, ORDER, false).check_event(text.as_bytes()),
            envelope,
        );
        assert_eq!(
            violations[0].kind(),
            ViolationKind::Malformed,
            "{violations:?}"
        );
    }
}

#[test]
fn dynamodb_error_paths_escape_attribute_names() {
    let mut ev = parsed("dynamodb_streams_valid.json");
    ev["Records"][0]["dynamodb"]["NewImage"]["a/b~c"] =
        json!({"M": {"x": {"L": [{"S": "ok"}, {"N": "SECRET"}]}}});
    let (violations, _) = invalid(
        validator("dynamodb_streams", ORDER, false).check_event(ev.to_string().as_bytes()),
        "ddb",
    );
    assert_eq!(
        violations[0].path(),
        "/Records/0/dynamodb/NewImage/a~1b~0c/M/x/L/1/N"
    );
    assert_eq!(violations[0].kind(), ViolationKind::Malformed);
}
