//! Event validation (issue 6): envelopes over realistic AWS fixtures, limits, drafts, formats,
//! rejections, masking, SQS partial batches, response validation and init errors.
//!
//! Fixtures: `tests/data/events/*.json` (regenerate with `tests/data/events/generate.py`);
//! schemas: `tests/data/events/schemas/`. The fixtures directory is used as the task root.

use std::path::{Path, PathBuf};

use fnshield::validate::{
    merge_batch_failures, Envelope, EventVerdict, Mode, Rejection, ValidationConfig,
    ValidationError, Validator, Violation, ViolationKind, MAX_VIOLATIONS,
};
use serde_json::{json, Value};

fn task_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/events")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(task_root().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn build(cfg: ValidationConfig) -> Validator {
    Validator::new(&cfg, &task_root()).expect("valid configuration")
}

fn order_validator(envelope: Envelope) -> Validator {
    build(
        ValidationConfig::new()
            .schema_file("schemas/order.2020-12.json")
            .envelope(envelope),
    )
}

fn validator_for(envelope: &Envelope) -> Validator {
    match envelope {
        Envelope::CloudWatchLogs => build(
            ValidationConfig::new()
                .schema_file("schemas/cloudwatch_logs.json")
                .envelope(Envelope::CloudWatchLogs),
        ),
        e => order_validator(e.clone()),
    }
}

fn envelope_of(fixture: &str) -> Envelope {
    let prefixes = [
        ("api_gateway_v1", Envelope::ApiGatewayV1),
        ("api_gateway_v2", Envelope::ApiGatewayV2),
        ("alb", Envelope::Alb),
        ("function_url", Envelope::FunctionUrl),
        ("sqs", Envelope::Sqs),
        ("sns", Envelope::Sns),
        ("eventbridge", Envelope::EventBridge),
        ("kinesis", Envelope::Kinesis),
        ("cloudwatch_logs", Envelope::CloudWatchLogs),
    ];
    prefixes
        .into_iter()
        .find(|(p, _)| fixture.starts_with(p))
        .map(|(_, e)| e)
        .unwrap()
}

