//! The `fnshield` command's library: reading fnshield events from logs in the shapes users get
//! them ([`input`], [`event`]), folding them ([`observe`]), suggesting a least-privilege
//! configuration ([`suggest`], [`edit`]) and replaying them against one ([`check`]).
//!
//! The decisions are fnshield's own: [`fnshield::Replay`] compiles a configuration into the
//! tables the interceptors use inside the function.

pub mod check;
pub mod cmd;
pub mod edit;
pub mod event;
pub mod input;
pub mod observe;
pub mod suggest;
