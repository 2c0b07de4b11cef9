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
    // SAFETY: `set` is the caller's valid sigset_t (libc's contract); we copy it and edit
    // the copy.
    unsafe {
        *copy = *set;
        libc::sigdelset(copy, libc::SIGSYS);
    }
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
