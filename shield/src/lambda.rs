//! Lambda integration: the handler wrapper, the outer tower layer and [`run`].
//!
//! Two pieces, shaped like lambda_runtime's own layers:
//!
//! - [`ShieldService`] wraps the handler (`Service<LambdaEvent<_>>`). It rejects events that
//!   failed validation, runs the handler, validates the response, and turns an invocation in
//!   which anything was blocked into a `Shield.Blocked` error when `fail_on_block` is set.
//!   Shield errors reach Lambda as [`Diagnostic`]s with stable `error_type`s.
//! - [`ShieldLayer`] wraps the *outer* service (`Service<LambdaInvocation>`), which posts the
//!   response itself. It binds the invocation's request id to every thread that polls it, and
//!   after the response has been posted — before the runtime asks for the next event — it
//!   flushes the invocation's events and wipes the tmp root. Nothing is left pending when
//!   `/next` is called, after which the execution environment may be frozen.

use crate::invocation;
use crate::shield::{Inner, Shield};
use lambda_runtime::{Diagnostic, LambdaEvent, LambdaInvocation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Stable `error_type` values of shield errors.
pub mod error_type {
    /// Something was blocked during the invocation and `fail_on_block` is on.
    pub const BLOCKED: &str = "Shield.Blocked";
    /// The event failed validation in block mode.
    pub const INVALID_EVENT: &str = "Shield.InvalidEvent";
    /// The handler's response failed validation in block mode.
    pub const INVALID_RESPONSE: &str = "Shield.InvalidResponse";
    /// The event could not be turned into the handler's event type.
    pub const UNDESERIALIZABLE_EVENT: &str = "Shield.UndeserializableEvent";
    /// The handler's response could not be serialised.
    pub const UNSERIALIZABLE_RESPONSE: &str = "Shield.UnserializableResponse";
    /// The shield's configuration is invalid (reported to `/runtime/init/error`).
    pub const CONFIG: &str = "Shield.ConfigError";
    /// The shield could not be installed, e.g. with `require_enforcement` on a kernel that
    /// refuses seccomp (reported to `/runtime/init/error`).
    pub const INSTALL: &str = "Shield.InstallError";
    /// The function's own initialisation failed (the attribute macro's `init`).
    pub const INIT: &str = "Runtime.InitError";
}

fn diagnostic(error_type: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.into(),
    }
}

/// The handler wrapper. Build it with [`Shield::wrap`].
///
/// `A` is the handler's event type and `R` its response type; the wrapper itself takes and
/// returns JSON values, so that it can validate both and answer rejected events in the
/// trigger's own format.
pub struct ShieldService<S, A, R> {
    inner: S,
    shield: Arc<Inner>,
    _types: PhantomData<fn(A) -> R>,
}

impl<S: Clone, A, R> Clone for ShieldService<S, A, R> {
    fn clone(&self) -> Self {
        ShieldService {
            inner: self.inner.clone(),
            shield: self.shield.clone(),
            _types: PhantomData,
        }
    }
}

impl<S, A, R> Service<LambdaEvent<Value>> for ShieldService<S, A, R>
where
    S: Service<LambdaEvent<A>, Response = R>,
    S::Future: Send + 'static,
    S::Error: Into<Diagnostic>,
    A: DeserializeOwned,
    R: Serialize,
{
    type Response = Value;
    type Error = Diagnostic;
    type Future = BoxFuture<Result<Value, Diagnostic>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<Value>) -> Self::Future {
        let shield = self.shield.clone();
        let request_id = event.context.request_id.clone();
        // Validation happened on the raw bytes in the outer layer; pick up its verdict.
        let pre = shield.take_event_verdict(&request_id);
        let mut batch_failures = None;
        let payload = match pre {
            crate::shield::EventVerdict::Reject(outcome) => {
                return Box::pin(async move { outcome });
            }
            crate::shield::EventVerdict::Replace(v, failed) => {
                batch_failures = Some(failed);
                v
            }
            crate::shield::EventVerdict::Pass => event.payload,
        };
        let typed: A = match serde_json::from_value(payload) {
            Ok(a) => a,
            Err(e) => {
                let d = diagnostic(
                    error_type::UNDESERIALIZABLE_EVENT,
                    format!("the event does not match the handler's event type: {e}"),
                );
                return Box::pin(async move { Err(d) });
            }
        };
        let fut = self.inner.call(LambdaEvent::new(typed, event.context));
        Box::pin(async move {
            let response = fut.await.map_err(Into::into)?;
            let value = serde_json::to_value(response)
                .map_err(|e| diagnostic(error_type::UNSERIALIZABLE_RESPONSE, e.to_string()))?;
            let value = shield.check_response(&request_id, value)?;
            let value = match batch_failures {
                Some(failed) => crate::validate::merge_batch_failures(Some(value), &failed),
                None => value,
            };
            if shield.policy.fail_on_block() {
                shield.reporter.collect();
                let n = shield.reporter.blocks_for(&request_id);
                if n > 0 {
                    return Err(diagnostic(
                        error_type::BLOCKED,
                        format!("fnshield blocked {n} operation(s) during this invocation; the handler's result was withheld (fail_on_block)"),
                    ));
                }
            }
            Ok(value)
        })
    }
}

