//! The shield's own threads: the reporter (drains the event ring) and the notify supervisor,
//! both started before the filter goes in, and the wake-up the interceptors send the
//! reporter when the ring fills.

use crate::sys::{eventfd, syscall, wait_wake};

/// The reporter's wake-up fd, or -1. Written from signal context when the ring fills up.
pub(crate) static WAKE_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Wake the reporter thread if the ring is half full; when it is three-quarters full, also
/// yield the CPU (a bounded number of times) so that the reporter can drain it before records
/// are lost. Async-signal-safe: a `write` to an eventfd and `sched_yield`.
pub(crate) fn wake_reporter_if_needed() {
    use crate::event::ring::CAPACITY;
    let fd = WAKE_FD.load(std::sync::atomic::Ordering::Relaxed);
    if fd < 0 || crate::event::RING.len() < CAPACITY / 2 {
        return;
    }
    let one = 1u64;
    syscall(
        libc::SYS_write,
        [fd as u64, &one as *const u64 as u64, 8, 0, 0, 0],
    );
    for _ in 0..64 {
        if crate::event::RING.len() < CAPACITY * 3 / 4 {
            break;
        }
        syscall(libc::SYS_sched_yield, [0; 6]);
    }
}

/// Spawn one of the shield's own threads and wait until it is ready to run under the filter
/// (see [`prepare_shield_thread`](super::notify::prepare_shield_thread)); `body` runs after that.
pub(crate) fn spawn_shield_thread(
    name: &str,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(1024 * 1024)
        .spawn(move || {
            super::notify::prepare_shield_thread();
            let _ = ready_tx.send(());
            body();
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
    let fd = eventfd();
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
