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
//! 1. **Limits** on the raw bytes ([`limits`]): size, nesting depth and array length, checked by
//!    an iterative byte scanner before anything is parsed.
//! 2. **Parse** the event with `serde_json` (it cannot hit serde_json's recursion limit: the
//!    depth was already bounded in step 1).
//! 3. **Unwrap the envelope** ([`envelope`]): pick the document(s) to validate, decoding base64,
//!    gzip and embedded JSON strings. Every decoded payload goes through step 1 again.
//! 4. **Schema validation** with the [`jsonschema`] crate.
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
//! * [`EventVerdict::PartialBatch`] (SQS with `sqs_partial_batch = true` only): the handler gets
//!   the event with only the valid records; the invalid records' `messageId`s are reported in
//!   `batchItemFailures` ([`merge_batch_failures`]), so SQS retries or dead-letters only them.
//!   On a FIFO queue (`eventSourceARN` ends in `.fifo`), every record after the first invalid
//!   one is withheld as well ([`ViolationKind::Withheld`]), so message order is kept.
//!
//! **Masking.** Violation messages are built by fnshield from the kind of error and the schema
//! (`"must be at most 10 characters long"`, `"is not a valid \"email\""`), never from the input:
//! no instance value is echoed back to the client or into logs. Paths are JSON Pointers into the
//! event, so they contain property names and indexes, truncated to 256 bytes.

pub mod envelope;
pub mod limits;
pub mod response;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

pub use envelope::Envelope;
use limits::Limits;
pub use response::{merge_batch_failures, INVALID_EVENT, INVALID_RESPONSE};

/// The most violations reported for one document (one event, or one SQS record in a partial
/// batch). Validation stops collecting after this many.
pub const MAX_VIOLATIONS: usize = 32;

/// The longest path reported in a violation, in bytes; longer paths are cut and end in `...`.
const MAX_PATH_LEN: usize = 256;

/// What the caller does with an invalid event or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Do not invoke the handler: return the [`Rejection`] (or `Shield.InvalidResponse`).
    Block,
    /// Log the violations, then invoke the handler with the original event.
    Alert,
    /// Validate (so the verdict can be observed) but neither block nor alert.
    Allow,
}

impl Mode {
    /// The configuration name: `block`, `alert` or `allow`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Block => "block",
            Self::Alert => "alert",
            Self::Allow => "allow",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "block" => Ok(Self::Block),
            "alert" => Ok(Self::Alert),
            "allow" => Ok(Self::Allow),
            _ => Err(ValidationError::UnknownMode { name: s.to_owned() }),
        }
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Configuration of event (and response) validation, from the policy file or built in code.
///
/// Keys (all optional):
///
/// | key | meaning | default |
/// |-----|---------|---------|
/// | `mode` | `"block"`, `"alert"` or `"allow"` | `block` when a schema is set, `alert` otherwise (limits only) |
/// | `schema` | schema file, relative to `$LAMBDA_TASK_ROOT` or absolute | none |
/// | `schema_json` | schema embedded as a JSON string | none |
/// | `envelope` | see [`Envelope`]: `"none"`, `"api_gateway_v1"`, ..., or `"/a/json/pointer"` | `"none"` |
/// | `response_schema`, `response_schema_json` | schema for the handler's result | none |
/// | `max_bytes` | [limit](limits) on raw and decoded payload size | 6 MiB |
/// | `max_depth` | limit on nesting, at most 127 | 64 |
/// | `max_array_len` | limit on elements in one array | 10 000 |
/// | `sqs_partial_batch` | report invalid SQS records in `batchItemFailures` instead of rejecting the batch (needs `envelope = "sqs"`) | false |
///
/// ```toml
/// [validation]
/// schema = "schemas/order.json"
/// envelope = "sqs"
/// sqs_partial_batch = true
/// ```
///
/// Unknown keys are an error. Values are checked when the [`Validator`] is built.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    schema: Option<PathBuf>,
    #[serde(default)]
    schema_json: Option<String>,
    #[serde(default)]
    envelope: Envelope,
    #[serde(default)]
    response_schema: Option<PathBuf>,
    #[serde(default)]
    response_schema_json: Option<String>,
    #[serde(default)]
    max_bytes: Option<usize>,
    #[serde(default)]
    max_depth: Option<usize>,
    #[serde(default)]
    max_array_len: Option<usize>,
    #[serde(default)]
    sqs_partial_batch: bool,
}

