//! The seccomp user-notification interceptor: a supervisor thread that decides the syscalls of
//! this process *and of every child process* with the same policy and the same events as the
//! trap interceptor.
//!
//! TOCTOU: an ALLOW (or ALERT) decision taken on pointer contents is carried out by
//! **emulation** wherever the result can be transferred:
//! - opens: the supervisor opens the file itself (relative to a duplicate of the caller's dirfd
//!   or cwd), verifies what it opened, and installs the fd in the caller with
//!   `SECCOMP_IOCTL_NOTIF_ADDFD` + `SECCOMP_ADDFD_FLAG_SEND`;
//! - connect, sendto, sendmsg with an address: the supervisor duplicates the caller's socket with
//!   `pidfd_getfd` and performs the call on copies of the address and data;
//! - recvfrom with an address (DNS learning): performed on the duplicate, results written back.
//!
//! `SECCOMP_USER_NOTIF_FLAG_CONTINUE` is used for alerts and decisions on register values, and —
//! a documented residual risk — for allowed exec and for allowed metadata/write path calls,
//! whose results cannot be transferred without emulating each syscall's output.
//!
//! Calls that may block for long (connect on a blocking socket, recvfrom) are emulated on a
//! short-lived worker thread so that the supervisor keeps serving other threads.
//!
//! The supervisor must not die: each notification is handled under `catch_unwind`; a panic
//! answers that notification with EPERM (fail closed) and the loop goes on. If the supervisor
//! thread were gone, every notified syscall would fail with ENOSYS.

use super::arch::nr;
use super::caller::{dup_from, status_field, tgid_of};
use super::decide::{Access, Verdict, PATH_MAX};
use super::resolve::{
    self, decide_resolved, existing_passage, follows, moved_access, other_view_event,
    refuse_unresolved, unclassified_event, unix_path, Caller, Resolved, Walk,
};
use super::shared::{
    check_exec, check_path_arg, classify_arg, decide_other_process, decide_sockaddr, decide_socket,
    decide_socket_other, inet, open_access, open_path, path_table, pidfd_pid, proc_path, push,
    record_path, verify_opened, write_decimal, InterceptState, PathCopy, CTL_MAX, MSGHDR, RECORDED,
    RESTARTED, SA_MAX, STATE, TARGET,
};
use crate::event::{Record, RecordKind};
use crate::policy::PolicyKind;
use crate::sys::notif::{Listener, Notification, Response};
use crate::sys::{read_mem_of, syscall, write_mem_of};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;

/// How to answer one notification.
enum Answer {
    Errno(i32),
    Value(i64),
    Continue,
    /// Install this (supervisor-side) fd in the caller and answer with its number.
    AddFd {
        fd: i64,
        cloexec: bool,
    },
    /// A worker thread answers.
    Deferred,
}

/// What the kernel lets the supervisor do, as probed at install (see [`configure`]).
static ADDFD_SEND: AtomicBool = AtomicBool::new(true);
static EMULATE_OPEN: AtomicBool = AtomicBool::new(true);
static EMULATE_NET: AtomicBool = AtomicBool::new(true);

/// Tell the supervisor what the kernel offers (from the install's probes), before the listener
/// is handed to it:
/// - `addfd_send`: `SECCOMP_ADDFD_FLAG_SEND` (5.14+). Without it an emulated open installs the
///   fd with `SECCOMP_IOCTL_NOTIF_ADDFD`, then answers with `SECCOMP_IOCTL_NOTIF_SEND` and the
///   new fd number as the return value;
/// - `addfd`: `SECCOMP_IOCTL_NOTIF_ADDFD` (5.9+). Without it an allowed open continues after
///   the decision (the report says so);
/// - `pidfd_getfd` (5.6+, and not refused by a sandbox). Without it an allowed connect or send
///   continues after the decision, and DNS answers to notified `recvfrom` calls are not learnt.
pub(crate) fn configure(addfd_send: bool, addfd: bool, pidfd_getfd: bool) {
    ADDFD_SEND.store(addfd_send, Relaxed);
    EMULATE_OPEN.store(addfd, Relaxed);
    EMULATE_NET.store(pidfd_getfd, Relaxed);
}

/// Answer notification `id`. Every path answers it unless the caller is gone (ENOENT).
fn send(listener: Listener, id: u64, a: Answer) {
    let _ = answer(listener, id, a);
}

/// [`send`], returning `false` if the caller was gone (interrupted or dead) and got nothing.
fn answer(listener: Listener, id: u64, a: Answer) -> bool {
    let response = match a {
        Answer::Errno(e) => Response::Errno(e),
        Answer::Value(v) => Response::Value(v),
        Answer::Continue => Response::Continue,
        Answer::AddFd { fd, cloexec } => {
            let r = add_fd(listener, id, fd, cloexec);
            syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
            match r {
                AddFdOutcome::Answered => return true,
                AddFdOutcome::Gone => return false,
                AddFdOutcome::Installed(newfd) => Response::Value(newfd),
                AddFdOutcome::Failed(e) => Response::Errno(e),
            }
        }
        Answer::Deferred => return true,
    };
    // ENOENT: the caller was interrupted or died meanwhile; nothing to do.
    listener.respond(id, response) != Err(libc::ENOENT)
}

enum AddFdOutcome {
    /// ADDFD with SEND installed the fd and answered the call.
    Answered,
    /// The fd is installed in the caller as this number; the call still needs its answer.
    Installed(i64),
    /// The caller is gone (interrupted or dead): nothing to answer.
    Gone,
    /// ADDFD failed with this errno (EMFILE in the caller, …): answer the call with it.
    Failed(i32),
}

/// Install our `fd` in the caller of notification `id`: atomically with the answer where the
/// kernel has `SECCOMP_ADDFD_FLAG_SEND` (5.14+); otherwise ADDFD alone, and the caller answers
/// with the new number. A kernel that refuses SEND although the probe found it (EINVAL) is
/// remembered and the call retried without it.
fn add_fd(listener: Listener, id: u64, fd: i64, cloexec: bool) -> AddFdOutcome {
    if ADDFD_SEND.load(Relaxed) {
        match listener.add_fd(id, fd as i32, cloexec, true) {
            Ok(_) => return AddFdOutcome::Answered,
            Err(libc::ENOENT) => return AddFdOutcome::Gone,
            Err(libc::EINVAL) => ADDFD_SEND.store(false, Relaxed),
            Err(e) => return AddFdOutcome::Failed(e),
        }
    }
    match listener.add_fd(id, fd as i32, cloexec, false) {
        Ok(newfd) => AddFdOutcome::Installed(newfd),
        Err(libc::ENOENT) => AddFdOutcome::Gone,
        Err(e) => AddFdOutcome::Failed(e),
    }
}

/// A notification whose answer was lost: its caller was interrupted (or died) first. Without
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (6.0+) the kernel then restarts the call, which
/// arrives again with the same thread, syscall and arguments; its events were recorded the
/// first time, so the restart records none (one violation, one event, as on 6.0+).
struct Lost {
    tid: u32,
    nr: i32,
    args: [u64; 6],
    /// `SECCOMP_IOCTL_NOTIF_SEND` accepted the answer: the call is a restart only if the
    /// signal frame says so (`resumed`, see [`note_sigreturn`]); a caller the kernel had not yet
    /// woken takes the answer, and the same call again is a new one.
    sent: bool,
}

