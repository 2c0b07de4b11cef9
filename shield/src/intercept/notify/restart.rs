//! Calls the kernel restarts. Without `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 6.0+)
//! a signal can interrupt a caller after the supervisor carried out its call; the kernel then
//! restarts it. These make the restart see the first result: no second connect or send, and no
//! second event.
//!
//! One window stays open there: the supervisor's `SECCOMP_IOCTL_NOTIF_SEND` is accepted, but a
//! signal woke the caller just before, so the caller discards the answer and restarts the call
//! (the kernel takes the notification off its list either way). That restart looks like a new
//! call: an event is counted twice, a datagram is sent twice (UDP allows duplicates), and a
//! connect gets `EISCONN`/`EALREADY`, which is recognised as the restart (see [`Flight`]).
//! Telling it apart needs the signal frame the caller returns through, and the only way the
//! supervisor could see that frame is a notified `rt_sigreturn`. That was done until 1 Dec, and
//! it crashed functions: a notified `rt_sigreturn` is itself interrupted by any signal the
//! handler did not block, and where that signal's handler lacks `SA_RESTART` the kernel
//! returns `EINTR` from `rt_sigreturn` instead of restoring the frame, so the thread runs on
//! past the restorer into whatever code follows it (SIGSEGV: `parity.rs`
//! `own_signal_handlers_two_signal_storm`, every run under the `k5.10` profile). A crash is
//! worse than a duplicate count, so `rt_sigreturn` is never notified.

#[allow(unused_imports)]
use super::*;

/// A notification whose answer was lost: its caller was interrupted (or died) first. Without
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (6.0+) the kernel then restarts the call, which
/// arrives again with the same thread, syscall and arguments; its events were recorded the
/// first time, so the restart records none (one violation, one event, as on 6.0+).
pub(super) struct Lost {
    tid: u32,
    nr: i32,
    args: [u64; 6],
    /// `SECCOMP_IOCTL_NOTIF_SEND` accepted the answer: the caller takes it (but for the
    /// window in the module docs), and the same call again is a new one.
    sent: bool,
}

/// Bounded: entries of callers that died instead of restarting are dropped, oldest first.
pub(super) static LOST: std::sync::Mutex<Vec<Lost>> = std::sync::Mutex::new(Vec::new());

pub(super) fn lost(n: &Notification, sent: bool) {
    let mut all = LOST.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|l| l.tid != n.pid);
    if all.len() >= 64 {
        all.remove(0);
    }
    all.push(Lost {
        tid: n.pid,
        nr: n.nr,
        args: n.args,
        sent,
    });
}

/// Whether `n` is the restart of a call whose events were recorded and whose answer was lost
/// (not sent), and forget that call.
pub(super) fn take_lost(n: &Notification) -> bool {
    let mut all = LOST.lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = all.iter().position(|l| l.tid == n.pid) else {
        return false;
    };
    let l = all.remove(i);
    l.nr == n.nr && l.args == n.args && !l.sent
}

/// One side-effecting emulation (connect, sendto, sendmsg, sendmmsg, recvfrom) and what became
/// of its answer.
///
/// Without `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (6.0+) a signal interrupts a caller the
/// supervisor has already taken on; the kernel then restarts the call (`-ERESTARTSYS`), often
/// while the first emulation is still running, and a second emulation would connect twice
/// (EISCONN) or send a datagram twice. A thread has one syscall in flight at a time, so a new
/// notification from the same thread for the same call (same syscall, fd, address and data)
/// while an earlier one is unanswered or lost its answer *is* the restart: it waits for the
/// first emulation and gets its result instead of being carried out again.
///
/// A successful `SECCOMP_IOCTL_NOTIF_SEND` does not prove that the caller got the answer: a
/// caller whose wait a signal interrupted, but which has not yet taken the notification off
/// the kernel's list, lets the answer be sent and then restarts the call anyway (the window in
/// the module docs). A connect restarted that way fails with `EISCONN` or `EALREADY` on the
/// already connected socket: that is taken as the restart, and it gets the first result.
pub(super) struct Flight {
    tid: u32,
    nr: i32,
    fd: u64,
    key: u64,
    /// `None` while running; then `Some((result, sent))`: whether `SECCOMP_IOCTL_NOTIF_SEND`
    /// accepted the answer (the caller may still have discarded it, see above).
    state: std::sync::Mutex<Option<(i64, bool)>>,
    done: std::sync::Condvar,
}

/// Bounded: lost answers whose caller died instead of restarting are dropped, oldest first,
/// beyond 64.
pub(super) static FLIGHTS: std::sync::Mutex<Vec<std::sync::Arc<Flight>>> =
    std::sync::Mutex::new(Vec::new());

/// FNV-1a over `parts` (the address and data an emulated call used).
pub(super) fn key_of(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Run the side-effecting emulation `f` on a worker thread that answers the notification
/// itself (the supervisor goes on meanwhile), at most once per call even when the kernel
/// restarts it (see [`Flight`]).
/// `f` owns (and closes) the duplicate socket `sock`; when a restart takes the first result
/// instead, `sock` is closed here.
pub(super) fn deferred_once(
    listener: Listener,
    n: &Notification,
    key: u64,
    sock: i64,
    f: impl FnOnce() -> i64 + Send + 'static,
) -> Answer {
    use std::sync::Arc;
    let flight = Arc::new(Flight {
        tid: n.pid,
        nr: n.nr,
        fd: n.args[0],
        key,
        state: std::sync::Mutex::new(None),
        done: std::sync::Condvar::new(),
    });
    let prior = {
        let mut all = FLIGHTS.lock().unwrap_or_else(|e| e.into_inner());
        // Anything else of this thread is over: it is in this call now.
        let mut prior = None;
        all.retain(|x| {
            if x.tid != n.pid {
                return true;
            }
            if x.nr == n.nr && x.fd == n.args[0] && x.key == key {
                prior = Some(x.clone());
            }
            false
        });
        if all.len() >= 64 {
            all.remove(0);
        }
        all.push(flight.clone());
        prior
    };
    let id = n.id;
    let nr = n.nr as i64;
    let mine = flight.clone();
    let spawned = std::thread::Builder::new()
        .name("fnshield-emulate".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let flight = mine;
            let earlier = prior.map(|p| {
                let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
                while st.is_none() {
                    st = p.done.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                st.unwrap_or((0, true))
            });
            let r = match earlier {
                // The first answer was lost (not sent): this is the restart, and it gets the
                // first result.
                Some((r, false)) => {
                    close(sock);
                    r
                }
                _ => {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                        .unwrap_or(-(libc::EPERM as i64));
                    match earlier {
                        Some((first, true))
                            if nr == nr::CONNECT
                                && ((first == 0 && r == -(libc::EISCONN as i64))
                                    || (first == -(libc::EINPROGRESS as i64)
                                        && r == -(libc::EALREADY as i64))) =>
                        {
                            first
                        }
                        _ => r,
                    }
                }
            };
            let sent = answer(listener, id, Answer::Value(r));
            *flight.state.lock().unwrap_or_else(|e| e.into_inner()) = Some((r, sent));
            flight.done.notify_all();
        });
    match spawned {
        Ok(_) => Answer::Deferred,
        Err(_) => {
            close(sock);
            *flight.state.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((-(libc::EAGAIN as i64), true));
            flight.done.notify_all();
            Answer::Errno(libc::EAGAIN)
        }
    }
}
