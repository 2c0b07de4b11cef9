//! The `#[fnshield::handler(...)]` attribute macro. Use it through `fnshield`, which
//! re-exports it; this crate alone is of no use.
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent};
//! use serde_json::Value;
//!
//! #[fnshield::handler(outbound = "block", allow_hosts = ["*.example.com:443"])]
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     Ok(event.payload)
//! }
//! ```
//!
//! See [`handler`] for the options, the generated `main` and the compile-time checks.
#![deny(unsafe_code)]
#![warn(missing_docs)]

use proc_macro::TokenStream;

mod attr;
mod expand;

/// Turn an `async fn` Lambda handler into a shielded binary: the attribute keeps the function
/// and generates `main`.
///
/// # Signatures
///
/// - `async fn handler(event: LambdaEvent<T>) -> Result<R, E>`;
/// - `async fn handler(state: &State, event: LambdaEvent<T>) -> Result<R, E>` together with
///   `init = path`, where `path` names an `async fn() -> Result<State, E>` that runs once at
///   cold start (build SDK clients there). `State` must be `Send + Sync + 'static`; it lives
///   for the whole process.
///
/// `T: Deserialize`, `R: Serialize`, `E: Into<Diagnostic> + Debug`, as for
/// `lambda_runtime::service_fn`. Put the attribute on a function at the crate root of a binary.
///
/// # The generated `main`
///
/// 1. initialises `tracing` (fmt, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, level from
///    `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`), unless `tracing = false`. This comes first
///    because installing the shield may already report degraded enforcement through the
///    `tracing` sink; setting a subscriber starts no thread;
/// 2. builds the shield from the options, then the policy file, then the `SHIELD_*`
///    environment (which overrides both), and installs it while the process still has a
///    single thread;
/// 3. builds the multi-thread tokio runtime;
/// 4. runs `init`, if any. It runs *after* the install, so it is shielded like the handler:
///    an SDK client that connects somewhere or reads a file at construction is held to the
///    same policy as a request would be (AWS endpoints are allowed by default). The order is
///    forced as well as wanted: `init` is async, so it needs the runtime, and the runtime's
///    worker threads must not exist before the install;
/// 5. serves invocations with `fnshield::run`.
///
/// # Equivalent code
///
/// For this handler,
///
/// ```no_run
/// use fnshield::lambda_runtime::{Error, LambdaEvent};
/// use serde_json::Value;
///
/// #[fnshield::handler(outbound = "block", allow_hosts = ["*.example.com:443"])]
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     Ok(event.payload)
/// }
/// ```
///
/// the attribute keeps `handler` as written and adds a `main` that does what this one does
/// (the generated code calls the same steps through `fnshield::__private`, which also reports
/// failures to the Runtime API's `/runtime/init/error`):
///
/// ```no_run
/// # use fnshield::lambda_runtime::{Error, LambdaEvent};
/// # use serde_json::Value;
/// # async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> { Ok(event.payload) }
/// use std::process::ExitCode;
///
/// fn main() -> ExitCode {
///     // 1. tracing: a fmt subscriber (JSON when AWS_LAMBDA_LOG_FORMAT=JSON), unless
///     //    `tracing = false`.
///     // 2. Build the shield: the options, then the policy file, then SHIELD_* variables.
///     let shield = match fnshield::Shield::builder()
///         .outbound(fnshield::Mode::Block)
///         .allow_destination("*.example.com:443")
///         .build()
///     {
///         Ok(shield) => shield,
///         Err(e) => {
///             eprintln!("fnshield: invalid shield configuration: {e}");
///             let _ = fnshield::report_init_error(fnshield::error_type::CONFIG, &e.to_string());
///             return ExitCode::FAILURE;
///         }
///     };
///     // 3. Install it while this is the process's only thread.
///     if let Err(e) = shield.install() {
///         eprintln!("fnshield: cannot install the shield: {e}");
///         let _ = fnshield::report_init_error(fnshield::error_type::INSTALL, &e.to_string());
///         return ExitCode::FAILURE;
///     }
///     // 4. The tokio runtime (its worker threads start under the shield), then serve.
///     let runtime = tokio::runtime::Builder::new_multi_thread()
///         .enable_all()
///         .build()
///         .expect("tokio runtime");
///     runtime.block_on(async move {
///         let service = fnshield::lambda_runtime::service_fn(handler);
///         match fnshield::run(shield, service).await {
///             Ok(()) => ExitCode::SUCCESS,
///             Err(e) => {
///                 eprintln!("fnshield: the Lambda runtime stopped: {e}");
///                 ExitCode::FAILURE
///             }
///         }
///     })
/// }
/// ```
///
/// With `init = path`, `main` awaits `path()` once before serving (after the install, so it is
/// shielded) and passes `&State` to every call.
///
/// A configuration error, a failed install (e.g. with `require_enforcement`) or an `init`
/// error is printed to stderr, posted to the Runtime API's `/runtime/init/error`
/// (`errorType` `Shield.ConfigError`, `Shield.InstallError` or `Runtime.InitError`) and `main`
/// exits with status 1.
///
/// # Options
///
/// | option | value | builder call |
/// |---|---|---|
/// | `mode` | `"block"`, `"alert"` or `"allow"`: every policy | `.mode(..)` |
/// | `outbound`, `tmp`, `child_process`, `read_handler` | a mode, for that policy (wins over `mode`) | `.outbound(..)`, ... |
/// | `allow_hosts` | `["10.0.0.0/8", "api.example.com:443", "*.example.com"]` | `.allow_destination(..)` |
/// | `allow_tmp` | absolute paths under the tmp root | `.allow_tmp(..)` |
/// | `allow_exec` | absolute paths of executables | `.allow_exec(..)` |
/// | `config` | the policy file, relative to `$LAMBDA_TASK_ROOT` | `.config_file(..)` |
/// | `schema`, `response_schema` | a JSON Schema file, relative to the crate directory; embedded at compile time | `.validation(..)` (`schema_json`, `response_schema_json`) |
/// | `envelope` | `"none"`, `"auto"`, `"api_gateway_v1"`, `"api_gateway_v2"`, `"api_gateway_websocket"`, `"alb"`, `"function_url"`, `"vpc_lattice"`, `"vpc_lattice_v2"`, `"sqs"`, `"sns"`, `"sns_sqs"`, `"eventbridge"`, `"cloudwatch_events_scheduled"`, `"kinesis"`, `"kinesis_firehose"`, `"cloudwatch_logs"`, `"dynamodb_streams"`, `"kafka"`, `"bedrock_agent"`, `"s3_sqs"`, `"s3_sns_sqs"`, `"s3_eventbridge_sqs"`, `"s3_firehose"` or a JSON Pointer | `.validation(..)` |
/// | `wipe_tmp` | `true` or `false` | `.wipe_tmp(..)` |
/// | `require_enforcement` | a flag, or `= true`/`= false` | `.require_enforcement(..)` |
/// | `init` | the path of an `async fn() -> Result<State, E>` | |
/// | `tracing` | `false` to set up `tracing` yourself (or not at all) | |
/// | `crate` | the path of `fnshield` if renamed, e.g. `"::my_shield"` | |
///
/// The environment overrides (`SHIELD_MODE`, `SHIELD_CONFIG`, ...) still apply at run time.
///
/// # Compile-time checks
///
/// Modes, destinations (the same grammar as `fnshield::policy::dest::Destination`), absolute
/// paths, envelope names and the existence of schema files are checked when the crate
/// compiles, and so are unknown or duplicated options and the handler's shape (async, one or
/// two parameters, `&State` first, a return type). Errors point at the offending token and
/// list the valid choices. On error the macro still emits the function, so IDEs keep working.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::handler(args.into(), item.into()).into()
}
