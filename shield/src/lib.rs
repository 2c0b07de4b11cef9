//! fnshield protects an AWS Lambda function written in Rust from the inside.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod decide;
pub mod enforce;
mod error;
pub mod event;
mod intercept;
mod lambda;
pub use lambda::{error_type, run, ShieldLayer, ShieldRuntimeService, ShieldService};
pub use shield::InstallError;
pub mod invocation;
pub mod policy;
mod shield;

pub use enforce::{Enforcement, EnforcementState, Mechanism, PolicyEnforcement};
pub use error::{ConfigError, Source};
pub use event::{Action, Details, Event};
pub use policy::{InterceptorChoice, Mode, Policy, PolicyKind};
pub use shield::{Shield, ShieldBuilder};

/// The name of a syscall number, for events.
pub(crate) fn syscall_name(nr: i64) -> &'static str {
    let _ = nr;
    "unknown"
}
