//! The libc layer: the in-process interceptor.
//!
//! fnshield defines the libc entry points through which Rust std, tokio/mio and C code linked
//! into the function's binary open files, change paths, connect, send, spawn and resolve
//! names (`crate::sys::libc_hooks`). Each hook turns its call into the system call it stands
//! for and asks [`call`] for the result. Once the shield is installed, [`call`] decides it with
//! the same code the SIGSYS trap handler runs (`trap::handle`: copy the pointer arguments,
//! decide on the copies with the [`Decider`](super::decide::Decider), record the same event,
//! issue the call on the copies through the exempt trampoline), so:
//!
//! - where seccomp is installed, the call reaches the kernel through the trampoline and is not
//!   trapped a second time (the fast path), and a racing thread cannot swap an argument after
//!   the decision;
//! - where seccomp is refused (Lambda's `prctl` EPERM with NoNewPrivs unset), the layer is the
//!   only enforcement, for every call that goes through an exported libc symbol.
//!
//! A call the layer does not decide goes to the kernel through a stub the filter does not
//! exempt, so moving a call into the layer never hides it from the kernel.
//!
//! Everything here runs inside a libc hook, possibly in a signal handler: it is
//! async-signal-safe (no allocation, no locks).

use super::arch::nr;
use super::decide::{ModeSlot, Verdict};
use super::dns::Name;
use super::shared::{check_exec, path_table, PathCopy, HOSTS, STATE};
use crate::policy::Mode;
use crate::sys::now_monotonic_secs;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the shield is installed and the layer decides calls (see [`activate`]).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Set by [`keep_off`] (benches only): the layer never activates in this process.
static KEPT_OFF: AtomicBool = AtomicBool::new(false);

/// Keep the layer inactive in this process even where it is built: the calls then go to the
/// kernel filter as without the feature. For the benches' "before" measurement (the
/// `internals` feature); tightening-neutral where seccomp is installed, and never reachable
/// from a production build.
pub fn keep_off() {
    KEPT_OFF.store(true, Ordering::Release);
}

/// Whether the seccomp filter also intercepts `execve` (in the children the spawn creates).
static KERNEL_EXEC: AtomicBool = AtomicBool::new(false);

/// Whether the libc layer is compiled into this build (the `libc-layer` feature, on glibc).
pub(crate) const BUILT: bool = cfg!(all(
    feature = "libc-layer",
    target_os = "linux",
    target_env = "gnu"
));

/// Start deciding calls in the hooks. Called by the install once the interceptors' state is
/// set; `kernel_exec` says whether the seccomp filter also decides `execve`. Returns whether
/// the layer is built into this binary.
pub(crate) fn activate(kernel_exec: bool) -> bool {
    if BUILT && !KEPT_OFF.load(Ordering::Acquire) && STATE.get().is_some() {
        KERNEL_EXEC.store(kernel_exec, Ordering::Release);
        ACTIVE.store(true, Ordering::Release);
        true
    } else {
        false
    }
}

/// Whether the layer decides calls now.
#[inline]
pub(crate) fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// The system calls the layer decides (the rest pass through to the kernel).
pub(crate) fn routes(n: i64) -> bool {
    match n {
        nr::OPENAT | nr::OPENAT2 | nr::EXECVE | nr::EXECVEAT => true,
        nr::CONNECT | nr::SENDTO | nr::SENDMSG | nr::SENDMMSG => true,
        // An AF_UNIX bind creates a file (decided as a tmp write); other families pass.
        nr::BIND => true,
        // Through `syscall()`: raw and packet sockets, other processes' memory and
        // descriptors, and path-taking calls the shield does not classify are decided as the
        // trap handler decides them (where seccomp is refused nothing else would).
        nr::SOCKET | nr::PROCESS_VM_READV | nr::PROCESS_VM_WRITEV | nr::PIDFD_GETFD => true,
        // Destination-changing socket options, DNS answers to learn from, and entering
        // another mount or user namespace (decided by the filter where seccomp is installed).
        nr::SETSOCKOPT | nr::RECVFROM | nr::RECVMSG | nr::SETNS | nr::UNSHARE => true,
        #[cfg(target_arch = "x86_64")]
        nr::OPEN | nr::CREAT => true,
        _ => path_table(n).is_some() || super::pathcalls::is_unclassified(n),
    }
}

/// Decide and carry out system call `n` with arguments `a`, exactly as the trap interceptor
/// would: `Some(result)` (`-errno` on failure) when the layer is active and decides `n`,
/// `None` when the caller should pass the call through to the kernel.
#[inline]
pub(crate) fn call(n: i64, a: [u64; 6]) -> Option<i64> {
    if !active() || !routes(n) {
        return None;
    }
    let st = STATE.get()?;
    Some(super::trap::handle(st, n, a))
}

