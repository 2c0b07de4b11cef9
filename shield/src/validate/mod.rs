//! Event validation: JSON Schemas, AWS envelopes, limits and outcomes.
//!
//! A [`Validator`] is compiled once at cold start from a [`ValidationConfig`], then checks every
//! raw event received from the Runtime API with [`Validator::check_event`] and, optionally, every
//! handler result with [`Validator::check_response`].
//!
//! ```
//! use fnshield::validate::{Envelope, EventVerdict, Rejection, ValidationConfig, Validator};
//!
//! let cfg = ValidationConfig::new()
//!     .schema_json(r#"{"type": "object", "required": ["orderId"],
//!                      "properties": {"orderId": {"type": "string", "format": "uuid"}}}"#)
//!     .envelope(Envelope::ApiGatewayV1);
//! let validator = Validator::new(&cfg, std::path::Path::new("/var/task"))?;
//!
//! let event = br#"{"httpMethod": "POST", "path": "/orders", "isBase64Encoded": false,
//!                  "body": "{\"orderId\": \"not-a-uuid\"}"}"#;
//! match validator.check_event(event) {
//!     EventVerdict::Invalid { rejection: Rejection::Http400(response), violations } => {
//!         assert_eq!(response["statusCode"], 400);
//!         assert_eq!(violations[0].path(), "/body/orderId");
//!         assert!(!response["body"].as_str().unwrap().contains("not-a-uuid"));
//!     }
//!     other => panic!("expected a 400, got {other:?}"),
//! }
//! # Ok::<(), fnshield::validate::ValidationError>(())
//! ```
//!
//! # Pipeline
//!
//! For every event, in this order:
//!
//! 1. **Parse within the limits** ([`limits`]): size first, then nesting depth and array
//!    length, checked in the same pass as `serde_json` parses the event (a container or an
//!    element over a limit stops the parse there, so nothing beyond the limits is built, and
//!    recursion is bounded by `max_depth`). The HTTP envelopes, which deserialize
//!    only the body, and a validator with neither schema nor envelope check the raw bytes with
//!    the iterative byte scanner instead.
//! 2. **Unwrap the envelope** ([`envelope`]): pick the document(s) to validate, decoding base64,
//!    gzip and embedded JSON strings. Every decoded payload is parsed within the same limits.
//! 3. **Schema validation** with the [`jsonschema`] crate.
//!
//! # Schemas
//!
//! * Drafts 4, 6, 7, 2019-09 and 2020-12 are supported and chosen by the schema's `$schema`
//!   keyword (API Gateway models declare draft 4 this way). A schema without `$schema` is
//!   treated as **2020-12**.
//! * `format` is validated (`email`, `date-time`, `uuid`, `ipv4`, ...); unknown formats are
//!   ignored, as the specification requires.
//! * `pattern` and `patternProperties` use the `regex` crate, whose matching time is linear in
//!   the input: no pattern can be made to backtrack catastrophically. Patterns that need
//!   backtracking features (look-around, back-references) fail at init.
//! * `$ref` must resolve inside the schema document (`#/definitions/...`, `#/$defs/...`, or an
//!   `$id` declared in it). External references, over HTTP or to files, are refused at init
//!   with a message naming the reference: fnshield never fetches a schema, so init can neither
//!   hang on the network nor depend on it. Bundle external schemas under `$defs`.
//! * A schema comes from a file (`schema = "schemas/order.json"`, relative to
//!   `$LAMBDA_TASK_ROOT` unless absolute) or is embedded (`schema_json`). It is compiled once in
//!   [`Validator::new`]; an unreadable file, invalid JSON or an invalid schema fails there with
//!   the file name and the problem.
//!
//! # Outcomes
//!
//! [`Validator::check_event`] returns an [`EventVerdict`], the same in every [`Mode`]; the caller
//! applies the mode:
//!
//! * [`EventVerdict::Valid`]: pass the event through unchanged.
//! * [`EventVerdict::Invalid`]: in `block` mode the handler is not invoked. HTTP triggers get the
//!   [`Rejection::Http400`] response, in their own response format, with a JSON body
//!   `{"message": "Invalid request", "errors": [{"path": ..., "message": ...}]}`; other triggers
//!   get [`Rejection::InvocationError`] `Shield.InvalidEvent`.
//! * [`EventVerdict::PartialBatch`] (batch sources with `partial_batch = true` only): the handler
//!   gets the event with only the valid records; the invalid ones are reported in the source's
//!   partial batch response ([`BatchFailures::merge`]: `batchItemFailures` with `messageId`,
//!   sequence numbers or Kafka partition and offset; Firehose `ProcessingFailed` records), so the
//!   source retries or dead-letters only them. Ordered sources (FIFO queues, Kinesis and DynamoDB
//!   shards, Kafka partitions) also withhold the records after the first invalid one
//!   ([`ViolationKind::Withheld`]), so order is kept. See [`batch`].
//!
//! With `envelope = "auto"` the source is recognised from the event's shape
//! ([`envelope::detect`]) and every violation names it ([`Violation::envelope`]).
//!
//! **Masking.** Violation messages are built by fnshield from the kind of error and the schema
//! (`"must be at most 10 characters long"`, `"is not a valid \"email\""`), never from the input:
//! no instance value is echoed back to the client or into logs. Paths are JSON Pointers into the
//! event, so they contain property names and indexes, truncated to 256 bytes.