impl ValidationConfig {
    /// An empty configuration: no schema, whole-event envelope, default limits.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the mode (`mode`).
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }
    /// Reads the event schema from a file (`schema`), relative to the task root unless absolute.
    #[must_use]
    pub fn schema_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.schema = Some(path.into());
        self
    }
    /// Embeds the event schema as a JSON string (`schema_json`).
    #[must_use]
    pub fn schema_json(mut self, json: impl Into<String>) -> Self {
        self.schema_json = Some(json.into());
        self
    }
    /// Sets the envelope (`envelope`).
    #[must_use]
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }
    /// Reads the response schema from a file (`response_schema`).
    #[must_use]
    pub fn response_schema_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.response_schema = Some(path.into());
        self
    }
    /// Embeds the response schema as a JSON string (`response_schema_json`).
    #[must_use]
    pub fn response_schema_json(mut self, json: impl Into<String>) -> Self {
        self.response_schema_json = Some(json.into());
        self
    }
    /// Sets `max_bytes`.
    #[must_use]
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = Some(n);
        self
    }
    /// Sets `max_depth` (at most [`limits::MAX_DEPTH_CEILING`]).
    #[must_use]
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = Some(n);
        self
    }
    /// Sets `max_array_len`.
    #[must_use]
    pub fn max_array_len(mut self, n: usize) -> Self {
        self.max_array_len = Some(n);
        self
    }
    /// Sets `sqs_partial_batch`.
    #[must_use]
    pub fn sqs_partial_batch(mut self, enabled: bool) -> Self {
        self.sqs_partial_batch = enabled;
        self
    }
}

/// A configuration or schema problem found when building a [`Validator`] (or parsing a name).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// `envelope` is not a known name or a JSON Pointer.
    #[error("unknown envelope `{name}` for `envelope`; expected one of {expected}, or a JSON Pointer such as \"/detail\"")]
    UnknownEnvelope {
        /// The name given.
        name: String,
        /// The valid names, comma-separated.
        expected: String,
    },
    /// A pointer envelope is not a valid RFC 6901 JSON Pointer.
    #[error("invalid JSON Pointer `{pointer}` for `envelope`: {problem}")]
    InvalidPointer {
        /// The pointer given.
        pointer: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `mode` is not `block`, `alert` or `allow`.
    #[error("unknown mode `{name}` for `mode`; expected block, alert or allow")]
    UnknownMode {
        /// The name given.
        name: String,
    },
    /// Both the file and the embedded form of a schema are set.
    #[error("both `{file_key}` and `{json_key}` are set; keep one of them")]
    ConflictingSchemas {
        /// `schema` or `response_schema`.
        file_key: &'static str,
        /// `schema_json` or `response_schema_json`.
        json_key: &'static str,
    },
    /// A schema file cannot be read.
    #[error("cannot read schema file {} (from `{key}`): {source}; give a path relative to $LAMBDA_TASK_ROOT or an absolute one", path.display())]
    SchemaRead {
        /// `schema` or `response_schema`.
        key: &'static str,
        /// The resolved path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A schema is not valid JSON.
    #[error("schema {origin} is not valid JSON: {source}")]
    SchemaNotJson {
        /// The file, or the key of an embedded schema.
        origin: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A schema is valid JSON but not a valid JSON Schema (or uses an external `$ref`, or a
    /// pattern the linear-time regex engine does not support).
    #[error("schema {origin} is invalid: {problem}")]
    InvalidSchema {
        /// The file, or the key of an embedded schema.
        origin: String,
        /// What the schema compiler reported.
        problem: String,
    },
    /// A limit is out of range.
    #[error("invalid `{name}` = {value}: {problem}")]
    InvalidLimit {
        /// `max_bytes`, `max_depth` or `max_array_len`.
        name: &'static str,
        /// The value given.
        value: usize,
        /// The allowed range.
        problem: String,
    },
    /// `sqs_partial_batch` is set with an envelope other than `sqs`.
    #[error(
        "`sqs_partial_batch = true` needs `envelope = \"sqs\"`, but the envelope is `{envelope}`"
    )]
    PartialBatchNeedsSqs {
        /// The configured envelope.
        envelope: String,
    },
}

/// What kind of problem a [`Violation`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationKind {
    /// The document does not match the JSON Schema.
    Schema,
    /// A size, depth or array-length [limit](limits) was exceeded.
    Limit,
    /// The envelope could not be unwrapped: a missing field, bad base64, bad gzip, a body that is
    /// not JSON.
    Malformed,
    /// A FIFO SQS record withheld from the handler because an earlier record in the batch was
    /// invalid (partial batch mode only).
    Withheld,
}

