//! A local AWS Lambda Runtime API on loopback, for end-to-end tests and the demo.
//!
//! [`Emulator`] serves the subset of the
//! [Runtime API](https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) that
//! `lambda_runtime` 1.5 uses, over plain HTTP/1 on `127.0.0.1` with an ephemeral port:
//!
//! | Request | Reply |
//! |---|---|
//! | `GET /2018-06-01/runtime/invocation/next` | waits for a queued invocation, then `200` with the event as body and the `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` and `-Trace-Id` headers |
//! | `POST /2018-06-01/runtime/invocation/{id}/response` | `202` |
//! | `POST /2018-06-01/runtime/invocation/{id}/error` | `202` (body `{"errorType", "errorMessage"}`) |
//! | `POST /2018-06-01/runtime/init/error` | `202` |
//!
//! Any number of `/next` requests may wait at once, as with Lambda Managed Instances,
//! where `AWS_LAMBDA_MAX_CONCURRENCY` > 1 makes `Runtime::run_concurrent` keep that
//! many polls open. Anything else (unknown paths, ids that were never delivered,
//! a second result for the same id) is answered with `4xx` and recorded as a
//! [`TimelineEvent::ProtocolViolation`].
//!
//! Everything the emulator observes goes into one ordered [timeline](Emulator::timeline):
//! requests, results, and every line the function processes print. Tests assert order
//! with [`TimelineEntry::seq`].
//!
//! # Ordering guarantee
//!
//! A line a function printed before sending a Runtime API request is recorded before
//! that request. The emulator drains the pipes of its function processes (without
//! blocking) at the start of every request; see the `process` module source for the
//! design. This is what lets a test check that the events of one invocation were
//! logged before the next `/next` was requested.
//!
//! # One function at a time
//!
//! An emulator drives one function process at a time. Spawning several is possible
//! (every request drains all of them), but the emulator cannot tell which process a
//! request came from, and a `/next` left waiting by a killed process may still take
//! the next invocation. Start a fresh emulator for each function process.
//!
//! # Example
//!
//! ```no_run
//! use fnshield_tests::emulator::Emulator;
//! use serde_json::json;
//!
//! # async fn example(function_binary: &std::path::Path) {
//! // In an integration test: Path::new(env!("CARGO_BIN_EXE_echo_fn")).
//! let emulator = Emulator::start().await;
//! let function = emulator.spawn_function(function_binary, &[]).await;
//! let id = emulator.invoke(json!({"hello": "world"}));
//! let result = emulator.result(&id).await;
//! assert_eq!(result.expect_response(), json!({"hello": "world"}));
//! # drop(function);
//! # }
//! ```

mod process;
mod server;
mod timeline;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

pub use process::FunctionProcess;
pub use timeline::{
    FunctionError, InvocationResult, LogStream, RequestId, TimelineEntry, TimelineEvent,
};

use process::{lock, ProcessIo};

/// Default for [`EmulatorBuilder::wait_timeout`].
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a wait on the emulator ended without its result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// Nothing happened within the timeout.
    #[error("timed out after {after:?} waiting for {what}; timeline:\n{timeline}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The timeout.
        after: Duration,
        /// The rendered timeline at that point.
        timeline: String,
    },
    /// Every function process spawned by this emulator has exited, so what was
    /// awaited cannot happen any more.
    #[error("every function process exited while waiting for {what}; timeline:\n{timeline}")]
    FunctionExited {
        /// What was awaited.
        what: String,
        /// The rendered timeline at that point.
        timeline: String,
    },
    /// The id was never issued by this emulator's [`Emulator::invoke`].
    #[error("request id {id} was not issued by this emulator; use the id `invoke` returned")]
    UnknownRequest {
        /// The id.
        id: RequestId,
    },
}

/// Configures an [`Emulator`] before it starts.
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    function_name: String,
    memory_mb: u32,
    invocation_timeout: Duration,
    wait_timeout: Duration,
    background_capture: bool,
    listen: std::net::IpAddr,
    base_path: String,
    url_host: Option<String>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            function_name: "fnshield-test".to_owned(),
            memory_mb: 128,
            invocation_timeout: Duration::from_secs(60),
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            background_capture: true,
            listen: std::net::Ipv4Addr::LOCALHOST.into(),
            base_path: String::new(),
            url_host: None,
        }
    }
}