/// Unwraps an `Invalid` verdict.
fn invalid(verdict: EventVerdict) -> (Vec<Violation>, Rejection) {
    match verdict {
        EventVerdict::Invalid {
            violations,
            rejection,
        } => (violations, rejection),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// Everything a client or a log line could see of a rejection, as one string.
fn observable(violations: &[Violation], rejection: &Rejection) -> String {
    let mut s = format!("{violations:?}");
    match rejection {
        Rejection::Http400(resp) => s.push_str(&resp.to_string()),
        Rejection::InvocationError {
            error_type,
            message,
        } => {
            s.push_str(error_type);
            s.push_str(message);
        }
        other => panic!("unexpected rejection {other:?}"),
    }
    s
}

const VALID_FIXTURES: &[&str] = &[
    "api_gateway_v1_valid.json",
    "api_gateway_v1_base64_valid.json",
    "api_gateway_v2_valid.json",
    "alb_valid.json",
    "function_url_valid.json",
    "sqs_valid.json",
    "sns_valid.json",
    "eventbridge_valid.json",
    "kinesis_valid.json",
    "cloudwatch_logs_valid.json",
];

#[test]
fn valid_fixture_of_every_envelope_passes() {
    for name in VALID_FIXTURES {
        let v = validator_for(&envelope_of(name));
        assert_eq!(v.check_event(&fixture(name)), EventVerdict::Valid, "{name}");
    }
}

#[test]
fn invalid_fixture_of_every_envelope_is_rejected_with_prefixed_paths() {
    // (fixture, a path that must be reported)
    let cases = [
        ("api_gateway_v1_invalid.json", "/body/orderId"),
        ("api_gateway_v2_invalid.json", "/body/customerEmail"),
        ("api_gateway_v2_base64_invalid.json", "/body/quantity"),
        ("alb_invalid.json", "/body/createdAt"),
        ("alb_multi_value_invalid.json", "/body/orderId"),
        ("function_url_invalid.json", "/body/orderId"),
        ("sqs_mixed.json", "/Records/1/body/orderId"),
        ("sns_invalid.json", "/Records/0/Sns/Message/customerEmail"),
        ("eventbridge_invalid.json", "/detail/quantity"),
        ("kinesis_invalid.json", "/Records/1/kinesis/data/createdAt"),
        (
            "cloudwatch_logs_invalid.json",
            "/awslogs/data/logEvents/0/message",
        ),
    ];
    for (name, path) in cases {
        let envelope = envelope_of(name);
        let (violations, rejection) = invalid(validator_for(&envelope).check_event(&fixture(name)));
        assert!(
            violations.iter().any(|v| v.path() == path),
            "{name}: no violation at {path}: {violations:?}"
        );
        if !name.starts_with("sqs") {
            assert!(
                violations.iter().all(|v| v.kind() == ViolationKind::Schema),
                "{name}: {violations:?}"
            );
        }
        match (&rejection, envelope.is_http()) {
            (Rejection::Http400(resp), true) => assert_eq!(resp["statusCode"], 400, "{name}"),
            (
                Rejection::InvocationError {
                    error_type,
                    message,
                },
                false,
            ) => {
                assert_eq!(*error_type, "Shield.InvalidEvent");
                assert!(message.contains(path), "{name}: {message}");
            }
            other => panic!("{name}: wrong rejection {other:?}"),
        }
    }
}

#[test]
fn all_schema_errors_are_reported_with_masked_messages() {
    let (violations, _) = invalid(
        order_validator(Envelope::ApiGatewayV1)
            .check_event(&fixture("api_gateway_v1_invalid.json")),
    );
    let by_path = |p: &str| {
        violations
            .iter()
            .find(|v| v.path() == p)
            .unwrap_or_else(|| panic!("{p}: {violations:?}"))
            .message()
            .to_owned()
    };
    assert_eq!(by_path("/body/orderId"), "is not a valid \"uuid\"");
    assert_eq!(by_path("/body/customerEmail"), "is not a valid \"email\"");
    assert_eq!(by_path("/body/createdAt"), "is not a valid \"date-time\"");
    assert_eq!(by_path("/body/quantity"), "must be at least 1");
    assert_eq!(violations.len(), 4);
}

#[test]
fn malformed_envelopes_are_invalid_not_panics() {
    // (fixture, path of the Malformed violation)
    let cases = [
        ("api_gateway_v1_bad_base64.json", "/body"),
        ("api_gateway_v1_not_json.json", "/body"),
        ("api_gateway_v1_no_body.json", "/body"),
        ("api_gateway_v2_not_json.json", "/body"),
        ("alb_bad_base64.json", "/body"),
        ("function_url_not_json.json", "/body"),
        ("sqs_mixed.json", "/Records/2/body"),
        ("sns_not_json.json", "/Records/0/Sns/Message"),
        ("eventbridge_no_detail.json", ""),
        ("kinesis_bad_base64.json", "/Records/0/kinesis/data"),
        ("kinesis_not_json.json", "/Records/0/kinesis/data"),
        ("cloudwatch_logs_bad_gzip.json", "/awslogs/data"),
        ("cloudwatch_logs_bad_base64.json", "/awslogs/data"),
    ];
    for (name, path) in cases {
        let envelope = envelope_of(name);
        let (violations, rejection) = invalid(validator_for(&envelope).check_event(&fixture(name)));
        assert!(
            violations
                .iter()
                .any(|v| v.path() == path && v.kind() == ViolationKind::Malformed),
            "{name}: {violations:?}"
        );
        assert_eq!(
            matches!(rejection, Rejection::Http400(_)),
            envelope.is_http(),
            "{name}"
        );
    }
    let (v, _) = invalid(
        order_validator(Envelope::Kinesis).check_event(&fixture("kinesis_bad_base64.json")),
    );
    assert_eq!(v[0].message(), "payload is not valid base64");
    let (v, _) = invalid(
        validator_for(&Envelope::CloudWatchLogs)
            .check_event(&fixture("cloudwatch_logs_bad_gzip.json")),
    );
    assert_eq!(v[0].message(), "payload is not valid gzip");
    let (v, _) = invalid(
        order_validator(Envelope::ApiGatewayV1)
            .check_event(&fixture("api_gateway_v1_not_json.json")),
    );
    assert!(
        v[0].message().starts_with("request body is not valid JSON"),
        "{v:?}"
    );
}

#[test]
fn envelope_applied_to_the_wrong_trigger_is_malformed() {
    // An EventBridge event given to the SQS envelope: no Records.
    let (v, rejection) =
        invalid(order_validator(Envelope::Sqs).check_event(&fixture("eventbridge_valid.json")));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].kind(), ViolationKind::Malformed);
    assert!(v[0].message().contains("`Records`"), "{v:?}");
    assert!(matches!(rejection, Rejection::InvocationError { .. }));
    // Raw bytes that are not JSON at all.
    let (v, _) = invalid(order_validator(Envelope::Whole).check_event(b"\x00\xffnot json"));
    assert_eq!(v[0].kind(), ViolationKind::Malformed);
    assert!(v[0].message().starts_with("event is not valid JSON"));
}