/// One problem found in an event or response. It never contains an input value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    path: String,
    message: String,
    kind: ViolationKind,
}

impl Violation {
    pub(crate) fn new(path: String, message: String, kind: ViolationKind) -> Self {
        Self {
            path: truncate_path(path),
            message,
            kind,
        }
    }
    /// JSON Pointer to the offending value, from the root of the event: the envelope's location
    /// then the path inside the validated document (`/Records/3/body/name`). Empty for the root.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// What is wrong, without the offending value (`must be at most 10 characters long`).
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The kind of problem.
    pub fn kind(&self) -> ViolationKind {
        self.kind
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

fn truncate_path(mut path: String) -> String {
    if path.len() > MAX_PATH_LEN {
        let mut cut = MAX_PATH_LEN;
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        path.truncate(cut);
        path.push_str("...");
    }
    path
}

/// How a rejected event is answered when the mode is `block`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rejection {
    /// HTTP triggers: the complete 400 response, in the trigger's format. Every variant has
    /// `statusCode: 400`, `headers: {"Content-Type": "application/json"}`, a string `body` and
    /// `isBase64Encoded: false`; ALB responses add `statusDescription: "400 Bad Request"` and
    /// use `multiValueHeaders` instead of `headers` when the request had multi-value headers.
    Http400(Value),
    /// Other triggers: fail the invocation with this error.
    InvocationError {
        /// Always [`INVALID_EVENT`] (`"Shield.InvalidEvent"`).
        error_type: &'static str,
        /// A summary listing paths and messages, without input values.
        message: String,
    },
}

/// The result of [`Validator::check_event`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventVerdict {
    /// The event passes; hand it to the handler unchanged.
    Valid,
    /// The event fails; in `block` mode the handler must not run and the caller returns
    /// `rejection`.
    Invalid {
        /// What is wrong (at most [`MAX_VIOLATIONS`]).
        violations: Vec<Violation>,
        /// How to answer in `block` mode.
        rejection: Rejection,
    },
    /// SQS partial batch: some records failed. In `block` mode, invoke the handler with
    /// `valid_event` (the original event with only the valid records, possibly none; a caller may
    /// skip the handler when `Records` is empty) and return [`merge_batch_failures`] of the
    /// handler's response and the failed `messageId`s.
    PartialBatch {
        /// The SQS event with only the valid records.
        valid_event: Value,
        /// `(messageId, violations)` of each failed record, in batch order.
        failures: Vec<(String, Vec<Violation>)>,
    },
}

/// Refuses every external `$ref` with a message that says what to do instead.
struct RefuseExternalRefs;

impl jsonschema::Retrieve for RefuseExternalRefs {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "external $ref `{uri}` refused: fnshield never fetches schemas over the network or \
             from other files; copy the referenced schema under `$defs` (or `definitions`) and \
             point the $ref there"
        )
        .into())
    }
}

/// A compiled schema and where it came from (for messages).
struct Compiled {
    validator: jsonschema::Validator,
}