impl EmulatorBuilder {
    /// `AWS_LAMBDA_FUNCTION_NAME` and the name in the invoked function ARN.
    ///
    /// # Panics
    /// If `name` is empty or not made of ASCII letters, digits, `-` and `_` (as Lambda
    /// requires).
    #[track_caller]
    pub fn function_name(mut self, name: &str) -> Self {
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "function name {name:?} is invalid: use ASCII letters, digits, `-` and `_`"
        );
        self.function_name = name.to_owned();
        self
    }

    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` in MB (default 128).
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = memory_mb;
        self
    }

    /// The function timeout: each invocation's `Lambda-Runtime-Deadline-Ms` is the time
    /// it is delivered plus this (default 60 s). The emulator does not enforce it.
    pub fn invocation_timeout(mut self, timeout: Duration) -> Self {
        self.invocation_timeout = timeout;
        self
    }

    /// How long [`Emulator::result`] and the other waits wait before they give up
    /// (default [`DEFAULT_WAIT_TIMEOUT`]).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Whether a background task reads the function processes' output as it arrives
    /// (default `true`).
    ///
    /// With `false`, output is read only at the drain points: the start of every
    /// Runtime API request, process exit, and the accessors that return lines or the
    /// timeline. The timeline order is the same either way; this mode exists to prove
    /// it (a test that passes here does not rely on the reader's timing). A function
    /// that writes more than the pipe buffer (64 KiB on Linux) between two requests
    /// blocks in this mode.
    pub fn background_capture(mut self, enabled: bool) -> Self {
        self.background_capture = enabled;
        self
    }

    /// The loopback address to listen on (default `127.0.0.1`; e.g. `::1`).
    ///
    /// # Panics
    /// If `ip` is not a loopback address: tests talk to loopback only.
    #[track_caller]
    pub fn listen(mut self, ip: std::net::IpAddr) -> Self {
        assert!(ip.is_loopback(), "{ip} is not a loopback address");
        self.listen = ip;
        self
    }

    /// Serve the Runtime API under a path prefix, as cargo-lambda does (`/.rt/myfn`):
    /// requests outside it are protocol violations.
    pub fn base_path(mut self, prefix: &str) -> Self {
        self.base_path = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Give the function `AWS_LAMBDA_RUNTIME_API` in URL form, `http://<host>:<port><prefix>`,
    /// with `host` as written (e.g. `[::]`, which connects to the local host like
    /// cargo-lambda's `http://[::]:9125/.rt/myfn`, or `localhost`).
    pub fn url_host(mut self, host: &str) -> Self {
        self.url_host = Some(host.to_owned());
        self
    }

    /// Binds a loopback port (see [`Self::listen`]) and starts serving on the current tokio
    /// runtime.
    ///
    /// # Panics
    /// If the loopback socket cannot be bound, or outside a tokio runtime.
    pub async fn start(self) -> Emulator {
        let listener = tokio::net::TcpListener::bind((self.listen, 0))
            .await
            .expect("bind a loopback port for the Runtime API emulator");
        let addr = listener
            .local_addr()
            .expect("local address of a bound socket");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            queue_changed: Notify::new(),
            timeline_changed: Notify::new(),
            started: Instant::now(),
            function_name: self.function_name,
            memory_mb: self.memory_mb,
            invocation_timeout: self.invocation_timeout,
            wait_timeout: self.wait_timeout,
            background_capture: self.background_capture,
            base_path: self.base_path,
            url_host: self.url_host,
        });
        let server = tokio::spawn(server::serve(listener, shared.clone()));
        Emulator {
            addr,
            shared,
            server,
        }
    }
}

