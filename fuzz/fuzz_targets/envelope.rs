//! Feeds arbitrary bytes to every envelope decoder through `Validator::check_event`.
//!
//! Invariants checked on every input, for every envelope:
//! - no panic, no stack overflow, whatever the bytes (limits run before any parsing);
//! - an `Invalid` verdict has at least one violation, and a 400 only for HTTP envelopes (for
//!   `auto`, only when the detected source, named in the violations, is HTTP);
//! - a `PartialBatch` only for a partial-batch validator of a batch source.
//!
//! Run: `cargo fuzz run envelope` (nightly), from the repository root.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use fnshield::validate::{Envelope, EventVerdict, Rejection, ValidationConfig, Validator};
use libfuzzer_sys::fuzz_target;

/// A schema with a bit of everything, so schema validation and masking run too.
const SCHEMA: &str = r#"{"type":"object","properties":{"id":{"type":"string","format":"uuid","pattern":"^[0-9a-f-]+$"},"n":{"type":"integer","maximum":10},"tags":{"type":"array","items":{"type":"string"},"maxItems":3}},"additionalProperties":{"type":["string","number","boolean","null"]}}"#;

static VALIDATORS: LazyLock<Vec<(Envelope, bool, Validator)>> = LazyLock::new(|| {
    // Every named envelope, plus a pointer.
    let mut envelopes: Vec<Envelope> = [
        "none", "auto", "api_gateway_v1", "api_gateway_v2", "api_gateway_websocket", "alb",
        "function_url", "vpc_lattice", "vpc_lattice_v2", "sqs", "sns", "sns_sqs", "eventbridge",
        "cloudwatch_events_scheduled", "kinesis", "kinesis_firehose", "cloudwatch_logs",
        "dynamodb_streams", "kafka", "bedrock_agent", "s3_sqs", "s3_sns_sqs",
        "s3_eventbridge_sqs", "s3_firehose",
    ]
    .iter()
    .map(|n| n.parse().expect("envelope name"))
    .collect();
    envelopes.push("/detail/a~1b/0".parse().expect("pointer"));
    let root = Path::new("/nonexistent");
    let mut out = Vec::new();
    for e in envelopes {
        // Small limits so the fuzzer reaches them quickly.
        let cfg = ValidationConfig::new()
            .schema_json(SCHEMA)
            .envelope(e.clone())
            .max_bytes(64 * 1024)
            .max_depth(16)
            .max_array_len(64);
        out.push((
            e.clone(),
            false,
            Validator::new(&cfg, root).expect("config"),
        ));
        if e.batch_source().is_some() || e == Envelope::Auto {
            let cfg = cfg.partial_batch(true);
            out.push((e, true, Validator::new(&cfg, root).expect("config")));
        }
    }
    out
});

fuzz_target!(|data: &[u8]| {
    for (envelope, partial, validator) in VALIDATORS.iter() {
        match validator.check_event(data) {
            EventVerdict::Valid => {}
            EventVerdict::Invalid {
                violations,
                rejection,
            } => {
                assert!(!violations.is_empty());
                let effective = if *envelope == Envelope::Auto {
                    violations[0]
                        .envelope()
                        .and_then(|n| n.parse().ok())
                        .expect("auto names the detected source")
                } else {
                    envelope.clone()
                };
                assert_eq!(
                    matches!(rejection, Rejection::Http400(_)),
                    effective.is_http()
                );
            }
            EventVerdict::PartialBatch { failures, .. } => {
                assert!(*partial);
                assert!(!failures.is_empty());
            }
            _ => {}
        }
    }
});
