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
// What only `internals` exposes (benches, fuzz targets, allocation tests) is unused without it;
// builds with the feature (the workspace's, through the benches) still flag dead code.
#[cfg_attr(not(feature = "internals"), allow(dead_code, unused_imports))]
mod event;
#[cfg_attr(not(feature = "internals"), allow(dead_code, unused_imports))]
mod intercept;
mod lambda;
#[cfg_attr(not(feature = "internals"), allow(dead_code, unused_imports))]
mod policy;
mod replay;
mod shield;
mod sys;
pub mod validate;
pub mod wipe;

pub use error::{ConfigError, InstallError, Source};
pub use event::{Action, Details, Event, ViolationDetail};
pub use intercept::enforcement::{
    Enforcement, EnforcementState, Feature, FeatureStatus, KernelProbe, LibcLayer, Mechanism,
    PolicyEnforcement,
};
pub use lambda::{
    error_type, report_init_error, run, ShieldLayer, ShieldRuntimeService, ShieldService,
};
pub use policy::{
    Env, InterceptorChoice, Mode, Modes, NameResolution, Policy, PolicyKind, UnknownMode,
};
pub use replay::Replay;
pub use shield::{Shield, ShieldBuilder};

pub use fnshield_macros::handler;
/// The `lambda_runtime` (1.x) fnshield is built on. The handler's `LambdaEvent`, `Context` and
/// `Error` must come from this version: depend on `lambda_runtime = "1"` yourself, or use these
/// re-exports and no direct dependency at all, so that the versions cannot clash.
pub use lambda_runtime;
pub use lambda_runtime::LambdaEvent;
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

/// fnshield's own building blocks, for its benches, fuzz targets and allocation tests: the
/// decision engine, the filter compiler, the DNS parser and table, the event ring and
/// reporter. Enabled by the `internals` cargo feature. Not a stable API: anything here may
/// change in any release.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::event::{invocation, Record, RecordKind, Reporter, Ring, RING};
    /// How many `getaddrinfo` lookups the libc layer answered from `/etc/hosts` itself.
    pub use crate::intercept::libc_layer::hosts_answers_given;
    /// Keep the libc layer inactive in this process (call before `install()`): the benches'
    /// "before" figures, the seccomp path alone.
    pub use crate::intercept::libc_layer::keep_off as keep_libc_layer_off;
    pub use crate::intercept::{
        arch, decide, dns, filter, notify_filter_spec, probe_kernel, standby_pid, trap_filter_spec,
    };
    pub use crate::policy::Destination;
}