#[test]
fn http_event_with_the_wrong_shape_is_malformed() {
    let v = order_validator(Envelope::ApiGatewayV2);
    for (raw, message) in [
        (
            &br#"["SECRET"]"#[..],
            "event does not have the shape of a `api_gateway_v2` event",
        ),
        (br#"{"body": 12345}"#, "`body` must be a string"),
        (
            br#"{"body": "{}", "body": "{}"}"#,
            "event does not have the shape",
        ),
        (br#"{"body": "#, "event is not valid JSON"),
    ] {
        let (violations, rejection) = invalid(v.check_event(raw));
        assert_eq!(
            violations[0].kind(),
            ViolationKind::Malformed,
            "{violations:?}"
        );
        assert!(
            violations[0].message().starts_with(message),
            "{message}: {violations:?}"
        );
        let seen = observable(&violations, &rejection);
        assert!(
            !seen.contains("SECRET") && !seen.contains("12345"),
            "{seen}"
        );
    }
}

#[test]
fn no_input_value_is_ever_echoed() {
    // Every string value in the invalid and malformed fixtures contains "SECRET".
    let names = [
        "api_gateway_v1_invalid.json",
        "api_gateway_v1_bad_base64.json",
        "api_gateway_v1_not_json.json",
        "api_gateway_v2_invalid.json",
        "api_gateway_v2_base64_invalid.json",
        "api_gateway_v2_not_json.json",
        "alb_invalid.json",
        "alb_multi_value_invalid.json",
        "alb_bad_base64.json",
        "function_url_invalid.json",
        "function_url_not_json.json",
        "sqs_mixed.json",
        "sns_invalid.json",
        "sns_not_json.json",
        "eventbridge_invalid.json",
        "kinesis_invalid.json",
        "kinesis_bad_base64.json",
        "kinesis_not_json.json",
        "cloudwatch_logs_invalid.json",
        "cloudwatch_logs_bad_gzip.json",
        "cloudwatch_logs_bad_base64.json",
    ];
    for name in names {
        let raw = fixture(name);
        let (violations, rejection) = invalid(validator_for(&envelope_of(name)).check_event(&raw));
        let seen = observable(&violations, &rejection);
        assert!(!seen.contains("SECRET"), "{name} echoes input: {seen}");
    }
    // Value-echoing keywords: enum, const, maxLength, pattern, type.
    let v = build(ValidationConfig::new().schema_json(
        r#"{"properties": {"a": {"enum": ["x", "y"]}, "b": {"const": "k"}, "c": {"maxLength": 3},
            "d": {"pattern": "^[0-9]+$"}, "e": {"type": "integer"}, "f": {"not": {"type": "string"}}}}"#,
    ));
    let (violations, rejection) = invalid(v.check_event(
        br#"{"a":"SECRET1","b":"SECRET2","c":"SECRET3","d":"SECRET4","e":"SECRET5","f":"SECRET6"}"#,
    ));
    assert_eq!(violations.len(), 6, "{violations:?}");
    let seen = observable(&violations, &rejection);
    assert!(!seen.contains("SECRET"), "{seen}");
    assert!(
        seen.contains(r#"must be one of [\"x\",\"y\"]"#)
            || seen.contains(r#"must be one of ["x","y"]"#),
        "{seen}"
    );
}

#[test]
fn http_400_has_the_response_format_of_each_trigger() {
    let body_of = |resp: &Value| -> Value {
        serde_json::from_str(resp["body"].as_str().expect("string body")).expect("JSON body")
    };
    for (name, extra) in [
        ("api_gateway_v1_invalid.json", None),
        ("api_gateway_v2_invalid.json", None),
        ("function_url_invalid.json", None),
        ("alb_invalid.json", Some("statusDescription")),
    ] {
        let (violations, rejection) =
            invalid(order_validator(envelope_of(name)).check_event(&fixture(name)));
        let Rejection::Http400(resp) = rejection else {
            panic!("{name}: not a 400")
        };
        let mut keys: Vec<&str> = resp
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec!["body", "headers", "isBase64Encoded", "statusCode"];
        expected.extend(extra);
        expected.sort_unstable();
        assert_eq!(keys, expected, "{name}");
        assert_eq!(resp["statusCode"], 400);
        assert_eq!(resp["isBase64Encoded"], false);
        assert_eq!(resp["headers"]["Content-Type"], "application/json");
        let body = body_of(&resp);
        assert_eq!(body["message"], "Invalid request");
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), violations.len());
        for (e, v) in errors.iter().zip(&violations) {
            assert_eq!(e, &json!({"path": v.path(), "message": v.message()}));
        }
        if extra.is_some() {
            assert_eq!(resp["statusDescription"], "400 Bad Request");
        }
    }
    // ALB with multi-value headers enabled must answer with multiValueHeaders.
    let (_, rejection) = invalid(
        order_validator(Envelope::Alb).check_event(&fixture("alb_multi_value_invalid.json")),
    );
    let Rejection::Http400(resp) = rejection else {
        panic!()
    };
    assert_eq!(
        resp["multiValueHeaders"],
        json!({"Content-Type": ["application/json"]})
    );
    assert!(resp.get("headers").is_none());
}

