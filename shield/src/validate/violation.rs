//! [`Violation`]: one problem found in an event or a response, with its path and kind.

use std::fmt;

use serde::Serialize;

/// The longest path reported in a violation, in bytes; longer paths are cut and end in `...`.
const MAX_PATH_LEN: usize = 256;

/// What kind of problem a [`Violation`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationKind {
    /// The document does not match the JSON Schema.
    Schema,
    /// A size, depth or array-length [limit](super::limits) was exceeded.
    Limit,
    /// The envelope could not be unwrapped: a missing field, bad base64, bad gzip, a body that is
    /// not JSON.
    Malformed,
    /// A record withheld from the handler because an earlier record of the same ordered batch
    /// (FIFO SQS queue, Kinesis shard, DynamoDB stream shard, Kafka partition) was invalid
    /// (partial batch mode only).
    Withheld,
}

/// One problem found in an event or response. It never contains an input value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    path: String,
    message: String,
    kind: ViolationKind,
    /// The envelope the event was unwrapped with (for `auto`, the detected source).
    #[serde(skip_serializing_if = "Option::is_none")]
    envelope: Option<&'static str>,
}

impl Violation {
    pub(crate) fn new(path: String, message: String, kind: ViolationKind) -> Self {
        Self {
            path: truncate_path(path),
            message,
            kind,
            envelope: None,
        }
    }
    pub(crate) fn set_envelope(&mut self, name: &'static str) {
        self.envelope = Some(name);
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
    /// The configuration name of the envelope the event was unwrapped with (`"sqs"`; for
    /// `envelope = "auto"`, the detected source, or `"none"` when none was recognised). `None`
    /// for response violations and for pointer envelopes.
    pub fn envelope(&self) -> Option<&'static str> {
        self.envelope
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
