//! What [`Validator::check_event`](super::Validator::check_event) decides about an event.

use serde_json::Value;

use super::{BatchFailures, Violation};

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
        /// Always [`INVALID_EVENT`](super::INVALID_EVENT) (`"Shield.InvalidEvent"`).
        error_type: &'static str,
        /// A summary listing paths and messages, without input values.
        message: String,
    },
}

/// The result of [`Validator::check_event`](super::Validator::check_event).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventVerdict {
    /// The event passes; hand it to the handler unchanged.
    Valid,
    /// The event fails; in `block` mode the handler must not run and the caller returns
    /// `rejection`.
    Invalid {
        /// What is wrong (at most [`MAX_VIOLATIONS`](super::MAX_VIOLATIONS)).
        violations: Vec<Violation>,
        /// How to answer in `block` mode.
        rejection: Rejection,
    },
    /// Partial batch (`partial_batch = true`, batch sources only): some records failed. In
    /// `block` mode, invoke the handler with `valid_event` (the original event with only the
    /// valid records, possibly none; a caller may skip the handler when there are none) and
    /// return [`BatchFailures::merge`] of the handler's response.
    PartialBatch {
        /// The event with only the valid records.
        valid_event: Value,
        /// The failed records, their identifiers and violations, in batch order.
        failures: BatchFailures,
    },
}

/// What the outer layer decided about an event before the handler wrapper sees it.
#[derive(Debug)]
pub(crate) enum Screening {
    /// Run the handler on the event as delivered.
    Pass,
    /// Run the handler on this event instead (a batch with invalid records removed), then
    /// merge these failures into the handler's response.
    Replace(serde_json::Value, super::BatchFailures),
    /// Do not run the handler; answer with this.
    Reject(Result<serde_json::Value, lambda_runtime::Diagnostic>),
}
