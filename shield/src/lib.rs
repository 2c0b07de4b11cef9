//! fnshield protects an AWS Lambda function written in Rust from the inside.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod arch;
pub mod decide;
pub mod dns;
pub mod enforce;
mod error;
pub mod event;
pub mod filter;
pub mod intercept;
pub mod invocation;
mod lambda;
pub mod policy;
mod shield;
mod sys;

pub use enforce::{Enforcement, EnforcementState, Mechanism, PolicyEnforcement};
pub use error::{ConfigError, Source};
pub use event::{Action, Details, Event};
pub use lambda::{
    error_type, report_init_error, run, ShieldLayer, ShieldRuntimeService, ShieldService,
};
pub use policy::{InterceptorChoice, Mode, Policy, PolicyKind};
pub use shield::{InstallError, Shield, ShieldBuilder};

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

pub(crate) use arch::syscall_name;
pub mod validate;
pub mod wipe;