pub mod batch;
mod config;
pub mod envelope;
mod error;
pub mod limits;
mod messages;
pub mod response;
mod schema;
mod verdict;
mod violation;

use std::fmt;
use std::path::Path;

use serde_json::Value;

pub use batch::{merge_batch_failures, BatchFailures, FailedRecord};
use config::check_limit;
pub use config::{Mode, ValidationConfig};
pub use envelope::BatchSource;
pub use envelope::Envelope;
use envelope::PathMap;
pub use error::ValidationError;
use limits::Limits;
use messages::not_json;
pub use response::{INVALID_EVENT, INVALID_RESPONSE};
use schema::{collect_schema_errors, load_schema, Compiled};
pub(crate) use verdict::Screening;
pub use verdict::{EventVerdict, Rejection};
pub use violation::{Violation, ViolationKind};

/// The most violations reported for one document (one event, or one SQS record in a partial
/// batch). Validation stops collecting after this many.
pub const MAX_VIOLATIONS: usize = 32;

/// Validates events and responses. Built once at cold start; cheap to share (`Send + Sync`).
pub struct Validator {
    mode: Mode,
    envelope: Envelope,
    limits: Limits,
    partial_batch: bool,
    event_schema: Option<Compiled>,
    response_schema: Option<Compiled>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("mode", &self.mode)
            .field("envelope", &self.envelope)
            .field("limits", &self.limits)
            .field("partial_batch", &self.partial_batch)
            .field("event_schema", &self.event_schema.is_some())
            .field("response_schema", &self.response_schema.is_some())
            .finish()
    }
}