#[test]
fn sqs_partial_batch_hands_only_valid_records_to_the_handler() {
    let v = build(
        ValidationConfig::new()
            .schema_file("schemas/order.2020-12.json")
            .envelope(Envelope::Sqs)
            .sqs_partial_batch(true),
    );
    let raw = fixture("sqs_mixed.json");
    let original: Value = serde_json::from_slice(&raw).unwrap();
    let EventVerdict::PartialBatch {
        valid_event,
        failures,
    } = v.check_event(&raw)
    else {
        panic!("expected PartialBatch")
    };
    let records = valid_event["Records"].as_array().unwrap();
    assert_eq!(
        records,
        &vec![
            original["Records"][0].clone(),
            original["Records"][3].clone()
        ]
    );
    let ids: Vec<&str> = failures
        .records()
        .iter()
        .map(|r| r.identifier().as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "059f36b4-87a3-44ab-83d2-661975700001",
            "059f36b4-87a3-44ab-83d2-661975700002"
        ]
    );
    let f = failures.records();
    assert!(f[0]
        .violations()
        .iter()
        .all(|v| v.kind() == ViolationKind::Schema));
    assert_eq!(f[1].violations()[0].kind(), ViolationKind::Malformed);
    assert_eq!(f[1].violations()[0].path(), "/Records/2/body");

    // The caller merges the failed ids with whatever the handler reported.
    let failed: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let handler =
        json!({"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975700003"}]});
    let merged = merge_batch_failures(Some(handler), &failed);
    let merged_ids: Vec<&str> = merged["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["itemIdentifier"].as_str().unwrap())
        .collect();
    assert_eq!(
        merged_ids,
        [
            "059f36b4-87a3-44ab-83d2-661975700003",
            "059f36b4-87a3-44ab-83d2-661975700001",
            "059f36b4-87a3-44ab-83d2-661975700002"
        ]
    );

    // A batch with no invalid record is passed through unchanged.
    assert_eq!(
        v.check_event(&fixture("sqs_valid.json")),
        EventVerdict::Valid
    );
}

#[test]
fn sqs_fifo_partial_batch_withholds_records_after_the_first_failure() {
    let v = build(
        ValidationConfig::new()
            .schema_file("schemas/order.2020-12.json")
            .envelope(Envelope::Sqs)
            .sqs_partial_batch(true),
    );
    let EventVerdict::PartialBatch {
        valid_event,
        failures,
    } = v.check_event(&fixture("sqs_fifo_mixed.json"))
    else {
        panic!("expected PartialBatch")
    };
    assert_eq!(valid_event["Records"].as_array().unwrap().len(), 1);
    assert_eq!(failures.len(), 2);
    let f = failures.records();
    assert_eq!(f[0].violations()[0].kind(), ViolationKind::Schema);
    assert_eq!(f[1].violations()[0].kind(), ViolationKind::Withheld);
    assert_eq!(f[1].identifier(), "059f36b4-87a3-44ab-83d2-661975700002");
}