/// The outer layer. Build it with [`Shield::layer`].
#[derive(Clone)]
pub struct ShieldLayer {
    shield: Arc<Inner>,
}

impl<S> Layer<S> for ShieldLayer {
    type Service = ShieldRuntimeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ShieldRuntimeService {
            inner,
            shield: self.shield.clone(),
        }
    }
}

/// The service [`ShieldLayer`] produces.
#[derive(Clone)]
pub struct ShieldRuntimeService<S> {
    inner: S,
    shield: Arc<Inner>,
}

impl<S> Service<LambdaInvocation> for ShieldRuntimeService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = BoxFuture<Result<(), BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: LambdaInvocation) -> Self::Future {
        let shield = self.shield.clone();
        let request_id = req.context.request_id.clone();
        let guard = invocation::begin(&request_id);
        shield.screen_event(&request_id, &mut req.body);
        let tmp_gate = shield.tmp_gate.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            // Hold the tmp gate while the invocation runs: a wipe never runs under it.
            let in_use = tmp_gate.clone().read_owned().await;
            let result = guard.bind(fut).await;
            // The response (or error) has been posted. Wipe (when no other invocation is in
            // flight) and flush the invocation's events, including the wipe's, before asking
            // for the next event.
            drop(in_use);
            if let Ok(exclusive) = tmp_gate.try_write_owned() {
                shield.wipe_tmp(&request_id);
                drop(exclusive);
            }
            shield.reporter.flush(Some(&request_id));
            drop(guard);
            result
        })
    }
}

impl Shield {
    /// Wrap a handler (`service_fn(...)`).
    pub fn wrap<S, A, R>(&self, handler: S) -> ShieldService<S, A, R>
    where
        S: Service<LambdaEvent<A>, Response = R>,
    {
        ShieldService {
            inner: handler,
            shield: self.inner.clone(),
            _types: PhantomData,
        }
    }

    /// The outer layer for `lambda_runtime::Runtime::layer`.
    pub fn layer(&self) -> ShieldLayer {
        ShieldLayer {
            shield: self.inner.clone(),
        }
    }
}

/// Install `shield` and run `handler` on the Lambda runtime: the one-call adoption.
///
/// Uses `Runtime::run_concurrent`, which handles Lambda Managed Instances
/// (`AWS_LAMBDA_MAX_CONCURRENCY` > 1) and falls back to sequential polling otherwise.
/// A shield that cannot be installed as configured (for example with `require_enforcement`)
/// reports an init error and returns it.
pub async fn run<S, A, R>(shield: Shield, handler: S) -> Result<(), lambda_runtime::Error>
where
    S: Service<LambdaEvent<A>, Response = R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Diagnostic> + std::fmt::Debug,
    A: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    if let Err(e) = shield.install() {
        let _ = report_init_error(error_type::INSTALL, &e.to_string());
        return Err(e.into());
    }
    let runtime = lambda_runtime::Runtime::new(shield.wrap(handler))
        .layer(shield.layer())
        .layer(lambda_runtime::layers::TracingLayer::new());
    runtime.run_concurrent().await
}

/// Report a cold-start failure to the Runtime API (`POST /2018-06-01/runtime/init/error`), so
/// that Lambda shows the shield's message instead of a bare `Runtime.ExitError`. Call it when
/// building or installing the shield fails; [`run`] and the attribute macro do.
///
/// A plain HTTP/1.1 POST on loopback with no runtime and no client library, so it also works
/// before any runtime exists; the Runtime API is always reachable through the shield. Blocking,
/// bounded by a 2 s timeout per step.
pub fn report_init_error(error_type: &str, message: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "AWS_LAMBDA_RUNTIME_API is not set",
        )
    })?;
    let addr = api.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "AWS_LAMBDA_RUNTIME_API has no address",
        )
    })?;
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // A bound on how long a broken Runtime API can delay the exit, not a synchronisation.
    let limit = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&addr, limit)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    stream.write_all(request.as_bytes())?;
    // Wait for the answer, so that the report is in before the process exits.
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    Ok(())
}