/// Bounded: entries of callers that died instead of restarting are dropped, oldest first.
static LOST: std::sync::Mutex<Vec<Lost>> = std::sync::Mutex::new(Vec::new());

fn lost(n: &Notification, sent: bool) {
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
fn take_lost(n: &Notification, resumed: bool) -> bool {
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
struct Flight {
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
static FLIGHTS: std::sync::Mutex<Vec<std::sync::Arc<Flight>>> = std::sync::Mutex::new(Vec::new());

/// FNV-1a over `parts` (the address and data an emulated call used).
fn key_of(parts: &[&[u8]]) -> u64 {
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
fn deferred_once(
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
    static RESUMED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A thread that returns from a signal handler into the restart of a syscall: the syscall
/// number and the address after its instruction (the notification's instruction pointer).
struct Resuming {
    tid: u32,
    nr: i64,
    ip: u64,
}

/// Bounded: marks of threads that never made their next notified call are dropped, oldest first.
static RESUMING: std::sync::Mutex<Vec<Resuming>> = std::sync::Mutex::new(Vec::new());

/// `rt_sigreturn` from thread `n.pid`, notified only where the listener lacks
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (see `spec::notify_sigreturns`); always continued.
/// The signal frame it returns through holds the registers the kernel restores. When the
/// handler interrupted a syscall that the kernel restarts (`SA_RESTART`), the kernel rewound
/// the saved instruction pointer onto the `syscall` instruction and put the syscall number back
/// in `rax`; `rcx` still holds the address after the instruction (the `syscall` instruction set
/// it), which code interrupted anywhere else does not show. The thread's next notification with
/// that number and address is the restart ([`RESUMED`]). x86_64 only: elsewhere nothing is
/// noted, and only the connect fallback of [`Flight`] applies.
fn note_sigreturn(n: &Notification) {
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
fn take_resuming(n: &Notification) -> bool {
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
fn restart_in_frame(tid: i64) -> Option<(i64, u64)> {
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
fn restart_in_frame(_tid: i64) -> Option<(i64, u64)> {
    None
}

/// The supervisor loop. Never returns while the listener is open.
pub(crate) fn supervise(listener: Listener) {
    // SYNC_WAKE_UP (6.6+) was turned on by the install's probe (probe::probe_listener).
    let own_pid = std::process::id();
    OWN_VIEW.get_or_init(|| view_of(0));
    loop {
        let n = match listener.recv() {
            Ok(n) => n,
            Err(libc::EINTR | libc::ENOENT) => continue,
            // EBADF etc.: the listener is gone (process exiting).
            Err(_) => return,
        };
        let Some(st) = STATE.get() else {
            send(listener, n.id, Answer::Errno(libc::ENOSYS));
            continue;
        };
        if n.pid != 0
            && n.pid == super::shared::EXEMPT_TID.load(std::sync::atomic::Ordering::Acquire)
        {
            // The shield's own /tmp wipe.
            send(listener, n.id, Answer::Continue);
            continue;
        }
        if n.nr as i64 == nr::RT_SIGRETURN {
            note_sigreturn(&n);
            send(listener, n.id, Answer::Continue);
            continue;
        }
        let resumed = take_resuming(&n);
        let foreign = !is_own_thread(own_pid, n.pid);
        // A restart records no events: they were recorded the first time, whether the answer
        // was lost (not sent) or sent and discarded (`resumed`, see `note_sigreturn`).
        let restarted = take_lost(&n, resumed);
        let a = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            TARGET.with(|t| t.set((n.pid, foreign)));
            RESTARTED.with(|r| r.set(restarted));
            RESUMED.with(|r| r.set(resumed));
            RECORDED.with(|r| r.set(false));
            let a = handle(st, listener, &n);
            RESTARTED.with(|r| r.set(false));
            RESUMED.with(|r| r.set(false));
            TARGET.with(|t| t.set((0, false)));
            a
        }))
        .unwrap_or(Answer::Errno(libc::EPERM));
        // Only a call whose events were recorded makes its restart record none.
        let recorded = RECORDED.with(|r| r.replace(false)) || restarted;
        let sent = answer(listener, n.id, a);
        if recorded {
            lost(&n, sent);
        }
    }
}

fn is_own_thread(own_pid: u32, tid: u32) -> bool {
    if tid == own_pid {
        return true;
    }
    let mut p = [0u8; 48];
    let base = b"/proc/self/task/";
    p[..base.len()].copy_from_slice(base);
    write_decimal(tid as u64, &mut p[base.len()..47]);
    syscall(
        nr::FACCESSAT,
        [
            AT_FDCWD as u64,
            p.as_ptr() as u64,
            libc::F_OK as u64,
            0,
            0,
            0,
        ],
    ) == 0
}

/// Is notification `id` still pending (the caller has not died or been interrupted, and its
/// pid not reused)? Checked after reading the caller's memory.
fn valid(listener: Listener, id: u64) -> bool {
    listener.id_valid(id)
}

/// The umask of thread `tid` (Linux 4.7+); 022 when unknown.
fn umask_of(tid: i64) -> u64 {
    status_field(tid, b"Umask:", 8).unwrap_or(0o022) as u64
}

/// Rewrite a path that names "the calling process" (`/proc/self`, `/proc/thread-self`,
/// `/dev/fd`, `/dev/std{in,out,err}`) so that the supervisor, opening it on the caller's
/// behalf, opens the caller's and not its own. Returns the new length, or `None` when the path
/// needs no rewrite.
fn rewrite_self(path: &[u8], tid: i64, tgid: i64, out: &mut [u8; PATH_MAX]) -> Option<usize> {
    let mut head = [0u8; 64];
    let mut h = 0;
    let put = |bytes: &[u8], head: &mut [u8; 64], h: &mut usize| {
        head[*h..*h + bytes.len()].copy_from_slice(bytes);
        *h += bytes.len();
    };
    let rest: &[u8];
    let under =
        |p: &[u8], pre: &[u8]| p.starts_with(pre) && (p.len() == pre.len() || p[pre.len()] == b'/');
    if under(path, b"/proc/self") {
        put(b"/proc/", &mut head, &mut h);
        h += write_decimal(tgid as u64, &mut head[h..]);
        rest = &path[10..];
    } else if under(path, b"/proc/thread-self") {
        put(b"/proc/", &mut head, &mut h);
        h += write_decimal(tgid as u64, &mut head[h..]);
        put(b"/task/", &mut head, &mut h);
        h += write_decimal(tid as u64, &mut head[h..]);
        rest = &path[17..];
    } else if under(path, b"/dev/fd") {
        put(b"/proc/", &mut head, &mut h);
        h += write_decimal(tgid as u64, &mut head[h..]);
        put(b"/fd", &mut head, &mut h);
        rest = &path[7..];
    } else {
        let fd: &[u8] = match path {
            b"/dev/stdin" => b"/0",
            b"/dev/stdout" => b"/1",
            b"/dev/stderr" => b"/2",
            _ => return None,
        };
        put(b"/proc/", &mut head, &mut h);
        h += write_decimal(tgid as u64, &mut head[h..]);
        put(b"/fd", &mut head, &mut h);
        rest = fd;
    }
    if h + rest.len() >= PATH_MAX {
        return None;
    }
    out[..h].copy_from_slice(&head[..h]);
    out[h..h + rest.len()].copy_from_slice(rest);
    out[h + rest.len()] = 0;
    Some(h + rest.len())
}

/// A directory fd for resolving the caller's relative path: its dirfd or its cwd.
fn dirfd_of(pid: i64, dirfd: i64) -> Result<i64, i32> {
    if dirfd == AT_FDCWD {
        let mut p = [0u8; 64];
        proc_path(pid, b"cwd", &mut p).ok_or(libc::ENAMETOOLONG)?;
        let fd = open_path(&p, libc::O_PATH | libc::O_DIRECTORY);
        if fd < 0 {
            Err(-fd as i32)
        } else {
            Ok(fd)
        }
    } else {
        dup_from(pid, dirfd)
    }
}

fn close(fd: i64) {
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
}

fn handle(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    let nr = n.nr as i64;
    if n.arch != super::arch::AUDIT_ARCH {
        // Only sent here in alert-only mode (otherwise the filter kills it): it runs, and is
        // reported. Its number and arguments are not native ones: nothing is decoded.
        super::shared::report_foreign_abi(st);
        return Answer::Continue;
    }
    if takes_paths(nr) && !same_view(pid) {
        let exec = nr == nr::EXECVE || nr == nr::EXECVEAT;
        return match other_view_event(st, nr, exec) {
            Verdict::Block => Answer::Errno(libc::EACCES),
            _ => Answer::Continue,
        };
    }
    match nr {
        nr::OPENAT => open(st, listener, n, a[0] as i32 as i64, a[1], a[2], a[3], None),
        #[cfg(target_arch = "x86_64")]
        nr::OPEN => open(st, listener, n, AT_FDCWD, a[0], a[1], a[2], None),
        #[cfg(target_arch = "x86_64")]
        nr::CREAT => open(
            st,
            listener,
            n,
            AT_FDCWD,
            a[0],
            (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
            a[1],
            None,
        ),
        nr::OPENAT2 => {
            let mut how = [0u8; 24];
            if a[3] < 24 || read_mem_of(pid, a[2], &mut how) != 24 {
                return Answer::Errno(libc::EFAULT);
            }
            let flags = u64::from_le_bytes(how[0..8].try_into().unwrap_or([0; 8]));
            open(
                st,
                listener,
                n,
                a[0] as i32 as i64,
                a[1],
                flags,
                0,
                Some(how),
            )
        }
        nr::EXECVE => exec(st, listener, n, AT_FDCWD, a[0], a[1], 0),
        nr::EXECVEAT => exec(st, listener, n, a[0] as i32 as i64, a[1], a[2], a[4]),
        nr::CONNECT => net(st, listener, n, 1, 2),
        nr::SENDTO => net(st, listener, n, 4, 5),
        nr::SENDMSG => sendmsg(st, listener, n),
        nr::SENDMMSG => sendmmsg(st, listener, n),
        nr::RECVFROM => recvfrom(listener, n),
        nr::SOCKET => {
            // Decided on register values alone: continuing is exact.
            if decide_socket(st, nr, a[0] as i32, a[1] as i32, a[2] as i32) {
                Answer::Errno(libc::EPERM)
            } else {
                Answer::Continue
            }
        }
        nr::SETSOCKOPT => setsockopt(st, listener, n),
        nr::PROCESS_VM_READV | nr::PROCESS_VM_WRITEV => {
            // The target is a register value: continuing is exact.
            let own = super::shared::tgid_of(pid).unwrap_or(pid);
            if decide_other_process(st, nr, own, a[0] as i32 as i64, None) {
                Answer::Errno(libc::EPERM)
            } else {
                Answer::Continue
            }
        }
        nr::PIDFD_GETFD => pidfd_getfd(st, listener, n),
        nr::PTRACE => {
            // Only sent here in alert-only mode: it runs, and tracing another process is
            // reported under read_handler (the tracer reads its memory).
            let own = super::shared::tgid_of(pid).unwrap_or(pid);
            decide_other_process(st, nr, own, a[1] as i32 as i64, None);
            Answer::Continue
        }
        nr::IO_URING_SETUP => {
            // Only sent here in alert mode: it runs, and is reported.
            super::shared::report_io_uring(st, nr);
            Answer::Continue
        }
        nr::OPEN_BY_HANDLE_AT => open_by_handle(st, listener, n),
        // The filter only sends process creation here when the policy refuses it.
        nr::CLONE => fork(st, nr),
        #[cfg(target_arch = "x86_64")]
        nr::FORK | nr::VFORK => fork(st, nr),
        nr::BIND => unix_bind(st, listener, n),
        _ => match path_table(nr) {
            Some((paths, access, empty)) => path_call(st, listener, n, paths, access, empty),
            None if super::pathcalls::is_unclassified(nr) => {
                if unclassified_event(st, nr) == Verdict::Block {
                    Answer::Errno(libc::ENOSYS)
                } else {
                    Answer::Continue
                }
            }
            None => Answer::Continue,
        },
    }
}

/// Whether the supervisor resolves `nr`'s path or directory-fd arguments.
fn takes_paths(nr: i64) -> bool {
    super::arch::groups::OPEN.contains(&nr)
        || nr == nr::EXECVE
        || nr == nr::EXECVEAT
        || nr == nr::BIND
        || path_table(nr).is_some()
}

/// A mount namespace and a root directory, as (device, inode) pairs.
type View = [(u64, u64); 2];

/// The supervisor's own view, taken when it starts.
static OWN_VIEW: std::sync::OnceLock<Option<View>> = std::sync::OnceLock::new();

/// The mount namespace and root directory of thread `tid` (0: the calling thread), or `None`
/// if they cannot be read (the thread is gone, or /proc is not mounted).
fn view_of(tid: i64) -> Option<View> {
    let mut out = [(0u64, 0u64); 2];
    for (i, what) in [&b"ns/mnt"[..], b"root"].iter().enumerate() {
        let mut p = [0u8; 64];
        let what: &[u8] = if tid == 0 {
            // The supervisor's own thread (it has its own file-system context).
            if i == 0 {
                b"thread-self/ns/mnt"
            } else {
                b"thread-self/root"
            }
        } else {
            what
        };
        if tid == 0 {
            p[..6].copy_from_slice(b"/proc/");
            p[6..6 + what.len()].copy_from_slice(what);
        } else {
            proc_path(tid, what, &mut p)?;
        }
        // A kernel `struct stat` (144 bytes on x86_64, 128 on aarch64): st_dev and st_ino
        // are its first two 64-bit words on both.
        let mut sb = [0u64; 32];
        let r = syscall(
            libc::SYS_newfstatat,
            [
                AT_FDCWD as u64,
                p.as_ptr() as u64,
                sb.as_mut_ptr() as u64,
                0,
                0,
                0,
            ],
        );
        if r < 0 {
            return None;
        }
        out[i] = (sb[0], sb[1]);
    }
    Some(out)
}

/// Whether thread `tid` sees the file system as the supervisor does (same mount namespace,
/// same root directory). Unknown counts as the same: a thread whose /proc entry is gone has
/// no call left to answer.
fn same_view(tid: i64) -> bool {
    let own = *OWN_VIEW.get_or_init(|| view_of(0));
    match (own, view_of(tid)) {
        (Some(own), Some(theirs)) => own == theirs,
        _ => true,
    }
}

/// `bind` of an `AF_UNIX` socket to a path: decided like a file creation on the resolved
/// location, then continued (the caller's socket binds itself).
fn unix_bind(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    let mut sa = [0u8; 112];
    let len = (a[2] as usize).min(sa.len());
    if a[1] == 0 || len <= 2 {
        return Answer::Continue;
    }
    if read_mem_of(pid, a[1], &mut sa[..len]) != len {
        return Answer::Errno(libc::EFAULT);
    }
    let Some(path) = unix_path(&sa[..len]) else {
        return Answer::Continue;
    };
    let mut copy = PathCopy {
        buf: [0; PATH_MAX + 1],
        len: path.len(),
    };
    copy.buf[..path.len()].copy_from_slice(path);
    let who = Caller {
        tid: pid,
        foreign: TARGET.with(|t| t.get().1),
    };
    let walk = Walk {
        follow: false,
        create: false,
        resolve: 0,
    };
    let nr = n.nr as i64;
    let blocked = match resolve::resolve(who, AT_FDCWD, copy.bytes(), walk) {
        Ok(r) => decide_resolved(st, nr, &r, Access::Write).verdict == Verdict::Block,
        Err(e) => {
            refuse_unresolved(st, pid, nr, AT_FDCWD, &copy, Access::Write, e)
                == -(libc::EACCES as i64)
        }
    };
    if !valid(listener, n.id) {
        return Answer::Errno(libc::ENOENT);
    }
    if blocked {
        Answer::Errno(libc::EACCES)
    } else {
        Answer::Continue
    }
}

fn fork(st: &InterceptState, nr: i64) -> Answer {
    let v = st.decider.decide_fork();
    if v != Verdict::Allow {
        push(Record::new(
            PolicyKind::CreateChildProcess,
            v == Verdict::Block,
            RecordKind::Fork,
            nr,
        ));
    }
    if v == Verdict::Block {
        Answer::Errno(libc::EPERM)
    } else {
        Answer::Continue
    }
}

/// Open `path` in the supervisor as the caller would: absolute paths as they are, relative
/// ones against a duplicate of the caller's dirfd (or its cwd). `how` is a copied `open_how`
/// (openat2), whose flags gain `O_CLOEXEC` and whose mode gets the caller's umask like `mode`
/// does. Returns the fd or `-errno`.
fn open_for(
    pid: i64,
    dirfd: i64,
    path: &PathCopy,
    flags: u64,
    mode: u64,
    how: Option<[u8; 24]>,
) -> i64 {
    let base = if path.bytes().first() == Some(&b'/') {
        AT_FDCWD
    } else {
        match dirfd_of(pid, dirfd) {
            Ok(b) => b,
            Err(e) => return -(e as i64),
        }
    };
    let fd = match how {
        Some(mut h) => {
            let f =
                u64::from_le_bytes(h[0..8].try_into().unwrap_or([0; 8])) | libc::O_CLOEXEC as u64;
            h[0..8].copy_from_slice(&f.to_le_bytes());
            let m = u64::from_le_bytes(h[8..16].try_into().unwrap_or([0; 8]));
            h[8..16].copy_from_slice(&caller_mode(pid, f, m).to_le_bytes());
            syscall(
                nr::OPENAT2,
                [base as u64, path.ptr(), h.as_ptr() as u64, 24, 0, 0],
            )
        }
        None => syscall(
            nr::OPENAT,
            [
                base as u64,
                path.ptr(),
                flags,
                caller_mode(pid, flags, mode),
                0,
                0,
            ],
        ),
    };
    if base != AT_FDCWD {
        close(base);
    }
    fd
}

/// Files are created with the caller's umask, not the supervisor's (which is 0).
fn caller_mode(pid: i64, flags: u64, mode: u64) -> u64 {
    if flags as i32 & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        mode & !umask_of(pid) & 0o7777
    } else {
        mode
    }
}

#[allow(clippy::too_many_arguments)]
fn open(
    st: &InterceptState,
    listener: Listener,
    n: &Notification,
    dirfd: i64,
    path_addr: u64,
    flags: u64,
    mode: u64,
    how: Option<[u8; 24]>,
) -> Answer {
    let pid = n.pid as i64;
    let copy = match PathCopy::read_of(pid, path_addr) {
        Ok(c) => c,
        Err(e) => return Answer::Errno(-e as i32),
    };
    if !valid(listener, n.id) || copy.bytes().is_empty() {
        // An empty path: the open family has no AT_EMPTY_PATH, the kernel answers ENOENT.
        return Answer::Errno(libc::ENOENT);
    }
    let access = open_access(flags);
    let mut abs = [0u8; PATH_MAX];
    let (d, resolved) = classify_arg(st, pid, n.nr as i64, dirfd, copy.bytes(), access, &mut abs);
    if d.verdict == Verdict::Block {
        return Answer::Errno(libc::EACCES);
    }
    // The path as the supervisor must open it on the caller's behalf: paths that name "the
    // calling process" (/proc/self, /dev/fd, ...) rewritten to the caller's /proc entry and
    // opened by their absolute path; anything else as the caller gave it.
    let mut own = PathCopy {
        buf: [0; PATH_MAX + 1],
        len: 0,
    };
    let rewritten = resolved.and_then(|l| {
        let p = &abs[..l];
        // Only /proc and /dev paths can name the caller; reading its thread-group id costs a
        // file read, so it is done only for them.
        if !(p.starts_with(b"/proc/") || p.starts_with(b"/dev/")) {
            return None;
        }
        let mut out = [0u8; PATH_MAX];
        let l = rewrite_self(p, pid, tgid_of(pid).unwrap_or(pid), &mut out)?;
        own.buf[..=l].copy_from_slice(&out[..=l]);
        own.len = l;
        Some(())
    });
    let copy = if rewritten.is_some() { &own } else { &copy };
    // Emulation exists to enforce: a racing thread must not swap an allowed path for a blocked
    // one after the check. When no path policy blocks (alert-only staging, or everything
    // allowed), a swap could only dodge an *alert*, so the call continues in the caller — which
    // also keeps the caller's credentials exactly right, and avoids ADDFD's two cross-thread
    // wake-ups (tens of µs on an idle VM).
    let blocks = |slot| st.decider.mode(slot) == crate::policy::Mode::Block;
    use super::decide::ModeSlot;
    if !(blocks(ModeSlot::ReadHandler) || blocks(ModeSlot::TmpRead) || blocks(ModeSlot::TmpWrite)) {
        // Still report what a symlink leads to: look at the target without opening it for the
        // caller (O_PATH relative to the caller's dirfd or cwd, then read the fd's path back).
        if let Some(l) = resolved {
            let fd = open_for(
                pid,
                dirfd,
                copy,
                (libc::O_PATH | libc::O_CLOEXEC) as u64,
                0,
                None,
            );
            if fd >= 0 {
                let mut real = [0u8; PATH_MAX];
                if let Some(r) = super::shared::fd_path(fd, &mut real) {
                    if real[..r] != abs[..l] && real[0] == b'/' {
                        let rd = st.decider.classify_path(&real[..r], access);
                        if rd != d {
                            record_path(n.nr as i64, rd, &real[..r], access);
                        }
                    }
                }
                close(fd);
            }
        }
        return Answer::Continue;
    }
    // Enforcing: resolve the path to objects the supervisor holds (the caller's dirfd, cwd or
    // root), decide on their real location, and open exactly what was decided.
    let word = |h: &[u8; 24], i: usize| {
        u64::from_le_bytes(h[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]))
    };
    let (mode, resolve) = match &how {
        Some(h) => (word(h, 1), word(h, 2)),
        None => (mode, 0),
    };
    let f = flags as i32;
    let walk = Walk {
        follow: f & libc::O_NOFOLLOW == 0
            && f & (libc::O_CREAT | libc::O_EXCL) != (libc::O_CREAT | libc::O_EXCL),
        create: f & libc::O_CREAT != 0,
        resolve,
    };
    let foreign = TARGET.with(|t| t.get().1);
    let who = Caller { tid: pid, foreign };
    for _ in 0..4 {
        let r = match resolve::resolve(who, dirfd, copy.bytes(), walk) {
            Ok(r) => r,
            Err(e) => {
                let e = refuse_unresolved(st, pid, n.nr as i64, dirfd, copy, access, e);
                return Answer::Errno(-e as i32);
            }
        };
        if foreign && r.real_path().is_none() && r.has_object() {
            // A magic link to something with no path, followed by the supervisor: it may be
            // one of the supervisor's own descriptors (a symlink to /proc/self): refused.
            return Answer::Errno(libc::EACCES);
        }
        let d = decide_resolved(st, n.nr as i64, &r, access);
        if d.verdict == Verdict::Block {
            return Answer::Errno(libc::EACCES);
        }
        if access == Access::Meta {
            // ADDFD cannot install O_PATH descriptors: the caller opens it itself. An O_PATH fd
            // gives no data; whatever is done through it later is decided again.
            return if valid(listener, n.id) {
                Answer::Continue
            } else {
                Answer::Errno(libc::ENOENT)
            };
        }
        if !EMULATE_OPEN.load(Relaxed) {
            // No ADDFD (before 5.9): the decision stands on the resolved path; the call
            // continues.
            return Answer::Continue;
        }
        let fd = r.open(
            flags | libc::O_CLOEXEC as u64,
            caller_mode(pid, flags, mode),
        );
        if fd == -(libc::ELOOP as i64) && walk.follow && !r.has_object() {
            continue;
        }
        if fd < 0 {
            return Answer::Errno(-fd as i32);
        }
        let v = verify_opened(st, n.nr as i64, fd, access, d);
        if v < 0 {
            return Answer::Errno(-v as i32);
        }
        return Answer::AddFd {
            fd,
            cloexec: flags & libc::O_CLOEXEC as u64 != 0,
        };
    }
    Answer::Errno(libc::ELOOP)
}

fn path_call(
    st: &InterceptState,
    listener: Listener,
    n: &Notification,
    paths: &[(Option<usize>, usize)],
    access: Access,
    empty: Option<(usize, u64)>,
) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    let nr = n.nr as i64;
    let mut blocked = false;
    let blocks = |slot| st.decider.mode(slot) == crate::policy::Mode::Block;
    use super::decide::ModeSlot;
    if !(blocks(ModeSlot::ReadHandler) || blocks(ModeSlot::TmpRead) || blocks(ModeSlot::TmpWrite)) {
        // Nothing to enforce (alert-only staging): decide on the path as given, as the open
        // path does, and continue; resolving would only slow the supervisor down.
        for &(dirfd_idx, path_idx) in paths.iter().take(2) {
            if a[path_idx] == 0 {
                continue;
            }
            let copy = match PathCopy::read_of(pid, a[path_idx]) {
                Ok(c) => c,
                Err(e) => return Answer::Errno(-e as i32),
            };
            let dirfd = dirfd_idx.map_or(AT_FDCWD, |i| a[i] as i32 as i64);
            let empty_ok = empty.is_some_and(|(fi, bit)| a[fi] & bit != 0);
            if let Err(e) = check_path_arg(st, pid, nr, dirfd, &copy, empty_ok, access) {
                return Answer::Errno(e);
            }
        }
        return Answer::Continue;
    }
    // Each path argument is resolved to objects (the caller's dirfd, cwd or root) and decided
    // on their real location. The call then continues in the caller (a documented residual:
    // a racing thread could swap a path component after the check).
    let who = Caller {
        tid: pid,
        foreign: TARGET.with(|t| t.get().1),
    };
    let mut held: [Option<Resolved>; 2] = [None, None];
    for (slot, &(dirfd_idx, path_idx)) in paths.iter().enumerate().take(2) {
        if a[path_idx] == 0 {
            continue;
        }
        let copy = match PathCopy::read_of(pid, a[path_idx]) {
            Ok(c) => c,
            Err(e) => return Answer::Errno(-e as i32),
        };
        let dirfd = dirfd_idx.map_or(AT_FDCWD, |i| a[i] as i32 as i64);
        if copy.len == 0 {
            let empty_ok = empty.is_some_and(|(fi, bit)| a[fi] & bit != 0);
            match check_path_arg(st, pid, nr, dirfd, &copy, empty_ok, access) {
                Ok(v) => blocked |= v == Verdict::Block,
                Err(e) => return Answer::Errno(e),
            }
            continue;
        }
        let walk = Walk {
            follow: follows(nr, &a, slot),
            create: false,
            resolve: 0,
        };
        match resolve::resolve(who, dirfd, copy.bytes(), walk) {
            Ok(r) if existing_passage(st, nr, &r) => return Answer::Errno(libc::EEXIST),
            Ok(r) => held[slot] = Some(r),
            Err(e) => {
                if refuse_unresolved(st, pid, nr, dirfd, &copy, access, e) == -(libc::EACCES as i64)
                {
                    blocked = true;
                }
            }
        }
    }
    for (slot, r) in held.iter().enumerate() {
        let Some(r) = r else { continue };
        let acc = moved_access(st, nr, &a, slot, access, &held);
        blocked |= decide_resolved(st, nr, r, acc).verdict == Verdict::Block;
    }
    if !valid(listener, n.id) {
        return Answer::Errno(libc::ENOENT);
    }
    if blocked {
        return Answer::Errno(libc::EACCES);
    }
    match emulate_write(pid, nr, a, paths, &held) {
        Some(r) => Answer::Value(r),
        None => Answer::Continue,
    }
}

/// Carry out a file-system write whose only pointer arguments are paths (mkdir, mknod,
/// unlink, rmdir, rename, link, symlink, truncate, chmod, chown) in the supervisor, on the
/// objects it resolved and decided on, so that a racing thread cannot swap a directory, a
/// dirfd or the cwd after the decision. Other calls return `None` and continue in the caller.
fn emulate_write(
    pid: i64,
    nr: i64,
    mut a: [u64; 6],
    paths: &[(Option<usize>, usize)],
    held: &[Option<Resolved>; 2],
) -> Option<i64> {
    // (mode argument, if the call creates with a mode the caller's umask applies to)
    let umask_arg: Option<usize> = match nr {
        #[cfg(target_arch = "x86_64")]
        nr::MKDIR | nr::MKNOD => Some(1),
        nr::MKDIRAT | nr::MKNODAT => Some(2),
        #[cfg(target_arch = "x86_64")]
        nr::UNLINK
        | nr::RMDIR
        | nr::RENAME
        | nr::LINK
        | nr::SYMLINK
        | nr::CHMOD
        | nr::CHOWN
        | nr::LCHOWN => None,
        nr::UNLINKAT
        | nr::RENAMEAT
        | nr::RENAMEAT2
        | nr::LINKAT
        | nr::SYMLINKAT
        | nr::TRUNCATE
        | nr::FCHMODAT
        | nr::FCHMODAT2
        | nr::FCHOWNAT => None,
        _ => return None,
    };
    let mut acts = [[0u8; resolve::ACT_MAX]; 2];
    for (slot, &(_, path_idx)) in paths.iter().enumerate().take(2) {
        let r = held[slot].as_ref()?; // an empty or NULL path: the caller does it
        r.act_path(&mut acts[slot]);
        a[path_idx] = acts[slot].as_ptr() as u64;
    }
    // symlink's target is a string, not a path that is walked: copied as it is.
    #[cfg(target_arch = "x86_64")]
    let target_idx = match nr {
        nr::SYMLINK | nr::SYMLINKAT => Some(0),
        _ => None,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let target_idx = (nr == nr::SYMLINKAT).then_some(0);
    let target;
    if let Some(i) = target_idx {
        target = PathCopy::read_of(pid, a[i]).ok()?;
        a[i] = target.ptr();
    }
    if let Some(i) = umask_arg {
        a[i] &= !umask_of(pid) & 0o7777 | !0o7777;
    }
    Some(syscall(nr, a))
}

fn exec(
    st: &InterceptState,
    listener: Listener,
    n: &Notification,
    dirfd: i64,
    path_addr: u64,
    argv: u64,
    flags: u64,
) -> Answer {
    let pid = n.pid as i64;
    let copy = match PathCopy::read_of(pid, path_addr) {
        Ok(c) => c,
        Err(e) => return Answer::Errno(-e as i32),
    };
    let v = match check_exec(st, pid, n.nr as i64, dirfd, &copy, argv, flags) {
        Ok(v) => v,
        Err(e) => return Answer::Errno(e),
    };
    if !valid(listener, n.id) {
        return Answer::Errno(libc::ENOENT);
    }
    if v == Verdict::Block {
        Answer::Errno(libc::EACCES)
    } else {
        Answer::Continue
    }
}

/// Read the caller's sockaddr at `addr`; decide on the copy as the kernel will read it.
/// Ok(copy) to emulate with.
fn check_addr(
    st: &InterceptState,
    n: &Notification,
    addr: u64,
    len: u64,
) -> Result<([u8; SA_MAX], usize), i32> {
    let mut sa = [0u8; SA_MAX];
    let len = (len as usize).min(SA_MAX);
    if read_mem_of(n.pid as i64, addr, &mut sa[..len]) != len {
        return Err(libc::EFAULT);
    }
    if decide_sockaddr(st, n.nr as i64, &sa[..len]) {
        return Err(libc::EPERM);
    }
    Ok((sa, len))
}

/// Duplicate the caller's socket `fd` and tell whether it can reach the network at all. A
/// local socket (AF_UNIX, AF_NETLINK) has no outbound destination whatever the arguments say,
/// so its call continues in the caller (exact: its fds, cwd and credentials are the caller's);
/// `Err(answer)` says how to answer. Otherwise the duplicate, to emulate on.
fn network_socket(listener: Listener, n: &Notification) -> Result<i64, Answer> {
    if !EMULATE_NET.load(Relaxed) {
        // No pidfd_getfd: no duplicate (-1); the caller decides on its copies and continues.
        return Ok(-1);
    }
    let sock = match dup_from(n.pid as i64, n.args[0] as i32 as i64) {
        Ok(fd) => fd,
        Err(e) => return Err(Answer::Errno(e)),
    };
    let mut domain: i32 = -1;
    let mut len = 4u32;
    let r = syscall(
        libc::SYS_getsockopt,
        [
            sock as u64,
            libc::SOL_SOCKET as u64,
            libc::SO_DOMAIN as u64,
            &mut domain as *mut i32 as u64,
            &mut len as *mut u32 as u64,
            0,
        ],
    );
    if r == 0 && (domain == libc::AF_UNIX || domain == libc::AF_NETLINK) {
        close(sock);
        return Err(if valid(listener, n.id) {
            Answer::Continue
        } else {
            Answer::Errno(libc::ENOENT)
        });
    }
    Ok(sock)
}

/// `setsockopt` of an option that can route datagrams elsewhere: decided on a copy of the
/// value and performed on a duplicate of the socket with that copy.
fn setsockopt(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let a = n.args;
    let len = a[4] as u32 as usize;
    if len > CTL_MAX {
        return if st
            .decider
            .mode(crate::intercept::decide::ModeSlot::Outbound)
            == crate::policy::Mode::Block
        {
            Answer::Errno(libc::ENOBUFS)
        } else {
            Answer::Continue
        };
    }
    let mut val = [0u8; CTL_MAX];
    if len > 0 && read_mem_of(n.pid as i64, a[3], &mut val[..len]) != len {
        return Answer::Errno(libc::EFAULT);
    }
    if let Some(why) = super::netcheck::sockopt_redirects(a[1] as i32, a[2] as i32, &val[..len]) {
        if decide_socket_other(st, n.nr as i64, why.as_bytes()) {
            return Answer::Errno(libc::EPERM);
        }
    }
    if !valid(listener, n.id) {
        return Answer::Errno(libc::ENOENT);
    }
    let sock = match dup_from(n.pid as i64, a[0] as i32 as i64) {
        Ok(fd) => fd,
        Err(e) => return Answer::Errno(e),
    };
    let r = syscall(
        libc::SYS_setsockopt,
        [
            sock as u64,
            a[1],
            a[2],
            if len > 0 { val.as_ptr() as u64 } else { a[3] },
            len as u64,
            0,
        ],
    );
    close(sock);
    Answer::Value(r)
}

/// `open_by_handle_at`, only sent here when no path policy blocks: the supervisor opens the
/// same handle (through a duplicate of the caller's mount fd) to see which file it names,
/// reports it like any open, and the call continues in the caller.
fn open_by_handle(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let a = n.args;
    let pid = n.pid as i64;
    // struct file_handle: u32 handle_bytes, i32 handle_type, then the bytes (at most 128).
    let mut fh = [0u8; 8 + 128];
    if read_mem_of(pid, a[1], &mut fh[..8]) == 8 {
        let bytes = u32::from_ne_bytes(fh[0..4].try_into().unwrap_or([0; 4])) as usize;
        if bytes <= 128
            && read_mem_of(pid, a[1] + 8, &mut fh[8..8 + bytes]) == bytes
            && valid(listener, n.id)
        {
            if let Ok(mount) = dup_from(pid, a[0] as i32 as i64) {
                let fd = syscall(
                    nr::OPEN_BY_HANDLE_AT,
                    [
                        mount as u64,
                        fh.as_ptr() as u64,
                        (libc::O_PATH | libc::O_CLOEXEC) as u64,
                        0,
                        0,
                        0,
                    ],
                );
                close(mount);
                if fd >= 0 {
                    let none = crate::intercept::decide::PathDecision {
                        policy: None,
                        verdict: Verdict::Allow,
                    };
                    let r = verify_opened(st, n.nr as i64, fd, open_access(a[2]), none);
                    if r >= 0 {
                        close(r);
                    }
                }
            }
        }
    }
    Answer::Continue
}

/// `pidfd_getfd`: decided on a duplicate of the caller's pidfd (a racing `dup2` cannot swap
/// it), performed on that duplicate, and the result installed in the caller.
fn pidfd_getfd(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    let pidfd = match dup_from(pid, a[0] as i32 as i64) {
        Ok(fd) => fd,
        Err(e) => return Answer::Errno(e),
    };
    let own = super::shared::tgid_of(pid).unwrap_or(pid);
    let target = pidfd_pid(0, pidfd).unwrap_or(-1);
    if decide_other_process(st, n.nr as i64, own, target, Some(a[1] as i32 as i64)) {
        close(pidfd);
        return Answer::Errno(libc::EPERM);
    }
    let fd = syscall(libc::SYS_pidfd_getfd, [pidfd as u64, a[1], a[2], 0, 0, 0]);
    close(pidfd);
    if fd < 0 {
        return Answer::Errno(-fd as i32);
    }
    if !valid(listener, n.id) {
        close(fd);
        return Answer::Errno(libc::ENOENT);
    }
    // pidfd_getfd always sets close-on-exec on the new descriptor.
    Answer::AddFd { fd, cloexec: true }
}

fn net(
    st: &InterceptState,
    listener: Listener,
    n: &Notification,
    addr_idx: usize,
    len_idx: usize,
) -> Answer {
    let a = n.args;
    if a[addr_idx] == 0 {
        return Answer::Continue;
    }
    let sock = match network_socket(listener, n) {
        Ok(fd) => fd,
        Err(answer) => return answer,
    };
    let (sa, len) = match check_addr(st, n, a[addr_idx], a[len_idx]) {
        Ok(x) => x,
        Err(e) => {
            close(sock);
            return Answer::Errno(e);
        }
    };
    let pid = n.pid as i64;
    let data = if n.nr as i64 == nr::SENDTO {
        let want = (a[2] as usize).min(65_536);
        let mut buf = vec![0u8; want];
        if read_mem_of(pid, a[1], &mut buf) != want {
            close(sock);
            return Answer::Errno(libc::EFAULT);
        }
        if super::shared::to_resolver(st, &sa[..len]) && dns_refused(st, n, &buf) {
            close(sock);
            return Answer::Errno(libc::EPERM);
        }
        Some(buf)
    } else {
        None
    };
    if !valid(listener, n.id) {
        close(sock);
        return Answer::Errno(libc::ENOENT);
    }
    if sock < 0 {
        // No pidfd_getfd: the decision stands on the copy; the call continues.
        return Answer::Continue;
    }
    let key = key_of(&[&sa[..len], data.as_deref().unwrap_or(&[])]);
    let nr_ = n.nr as i64;
    let flags = a[3];
    deferred_once(listener, n, key, sock, move || {
        let r = match &data {
            None => syscall(
                nr::CONNECT,
                [sock as u64, sa.as_ptr() as u64, len as u64, 0, 0, 0],
            ),
            Some(buf) => syscall(
                nr_,
                [
                    sock as u64,
                    buf.as_ptr() as u64,
                    buf.len() as u64,
                    flags,
                    sa.as_ptr() as u64,
                    len as u64,
                ],
            ),
        };
        close(sock);
        r
    })
}

/// Copy a msghdr (address, data, control) from the caller, decide on the copies, and emulate
/// on them, so that what is sent is exactly what was decided. A local socket continues.
fn sendmsg(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    let sock = match network_socket(listener, n) {
        Ok(fd) => fd,
        Err(answer) => return answer,
    };
    let mut hdr = [0u8; MSGHDR];
    let checked = if read_mem_of(pid, a[1], &mut hdr) != MSGHDR {
        Err(libc::EFAULT)
    } else {
        check_msg(st, n, &hdr)
    };
    let (m, sa, salen) = match checked {
        Ok(x) => x,
        Err(e) => {
            close(sock);
            return Answer::Errno(e);
        }
    };
    if !valid(listener, n.id) {
        close(sock);
        return Answer::Errno(libc::ENOENT);
    }
    if sock < 0 {
        // No pidfd_getfd: the decision stands on the copy; the call continues.
        return Answer::Continue;
    }
    let key = key_of(&[&sa[..salen], &m.data, &m.control]);
    let flags = a[2];
    deferred_once(listener, n, key, sock, move || {
        let r = m.send(sock, &sa, salen, flags);
        close(sock);
        r
    })
}

/// A datagram to a resolver that is not a DNS query for an allowed name (see
/// [`super::shared::decide_dns_query`]); the data is the supervisor's copy, which is what is sent.
fn dns_refused(st: &InterceptState, n: &Notification, data: &[u8]) -> bool {
    let data = if data.len() <= super::shared::DNS_MAX {
        data
    } else {
        &[]
    };
    super::shared::decide_dns_query(st, n.nr as i64, data)
}

/// Copy one message and decide on its destination and control messages.
fn check_msg(
    st: &InterceptState,
    n: &Notification,
    hdr: &[u8; MSGHDR],
) -> Result<(CopiedMsg, [u8; SA_MAX], usize), i32> {
    let name = u64::from_ne_bytes(hdr[0..8].try_into().unwrap_or([0; 8]));
    let namelen = u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])) as u64;
    let (sa, salen) = if name == 0 || namelen == 0 {
        ([0u8; SA_MAX], 0)
    } else {
        check_addr(st, n, name, namelen)?
    };
    let m = copy_msg(n.pid as i64, hdr)?;
    if salen > 0 && super::shared::to_resolver(st, &sa[..salen]) && dns_refused(st, n, &m.data) {
        return Err(libc::EPERM);
    }
    if let Some(why) = super::netcheck::control_redirects(&m.control) {
        if decide_socket_other(st, n.nr as i64, why.as_bytes()) {
            return Err(libc::EPERM);
        }
    }
    Ok((m, sa, salen))
}

/// A message copied out of the caller.
struct CopiedMsg {
    data: Vec<u8>,
    control: Vec<u8>,
    flags: i32,
}

const MSG_DATA_MAX: usize = 65_536;

fn copy_msg(pid: i64, hdr: &[u8; MSGHDR]) -> Result<CopiedMsg, i32> {
    let word = |o: usize| u64::from_ne_bytes(hdr[o..o + 8].try_into().unwrap_or([0; 8]));
    let (iov, iovlen, control, controllen) = (word(16), word(24), word(32), word(40));
    let flags = i32::from_ne_bytes(hdr[48..52].try_into().unwrap_or([0; 4]));
    if iovlen > 1024 {
        return Err(libc::EMSGSIZE);
    }
    let mut data = Vec::new();
    for i in 0..iovlen {
        let mut v = [0u8; 16];
        if read_mem_of(pid, iov + i * 16, &mut v) != 16 {
            return Err(libc::EFAULT);
        }
        let base = u64::from_ne_bytes(v[0..8].try_into().unwrap_or([0; 8]));
        let len = u64::from_ne_bytes(v[8..16].try_into().unwrap_or([0; 8])) as usize;
        if data.len() + len > MSG_DATA_MAX {
            return Err(libc::EMSGSIZE);
        }
        let at = data.len();
        data.resize(at + len, 0);
        if read_mem_of(pid, base, &mut data[at..]) != len && len > 0 {
            return Err(libc::EFAULT);
        }
    }
    let controllen = (controllen as usize).min(4096);
    let mut ctl = vec![0u8; controllen];
    if controllen > 0 && read_mem_of(pid, control, &mut ctl) != controllen {
        return Err(libc::EFAULT);
    }
    Ok(CopiedMsg {
        data,
        control: ctl,
        flags,
    })
}

impl CopiedMsg {
    fn send(&self, sock: i64, sa: &[u8; SA_MAX], salen: usize, flags: u64) -> i64 {
        let mut iov = libc::iovec {
            iov_base: self.data.as_ptr() as *mut libc::c_void,
            iov_len: self.data.len(),
        };
        let mut hdr = [0u8; MSGHDR];
        if salen > 0 {
            hdr[0..8].copy_from_slice(&(sa.as_ptr() as u64).to_ne_bytes());
            hdr[8..12].copy_from_slice(&(salen as u32).to_ne_bytes());
        }
        hdr[16..24].copy_from_slice(&(&mut iov as *mut libc::iovec as u64).to_ne_bytes());
        hdr[24..32].copy_from_slice(&1u64.to_ne_bytes());
        if !self.control.is_empty() {
            hdr[32..40].copy_from_slice(&(self.control.as_ptr() as u64).to_ne_bytes());
            hdr[40..48].copy_from_slice(&(self.control.len() as u64).to_ne_bytes());
        }
        hdr[48..52].copy_from_slice(&self.flags.to_ne_bytes());
        syscall(
            nr::SENDMSG,
            [sock as u64, hdr.as_ptr() as u64, flags, 0, 0, 0],
        )
    }
}

/// sendmmsg: every message's destination and control messages are checked; at most 8
/// messages are sent (a short count, which sendmmsg's contract allows), and like the kernel,
/// the messages before a refused one are sent and counted. Their `msg_len` is written back.
fn sendmmsg(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
    const ENTRY: usize = std::mem::size_of::<libc::mmsghdr>();
    let pid = n.pid as i64;
    let a = n.args;
    let sock = match network_socket(listener, n) {
        Ok(fd) => fd,
        Err(answer) => return answer,
    };
    let vlen = (a[2] as usize).min(8);
    let mut msgs = Vec::with_capacity(vlen);
    for i in 0..vlen {
        let mut hdr = [0u8; MSGHDR];
        let checked = if read_mem_of(pid, a[1] + (i * ENTRY) as u64, &mut hdr) != MSGHDR {
            Err(libc::EFAULT)
        } else {
            check_msg(st, n, &hdr)
        };
        match checked {
            Ok(m) => msgs.push(m),
            Err(e) if i == 0 => {
                close(sock);
                return Answer::Errno(e);
            }
            Err(_) => break,
        }
    }
    if !valid(listener, n.id) {
        close(sock);
        return Answer::Errno(libc::ENOENT);
    }
    if sock < 0 {
        // No pidfd_getfd: the decisions stand on the copies; the call continues.
        return Answer::Continue;
    }
    let (vec, flags) = (a[1], a[3]);
    let parts: Vec<&[u8]> = msgs
        .iter()
        .flat_map(|(m, sa, salen)| [&sa[..*salen], &m.data[..], &m.control[..]])
        .collect();
    let key = key_of(&parts);
    deferred_once(listener, n, key, sock, move || {
        let mut sent = 0i64;
        for (i, (m, sa, salen)) in msgs.iter().enumerate() {
            let r = m.send(sock, sa, *salen, flags);
            if r < 0 {
                close(sock);
                return if sent > 0 { sent } else { r };
            }
            if write_mem_of(
                pid,
                vec + (i * ENTRY + MSGHDR) as u64,
                &(r as u32).to_ne_bytes(),
            ) != 4
            {
                close(sock);
                return if sent > 0 {
                    sent
                } else {
                    -(libc::EFAULT as i64)
                };
            }
            sent += 1;
        }
        close(sock);
        sent
    })
}

/// recvfrom with a source address: emulated on a duplicate so that DNS answers from a
/// resolver can be learnt; data, address and length are written back.
fn recvfrom(listener: Listener, n: &Notification) -> Answer {
    let pid = n.pid as i64;
    let a = n.args;
    if a[4] == 0 || a[5] == 0 {
        return Answer::Continue;
    }
    let mut lenb = [0u8; 4];
    if read_mem_of(pid, a[5], &mut lenb) != 4 {
        return Answer::Errno(libc::EFAULT);
    }
    if !EMULATE_NET.load(Relaxed) {
        // No pidfd_getfd: the call continues (its DNS answer is not learnt).
        return Answer::Continue;
    }
    let sock = match dup_from(pid, a[0] as i32 as i64) {
        Ok(fd) => fd,
        Err(e) => return Answer::Errno(e),
    };
    let cap = (a[2] as usize).min(65_536);
    let addr_cap = (u32::from_ne_bytes(lenb) as usize).min(SA_MAX);
    let (buf_addr, flags, addr_addr, len_addr) = (a[1], a[3], a[4], a[5]);
    // A restart gets the first result: the data is already in the same buffer.
    let key = key_of(&[&buf_addr.to_ne_bytes(), &(cap as u64).to_ne_bytes()]);
    deferred_once(listener, n, key, sock, move || {
        let mut buf = vec![0u8; cap];
        let mut sa = [0u8; SA_MAX];
        let mut salen = addr_cap as u32;
        let r = syscall(
            nr::RECVFROM,
            [
                sock as u64,
                buf.as_mut_ptr() as u64,
                cap as u64,
                flags,
                sa.as_mut_ptr() as u64,
                &mut salen as *mut u32 as u64,
            ],
        );
        close(sock);
        if r < 0 {
            return r;
        }
        let got = (r as usize).min(cap);
        if write_mem_of(pid, buf_addr, &buf[..got]) != got && got > 0 {
            return -(libc::EFAULT as i64);
        }
        let _ = write_mem_of(pid, addr_addr, &sa[..(salen as usize).min(addr_cap)]);
        let _ = write_mem_of(pid, len_addr, &salen.to_ne_bytes());
        if let Some((ip, 53)) = inet(&sa[..(salen as usize).min(SA_MAX)]) {
            if let Some(st) = STATE.get() {
                if st.decider.is_resolver(crate::policy::canonical(ip)) {
                    super::shared::HOSTS
                        .learn_from_response(&buf[..got], crate::sys::now_monotonic_secs());
                }
            }
        }
        r
    })
}
