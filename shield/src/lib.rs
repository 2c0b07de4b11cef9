//! fnshield protects an AWS Lambda function written in Rust from the inside.
//!
//! ```no_run
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use serde_json::Value;
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     Ok(event.payload)
//! }
//!
//! fn main() -> Result<(), Error> {
//!     let shield = fnshield::Shield::builder().allow_destination("api.example.com:443").build()?;
//!     shield.install()?; // one seccomp filter, before the runtime's threads exist
//!     tokio::runtime::Runtime::new()?.block_on(fnshield::run(shield, service_fn(handler)))
//! }
//! ```
//!
//! Or put `#[fnshield::handler(...)]` on the handler and let it write `main`.
//!
//! Four policies, each `block` (the default), `alert` or `allow`: `outbound_connectivity`,
//! `read_write_tmp`, `create_child_process` and `read_handler`, enforced in the kernel with
//! seccomp ([`Shield::install`] reports how, in an [`Enforcement`]); event validation against
//! JSON Schemas ([`validate`]); `/tmp` wiped between invocations ([`wipe`]); every alert and
//! block reported as an [`Event`]. `SHIELD_MODE=alert` turns everything to alert-only for
//! staging. The README has the configuration and event references, the threat model and its
//! limits, and the benchmark figures.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod event;
pub mod intercept;
mod lambda;
pub mod policy;
mod replay;
mod shield;
mod sys;

// The kernel path's modules, at their former paths (the benches, fuzz targets and allocation
// tests use them).
pub use intercept::{arch, decide, dns, enforcement as enforce, filter};

pub use error::{ConfigError, InstallError, Source};
pub use event::{Action, Details, Event};
pub use intercept::enforcement::{Enforcement, EnforcementState, Mechanism, PolicyEnforcement};
pub use lambda::{
    error_type, report_init_error, run, ShieldLayer, ShieldRuntimeService, ShieldService,
};
pub use policy::{InterceptorChoice, Mode, Policy, PolicyKind};
pub use replay::Replay;
pub use shield::{Shield, ShieldBuilder};

pub use fnshield_macros::handler;
mod macro_support;
/// Used by the code `#[fnshield::handler]` generates, so that users need no direct
/// dependency on these crates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::macro_support::*;
    pub use lambda_runtime;
    pub use serde_json;
    pub use tokio;
}

pub(crate) use intercept::arch::syscall_name;
pub mod validate;
pub mod wipe;
