//! What the emulator records: request ids, invocation results and the timeline.

use std::fmt;
use std::process::ExitStatus;
use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

/// The id of one invocation, as sent in the `Lambda-Runtime-Aws-Request-Id` header.
///
/// The emulator generates ids deterministically from a per-emulator counter, in the
/// UUID layout that Lambda uses: the first invocation of every emulator is
/// `7e57ed00-0000-4000-8000-000000000001`, the second ends in `…0002`, and so on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);

impl RequestId {
    /// The id for the `n`th invocation (1-based) of an emulator.
    pub(crate) fn nth(n: u64) -> Self {
        RequestId(format!("7e57ed00-0000-4000-8000-{n:012x}"))
    }

    /// Wraps an id received from a function (it may be one the emulator never issued).
    pub(crate) fn from_wire(id: &str) -> Self {
        RequestId(id.to_owned())
    }

    /// The id as the function sees it in `context.request_id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for RequestId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RequestId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// An error report a function posted: the body of `/invocation/{id}/error` or
/// `/init/error`, which lambda_runtime serialises from its `Diagnostic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    error_type: String,
    error_message: String,
    function_error_type: Option<String>,
    raw: Bytes,
}

impl FunctionError {
    /// Parses a posted error body. A body that is not the expected JSON object keeps
    /// empty `error_type`/`error_message`; [`FunctionError::raw`] still has it.
    pub(crate) fn parse(raw: Bytes, function_error_type: Option<String>) -> Self {
        let json: Option<Value> = serde_json::from_slice(&raw).ok();
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        FunctionError {
            error_type: field("errorType"),
            error_message: field("errorMessage"),
            function_error_type,
            raw,
        }
    }

    /// The `errorType` field, e.g. `Shield.Blocked`.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The `errorMessage` field.
    pub fn error_message(&self) -> &str {
        &self.error_message
    }

    /// The `Lambda-Runtime-Function-Error-Type` request header, if the function sent one.
    /// lambda_runtime 1.5 sends `unhandled` for invocation errors and `Runtime.InitError`
    /// for init errors.
    pub fn function_error_type(&self) -> Option<&str> {
        self.function_error_type.as_deref()
    }

    /// The request body exactly as posted.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// How an invocation ended, as posted by the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationResult {
    /// `POST /2018-06-01/runtime/invocation/{id}/response` with this body.
    Response(Bytes),
    /// `POST /2018-06-01/runtime/invocation/{id}/error` with this report.
    Error(FunctionError),
}

impl InvocationResult {
    /// `true` if the function posted to `/error`.
    pub fn is_error(&self) -> bool {
        matches!(self, InvocationResult::Error(_))
    }

    /// The response body parsed as JSON, or `None` for an error or a non-JSON body.
    pub fn json(&self) -> Option<Value> {
        match self {
            InvocationResult::Response(body) => serde_json::from_slice(body).ok(),
            InvocationResult::Error(_) => None,
        }
    }

    /// The response body as JSON.
    ///
    /// # Panics
    /// If the function posted an error, or a response that is not JSON.
    #[track_caller]
    pub fn expect_response(&self) -> Value {
        match self {
            InvocationResult::Response(body) => serde_json::from_slice(body).unwrap_or_else(|e| {
                panic!(
                    "response body is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(body)
                )
            }),
            InvocationResult::Error(err) => {
                panic!("expected a response, the function posted an error: {err}")
            }
        }
    }

    /// The posted error.
    ///
    /// # Panics
    /// If the function posted a response.
    #[track_caller]
    pub fn expect_error(&self) -> &FunctionError {
        match self {
            InvocationResult::Error(err) => err,
            InvocationResult::Response(body) => panic!(
                "expected an error, the function posted a response: {}",
                String::from_utf8_lossy(body)
            ),
        }
    }
}

/// Which output stream of a function process a [`TimelineEvent::LogLine`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// The process's stdout (where Lambda functions write their logs).
    Stdout,
    /// The process's stderr.
    Stderr,
}

impl fmt::Display for LogStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        })
    }
}