/// A local Lambda Runtime API. See the [module documentation](self).
///
/// Dropping it stops the server.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Starts an emulator with the default configuration (see [`EmulatorBuilder`]).
    pub async fn start() -> Emulator {
        EmulatorBuilder::default().start().await
    }

    /// A builder to change the function name, memory size or timeouts.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The listening address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`: `127.0.0.1:<port>`, or the URL form set with
    /// [`EmulatorBuilder::url_host`].
    pub fn runtime_api(&self) -> String {
        match &self.shared.url_host {
            Some(host) => format!(
                "http://{host}:{}{}",
                self.addr.port(),
                self.shared.base_path
            ),
            None => self.addr.to_string(),
        }
    }

    /// The function name the emulator reports (`AWS_LAMBDA_FUNCTION_NAME`).
    pub fn function_name(&self) -> &str {
        &self.shared.function_name
    }

    /// The environment Lambda gives a function (the `AWS_LAMBDA_*` variables that
    /// lambda_runtime requires, plus the usual `LAMBDA_TASK_ROOT`, `_HANDLER`,
    /// `AWS_REGION`, …), pointing at this emulator.
    ///
    /// [`Emulator::spawn_function`] uses exactly this. It is public for code that runs
    /// a `lambda_runtime::Runtime` in-process (set the variables before
    /// `Runtime::new`).
    pub fn function_env(&self) -> Vec<(String, String)> {
        let s = &self.shared;
        [
            ("AWS_LAMBDA_RUNTIME_API", self.runtime_api()),
            ("AWS_LAMBDA_FUNCTION_NAME", s.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", s.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", s.function_name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2025/01/01/[$LATEST]7e57ed0000000000".to_owned(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
            ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
            ("_HANDLER", "bootstrap".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Runs a function binary as a child process pointed at this emulator.
    ///
    /// The environment is cleared, then gets `PATH` (from this process), the
    /// [`function_env`](Emulator::function_env) variables, and finally `envs`, which may
    /// override any of them (e.g. `LAMBDA_TASK_ROOT`, or add
    /// `AWS_LAMBDA_MAX_CONCURRENCY`). stdin is `/dev/null`; stdout and stderr are
    /// captured line by line into the timeline and the returned handle.
    ///
    /// # Panics
    /// If the binary cannot be started.
    pub async fn spawn_function(&self, bin: &Path, envs: &[(&str, &str)]) -> FunctionProcess {
        let mut command = tokio::process::Command::new(bin);
        command.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.envs(self.function_env());
        command.envs(envs.iter().copied());
        FunctionProcess::spawn(&self.shared, command)
            .unwrap_or_else(|e| panic!("cannot start function binary {}: {e}", bin.display()))
    }

    /// Queues an invocation with this event and returns its request id. The next
    /// (or a waiting) `/next` request receives it.
    pub fn invoke(&self, event: serde_json::Value) -> RequestId {
        self.invoke_raw(Bytes::from(
            serde_json::to_vec(&event).expect("a serde_json::Value always serialises"),
        ))
    }

    /// Queues an invocation whose body is these bytes, sent as they are (for events
    /// that are not valid JSON).
    pub fn invoke_raw(&self, body: impl Into<Bytes>) -> RequestId {
        let mut state = lock(&self.shared.state);
        state.issued += 1;
        let id = RequestId::nth(state.issued);
        state.invocations.insert(id.clone(), Progress::Queued);
        state.queue.push_back(Queued {
            id: id.clone(),
            body: body.into(),
        });
        self.shared.record_locked(
            &mut state,
            TimelineEvent::InvocationQueued { id: id.clone() },
        );
        drop(state);
        self.shared.queue_changed.notify_waiters();
        self.shared.timeline_changed.notify_waiters();
        id
    }

    /// Queues an invocation and waits for its result.
    ///
    /// # Panics
    /// As [`Emulator::result`].
    pub async fn call(&self, event: serde_json::Value) -> InvocationResult {
        let id = self.invoke(event);
        self.result(&id).await
    }

    /// Waits until the function posts the response or error for `id`. Results stay
    /// available, so this may be called again.
    ///
    /// # Panics
    /// With the timeline in the message, if the result does not arrive within the
    /// wait timeout, if every spawned function process has exited first, or if `id`
    /// was not issued by this emulator.
    pub async fn result(&self, id: &RequestId) -> InvocationResult {
        self.try_result(id).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Emulator::result`], returning the failure instead of panicking.
    pub async fn try_result(&self, id: &RequestId) -> Result<InvocationResult, WaitError> {
        let what = format!("the result of {id}");
        self.shared
            .wait(&what, |state| match state.invocations.get(id) {
                None => Some(Err(WaitError::UnknownRequest { id: id.clone() })),
                Some(Progress::Done(result)) => Some(Ok(result.clone())),
                Some(_) => None,
            })
            .await?
    }

    /// Waits until the function posts to `/2018-06-01/runtime/init/error` and returns
    /// the first such report.
    ///
    /// # Panics
    /// With the timeline in the message, if none arrives within the wait timeout or
    /// every spawned function process exits without posting one.
    pub async fn wait_init_error(&self) -> FunctionError {
        self.wait_timeline("an init error", |timeline| {
            timeline.iter().find_map(|e| match e.event() {
                TimelineEvent::InitError { error } => Some(error.clone()),
                _ => None,
            })
        })
        .await
    }

    /// Waits until `check` returns `Some` for the timeline and returns that value.
    /// `check` runs on every change of the timeline, under the emulator's lock: keep
    /// it short. For example, wait until four `/next` requests are open.
    ///
    /// # Panics
    /// With `what` and the timeline in the message, on the wait timeout or when every
    /// spawned function process has exited first.
    pub async fn wait_timeline<T>(
        &self,
        what: &str,
        mut check: impl FnMut(&[TimelineEntry]) -> Option<T>,
    ) -> T {
        self.shared
            .wait(what, |state| check(&state.timeline))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A copy of everything recorded so far, in order. Output already written by the
    /// function processes is drained into it first.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        self.shared.drain_processes();
        lock(&self.shared.state).timeline.clone()
    }

    /// The timeline rendered one entry per line, for assertion messages.
    pub fn render_timeline(&self) -> String {
        self.shared.drain_processes();
        self.shared.render_timeline()
    }

    /// Every fnshield event line (`"function_shield":true`) the function printed, parsed, in
    /// order.
    pub fn shield_events(&self) -> Vec<serde_json::Value> {
        self.timeline()
            .iter()
            .filter_map(|e| match e.event() {
                TimelineEvent::LogLine { line, .. } if line.contains("\"function_shield\"") => {
                    serde_json::from_str(line).ok()
                }
                _ => None,
            })
            .collect()
    }

    /// The fnshield event lines attributed to invocation `id`.
    pub fn shield_events_for(&self, id: &RequestId) -> Vec<serde_json::Value> {
        self.shield_events()
            .into_iter()
            .filter(|v| v["request_id"] == id.as_str())
            .collect()
    }

    /// Wait until the function has asked for the next event after posting `id`'s result —
    /// the point by which everything for `id` (events, the /tmp wipe) must be done.
    pub async fn wait_next_after(&self, id: &RequestId) {
        self.wait_timeline("the next /next after the result", |t| {
            let at = t.iter().position(|e| e.event().is_result_of(id))?;
            t[at..]
                .iter()
                .any(|e| matches!(e.event(), TimelineEvent::NextRequested))
                .then_some(())
        })
        .await;
    }

    /// The sequence number of the first timeline entry that matches, if any.
    pub fn first_seq(&self, matches: impl Fn(&TimelineEvent) -> bool) -> Option<u64> {
        self.timeline()
            .iter()
            .find(|e| matches(e.event()))
            .map(TimelineEntry::seq)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .field("function_name", &self.shared.function_name)
            .finish_non_exhaustive()
    }
}

/// An invocation waiting for a `/next`.
struct Queued {
    id: RequestId,
    body: Bytes,
}

/// Where an invocation is in its life.
enum Progress {
    Queued,
    Delivered,
    Done(InvocationResult),
}

#[derive(Default)]
struct State {
    timeline: Vec<TimelineEntry>,
    queue: VecDeque<Queued>,
    invocations: HashMap<RequestId, Progress>,
    issued: u64,
    processes: Vec<Arc<ProcessIo>>,
    exited: usize,
}

/// State shared by the emulator handle, the server and the process watchers.
///
/// Lock order: a pipe's mutex may be held while taking `state`, never the reverse.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// An invocation was queued.
    queue_changed: Notify,
    /// The timeline grew (every wait re-checks on this).
    timeline_changed: Notify,
    started: Instant,
    function_name: String,
    memory_mb: u32,
    invocation_timeout: Duration,
    wait_timeout: Duration,
    background_capture: bool,
    /// The path prefix the Runtime API is served under (empty: none).
    pub(crate) base_path: String,
    url_host: Option<String>,
}

impl Shared {
    /// Appends to the timeline and wakes the waits.
    pub(crate) fn record(&self, event: TimelineEvent) {
        let mut state = lock(&self.state);
        self.record_locked(&mut state, event);
        drop(state);
        self.timeline_changed.notify_waiters();
    }

    /// Appends to the timeline. The caller notifies `timeline_changed` after unlocking.
    fn record_locked(&self, state: &mut State, event: TimelineEvent) {
        let seq = state.timeline.len() as u64;
        state
            .timeline
            .push(TimelineEntry::new(seq, Instant::now(), self.started, event));
    }

    fn attach(&self, io: Arc<ProcessIo>) {
        lock(&self.state).processes.push(io);
    }

    fn process_exited(&self, pid: u32, status: ExitStatus) {
        let mut state = lock(&self.state);
        state.exited += 1;
        self.record_locked(&mut state, TimelineEvent::ProcessExited { pid, status });
        drop(state);
        self.timeline_changed.notify_waiters();
    }

    /// Records what every function process has already written. Called at the start
    /// of every Runtime API request; see the module docs.
    fn drain_processes(&self) {
        let processes = lock(&self.state).processes.clone();
        for io in processes {
            io.drain_now(self);
        }
    }

    fn render_timeline(&self) -> String {
        timeline::render(&lock(&self.state).timeline)
    }

    /// Waits, event driven, until `check` yields a value.
    async fn wait<T>(
        &self,
        what: &str,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, WaitError> {
        let deadline = tokio::time::Instant::now() + self.wait_timeout;
        loop {
            let changed = self.timeline_changed.notified();
            tokio::pin!(changed);
            // Register before checking, so a change between the check and the await
            // is not missed.
            changed.as_mut().enable();
            {
                let state = lock(&self.state);
                if let Some(found) = check(&state) {
                    return Ok(found);
                }
                if !state.processes.is_empty() && state.exited == state.processes.len() {
                    return Err(WaitError::FunctionExited {
                        what: what.to_owned(),
                        timeline: timeline::render(&state.timeline),
                    });
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(WaitError::Timeout {
                    what: what.to_owned(),
                    after: self.wait_timeout,
                    timeline: self.render_timeline(),
                });
            }
        }
    }
}
