//! Calls the kernel restarts. Without `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 6.0+)
//! a signal can interrupt a caller after the supervisor carried out its call; the kernel then
//! restarts it. These make the restart see the first result: no second connect or send, and no
//! second event.

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
    /// `SECCOMP_IOCTL_NOTIF_SEND` accepted the answer: the call is a restart only if the
    /// signal frame says so (`resumed`, see [`note_sigreturn`]); a caller the kernel had not yet
    /// woken takes the answer, and the same call again is a new one.
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
/// (not sent, or sent and discarded: `resumed`), and forget that call.
pub(super) fn take_lost(n: &Notification, resumed: bool) -> bool {
    let mut all = LOST.lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = all.iter().position(|l| l.tid == n.pid) else {
        return false;
    };
    let l = all.remove(i);
    l.nr == n.nr && l.args == n.args && (!l.sent || resumed)
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
/// the kernel's list, lets the answer be sent and then restarts the call anyway. Such a restart
/// is recognised from the signal frame the caller returns through (see [`note_sigreturn`]),
/// and it too gets the first result. (A connect restarted unrecognised, where the frame cannot
/// be read, fails with `EISCONN` or `EALREADY` on the already connected socket: that is taken
/// as the restart too.)
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
    // The caller returns from a signal handler into a restart of this very call.
    let resumed = RESUMED.with(|r| r.get());
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
                // The first answer was lost (not sent, or sent and discarded): this is the
                // restart, and it gets the first result.
                Some((r, sent)) if !sent || resumed => {
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

thread_local! {
    /// Set by the supervisor while it handles a call that [`note_sigreturn`] saw the kernel
    /// about to restart.
    pub(super) static RESUMED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A thread that returns from a signal handler into the restart of a syscall: the syscall
/// number and the address after its instruction (the notification's instruction pointer).
pub(super) struct Resuming {
    tid: u32,
    nr: i64,
    ip: u64,
}

/// Bounded: marks of threads that never made their next notified call are dropped, oldest first.
pub(super) static RESUMING: std::sync::Mutex<Vec<Resuming>> = std::sync::Mutex::new(Vec::new());

/// `rt_sigreturn` from thread `n.pid`, notified only where the listener lacks
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (see `spec::notify_sigreturns`); always continued.
/// The signal frame it returns through holds the registers the kernel restores. When the
/// handler interrupted a syscall that the kernel restarts (`SA_RESTART`), the kernel rewound
/// the saved instruction pointer onto the `syscall` instruction and put the syscall number back
/// in `rax`; `rcx` still holds the address after the instruction (the `syscall` instruction set
/// it), which code interrupted anywhere else does not show. The thread's next notification with
/// that number and address is the restart ([`RESUMED`]). x86_64 only: elsewhere nothing is
/// noted, and only the connect fallback of [`Flight`] applies.
pub(super) fn note_sigreturn(n: &Notification) {
    let Some((nr, ip)) = restart_in_frame(n.pid as i64) else {
        return;
    };
    let mut all = RESUMING.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|r| r.tid != n.pid);
    if all.len() >= 64 {
        all.remove(0);
    }
    all.push(Resuming { tid: n.pid, nr, ip });
}

/// Whether `n` is the restart [`note_sigreturn`] saw coming (and forget the thread's mark).
pub(super) fn take_resuming(n: &Notification) -> bool {
    let mut all = RESUMING.lock().unwrap_or_else(|e| e.into_inner());
    let Some(i) = all.iter().position(|r| r.tid == n.pid) else {
        return false;
    };
    let r = all.remove(i);
    r.nr == n.nr as i64 && r.ip == n.ip
}

/// The syscall number and the address after its instruction, if thread `tid` (blocked in
/// `rt_sigreturn`) returns into the restart of a syscall.
#[cfg(target_arch = "x86_64")]
pub(super) fn restart_in_frame(tid: i64) -> Option<(i64, u64)> {
    // `/proc/<tid>/syscall`: "nr arg1 … arg6 sp pc" while the thread is in a syscall.
    let mut p = [0u8; 64];
    proc_path(tid, b"syscall", &mut p)?;
    let fd = open_path(&p, libc::O_RDONLY);
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 256];
    let r = syscall(
        nr::READ,
        [
            fd as u64,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
            0,
            0,
            0,
        ],
    );
    close(fd);
    let text = &buf[..r.max(0) as usize];
    let mut fields = text
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|f| !f.is_empty());
    if fields.next()? != b"15" {
        return None;
    }
    let sp = fields.nth(6)?;
    let sp = sp.strip_prefix(b"0x")?.iter().try_fold(0u64, |v, &b| {
        let d = (b as char).to_digit(16)?;
        v.checked_mul(16)?.checked_add(u64::from(d))
    })?;
    // The handler's `ret` popped the frame's return address: `sp` is the `ucontext`, whose
    // `uc_mcontext` (r8 … r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip) starts at 40.
    let mut regs = [0u8; 17 * 8];
    if read_mem_of(tid, sp.checked_add(40)?, &mut regs) != regs.len() {
        return None;
    }
    let reg = |i: usize| u64::from_ne_bytes(regs[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let (rax, rcx, rip) = (reg(13), reg(14), reg(16));
    (rip.checked_add(2)? == rcx).then_some((rax as i64, rcx))
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn restart_in_frame(_tid: i64) -> Option<(i64, u64)> {
    None
}
