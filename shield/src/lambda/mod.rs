//! Lambda integration: the invocation pipeline around the handler.
//!
//! Shaped like lambda_runtime's own layers, in the order an invocation meets them:
//!
//! - [`layer`]: [`ShieldLayer`] wraps the *outer* service (`Service<LambdaInvocation>`), which
//!   posts the response itself. It binds the invocation's request id to every thread that
//!   polls it, screens the raw event ([`screen`]), and after the response has been posted —
//!   before the runtime asks for the next event — flushes the invocation's events and wipes
//!   the tmp root ([`tmp`]). Nothing is left pending when `/next` is called, after which the
//!   execution environment may be frozen.
//! - [`service`]: [`ShieldService`] wraps the handler (`Service<LambdaEvent<_>>`). It answers
//!   events the screening rejected, runs the handler, checks the response, and turns an
//!   invocation in which anything was blocked into a `Shield.Blocked` error when
//!   `fail_on_block` is set. Shield errors reach Lambda as [`Diagnostic`]s with stable
//!   `error_type`s.
//! - [`init_error`]: reporting a cold-start failure to the Runtime API.

use crate::shield::Shield;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use tower::Service;

mod init_error;
mod layer;
mod screen;
mod service;
mod tmp;

pub use init_error::report_init_error;
pub use layer::{ShieldLayer, ShieldRuntimeService};
pub use service::ShieldService;

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

/// Install `shield` and run `handler` on the Lambda runtime: the one-call adoption.
///
/// Uses `Runtime::run_concurrent`, which handles Lambda Managed Instances
/// (`AWS_LAMBDA_MAX_CONCURRENCY` > 1) and falls back to sequential polling otherwise.
/// A shield that cannot be installed as configured (for example with `require_enforcement`)
/// reports an init error and returns it.
///
/// # Errors
///
/// - The shield cannot be installed as configured ([`InstallError`](crate::InstallError)),
///   after reporting it to the Runtime API's `/runtime/init/error` as `Shield.InstallError`.
/// - lambda_runtime's own errors: the Runtime API is unreachable or answers unexpectedly.
///
/// A handler's error or a blocked call is not an error of `run`: it is answered to the
/// Runtime API for that invocation and the loop goes on.
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
