//! The shield's own threads: the reporter (drains the event ring) and the notify supervisor,
//! both started before the filter goes in, and the wake-up the interceptors send the
//! reporter when the ring fills.

use crate::sys::{eventfd, syscall, wait_wake};

/// The reporter's wake-up fd, or -1. Written from signal context when the ring fills up.
pub(crate) static WAKE_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Wake the reporter on every record, not only when the ring is half full: set in the
/// stand-by supervisor, which has no invocation whose end would flush its events.
pub(crate) static WAKE_EVERY: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// How long a producer waits for a reporter that makes no progress at all before it counts
/// its record as lost (seconds of `CLOCK_MONOTONIC`; the wait ends between one and two).
const STALLED_SECS: u64 = 2;

/// Wake the reporter: 8 bytes to its eventfd, and only if that cannot block. The descriptor
/// lives in the function's file table: a function that `dup2`ed the write end of a full pipe
/// nobody reads over it made this `write` wait for ever, in the violating thread (trap, libc
/// layer) or in the supervisor (notify: every notified call then waited), issue 13 kinds 9
/// and 10. While a policy blocks the descriptor is in the reserved range the filter guards;
/// elsewhere (alert-only, libc alone) a descriptor that cannot take 8 bytes now is skipped:
/// the ring then waits for the flush, and a record it cannot take is counted as lost.
fn wake(fd: i32) {
    let mut p = [libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    }];
    let r = crate::sys::poll(&mut p, 0);
    if r != 1 || p[0].revents & libc::POLLOUT == 0 {
        return;
    }
    let one = 1u64;
    syscall(
        libc::SYS_write,
        [fd as u64, &one as *const u64 as u64, 8, 0, 0, 0],
    );
}

/// Push `rec` into the event ring without losing it, and wake the reporter thread once the
/// ring is half full.
///
/// When the ring is full, the producer wakes the reporter and yields until the reporter (or a
/// flush) has made room: back-pressure, so a flood of violations on a starved CPU slows the
/// violating thread down instead of losing events. The record is counted as lost (and
/// reported as a `shield` event) only when consumers made no progress at all for
/// [`STALLED_SECS`] (no reporter thread, or one that is blocked), so a stuck reporter cannot
/// hang the caller. Async-signal-safe: atomics, `write` to an eventfd, `sched_yield`,
/// `clock_gettime`.
pub(crate) fn push_record(rec: &crate::event::Record) {
    use crate::event::ring::CAPACITY;
    use std::sync::atomic::Ordering;
    let ring = &crate::event::RING;
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if ring.try_push(rec) {
        if fd >= 0 && (ring.len() >= CAPACITY / 2 || WAKE_EVERY.load(Ordering::Relaxed)) {
            wake(fd);
        }
        return;
    }
    if fd < 0 {
        ring.count_lost();
        return;
    }
    let mut seen = ring.dequeued();
    let mut since = crate::sys::now_monotonic_secs();
    loop {
        wake(fd);
        syscall(libc::SYS_sched_yield, [0; 6]);
        if ring.try_push(rec) {
            return;
        }
        let now = crate::sys::now_monotonic_secs();
        let progress = ring.dequeued();
        if progress != seen {
            seen = progress;
            since = now;
        } else if now.saturating_sub(since) >= STALLED_SECS {
            ring.count_lost();
            return;
        }
    }
}

/// Spawn one of the shield's own threads and wait until it is ready to run under the filter
/// (see [`prepare_shield_thread`]); `body` runs after that.
/// When `body` returns, the thread parks for good instead of exiting (see the comment there).
pub(crate) fn spawn_shield_thread(
    name: &str,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(1024 * 1024)
        .spawn(move || {
            prepare_shield_thread();
            let _ = ready_tx.send(());
            body();
            // A shield thread never ends. It runs with every signal blocked (SIGSYS too; only
            // the C library's setxid signal is deliverable), and
            // glibc's thread exit blocks signals with `rt_sigprocmask(SIG_BLOCK, ..)`, which
            // the trap filter traps: a SIGSYS that cannot be delivered kills the whole process.
            // This happened when the trap interceptor gave up its fork listener (Linux 5.0-5.6)
            // and the supervisor thread started for it ended. Parking waits in `futex`, which
            // no filter intercepts.
            loop {
                std::thread::park();
            }
        })?;
    let _ = ready_rx.recv();
    Ok(())
}

/// Start the reporter thread: it drains the event ring into the reporter whenever the ring
/// is half full, so a burst of violations longer than the ring loses nothing.
///
/// # Errors
/// The eventfd or the thread could not be created.
pub(crate) fn start_reporter(
    reporter: std::sync::Arc<crate::event::Reporter>,
) -> std::io::Result<()> {
    // In the reserved descriptor range where one is reserved (see `wake`).
    let fd = crate::sys::held::hold(eventfd());
    if fd < 0 {
        return Err(std::io::Error::from_raw_os_error(-fd as i32));
    }
    let started = spawn_shield_thread("fnshield-reporter", move || loop {
        let r = wait_wake(fd as i32);
        if r < 0 && r != -(libc::EINTR as i64) {
            return;
        }
        reporter.collect();
    });
    if let Err(e) = started {
        syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
        return Err(e);
    }
    WAKE_FD.store(fd as i32, std::sync::atomic::Ordering::Release);
    Ok(())
}

/// Prepare the calling thread to be one of the shield's own (the supervisor, the reporter).
/// Run it **before** the filter is installed:
/// - every signal is blocked, so that no user handler runs here and no ioctl is interrupted
///   (threads it spawns inherit the mask);
/// - it gets its own file-system context (`unshare(CLONE_FS)`) with umask 0, so that files it
///   creates for a caller get exactly the caller's umask;
/// - malloc's per-thread state is initialised now: glibc's first `free` in a thread may open
///   `/sys/devices/system/cpu/online`, which after install would be a notified call waiting for
///   this very thread.
pub(crate) fn prepare_shield_thread() {
    // Every signal but the C library's setxid one (see `sys::sigsys::LIBC_SETXID_BIT`: glibc's
    // `setuid` & co. waited for ever for this thread).
    let all: u64 = !crate::sys::sigsys::LIBC_SETXID_BIT;
    syscall(
        libc::SYS_rt_sigprocmask,
        [
            libc::SIG_BLOCK as u64,
            &all as *const u64 as u64,
            0,
            8,
            0,
            0,
        ],
    );
    syscall(libc::SYS_unshare, [libc::CLONE_FS as u64, 0, 0, 0, 0, 0]);
    syscall(libc::SYS_umask, [0, 0, 0, 0, 0, 0]);
    let warm: Vec<Vec<u8>> = (0..64).map(|i| vec![0u8; 16 << (i % 8)]).collect();
    drop(std::hint::black_box(warm));
    let _ = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {})
        .map(|h| h.join());
}
