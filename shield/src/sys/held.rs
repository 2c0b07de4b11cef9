//! The descriptor range the shield keeps its held objects in (issue 13 kinds 4 and 12): the
//! trap handler, the libc layer, the notify supervisor's duplicates and the event output hold
//! their descriptors here, and while a policy blocks the filter keeps every other caller from
//! replacing or closing them (`intercept::spec::reserve_descriptors`). No unsafe code: it
//! lives in `sys` because every layer above uses it (descriptor numbers, like the trampoline).

use super::syscall;
use std::sync::atomic::Ordering;

/// The lowest descriptor number of the range the shield keeps its held objects in (0: no range
/// reserved). The trap handler and the libc layer resolve a path to objects they hold as
/// descriptors in the caller's own file table and carry the call out through them
/// (`/proc/thread-self/fd/N/name`); another thread that `dup2`s a directory of its choosing
/// onto `N` between the decision and the act redirected the call (it removed another
/// invocation's file in the tmp root). The shield now holds its objects at `N >= HELD_FROM`,
/// and while a policy blocks the filter refuses every way of replacing or closing a
/// descriptor there from outside the trampoline (`dup2`, `dup3`, `fcntl(F_DUPFD*)`, `close`,
/// `close_range`; see `spec::reserve_descriptors`).
static HELD_FROM: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// How many descriptors the reserved range holds (0: none reserved).
static HELD_LEN: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// How many descriptors the range holds (concurrent resolutions of every thread).
pub(crate) const HELD_SLOTS: i32 = 64;

/// The fewest descriptors worth reserving (a soft limit below `4 *` this reserves none).
pub(crate) const HELD_SLOTS_MIN: i32 = 8;

/// Reserve the top [`HELD_SLOTS`] descriptor numbers below the soft `RLIMIT_NOFILE` (a
/// quarter of the limit when it is below `4 * HELD_SLOTS`); returns the range's start, or 0
/// when the limit is too low to spare even [`HELD_SLOTS_MIN`] (nothing reserved: the report
/// says so).
///
/// A limit below 256 used to reserve nothing, silently: with `ulimit -n 200` another thread
/// `dup2`ing a directory onto the held descriptors removed another invocation's tmp file
/// again (issue 13 kinds 4 and 12; attack_fs `k4_held_descriptor_swap_low_limit`). A smaller
/// range only means that more concurrent resolutions fail closed (EMFILE) sooner.
pub(crate) fn reserve_held_range() -> i32 {
    let mut lim = [0u64; 2];
    let r = syscall(
        libc::SYS_prlimit64,
        [
            0,
            libc::RLIMIT_NOFILE as u64,
            0,
            lim.as_mut_ptr() as u64,
            0,
            0,
        ],
    );
    let soft = if r == 0 {
        lim[0].min(1 << 20) as i32
    } else {
        0
    };
    let slots = HELD_SLOTS.min(soft / 4);
    let from = if slots >= HELD_SLOTS_MIN {
        soft - slots
    } else {
        0
    };
    HELD_LEN.store(if from > 0 { slots } else { 0 }, Ordering::Release);
    HELD_FROM.store(from, Ordering::Release);
    from
}

/// How many descriptors the reserved range holds (0: none reserved).
pub(crate) fn held_len() -> i32 {
    HELD_LEN.load(Ordering::Acquire)
}

/// The start of the reserved range (0: none).
pub(crate) fn held_from() -> i32 {
    HELD_FROM.load(Ordering::Acquire)
}

/// Move descriptor `fd`, just opened by the shield, into the reserved range (closing `fd`):
/// the new number, `fd` itself where no range is reserved (or it is in the range already), or
/// `-errno` (EMFILE: the range is full; the call then fails closed). Async-signal-safe.
pub(crate) fn hold(fd: i64) -> i64 {
    let from = held_from();
    if fd < 0 || from <= 0 || fd >= i64::from(from) {
        return fd;
    }
    let high = syscall(
        libc::SYS_fcntl,
        [
            fd as u64,
            libc::F_DUPFD_CLOEXEC as u64,
            from as u64,
            0,
            0,
            0,
        ],
    );
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    high
}

/// A private duplicate of `fd` in the reserved range (see [`hold`]): `-errno` on failure.
pub(crate) fn dup_held(fd: i64) -> i64 {
    let from = held_from().max(0);
    syscall(
        libc::SYS_fcntl,
        [
            fd as u64,
            libc::F_DUPFD_CLOEXEC as u64,
            from as u64,
            0,
            0,
            0,
        ],
    )
}