#[test]
fn sqs_without_partial_batch_rejects_the_whole_batch() {
    let (violations, rejection) =
        invalid(order_validator(Envelope::Sqs).check_event(&fixture("sqs_mixed.json")));
    assert!(violations
        .iter()
        .any(|v| v.path().starts_with("/Records/1/")));
    assert!(violations.iter().any(|v| v.path() == "/Records/2/body"));
    assert!(matches!(
        rejection,
        Rejection::InvocationError {
            error_type: "Shield.InvalidEvent",
            ..
        }
    ));
}

#[test]
fn partial_batch_needs_a_batch_envelope() {
    let err = Validator::new(
        &ValidationConfig::new()
            .envelope(Envelope::Sns)
            .sqs_partial_batch(true),
        &task_root(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ValidationError::PartialBatchNeedsBatchEnvelope { .. }
    ));
    assert!(err.to_string().contains("envelope is `sns`"), "{err}");
}

// ---------------------------------------------------------------- limits

fn limit_violation(verdict: EventVerdict) -> Violation {
    let (violations, _) = invalid(verdict);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].kind(), ViolationKind::Limit, "{violations:?}");
    violations[0].clone()
}

#[test]
fn ten_megabyte_payload_is_a_limit_violation() {
    let payload = format!(r#"{{"data":"{}"}}"#, "a".repeat(10 * 1024 * 1024));
    for v in [
        order_validator(Envelope::Whole),
        build(ValidationConfig::new()),
    ] {
        let violation = limit_violation(v.check_event(payload.as_bytes()));
        assert_eq!(violation.path(), "");
        assert!(
            violation.message().contains("6291456-byte limit"),
            "{violation:?}"
        );
    }
    // The limit also applies to a decoded body, not only the raw event.
    let body = format!(r#"{{"data":"{}"}}"#, "a".repeat(2048));
    let event = json!({"body": body, "isBase64Encoded": false}).to_string();
    let v = build(
        ValidationConfig::new()
            .envelope(Envelope::ApiGatewayV2)
            .max_bytes(4096)
            .max_depth(8),
    );
    assert_eq!(v.check_event(event.as_bytes()), EventVerdict::Valid);
}

#[test]
fn depth_of_100k_is_a_limit_violation_not_a_stack_overflow() {
    let deep_arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    let v = order_validator(Envelope::Whole);
    for payload in [&deep_arrays, &deep_objects] {
        let violation = limit_violation(v.check_event(payload.as_bytes()));
        assert!(violation.message().contains("64 levels"), "{violation:?}");
    }
    // Only opening brackets, never closed (not even valid JSON).
    limit_violation(v.check_event("[".repeat(100_000).as_bytes()));
    // At the highest configurable depth, serde_json's own recursion limit is never reached first.
    let v127 = build(ValidationConfig::new().max_depth(127));
    let at_127 = format!("{}{}", "[".repeat(127), "]".repeat(127));
    assert_eq!(v127.check_event(at_127.as_bytes()), EventVerdict::Valid);
    let at_128 = format!("{}{}", "[".repeat(128), "]".repeat(128));
    limit_violation(v127.check_event(at_128.as_bytes()));
    // Deep payload hidden inside an SQS body string: the body is scanned before it is parsed.
    let event = json!({"Records": [{"messageId": "m1", "body": deep_arrays}]}).to_string();
    let violation = limit_violation(order_validator(Envelope::Sqs).check_event(event.as_bytes()));
    assert_eq!(violation.path(), "/Records/0/body");
}

#[test]
fn huge_arrays_are_a_limit_violation() {
    let million = format!("[{}0]", "0,".repeat(999_999));
    let v = order_validator(Envelope::Whole);
    let violation = limit_violation(v.check_event(million.as_bytes()));
    assert!(
        violation.message().contains("10000 elements"),
        "{violation:?}"
    );
    // Inside Kinesis base64 data.
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode(million.as_bytes());
    let event = json!({"Records": [{"kinesis": {"data": data}}]}).to_string();
    let violation =
        limit_violation(order_validator(Envelope::Kinesis).check_event(event.as_bytes()));
    assert_eq!(violation.path(), "/Records/0/kinesis/data");
    // Exactly at the limit passes the limit check.
    let at_limit = format!("[{}0]", "0,".repeat(9_999));
    let no_schema = build(ValidationConfig::new());
    assert_eq!(
        no_schema.check_event(at_limit.as_bytes()),
        EventVerdict::Valid
    );
}

#[test]
fn gzip_bomb_stops_at_max_bytes() {
    let v = validator_for(&Envelope::CloudWatchLogs);
    let violation = limit_violation(v.check_event(&fixture("cloudwatch_logs_gzip_bomb.json")));
    assert_eq!(violation.path(), "/awslogs/data");
}

#[test]
fn limits_are_validated() {
    for cfg in [
        ValidationConfig::new().max_depth(0),
        ValidationConfig::new().max_depth(128),
        ValidationConfig::new().max_bytes(0),
        ValidationConfig::new().max_array_len(0),
    ] {
        let err = Validator::new(&cfg, &task_root()).unwrap_err();
        assert!(matches!(err, ValidationError::InvalidLimit { .. }), "{err}");
    }
    let err = Validator::new(&ValidationConfig::new().max_depth(500), &task_root()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `max_depth` = 500: must be between 1 and 127"
    );
}

// ---------------------------------------------------------------- drafts, formats, patterns

fn whole(schema: &str) -> Validator {
    build(ValidationConfig::new().schema_json(schema))
}

fn assert_verdicts(v: &Validator, valid: &str, invalid_doc: &str) {
    assert_eq!(
        v.check_event(valid.as_bytes()),
        EventVerdict::Valid,
        "{valid}"
    );
    let (violations, _) = invalid(v.check_event(invalid_doc.as_bytes()));
    assert!(!violations.is_empty());
}

#[test]
fn draft4_api_gateway_model() {
    let v = build(
        ValidationConfig::new()
            .schema_file("schemas/order.draft4.json")
            .envelope(Envelope::ApiGatewayV1),
    );
    assert_eq!(
        v.check_event(&fixture("api_gateway_v1_valid.json")),
        EventVerdict::Valid
    );
    let (violations, _) = invalid(v.check_event(&fixture("api_gateway_v1_invalid.json")));
    let q = violations
        .iter()
        .find(|x| x.path() == "/body/quantity")
        .unwrap();
    // Draft 4's boolean exclusiveMinimum: quantity 0 with minimum 0 exclusive.
    assert_eq!(q.message(), "must be greater than 0");
    // Draft-4 semantics really apply: boolean exclusiveMinimum is meaningless in 2020-12.
    assert_verdicts(
        &whole(
            r#"{"$schema":"http://json-schema.org/draft-04/schema#","minimum":5,"exclusiveMinimum":true}"#,
        ),
        "6",
        "5",
    );
}

#[test]
fn draft6_draft7_201909_202012() {
    // Draft 6: numeric exclusiveMinimum, const, contains.
    assert_verdicts(
        &whole(
            r#"{"$schema":"http://json-schema.org/draft-06/schema#","properties":{"n":{"exclusiveMinimum":5},"k":{"const":"v"}}}"#,
        ),
        r#"{"n":6,"k":"v"}"#,
        r#"{"n":5,"k":"v"}"#,
    );
    // Draft 7: if/then/else.
    assert_verdicts(
        &whole(
            r#"{"$schema":"http://json-schema.org/draft-07/schema#","if":{"properties":{"kind":{"const":"card"}}},"then":{"required":["cardToken"]},"else":{"required":["iban"]}}"#,
        ),
        r#"{"kind":"card","cardToken":"t"}"#,
        r#"{"kind":"card","iban":"x"}"#,
    );
    // 2019-09: dependentRequired and unevaluatedProperties.
    let v = whole(
        r#"{"$schema":"https://json-schema.org/draft/2019-09/schema","dependentRequired":{"card":["cvv"]},"properties":{"card":{},"cvv":{}},"unevaluatedProperties":false}"#,
    );
    assert_verdicts(&v, r#"{"card":"c","cvv":"1"}"#, r#"{"card":"c"}"#);
    let (violations, _) = invalid(v.check_event(br#"{"extra":1}"#));
    assert_eq!(violations[0].path(), "/extra");
    assert_eq!(
        violations[0].message(),
        "property is not allowed by the schema"
    );
    // 2020-12: prefixItems.
    let tuple =
        r#"{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#;
    assert_verdicts(
        &whole(&format!(
            r#"{{"$schema":"https://json-schema.org/draft/2020-12/schema",{}"#,
            &tuple[1..]
        )),
        r#"["a",1]"#,
        r#"["a","b"]"#,
    );
    // No $schema: 2020-12 is assumed, so prefixItems applies.
    assert_verdicts(&whole(tuple), r#"["a",1]"#, r#"["a",1,2]"#);
}

#[test]
fn formats_are_validated() {
    let v = whole(
        r#"{"properties":{"email":{"format":"email"},"at":{"format":"date-time"},"ip":{"format":"ipv4"},"id":{"format":"uuid"}}}"#,
    );
    assert_eq!(
        v.check_event(br#"{"email":"a@example.com","at":"2024-05-01T12:30:00Z","ip":"10.0.0.1","id":"6f1c2d3e-4b5a-4c7d-9e8f-0a1b2c3d4e5f"}"#),
        EventVerdict::Valid
    );
    let (violations, _) =
        invalid(v.check_event(br#"{"email":"nope","at":"2024-13-45","ip":"999.1.1.1","id":"x"}"#));
    let mut msgs: Vec<(&str, &str)> = violations.iter().map(|v| (v.path(), v.message())).collect();
    msgs.sort_unstable();
    assert_eq!(
        msgs,
        [
            ("/at", "is not a valid \"date-time\""),
            ("/email", "is not a valid \"email\""),
            ("/id", "is not a valid \"uuid\""),
            ("/ip", "is not a valid \"ipv4\""),
        ]
    );
}

#[test]
fn patterns_use_a_linear_time_engine() {
    // A classic catastrophic-backtracking pattern: with a backtracking engine 40 'a's and a '!'
    // take ~2^40 steps. The linear engine answers at once (the test would not finish otherwise).
    let v = whole(r#"{"properties":{"s":{"type":"string","pattern":"^(a+)+$"}}}"#);
    let doc = format!(r#"{{"s":"{}!"}}"#, "a".repeat(40));
    let (violations, _) = invalid(v.check_event(doc.as_bytes()));
    assert_eq!(
        violations[0].message(),
        "does not match the pattern `^(a+)+$`"
    );
    // Look-around needs backtracking: refused at init.
    let err = Validator::new(
        &ValidationConfig::new().schema_json(r#"{"pattern":"^(?=a)a$"}"#),
        &task_root(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ValidationError::InvalidSchema { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("linear-time"), "{err}");
}

// ---------------------------------------------------------------- init errors

#[test]
fn invalid_schema_file_fails_with_the_file_name() {
    let err = Validator::new(
        &ValidationConfig::new().schema_file("schemas/invalid_schema.json"),
        &task_root(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ValidationError::InvalidSchema { .. }),
        "{msg}"
    );
    assert!(msg.contains("schemas/invalid_schema.json"), "{msg}");
    assert!(
        msg.contains("objekt") && msg.contains("(at /type)"),
        "the problem is named: {msg}"
    );

    let err = Validator::new(
        &ValidationConfig::new().schema_file("schemas/not_json.json"),
        &task_root(),
    )
    .unwrap_err();
    assert!(matches!(err, ValidationError::SchemaNotJson { .. }));
    assert!(err.to_string().contains("schemas/not_json.json"), "{err}");

    let err = Validator::new(
        &ValidationConfig::new().response_schema_file("schemas/missing.json"),
        &task_root(),
    )
    .unwrap_err();
    assert!(matches!(err, ValidationError::SchemaRead { .. }));
    assert!(err.to_string().contains("schemas/missing.json"), "{err}");
    assert!(err.to_string().contains("response_schema"), "{err}");

    // Absolute paths are used as they are.
    let abs = task_root().join("schemas/order.2020-12.json");
    assert!(Validator::new(
        &ValidationConfig::new().schema_file(&abs),
        Path::new("/nonexistent")
    )
    .is_ok());
}

#[test]
fn remote_ref_is_refused_at_init() {
    let err = Validator::new(
        &ValidationConfig::new().schema_file("schemas/remote_ref.json"),
        &task_root(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("schemas/remote_ref.json"), "{msg}");
    assert!(
        msg.contains("http://127.0.0.1:9/schemas/address.json"),
        "{msg}"
    );
    assert!(msg.contains("refused"), "{msg}");
    // A relative reference to another file is refused too.
    let err = Validator::new(
        &ValidationConfig::new().schema_json(r#"{"$ref":"address.json"}"#),
        &task_root(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
}

#[test]
fn both_file_and_embedded_schema_is_an_error() {
    let err = Validator::new(
        &ValidationConfig::new()
            .schema_file("a.json")
            .schema_json("{}"),
        &task_root(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "both `schema` and `schema_json` are set; keep one of them"
    );
}

// ---------------------------------------------------------------- config

#[test]
fn config_from_toml() {
    let cfg: ValidationConfig = toml::from_str(
        r#"
        mode = "alert"
        schema = "schemas/order.2020-12.json"
        envelope = "sqs"
        sqs_partial_batch = true
        max_bytes = 1048576
        max_depth = 32
        max_array_len = 100
        "#,
    )
    .unwrap();
    let v = build(cfg);
    assert_eq!(v.mode(), Mode::Alert);
    assert_eq!(v.envelope(), &Envelope::Sqs);

    let err = toml::from_str::<ValidationConfig>(r#"envelope = "kinesys""#).unwrap_err();
    assert!(
        err.to_string().contains("unknown envelope `kinesys`"),
        "{err}"
    );
    assert!(err.to_string().contains("cloudwatch_logs"), "{err}");
    let err = toml::from_str::<ValidationConfig>(r#"mode = "alrt""#).unwrap_err();
    assert!(
        err.to_string().contains("expected block, alert or allow"),
        "{err}"
    );
    let err = toml::from_str::<ValidationConfig>(r#"schemas = "x.json""#).unwrap_err();
    assert!(err.to_string().contains("schemas"), "{err}");
}

#[test]
fn mode_defaults() {
    assert_eq!(order_validator(Envelope::Whole).mode(), Mode::Block);
    assert_eq!(build(ValidationConfig::new()).mode(), Mode::Alert);
    assert_eq!(
        build(ValidationConfig::new().schema_json("{}").mode(Mode::Allow)).mode(),
        Mode::Allow
    );
}

#[test]
fn json_pointer_envelope() {
    let v = build(
        ValidationConfig::new()
            .schema_json(r#"{"type":"object","required":["orderId"]}"#)
            .envelope("/detail/order~1v2/items/0".parse().unwrap()),
    );
    let ok = br#"{"detail":{"order/v2":{"items":[{"orderId":"1"}]}}}"#;
    assert_eq!(v.check_event(ok), EventVerdict::Valid);
    let (violations, _) = invalid(v.check_event(br#"{"detail":{"order/v2":{"items":[{}]}}}"#));
    assert_eq!(violations[0].path(), "/detail/order~1v2/items/0");
    assert_eq!(
        violations[0].message(),
        "required property `orderId` is missing"
    );
    let (violations, _) = invalid(v.check_event(br#"{"detail":{}}"#));
    assert_eq!(violations[0].kind(), ViolationKind::Malformed);
}

#[test]
fn violations_are_capped() {
    let v = whole(r#"{"type":"array","items":{"type":"string"}}"#);
    let doc = format!("[{}0]", "0,".repeat(999));
    let (violations, _) = invalid(v.check_event(doc.as_bytes()));
    assert_eq!(violations.len(), MAX_VIOLATIONS);
    assert_eq!(violations[0].path(), "/0");
    assert_eq!(violations[0].message(), "must be of type string");
}

// ---------------------------------------------------------------- responses

#[test]
fn response_validation() {
    let v = build(ValidationConfig::new().response_schema_json(
        r#"{"type":"object","required":["statusCode"],"properties":{"statusCode":{"type":"integer","maximum":599}}}"#,
    ));
    assert!(v.has_response_schema());
    assert_eq!(v.check_response(&json!({"statusCode": 200})), Ok(()));
    let violations = v
        .check_response(&json!({"statusCode": 999, "body": "SECRET"}))
        .unwrap_err();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].path(), "/statusCode");
    assert_eq!(violations[0].message(), "must be at most 599");
    // A deeply nested response is a Limit violation, computed without recursion.
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let violations = v.check_response(&deep).unwrap_err();
    assert_eq!(violations[0].kind(), ViolationKind::Limit);
    // No response schema: everything passes.
    assert_eq!(
        order_validator(Envelope::Whole).check_response(&json!(null)),
        Ok(())
    );
}
