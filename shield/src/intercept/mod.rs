//! The kernel path: from a [`Policy`](crate::Policy) to one installed seccomp filter and the
//! interceptors that answer what it traps.
//!
//! - `install`: choose the interceptor → compile the filter (`spec`, then [`filter`]) → arm
//!   it → report the [`Enforcement`](enforcement::Enforcement);
//! - [`decide`]: the decision engine (pure, allocation-free at lookup time);
//! - `trap` (SIGSYS in the calling thread, the fast path) and `notify` (a supervisor thread
//!   answering seccomp user notifications), with what they share in `shared`;
//! - [`dns`]: host names learnt from DNS answers; [`arch`]: syscall numbers per architecture.
//!
//! All `unsafe` code stays in `crate::sys`; this folder uses its wrappers.

pub mod arch;
mod caller;
pub mod decide;
pub mod dns;
pub mod enforcement;
pub mod filter;
mod install;
// Without the `libc-layer` feature no hook calls into it; only `BUILT` and `activate` are used.
#[cfg_attr(not(feature = "libc-layer"), allow(dead_code))]
pub(crate) mod libc_layer;
mod mounts;
pub(crate) mod netcheck;
pub(crate) mod notify;
pub(crate) mod panic;
mod pathcalls;
mod probe;
pub(crate) mod resolve;
pub(crate) mod shared;
mod spec;
pub(crate) mod threads;
pub(crate) mod trap;

pub(crate) use install::{install, tighten};
pub use probe::probe_kernel;
pub use spec::{notify_filter_spec, trap_filter_spec};

/// The pid of the stand-by supervisor process waiting to take over the notify listener after
/// an `execve` of this process (`notify::standby`), or 0 when there is none.
pub fn standby_pid() -> i32 {
    notify::standby::pid()
}