/// Loads and compiles one schema (event or response) if configured.
fn load_schema(
    file: Option<&Path>,
    json: Option<&str>,
    keys: (&'static str, &'static str),
    task_root: &Path,
) -> Result<Option<Compiled>, ValidationError> {
    let (origin, text, base) = match (file, json) {
        (Some(_), Some(_)) => {
            return Err(ValidationError::ConflictingSchemas {
                file_key: keys.0,
                json_key: keys.1,
            })
        }
        (None, None) => return Ok(None),
        (Some(path), None) => {
            let path = if path.is_absolute() {
                path.to_path_buf()
            } else {
                task_root.join(path)
            };
            let text =
                std::fs::read_to_string(&path).map_err(|source| ValidationError::SchemaRead {
                    key: keys.0,
                    path: path.clone(),
                    source,
                })?;
            let base = file_uri(&path);
            (format!("file {}", path.display()), text, base)
        }
        (None, Some(json)) => (
            format!("`{}` (embedded)", keys.1),
            json.to_owned(),
            file_uri(&task_root.join(keys.1)),
        ),
    };
    let schema: Value =
        serde_json::from_str(&text).map_err(|source| ValidationError::SchemaNotJson {
            origin: origin.clone(),
            source,
        })?;
    let mut options = jsonschema::options();
    if let Some(base) = base {
        // Relative `$ref`s then resolve to a `file:` URI naming the file they would need, which
        // RefuseExternalRefs reports, instead of "No base URI is available".
        options = options.with_base_uri(base);
    }
    let validator = options
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .with_retriever(RefuseExternalRefs)
        .build(&schema)
        .map_err(|e| {
            let mut problem = e.to_string();
            let at = e.instance_path().as_str();
            if !at.is_empty() {
                problem.push_str(&format!(" (at {at})"));
            }
            if matches!(e.kind(), ValidationErrorKind::Format { format } if format == "regex") {
                problem.push_str(
                    "; patterns run on the linear-time `regex` engine, which has no \
                     look-around or back-references",
                );
            }
            ValidationError::InvalidSchema { origin, problem }
        })?;
    Ok(Some(Compiled { validator }))
}

/// `file://` URI of an absolute path, percent-encoding anything but unreserved characters and
/// `/`. `None` for a path that is not absolute or not UTF-8.
fn file_uri(path: &Path) -> Option<String> {
    let s = path.to_str()?;
    if !s.starts_with('/') {
        return None;
    }
    let mut uri = String::from("file://");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    Some(uri)
}