impl Validator {
    /// Checks the configuration, reads and compiles the schemas. Relative schema paths are
    /// resolved against `task_root` (normally `$LAMBDA_TASK_ROOT`).
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] naming the key or file and the problem: unreadable file, invalid
    /// JSON, invalid schema, external `$ref`, unsupported pattern, both file and embedded schema
    /// set, a limit out of range, or `partial_batch` with an envelope that is not a batch source.
    pub fn new(cfg: &ValidationConfig, task_root: &Path) -> Result<Self, ValidationError> {
        let limits = Limits {
            max_bytes: check_limit(
                "max_bytes",
                cfg.max_bytes,
                limits::DEFAULT_MAX_BYTES,
                usize::MAX,
            )?,
            max_depth: check_limit(
                "max_depth",
                cfg.max_depth,
                limits::DEFAULT_MAX_DEPTH,
                limits::MAX_DEPTH_CEILING,
            )?,
            max_array_len: check_limit(
                "max_array_len",
                cfg.max_array_len,
                limits::DEFAULT_MAX_ARRAY_LEN,
                usize::MAX,
            )?,
        };
        let partial_batch = cfg.partial_batch || cfg.sqs_partial_batch;
        if partial_batch && cfg.envelope != Envelope::Auto && cfg.envelope.batch_source().is_none()
        {
            return Err(ValidationError::PartialBatchNeedsBatchEnvelope {
                envelope: cfg.envelope.name().to_owned(),
            });
        }
        let event_schema = load_schema(
            cfg.schema.as_deref(),
            cfg.schema_json.as_deref(),
            ("schema", "schema_json"),
            task_root,
        )?;
        let response_schema = load_schema(
            cfg.response_schema.as_deref(),
            cfg.response_schema_json.as_deref(),
            ("response_schema", "response_schema_json"),
            task_root,
        )?;
        let has_schema = event_schema.is_some() || response_schema.is_some();
        Ok(Self {
            mode: cfg
                .mode
                .unwrap_or(if has_schema { Mode::Block } else { Mode::Alert }),
            envelope: cfg.envelope.clone(),
            limits,
            partial_batch,
            event_schema,
            response_schema,
        })
    }

    /// The configured mode (default: `block` when a schema is set, `alert` otherwise).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The configured envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Whether a response schema is configured.
    pub fn has_response_schema(&self) -> bool {
        self.response_schema.is_some()
    }

    /// Checks one raw event, exactly as received from the Runtime API. Never panics, whatever
    /// the bytes; see the [module documentation](self) for the pipeline and outcomes.
    ///
    /// Without an event schema, envelopes are still unwrapped (so a body that is not JSON, or
    /// too deep, is reported); with neither a schema nor an envelope only the limits are checked
    /// and the event is not parsed at all.
    pub fn check_event(&self, raw: &[u8]) -> EventVerdict {
        let limits_only = self.event_schema.is_none() && self.envelope == Envelope::Whole;
        if limits_only || self.envelope.is_http() {
            // Nothing is parsed into a `Value` here (limits only, or the HTTP envelopes, which
            // deserialize only the body and skip the rest of the event): the byte scanner
            // bounds the whole event first.
            if let Err(e) = limits::scan(raw, &self.limits) {
                let v = Violation::new(String::new(), e.to_string(), ViolationKind::Limit);
                return self.invalid(&self.envelope, false, vec![v]);
            }
            if limits_only {
                return EventVerdict::Valid;
            }
            return self.check_http(raw);
        }
        // Limits checked while parsing, in one pass. A named envelope without partial batch
        // responses reads only a few fields of the event: only those are built (the rest is
        // parsed and held to the limits, not copied); detection and partial batch responses
        // read more, so they get the whole event.
        let keep = if self.envelope == Envelope::Auto
            || (self.partial_batch && self.envelope.batch_source().is_some())
        {
            limits::Keep::All
        } else {
            envelope::projection(&self.envelope)
        };
        let event: Value = match limits::parse_projected(raw, &self.limits, keep) {
            Ok(v) => v,
            Err(limits::ParseError::Limit(e)) => {
                let v = Violation::new(String::new(), e.to_string(), ViolationKind::Limit);
                return self.invalid(&self.envelope, false, vec![v]);
            }
            Err(limits::ParseError::Json(e)) => {
                return self.invalid(&self.envelope, false, vec![not_json(&e, &self.envelope)])
            }
        };
        let detected;
        let envelope = if self.envelope == Envelope::Auto {
            detected = envelope::detect::detect(&event);
            &detected
        } else {
            &self.envelope
        };
        if *envelope == Envelope::Whole {
            // Fast path: no envelope bookkeeping.
            let mut violations = Vec::new();
            self.validate_doc(&event, "", PathMap::Same, &mut violations);
            return if violations.is_empty() {
                EventVerdict::Valid
            } else {
                self.invalid(envelope, false, violations)
            };
        }
        let docs = match envelope::extract(envelope, &event, &self.limits) {
            Ok(docs) => docs,
            Err(v) => return self.invalid(envelope, false, vec![v]),
        };
        if self.partial_batch {
            if let Some(source) = envelope.batch_source() {
                return self.partial(envelope, source, &event, docs);
            }
        }
        let mut violations = Vec::new();
        for doc in docs {
            if violations.len() >= MAX_VIOLATIONS {
                break;
            }
            match doc.content {
                Err(v) => violations.push(v),
                Ok(value) => self.validate_doc(&value, &doc.location, doc.map, &mut violations),
            }
        }
        if violations.is_empty() {
            EventVerdict::Valid
        } else {
            let multi = envelope.is_http() && event.get("multiValueHeaders").is_some();
            self.invalid(envelope, multi, violations)
        }
    }

    /// Checks a handler's result against the response schema. `Ok(())` when no response schema
    /// is configured. In `block` mode the caller turns an `Err` into `Shield.InvalidResponse`
    /// ([`INVALID_RESPONSE`]). The response's depth is checked (iteratively) against
    /// `max_depth` first.
    ///
    /// # Errors
    ///
    /// The response's [`Violation`]s (at most [`MAX_VIOLATIONS`]), each with a JSON Pointer
    /// into the response and a message without the offending value.
    pub fn check_response(&self, response: &Value) -> Result<(), Vec<Violation>> {
        let Some(schema) = &self.response_schema else {
            return Ok(());
        };
        if limits::value_depth_exceeds(response, self.limits.max_depth) {
            return Err(vec![Violation::new(
                String::new(),
                limits::LimitExceeded::Depth {
                    limit: self.limits.max_depth,
                }
                .to_string(),
                ViolationKind::Limit,
            )]);
        }
        if schema.validator.is_valid(response) {
            return Ok(());
        }
        let mut out = Vec::new();
        collect_schema_errors(&schema.validator, response, "", PathMap::Same, &mut out);
        Err(out)
    }

    fn validate_doc(
        &self,
        value: &Value,
        location: &str,
        map: PathMap<'_>,
        out: &mut Vec<Violation>,
    ) {
        if let Some(schema) = &self.event_schema {
            if !schema.validator.is_valid(value) {
                collect_schema_errors(&schema.validator, value, location, map, out);
            }
        }
    }

    /// HTTP envelopes: deserialize only `body`, `isBase64Encoded` and `multiValueHeaders`.
    fn check_http(&self, raw: &[u8]) -> EventVerdict {
        // serde's derived struct visitor also accepts a JSON array (fields by position): insist
        // on an object, as every HTTP trigger sends.
        if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            let message = format!(
                "event does not have the shape of a `{}` event: expected a JSON object",
                self.envelope
            );
            let v = Violation::new(String::new(), message, ViolationKind::Malformed);
            return self.invalid(&self.envelope, false, vec![v]);
        }
        let event: envelope::HttpEvent = match serde_json::from_slice(raw) {
            Ok(e) => e,
            Err(e) => {
                return self.invalid(&self.envelope, false, vec![not_json(&e, &self.envelope)])
            }
        };
        let multi = event.has_multi_value_headers();
        let doc = event.body_doc(&self.limits);
        let mut violations = Vec::new();
        match doc.content {
            Err(v) => violations.push(v),
            Ok(value) => self.validate_doc(&value, &doc.location, doc.map, &mut violations),
        }
        if violations.is_empty() {
            EventVerdict::Valid
        } else {
            self.invalid(&self.envelope, multi, violations)
        }
    }

    /// The envelope name violations carry: the configured one, or for `auto` the detected one.
    fn envelope_name(envelope: &Envelope) -> Option<&'static str> {
        match envelope {
            Envelope::Pointer(_) => None,
            e => Some(e.static_name()),
        }
    }

    fn invalid(
        &self,
        envelope: &Envelope,
        multi_value_headers: bool,
        mut violations: Vec<Violation>,
    ) -> EventVerdict {
        if let Some(name) = Self::envelope_name(envelope) {
            violations.iter_mut().for_each(|v| v.set_envelope(name));
        }
        let detected =
            (self.envelope == Envelope::Auto && *envelope != Envelope::Auto).then_some(envelope);
        let rejection = response::rejection(envelope, detected, multi_value_headers, &violations);
        EventVerdict::Invalid {
            violations,
            rejection,
        }
    }

    fn partial(
        &self,
        envelope: &Envelope,
        source: BatchSource,
        event: &Value,
        docs: Vec<envelope::Doc<'_>>,
    ) -> EventVerdict {
        let records = match envelope::batch_records(envelope, event) {
            Ok(r) => r,
            Err(v) => return self.invalid(envelope, false, vec![v]),
        };
        let mut per_record: Vec<Vec<Violation>> = vec![Vec::new(); records.len()];
        for doc in docs {
            let Some(found) = doc.record.and_then(|i| per_record.get_mut(i)) else {
                continue;
            };
            if found.len() >= MAX_VIOLATIONS {
                continue;
            }
            match doc.content {
                Err(v) => found.push(v),
                Ok(value) => self.validate_doc(&value, &doc.location, doc.map, found),
            }
        }
        let name = Self::envelope_name(envelope);
        for v in per_record.iter_mut().flatten() {
            if let Some(name) = name {
                v.set_envelope(name);
            }
        }
        let fifo = records
            .first()
            .and_then(|r| r.value.get("eventSourceARN"))
            .and_then(Value::as_str)
            .is_some_and(|arn| arn.ends_with(".fifo"));
        match batch::partition(source, &records, per_record, fifo) {
            batch::Partition::AllValid => EventVerdict::Valid,
            batch::Partition::Unreportable(v) => self.invalid(envelope, false, vec![v]),
            batch::Partition::Partial(keep, mut failures) => {
                if let Some(name) = name {
                    failures.set_envelope(name);
                }
                EventVerdict::PartialBatch {
                    valid_event: batch::keep_records(source, event, &records, &keep),
                    failures,
                }
            }
        }
    }
}
