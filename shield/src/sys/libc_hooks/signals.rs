//! Keeping SIGSYS deliverable: sigprocmask, pthread_sigmask, sigaction and signal never let a
//! thread block or ignore SIGSYS, or replace the shield's handler.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// Keeping SIGSYS deliverable: a thread that blocked SIGSYS (or a handler that masks it) and
// then made a trapped raw syscall would be killed by the kernel.

/// `set` without SIGSYS, in `copy`; returns the pointer to pass on.
pub(super) fn without_sigsys(
    set: *const libc::sigset_t,
    copy: &mut libc::sigset_t,
) -> *const libc::sigset_t {
    if set.is_null() || !layer::guard_sigsys() {
        return set;
    }
    // Copied with the checked copy: an unreadable set goes on as it is, and libc or the
    // kernel answers it (EFAULT where glibc passes it to the kernel) instead of a fault here.
    // SAFETY: `copy` is a sigset_t; viewed as its bytes to receive the copy.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(
            (copy as *mut libc::sigset_t).cast::<u8>(),
            std::mem::size_of::<libc::sigset_t>(),
        )
    };
    if crate::sys::read_mem(p(set), bytes) != bytes.len() {
        return set;
    }
    // SAFETY: `copy` now holds the caller's set; we edit the copy.
    unsafe { libc::sigdelset(copy, libc::SIGSYS) };
    copy
}

pub(super) type MaskFn =
    unsafe extern "C" fn(c_int, *const libc::sigset_t, *mut libc::sigset_t) -> c_int;

/// Call libc's mask function in `slot` with SIGSYS taken out of a set that would block it.
/// `None` when libc's definition was not found.
fn mask_without_sigsys(
    slot: &AtomicUsize,
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> Option<c_int> {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
    let set = if how == libc::SIG_UNBLOCK {
        set
    } else {
        without_sigsys(set, &mut copy)
    };
    let f = real::<MaskFn>(slot)?;
    // SAFETY: libc's sigprocmask / pthread_sigmask with the caller's arguments (set possibly
    // our copy, which lives until the call returns).
    Some(unsafe { f(how, set, old) })
}

#[no_mangle]
pub unsafe extern "C" fn sigprocmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    mask_without_sigsys(&REAL.sigprocmask, how, set, old).unwrap_or_else(|| {
        ret(-(libc::ENOSYS as i64));
        -1
    })
}

#[no_mangle]
pub unsafe extern "C" fn pthread_sigmask(
    how: c_int,
    set: *const libc::sigset_t,
    old: *mut libc::sigset_t,
) -> c_int {
    mask_without_sigsys(&REAL.pthread_sigmask, how, set, old).unwrap_or(libc::ENOSYS)
}

extern "C" {
    /// glibc's public alias of `sigaction`.
    fn __sigaction(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int;
    /// glibc's public alias of `signal` (BSD semantics, as glibc's `signal`).
    fn bsd_signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t;
}

#[no_mangle]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    if layer::guard_sigsys() && !act.is_null() {
        if sig == libc::SIGSYS {
            ret(-(libc::EPERM as i64));
            return -1;
        }
        // A handler that blocks SIGSYS while it runs would be killed by its first trapped
        // call: pass a copy without SIGSYS in sa_mask.
        // SAFETY: `act` is the caller's valid sigaction; we copy it and edit the copy.
        let mut copy = unsafe { *act };
        // SAFETY: `copy.sa_mask` is a valid sigset_t.
        unsafe { libc::sigdelset(&mut copy.sa_mask, libc::SIGSYS) };
        // SAFETY: libc's sigaction with our copy.
        return unsafe { __sigaction(sig, &copy, old) };
    }
    // SAFETY: libc's sigaction with the caller's arguments.
    unsafe { __sigaction(sig, act, old) }
}