fn check_limit(
    name: &'static str,
    value: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, ValidationError> {
    let v = value.unwrap_or(default);
    if v == 0 || v > max {
        return Err(ValidationError::InvalidLimit {
            name,
            value: v,
            problem: format!("must be between 1 and {max}"),
        });
    }
    Ok(v)
}

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
    /// set, a limit out of range, or `sqs_partial_batch` without the `sqs` envelope.
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
        if cfg.sqs_partial_batch && cfg.envelope != Envelope::Sqs {
            return Err(ValidationError::PartialBatchNeedsSqs {
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
            partial_batch: cfg.sqs_partial_batch,
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
        if let Err(e) = limits::scan(raw, &self.limits) {
            return self.invalid(
                false,
                vec![Violation::new(
                    String::new(),
                    e.to_string(),
                    ViolationKind::Limit,
                )],
            );
        }
        if self.event_schema.is_none() && self.envelope == Envelope::Whole {
            // Limits only: nothing to unwrap or validate, so skip building a Value.
            return EventVerdict::Valid;
        }
        if self.envelope.is_http() {
            return self.check_http(raw);
        }
        let event: Value = match serde_json::from_slice(raw) {
            Ok(v) => v,
            Err(e) => return self.invalid(false, vec![not_json(&e, &self.envelope)]),
        };
        if self.envelope == Envelope::Whole {
            // Fast path: no envelope bookkeeping (sqs_partial_batch implies the SQS envelope).
            let mut violations = Vec::new();
            self.validate_doc(&event, "", &mut violations);
            return if violations.is_empty() {
                EventVerdict::Valid
            } else {
                self.invalid(false, violations)
            };
        }
        let docs = match envelope::extract(&self.envelope, &event, &self.limits) {
            Ok(docs) => docs,
            Err(v) => return self.invalid(false, vec![v]),
        };
        if self.partial_batch {
            return self.partial(&event, docs);
        }
        let mut violations = Vec::new();
        for doc in docs {
            if violations.len() >= MAX_VIOLATIONS {
                break;
            }
            match doc.content {
                Err(v) => violations.push(v),
                Ok(value) => self.validate_doc(&value, &doc.location, &mut violations),
            }
        }
        if violations.is_empty() {
            EventVerdict::Valid
        } else {
            self.invalid(false, violations)
        }
    }

    /// Checks a handler's result against the response schema. `Ok(())` when no response schema
    /// is configured. In `block` mode the caller turns an `Err` into `Shield.InvalidResponse`
    /// ([`INVALID_RESPONSE`]). The response's depth is checked (iteratively) against
    /// `max_depth` first.
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
        collect_schema_errors(&schema.validator, response, "", &mut out);
        Err(out)
    }

    fn validate_doc(&self, value: &Value, location: &str, out: &mut Vec<Violation>) {
        if let Some(schema) = &self.event_schema {
            if !schema.validator.is_valid(value) {
                collect_schema_errors(&schema.validator, value, location, out);
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
            return self.invalid(
                false,
                vec![Violation::new(
                    String::new(),
                    message,
                    ViolationKind::Malformed,
                )],
            );
        }
        let event: envelope::HttpEvent = match serde_json::from_slice(raw) {
            Ok(e) => e,
            Err(e) => return self.invalid(false, vec![not_json(&e, &self.envelope)]),
        };
        let multi = event.has_multi_value_headers();
        let doc = event.body_doc(&self.limits);
        let mut violations = Vec::new();
        match doc.content {
            Err(v) => violations.push(v),
            Ok(value) => self.validate_doc(&value, &doc.location, &mut violations),
        }
        if violations.is_empty() {
            EventVerdict::Valid
        } else {
            self.invalid(multi, violations)
        }
    }

    fn invalid(&self, multi_value_headers: bool, violations: Vec<Violation>) -> EventVerdict {
        let rejection = response::rejection(&self.envelope, multi_value_headers, &violations);
        EventVerdict::Invalid {
            violations,
            rejection,
        }
    }

    fn partial(&self, event: &Value, docs: Vec<envelope::Doc<'_>>) -> EventVerdict {
        let records: &[Value] = event
            .get("Records")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let fifo = records
            .first()
            .and_then(|r| r.get("eventSourceARN"))
            .and_then(Value::as_str)
            .is_some_and(|arn| arn.ends_with(".fifo"));
        let mut keep = Vec::with_capacity(records.len());
        let mut failures: Vec<(String, Vec<Violation>)> = Vec::new();
        for doc in docs {
            let i = doc.record.unwrap_or(0);
            let Some(id) = records
                .get(i)
                .and_then(|r| r.get("messageId"))
                .and_then(Value::as_str)
            else {
                let v = Violation::new(
                    format!("/Records/{i}/messageId"),
                    "missing `messageId`: the record cannot be reported in batchItemFailures"
                        .to_owned(),
                    ViolationKind::Malformed,
                );
                return self.invalid(false, vec![v]);
            };
            if fifo && !failures.is_empty() {
                failures.push((
                    id.to_owned(),
                    vec![Violation::new(
                        format!("/Records/{i}"),
                        "withheld: an earlier record in this FIFO batch failed validation"
                            .to_owned(),
                        ViolationKind::Withheld,
                    )],
                ));
                continue;
            }
            let mut violations = Vec::new();
            match doc.content {
                Err(v) => violations.push(v),
                Ok(value) => self.validate_doc(&value, &doc.location, &mut violations),
            }
            if violations.is_empty() {
                keep.push(records[i].clone());
            } else {
                failures.push((id.to_owned(), violations));
            }
        }
        if failures.is_empty() {
            return EventVerdict::Valid;
        }
        let mut valid_event = Map::new();
        if let Some(obj) = event.as_object() {
            for (k, v) in obj {
                if k != "Records" {
                    valid_event.insert(k.clone(), v.clone());
                }
            }
        }
        valid_event.insert("Records".into(), Value::Array(keep));
        EventVerdict::PartialBatch {
            valid_event: Value::Object(valid_event),
            failures,
        }
    }
}

/// The violation for an event `serde_json` refused. Built from the error's category and
/// position only: serde's own message can quote the input.
fn not_json(e: &serde_json::Error, envelope: &Envelope) -> Violation {
    let message = match e.classify() {
        serde_json::error::Category::Data => format!(
            "event does not have the shape of a `{envelope}` event (line {}, column {})",
            e.line(),
            e.column()
        ),
        _ => format!(
            "event is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    };
    Violation::new(String::new(), message, ViolationKind::Malformed)
}

/// Escapes one JSON Pointer reference token.
fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Converts the schema errors for `value` into masked violations, up to [`MAX_VIOLATIONS`].
fn collect_schema_errors(
    validator: &jsonschema::Validator,
    value: &Value,
    location: &str,
    out: &mut Vec<Violation>,
) {
    for error in validator.iter_errors(value) {
        if out.len() >= MAX_VIOLATIONS {
            return;
        }
        let path = format!("{location}{}", error.instance_path().as_str());
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                for key in unexpected {
                    if out.len() >= MAX_VIOLATIONS {
                        return;
                    }
                    out.push(Violation::new(
                        format!("{path}/{}", escape_token(key)),
                        "property is not allowed by the schema".to_owned(),
                        ViolationKind::Schema,
                    ));
                }
            }
            kind => out.push(Violation::new(path, describe(kind), ViolationKind::Schema)),
        }
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// A message for an error kind, from the schema's side only: never the instance value.
fn describe(kind: &ValidationErrorKind) -> String {
    use ValidationErrorKind as K;
    match kind {
        K::AdditionalItems { limit } => {
            format!(
                "array has more than the {} the schema allows",
                plural(*limit as u64, "item")
            )
        }
        K::AdditionalProperties { .. } | K::UnevaluatedProperties { .. } => {
            "property is not allowed by the schema".to_owned()
        }
        K::AnyOf { .. } => "does not match any of the allowed alternatives (anyOf)".to_owned(),
        K::BacktrackLimitExceeded { .. } | K::RegexEngineFailure { .. } => {
            "pattern could not be evaluated".to_owned()
        }
        K::Constant { .. } => "must be equal to the constant defined by the schema".to_owned(),
        K::Contains => "array has no item matching the schema (contains)".to_owned(),
        K::ContentEncoding { content_encoding } => {
            format!("is not valid \"{content_encoding}\" content")
        }
        K::ContentMediaType { content_media_type } => {
            format!("is not valid \"{content_media_type}\" content")
        }
        K::Custom { keyword, .. } => format!("fails the `{keyword}` keyword"),
        K::Enum { options } => {
            let listed = options.to_string();
            if listed.len() <= 200 {
                format!("must be one of {listed}")
            } else {
                "must be one of the values the schema allows".to_owned()
            }
        }
        K::ExclusiveMaximum { limit } => format!("must be less than {limit}"),
        K::ExclusiveMinimum { limit } => format!("must be greater than {limit}"),
        K::FalseSchema => "is not allowed by the schema".to_owned(),
        K::Format { format } => format!("is not a valid \"{format}\""),
        K::FromUtf8 { .. } => "decoded content is not valid UTF-8".to_owned(),
        K::MaxItems { limit } => format!("must have at most {}", plural(*limit, "item")),
        K::Maximum { limit } => format!("must be at most {limit}"),
        K::MaxLength { limit } => {
            format!("must be at most {} long", plural(*limit, "character"))
        }
        K::MaxProperties { limit } => {
            format!(
                "must have at most {}",
                plural(*limit, "property").replace("propertys", "properties")
            )
        }
        K::MinItems { limit } => format!("must have at least {}", plural(*limit, "item")),
        K::Minimum { limit } => format!("must be at least {limit}"),
        K::MinLength { limit } => {
            format!("must be at least {} long", plural(*limit, "character"))
        }
        K::MinProperties { limit } => {
            format!(
                "must have at least {}",
                plural(*limit, "property").replace("propertys", "properties")
            )
        }
        K::MultipleOf { multiple_of } => format!("must be a multiple of {multiple_of}"),
        K::Not { .. } => "matches a schema it must not match (not)".to_owned(),
        K::OneOfMultipleValid { .. } => {
            "matches more than one of the alternatives, exactly one is required (oneOf)".to_owned()
        }
        K::OneOfNotValid { .. } => {
            "does not match any of the alternatives, exactly one is required (oneOf)".to_owned()
        }
        K::Pattern { pattern } => format!("does not match the pattern `{pattern}`"),
        K::PropertyNames { .. } => "has a property name the schema does not allow".to_owned(),
        K::Required { property } => match property.as_str() {
            Some(name) => format!("required property `{name}` is missing"),
            None => "a required property is missing".to_owned(),
        },
        K::Type { kind } => format!("must be of type {}", type_names(kind)),
        K::UnevaluatedItems { .. } => "array has items the schema does not allow".to_owned(),
        K::UniqueItems => "array items must be unique".to_owned(),
        K::Referencing(_) => "a schema reference could not be resolved".to_owned(),
    }
}
