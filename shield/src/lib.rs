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

pub(crate) use arch::syscall_name;
pub mod validate;
pub mod wipe;
