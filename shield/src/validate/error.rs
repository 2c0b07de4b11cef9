//! [`ValidationError`]: what can be wrong with a configuration or a schema.

use std::path::PathBuf;

/// A configuration or schema problem found when building a [`Validator`](super::Validator) (or parsing a name).
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
    /// `partial_batch` is set with an envelope that is not a batch source.
    #[error(
        "`partial_batch = true` needs a batch envelope (sqs, sns_sqs, s3_sqs, s3_sns_sqs, s3_eventbridge_sqs, kinesis, dynamodb_streams, kafka, kinesis_firehose, s3_firehose or auto), but the envelope is `{envelope}`"
    )]
    PartialBatchNeedsBatchEnvelope {
        /// The configured envelope.
        envelope: String,
    },
}
