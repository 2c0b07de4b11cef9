//! The validation configuration: [`ValidationConfig`] and [`Mode`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::{Envelope, ValidationError};

/// What the caller does with an invalid event or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Do not invoke the handler: return the [`Rejection`](super::Rejection) (or `Shield.InvalidResponse`).
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
/// | `max_bytes` | [limit](super::limits) on raw and decoded payload size | 6 MiB |
/// | `max_depth` | limit on nesting, at most 127 | 64 |
/// | `max_array_len` | limit on elements in one array | 10 000 |
/// | `partial_batch` | batch sources (SQS and its chains, Kinesis, DynamoDB Streams, Kafka, Firehose; or `auto` when it detects one): hand only the valid records to the handler and report the rest in the source's partial batch response ([`batch`](super::batch)) instead of rejecting the batch | false |
/// | `sqs_partial_batch` | the earlier name of `partial_batch`, still accepted | false |
///
/// ```toml
/// [validation]
/// schema = "schemas/order.json"
/// envelope = "sqs"
/// partial_batch = true
/// ```
///
/// Unknown keys are an error. Values are checked when the [`Validator`](super::Validator) is built.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    #[serde(default)]
    pub(super) mode: Option<Mode>,
    #[serde(default)]
    pub(super) schema: Option<PathBuf>,
    #[serde(default)]
    pub(super) schema_json: Option<String>,
    #[serde(default)]
    pub(super) envelope: Envelope,
    #[serde(default)]
    pub(super) response_schema: Option<PathBuf>,
    #[serde(default)]
    pub(super) response_schema_json: Option<String>,
    #[serde(default)]
    pub(super) max_bytes: Option<usize>,
    #[serde(default)]
    pub(super) max_depth: Option<usize>,
    #[serde(default)]
    pub(super) max_array_len: Option<usize>,
    #[serde(default)]
    pub(super) sqs_partial_batch: bool,
    #[serde(default)]
    pub(super) partial_batch: bool,
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
    /// Sets `max_depth` (at most [`limits::MAX_DEPTH_CEILING`](super::limits::MAX_DEPTH_CEILING)).
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
    /// Sets `partial_batch`.
    #[must_use]
    pub fn partial_batch(mut self, enabled: bool) -> Self {
        self.partial_batch = enabled;
        self
    }
    /// Sets `partial_batch` (its earlier, SQS-only name).
    #[must_use]
    pub fn sqs_partial_batch(self, enabled: bool) -> Self {
        self.partial_batch(enabled)
    }
}

pub(super) fn check_limit(
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
