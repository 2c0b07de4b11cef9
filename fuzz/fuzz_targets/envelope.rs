//! Feeds arbitrary bytes to every envelope decoder through `Validator::check_event`.
//!
//! Invariants checked on every input, for every envelope:
//! - no panic, no stack overflow, whatever the bytes (limits run before any parsing);
//! - an `Invalid` verdict has at least one violation, and a 400 only for HTTP envelopes;
//! - a `PartialBatch` only for the SQS partial-batch validator.
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
    let envelopes = [
        Envelope::Whole,
        Envelope::ApiGatewayV1,
        Envelope::ApiGatewayV2,
        Envelope::Alb,
        Envelope::FunctionUrl,
        Envelope::Sqs,
        Envelope::Sns,
        Envelope::EventBridge,
        Envelope::Kinesis,
        Envelope::CloudWatchLogs,
        "/detail/a~1b/0".parse().expect("pointer"),
    ];
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
        if e == Envelope::Sqs {
            let cfg = cfg.sqs_partial_batch(true);
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
                assert_eq!(
                    matches!(rejection, Rejection::Http400(_)),
                    envelope.is_http()
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