/// Decide a spawn (`posix_spawn`, `system`, `popen`, `fork`+`exec` done inside libc) of the
/// executable at `path` (a NUL-terminated string in this process) with argument vector
/// `argv` (NULL-terminated array of C strings, or 0). Records the event with the program and
/// its arguments. Returns `Err(errno)` when the spawn must be refused.
pub(crate) fn decide_spawn(path: u64, argv: u64) -> Result<(), i32> {
    if !active() {
        return Ok(());
    }
    let Some(st) = STATE.get() else {
        return Ok(());
    };
    // Where the filter decides the child's execve too, only a refusal is the layer's to make
    // (and to report, with the program and its arguments, before any process is created); an
    // alert would be reported twice.
    if KERNEL_EXEC.load(Ordering::Acquire) && st.decider.mode(ModeSlot::Child) != Mode::Block {
        return Ok(());
    }
    let copy = PathCopy::read(path).map_err(|e| -e as i32)?;
    match check_exec(st, 0, nr::EXECVE, libc::AT_FDCWD as i64, &copy, argv, 0) {
        Ok(Verdict::Block) => Err(libc::EACCES),
        Ok(_) => Ok(()),
        // The program does not exist: the spawn fails as without a shield, and is no
        // violation.
        Err(e) => Err(e),
    }
}

/// Decide a name lookup through the resolver entry points (`getaddrinfo`, `gethostbyname*`)
/// before libc sends any query: `name` is the caller's node name (no NUL), `numeric` whether
/// libc parses it as an address (no query). Under outbound `block` with `resolve_names =
/// "allowed"`, a name no allow entry, AWS suffix or `/etc/hosts` line covers is refused and
/// reported as a `DNS query for <name>` bypass (the event the kernel path records for a
/// refused query); alert mode reports it and lets it resolve. Returns true when refused.
pub(crate) fn refuse_lookup(name: &[u8], numeric: bool) -> bool {
    if !active() || numeric || name.is_empty() {
        return false;
    }
    let Some(st) = STATE.get() else {
        return false;
    };
    if st.decider.mode(ModeSlot::Outbound) == Mode::Allow {
        return false;
    }
    let parsed = std::str::from_utf8(name).ok().and_then(Name::new);
    if let Some(n) = &parsed {
        if n.is_empty() || st.decider.lookup_allowed(n.as_bytes()) {
            return false;
        }
    }
    let shown = parsed.as_ref().map_or(name, |n| n.as_bytes());
    let shown = &shown[..shown.len().min(253)];
    let mut what = [0u8; 14 + 253];
    what[..14].copy_from_slice(b"DNS query for ");
    what[14..14 + shown.len()].copy_from_slice(shown);
    // No system call stands for the lookup: the event has no syscall name.
    super::shared::decide_socket_other(st, -1, &what[..14 + shown.len()])
}

/// Decide a `fork` or `vfork` made through libc: refused with EPERM (and reported, with
/// `details: {}` as the kernel path reports it) when no child process may ever run under the
/// policy; otherwise let through (the child is decided when it execs). Returns the errno.
pub(crate) fn refuse_fork() -> Option<i32> {
    if !active() {
        return None;
    }
    let st = STATE.get()?;
    if !st.decider.no_child_may_run() {
        return None;
    }
    super::shared::push(crate::event::Record::new(
        crate::policy::PolicyKind::CreateChildProcess,
        true,
        crate::event::RecordKind::Fork,
        nr::CLONE,
    ));
    Some(libc::EPERM)
}

/// Whether hooks must keep SIGSYS deliverable: never blocked, ignored or re-handled.
#[inline]
pub(crate) fn guard_sigsys() -> bool {
    active()
}

/// Learn `name` → `ip` from a resolver answer that libc returned (`getaddrinfo`,
/// `gethostbyname`): the answer may come from `/etc/hosts`, nscd or DNS, none of which the
/// kernel-level learning sees. The TTL is unknown, so the shortest sensible one is used.
pub(crate) fn learn(name: &[u8], ip: IpAddr) {
    if !active() {
        return;
    }
    let Ok(s) = std::str::from_utf8(name) else {
        return;
    };
    let Some(n) = Name::new(s) else {
        return;
    };
    if n.is_empty() {
        return;
    }
    HOSTS.insert(
        crate::policy::canonical(ip),
        &n,
        LEARNT_TTL_SECS,
        now_monotonic_secs(),
    );
}

/// How long a name learnt from a libc resolver answer is kept (seconds): libc does not pass
/// the record's TTL on. A connection is normally made right after the lookup.
const LEARNT_TTL_SECS: u32 = 300;
