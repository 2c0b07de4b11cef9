//! Run-time support for the code `#[fnshield::handler]` generates. Not a public API: reached
//! through `fnshield::__private`, it may change in any release.

use crate::{Shield, ShieldBuilder};
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

/// Set up `tracing` the way `lambda_runtime::tracing::init_default_subscriber` does (fmt, no
/// timestamps in the text format, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, level from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), but never panics: if a subscriber is
/// already set, keep it. Unlike `lambda_runtime`'s, JSON lines carry a `timestamp`: Lambda's
/// log-level filtering counts a JSON line without one as INFO, so a WARN filter would drop
/// the `tracing` sink's events.
/// Starts no thread, so it may run before the shield is installed.
pub fn init_tracing() {
    use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
    use lambda_runtime::tracing::subscriber::fmt;
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let builder = fmt().with_target(false).with_env_filter(filter);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // An error only means that a global subscriber exists already.
    let _ = if json {
        // With the JSON log format Lambda filters lines by `AWS_LAMBDA_LOG_LEVEL` and counts a
        // line without an RFC 3339 `timestamp` as INFO, whatever its `level`: without the
        // time, a WARN filter would drop every WARN and ERROR line, the `tracing` sink's
        // alerts and blocks included. tracing's default time is RFC 3339 (UTC, `Z`).
        builder.json().try_init()
    } else {
        // Lambda adds its own time to text lines.
        builder.without_time().try_init()
    };
}

/// Print a cold-start failure to stderr, report it to the Runtime API's
/// `/runtime/init/error` (so that the invocation fails with this message rather than a bare
/// `Runtime.ExitError`) and give the exit code.
fn fail(error_type: &str, stage: &str, e: impl Display) -> ExitCode {
    let message = format!("fnshield: {stage}: {e}");
    eprintln!("{message}");
    let _ = crate::report_init_error(error_type, &message);
    ExitCode::FAILURE
}

use crate::error_type::{CONFIG as CONFIG_ERROR, INIT as INIT_ERROR, INSTALL as INSTALL_ERROR};

/// Build and install the shield (call it while the process has one thread), then build the
/// multi-thread tokio runtime. On failure the error has been printed to stderr.
///
/// # Errors
///
/// The process's exit code after a configuration error, an install error or a tokio runtime
/// that cannot be built; each has been printed to stderr and reported to the Runtime API's
/// `/runtime/init/error` (`Shield.ConfigError`, `Shield.InstallError`, `Runtime.InitError`).
pub fn start(builder: ShieldBuilder) -> Result<(Shield, tokio::runtime::Runtime), ExitCode> {
    let shield = builder
        .build()
        .map_err(|e| fail(CONFIG_ERROR, "invalid shield configuration", e))?;
    shield
        .install()
        .map_err(|e| fail(INSTALL_ERROR, "cannot install the shield", e))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(INIT_ERROR, "cannot build the tokio runtime", e))?;
    Ok((shield, rt))
}

/// The future [`init`] returns. Boxed so that the generated `main`'s types do not depend on a
/// wrong `init`'s type, which would report a bad signature twice.
pub type InitFuture<S> = Pin<Box<dyn Future<Output = Result<&'static S, ExitCode>>>>;

/// Call `init` (`async fn() -> Result<State, E>`) and, when awaited, keep its state for the
/// life of the process; on error print it and give the exit code.
pub fn init<F, Fut, S, E>(f: F) -> InitFuture<S>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<S, E>> + 'static,
    S: 'static,
    E: Display,
{
    let fut = f();
    Box::pin(async move {
        match fut.await {
            Ok(state) => Ok(&*Box::leak(Box::new(state))),
            Err(e) => Err(fail(INIT_ERROR, "init failed", e)),
        }
    })
}

/// `main`'s exit code from `fnshield::run`'s result.
pub fn finish(r: Result<(), lambda_runtime::Error>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fnshield: the Lambda runtime stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Implemented only by the `LambdaEvent` of the `lambda_runtime` fnshield is built on.
#[diagnostic::on_unimplemented(
    message = "the handler's event type `{Self}` is not the `LambdaEvent` of the lambda_runtime fnshield is built on (lambda_runtime 1.x)",
    label = "a `LambdaEvent` from another lambda_runtime version (or not a `LambdaEvent`)",
    note = "fnshield 0.1 uses lambda_runtime 1.x: write `lambda_runtime = \"1\"` in [dependencies], or use `fnshield::lambda_runtime::LambdaEvent` and drop the direct dependency"
)]
pub trait FnshieldEvent {}
impl<T> FnshieldEvent for lambda_runtime::LambdaEvent<T> {}

/// A compile-time check of the handler's event type; does nothing at run time.
pub fn event_type<E: FnshieldEvent>() {}