/// One thing the emulator observed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TimelineEvent {
    /// A test queued an invocation with [`Emulator::invoke`](super::Emulator::invoke).
    InvocationQueued {
        /// The invocation's id.
        id: RequestId,
    },
    /// A `GET /2018-06-01/runtime/invocation/next` arrived (recorded when the request
    /// arrives, not when it is answered).
    NextRequested,
    /// An invocation was handed to a waiting `/next` request.
    InvocationDelivered {
        /// The invocation's id.
        id: RequestId,
    },
    /// The function posted a response for an invocation.
    ResponsePosted {
        /// The invocation's id.
        id: RequestId,
        /// The response body.
        body: Bytes,
    },
    /// The function posted an error for an invocation.
    ErrorPosted {
        /// The invocation's id.
        id: RequestId,
        /// The posted error report.
        error: FunctionError,
    },
    /// The function posted to `/2018-06-01/runtime/init/error`.
    InitError {
        /// The posted error report.
        error: FunctionError,
    },
    /// A complete line a function process wrote (without its line terminator).
    LogLine {
        /// The process id.
        pid: u32,
        /// Which stream.
        stream: LogStream,
        /// The line, lossily decoded as UTF-8.
        line: String,
    },
    /// A function process exited. All output it wrote is recorded before this entry.
    ProcessExited {
        /// The process id.
        pid: u32,
        /// How it ended.
        status: ExitStatus,
    },
    /// A request the real Runtime API would reject (unknown path, unknown or finished
    /// request id). The emulator answered it with an error status.
    ProtocolViolation {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// Status the emulator replied with.
        status: u16,
        /// What was wrong.
        detail: String,
    },
}

impl TimelineEvent {
    /// Whether this is the posted result (response or error) of invocation `id`.
    pub fn is_result_of(&self, id: &RequestId) -> bool {
        matches!(self, TimelineEvent::ResponsePosted { id: i, .. } | TimelineEvent::ErrorPosted { id: i, .. } if i == id)
    }

    /// The request id this event is about, if any.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            TimelineEvent::InvocationQueued { id }
            | TimelineEvent::InvocationDelivered { id }
            | TimelineEvent::ResponsePosted { id, .. }
            | TimelineEvent::ErrorPosted { id, .. } => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for TimelineEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimelineEvent::InvocationQueued { id } => write!(f, "queued {id}"),
            TimelineEvent::NextRequested => write!(f, "GET /next"),
            TimelineEvent::InvocationDelivered { id } => write!(f, "delivered {id}"),
            TimelineEvent::ResponsePosted { id, body } => {
                write!(f, "response {id}: {}", String::from_utf8_lossy(body))
            }
            TimelineEvent::ErrorPosted { id, error } => write!(f, "error {id}: {error}"),
            TimelineEvent::InitError { error } => write!(f, "init error: {error}"),
            TimelineEvent::LogLine { pid, stream, line } => write!(f, "[{pid} {stream}] {line}"),
            TimelineEvent::ProcessExited { pid, status } => {
                write!(f, "process {pid} exited: {status}")
            }
            TimelineEvent::ProtocolViolation {
                method,
                path,
                status,
                detail,
            } => write!(f, "rejected {method} {path} with {status}: {detail}"),
        }
    }
}

/// A [`TimelineEvent`] with its place in the emulator's total order.
///
/// Compare entries by [`TimelineEntry::seq`]: sequence numbers are strictly increasing
/// in recording order. [`TimelineEntry::at`] is for humans (durations), not for order.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    seq: u64,
    at: Instant,
    wall: std::time::SystemTime,
    since_start: std::time::Duration,
    event: TimelineEvent,
}

impl TimelineEntry {
    /// Wall-clock time of the entry, to compare with timestamps a function process logs.
    pub fn wall(&self) -> std::time::SystemTime {
        self.wall
    }

    pub(crate) fn new(seq: u64, at: Instant, started: Instant, event: TimelineEvent) -> Self {
        TimelineEntry {
            seq,
            at,
            wall: std::time::SystemTime::now(),
            since_start: at.saturating_duration_since(started),
            event,
        }
    }

    /// Position in the emulator's total order (0-based, no gaps).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When it was recorded.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// What happened.
    pub fn event(&self) -> &TimelineEvent {
        &self.event
    }
}

impl fmt::Display for TimelineEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{:<4} +{:>9.3}ms  {}",
            self.seq,
            self.since_start.as_secs_f64() * 1000.0,
            self.event
        )
    }
}

/// Renders a timeline one entry per line, for failure messages.
pub fn render(timeline: &[TimelineEntry]) -> String {
    let mut out = String::new();
    for entry in timeline {
        out.push_str("  ");
        out.push_str(&entry.to_string());
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("  (empty)\n");
    }
    out
}