#[no_mangle]
pub unsafe extern "C" fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    if layer::guard_sigsys() && sig == libc::SIGSYS {
        ret(-(libc::EPERM as i64));
        return libc::SIG_ERR;
    }
    // SAFETY: libc's signal with the caller's arguments.
    unsafe { bsd_signal(sig, handler) }
}

// ---------------------------------------------------------------------------------------------
// The System V and BSD signal functions, the masks a wait or a new thread takes, each of which
// glibc carries out with its internal `sigprocmask`/`sigaction` (issue 13, a red-team round:
// `sighold(SIGSYS)` followed by a trapped raw syscall killed the process).

const SIGSYS_BIT: u64 = 1 << (libc::SIGSYS - 1);

/// A refused change to SIGSYS's disposition: EPERM, as [`sigaction`] gives.
fn sigsys_refused() -> c_int {
    ret(-(libc::EPERM as i64)) as c_int
}

/// Call libc's `f(sig)` from `slot`, or ENOSYS when it was not found.
fn real_sig(slot: &AtomicUsize, sig: c_int) -> c_int {
    match real::<unsafe extern "C" fn(c_int) -> c_int>(slot) {
        // SAFETY: libc's function with the caller's signal number.
        Some(f) => unsafe { f(sig) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}

/// `sighold(SIGSYS)` succeeds without blocking it (as `sigprocmask` drops SIGSYS from a set).
#[no_mangle]
pub unsafe extern "C" fn sighold(sig: c_int) -> c_int {
    if sig == libc::SIGSYS && layer::guard_sigsys() {
        return 0;
    }
    real_sig(&REAL.sighold, sig)
}

#[no_mangle]
pub unsafe extern "C" fn sigignore(sig: c_int) -> c_int {
    if sig == libc::SIGSYS && layer::guard_sigsys() {
        return sigsys_refused();
    }
    real_sig(&REAL.sigignore, sig)
}

#[no_mangle]
pub unsafe extern "C" fn sigset(sig: c_int, disp: libc::sighandler_t) -> libc::sighandler_t {
    // glibc's sigset sets an empty sa_mask.
    old_style_disposition(&REAL.sigset, sig, disp)
}

/// `sigset` and `sysv_signal`: libc's own (in `slot`), unless they would change SIGSYS while
/// the layer guards it.
fn old_style_disposition(
    slot: &std::sync::atomic::AtomicUsize,
    sig: c_int,
    handler: libc::sighandler_t,
) -> libc::sighandler_t {
    if sig == libc::SIGSYS && layer::guard_sigsys() {
        sigsys_refused();
        return libc::SIG_ERR;
    }
    type F = unsafe extern "C" fn(c_int, libc::sighandler_t) -> libc::sighandler_t;
    match real::<F>(slot) {
        // SAFETY: libc's sigset or sysv_signal (both `(int, sighandler_t) -> sighandler_t`)
        // with the caller's arguments.
        Some(f) => unsafe { f(sig, handler) },
        None => {
            ret(-(libc::ENOSYS as i64));
            libc::SIG_ERR
        }
    }
}

/// `sysv_signal` and its `__sysv_signal` alias: as [`signal`] for SIGSYS.
#[no_mangle]
pub unsafe extern "C" fn sysv_signal(
    sig: c_int,
    handler: libc::sighandler_t,
) -> libc::sighandler_t {
    old_style_disposition(&REAL.sysv_signal, sig, handler)
}

#[no_mangle]
pub unsafe extern "C" fn __sysv_signal(
    sig: c_int,
    handler: libc::sighandler_t,
) -> libc::sighandler_t {
    old_style_disposition(&REAL.sysv_signal, sig, handler)
}

/// glibc's `ssignal` is `signal` (BSD semantics).
#[no_mangle]
pub unsafe extern "C" fn ssignal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    signal(sig, handler)
}

/// The BSD mask functions take an `int` mask of signals 1..=31: SIGSYS's bit is cleared.
fn bsd_mask(slot: &AtomicUsize, mask: c_int) -> c_int {
    let mask = if layer::guard_sigsys() {
        mask & !(SIGSYS_BIT as c_int)
    } else {
        mask
    };
    real_sig(slot, mask)
}

#[no_mangle]
pub unsafe extern "C" fn sigblock(mask: c_int) -> c_int {
    bsd_mask(&REAL.sigblock, mask)
}

#[no_mangle]
pub unsafe extern "C" fn sigsetmask(mask: c_int) -> c_int {
    bsd_mask(&REAL.sigsetmask, mask)
}

/// The mask a thread created with this attribute starts with: without SIGSYS.
#[no_mangle]
pub unsafe extern "C" fn pthread_attr_setsigmask_np(
    attr: *mut libc::pthread_attr_t,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
    let set = without_sigsys(set, &mut copy);
    type F = unsafe extern "C" fn(*mut libc::pthread_attr_t, *const libc::sigset_t) -> c_int;
    match real::<F>(&REAL.pthread_attr_setsigmask_np) {
        // SAFETY: libc's function with the caller's attribute and the set (maybe our copy).
        Some(f) => unsafe { f(attr, set) },
        None => libc::ENOSYS,
    }
}

/// The mask in force while `sigsuspend` waits (and in the handlers that end the wait): without
/// SIGSYS.
#[no_mangle]
pub unsafe extern "C" fn sigsuspend(set: *const libc::sigset_t) -> c_int {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
    let set = without_sigsys(set, &mut copy);
    match real::<unsafe extern "C" fn(*const libc::sigset_t) -> c_int>(&REAL.sigsuspend) {
        // SAFETY: libc's sigsuspend with the set (maybe our copy, alive for the call).
        Some(f) => unsafe { f(set) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}

/// The waits that take a signal mask for their duration: `ppoll`, `pselect`, `epoll_pwait`
/// (a handler that ends the wait runs with that mask).
#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut libc::pollfd,
    n: libc::nfds_t,
    timeout: *const libc::timespec,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
    let set = without_sigsys(set, &mut copy);
    type F = unsafe extern "C" fn(
        *mut libc::pollfd,
        libc::nfds_t,
        *const libc::timespec,
        *const libc::sigset_t,
    ) -> c_int;
    match real::<F>(&REAL.ppoll) {
        // SAFETY: libc's ppoll with the caller's arguments and the set (maybe our copy).
        Some(f) => unsafe { f(fds, n, timeout, set) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}

#[no_mangle]
pub unsafe extern "C" fn pselect(
    n: c_int,
    r: *mut libc::fd_set,
    w: *mut libc::fd_set,
    e: *mut libc::fd_set,
    timeout: *const libc::timespec,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
    let set = without_sigsys(set, &mut copy);
    type F = unsafe extern "C" fn(
        c_int,
        *mut libc::fd_set,
        *mut libc::fd_set,
        *mut libc::fd_set,
        *const libc::timespec,
        *const libc::sigset_t,
    ) -> c_int;
    match real::<F>(&REAL.pselect) {
        // SAFETY: libc's pselect with the caller's arguments and the set (maybe our copy).
        Some(f) => unsafe { f(n, r, w, e, timeout, set) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}

#[no_mangle]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
    set: *const libc::sigset_t,
) -> c_int {
    // SAFETY: an all-zero sigset_t is a valid (empty) set.
    let mut copy: libc::sigset_t = unsafe { std::mem::zeroed() };
    let set = without_sigsys(set, &mut copy);
    type F = unsafe extern "C" fn(
        c_int,
        *mut libc::epoll_event,
        c_int,
        c_int,
        *const libc::sigset_t,
    ) -> c_int;
    match real::<F>(&REAL.epoll_pwait) {
        // SAFETY: libc's epoll_pwait with the caller's arguments and the set (maybe our copy).
        Some(f) => unsafe { f(epfd, events, max, timeout, set) },
        None => ret(-(libc::ENOSYS as i64)) as c_int,
    }
}
