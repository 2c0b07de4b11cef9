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
//! - recvfrom with an address (DNS learning): performed on the duplicate, results written back;
//! - path writes (mkdir … chown, utimes, xattrs): performed on the resolved objects, with their
//!   other pointer arguments copied (`paths::emulate_write`).
//!
//! `SECCOMP_USER_NOTIF_FLAG_CONTINUE` is used for alerts and decisions on register values, and —
//! a documented residual risk — for allowed exec, allowed metadata path calls (the stat family,
//! readlink, getxattr, chdir) and writes that name their file by fd, whose results cannot be
//! transferred without emulating each syscall's output.
//!
//! Calls that may block for long (connect on a blocking socket, recvfrom) are emulated on a
//! short-lived worker thread so that the supervisor keeps serving other threads.
//!
//! The supervisor must not die: each notification is handled under `catch_unwind`; a panic
//! answers that notification with EPERM (fail closed) and the loop goes on. If the supervisor
//! thread were gone, every notified syscall would fail with ENOSYS.

use super::arch::nr;
use super::caller::{dup_from, pidfd_pid, status_field, tgid_of};
use super::decide::{Access, Verdict, PATH_MAX};
use super::resolve::{
    self, decide_resolved, existing_passage, follows, moved_access, moved_creates,
    other_view_event, passage_access, refuse_unresolved, unclassified_event, unix_path, Caller,
    Resolved, Walk,
};
use super::shared::{
    check_exec, check_path_arg, classify_arg, decide_other_process, decide_sockaddr, decide_socket,
    decide_socket_other, inet, open_access, open_creates, open_path, path_creates, path_table,
    proc_path, push, record_path, verify_opened, write_decimal, Creates, InterceptState, PathCopy,
    CTL_MAX, MSGHDR, RECORDED, RESTARTED, SA_MAX, STATE, TARGET,
};
use crate::event::{Record, RecordKind};
use crate::policy::PolicyKind;
use crate::sys::notif::{Listener, Notification, Response};
use crate::sys::{read_mem_of, syscall, write_mem_of};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

mod net;
mod paths;
mod restart;
pub(crate) mod standby;

use net::*;
use paths::*;
use restart::*;

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

/// On the supervisor thread, before it serves anything: give it a file table of its own
/// (`unshare(CLONE_FILES)`) holding only the listener, the event output and the reporter's
/// wake-up fd (and stdout, stderr). Returns `false` (and changes nothing) if the kernel
/// refuses; the caller then closes nothing.
///
/// Why: in the function's table, code of the function could name the listener. It could
/// close it or `dup2` another file over it, and the supervisor's next receive failed and it
/// ended, the call it had just received never answered (every later notified call then waited
/// for ever, issue 13 kind 10); children forked without exec held copies of it. In a table of
/// its own, no code of the function can reach it: forks copy the forking thread's table, and
/// `/proc/self/fd` is the thread-group leader's. (Linux 6.9+ thread pidfds let a thread of
/// the function *copy* it with `pidfd_getfd`, never close it; the filter refuses every
/// listener ioctl from the function, so a copy is of no use.)
pub(crate) fn private_table(listener: i32) -> bool {
    if syscall(libc::SYS_unshare, [libc::CLONE_FILES as u64, 0, 0, 0, 0, 0]) != 0 {
        return false;
    }
    standby::close_inherited(&[
        listener,
        crate::event::durable::out_fd(),
        crate::event::durable::report_fd(),
        super::threads::WAKE_FD.load(std::sync::atomic::Ordering::Acquire),
    ]);
    // stdin is not the shield's: a copy would keep a pipe's writer from seeing its end.
    if listener != 0 && crate::event::durable::out_fd() != 0 {
        syscall(libc::SYS_close, [0, 0, 0, 0, 0, 0]);
    }
    super::caller::note_private_table();
    true
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

/// The supervisor loop. Never returns while the listener is open, unless `watch` (a pidfd,
/// or -1) is given: the stand-by supervisor returns once that process has exited, or once no
/// task uses the filter any more.
pub(crate) fn supervise(listener: Listener, watch: i32) {
    // SYNC_WAKE_UP (6.6+) was turned on by the install's probe (probe::probe_listener).
    let own_pid = std::process::id();
    OWN_VIEW.get_or_init(|| view_of(0));
    super::shared::note_supervisor_thread();
    // The stand-by first takes over what the supervisor thread held when it died.
    let mut orphans = if watch >= 0 {
        standby::orphans(listener)
    } else {
        Vec::new()
    };
    loop {
        let n = if let Some(n) = orphans.pop() {
            Ok(n)
        } else {
            if watch >= 0 {
                if !standby::wait_for_call(listener, watch) {
                    return;
                }
                listener.recv()
            } else {
                standby::recv_noted(listener)
            }
        };
        let n = match n {
            Ok(n) => n,
            Err(libc::EINTR | libc::ENOENT) => continue,
            // EBADF, ENOTTY: the fd is no longer the listener. Nothing of the shield closes
            // it, so code of the function closed it or replaced it (`close_range`, `dup2`):
            // the stand-by, which holds a listener of its own, takes over now. (Calls of other
            // threads keep waiting otherwise.)
            Err(_) => {
                if watch < 0 {
                    standby::supervisor_lost();
                }
                return;
            }
        };
        let Some(st) = STATE.get() else {
            send(listener, n.id, Answer::Errno(libc::ENOSYS));
            continue;
        };
        if super::shared::is_exempt_tid(n.pid) {
            // The shield's own /tmp wipe.
            send(listener, n.id, Answer::Continue);
            continue;
        }
        let foreign = !is_own_thread(own_pid, n.pid);
        // A restart records no events: they were recorded the first time (the answer was
        // lost: not sent).
        let restarted = take_lost(&n);
        let a = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            TARGET.with(|t| t.set((n.pid, foreign)));
            RESTARTED.with(|r| r.set(restarted));
            RECORDED.with(|r| r.set(false));
            let a = handle(st, listener, &n);
            RESTARTED.with(|r| r.set(false));
            TARGET.with(|t| t.set((0, false)));
            a
        }))
        .unwrap_or(Answer::Errno(libc::EPERM));
        let a = match a {
            Answer::Errno(libc::EFAULT) if !caller_readable(&n) => {
                TARGET.with(|t| t.set((n.pid, foreign)));
                let a = unreadable(st, &n);
                TARGET.with(|t| t.set((0, false)));
                a
            }
            a => a,
        };
        // Only a call whose events were recorded makes its restart record none.
        let recorded = RECORDED.with(|r| r.replace(false)) || restarted;
        let sent = answer(listener, n.id, a);
        if recorded {
            lost(&n, sent);
        }
    }
}

/// Whether the supervisor can read the caller's memory at all (its instruction pointer is
/// mapped, readable code). A process that exec'd a file it may execute but not read is not
/// dumpable, and only a privileged supervisor may read it: its arguments cannot be inspected.
fn caller_readable(n: &Notification) -> bool {
    let mut b = [0u8; 1];
    read_mem_of(n.pid as i64, n.ip.saturating_sub(1), &mut b) == 1
}

/// A call whose arguments cannot be read (see [`caller_readable`]): nothing can be decided on
/// them. While a policy blocks, it is refused (EACCES) and reported as blocked under that
/// policy; in alert mode it runs, as with no shield, and is reported as an alert; with every
/// policy `allow` it runs unreported. (It used to fail with EFAULT in every mode, unreported.)
fn unreadable(st: &InterceptState, n: &Notification) -> Answer {
    use crate::intercept::decide::ModeSlot;
    use crate::policy::Mode;
    let slots = [
        (ModeSlot::ReadHandler, PolicyKind::ReadHandler),
        (ModeSlot::TmpRead, PolicyKind::ReadWriteTmp),
        (ModeSlot::TmpWrite, PolicyKind::ReadWriteTmp),
        (ModeSlot::Outbound, PolicyKind::OutboundConnectivity),
        (ModeSlot::Child, PolicyKind::CreateChildProcess),
    ];
    let find = |m: Mode| {
        slots
            .iter()
            .find(|(slot, _)| st.decider.mode(*slot) == m)
            .map(|&(_, p)| p)
    };
    let (policy, block) = match (find(Mode::Block), find(Mode::Alert)) {
        (Some(p), _) => (p, true),
        (None, Some(p)) => (p, false),
        (None, None) => return Answer::Continue,
    };
    let mut rec = Record::new(policy, block, RecordKind::Bypass, n.nr as i64);
    rec.set_text(
        b"a call whose arguments the shield cannot read (the process is not dumpable: it exec'd a file it may not read)",
    );
    push(rec);
    if block {
        Answer::Errno(libc::EACCES)
    } else {
        Answer::Continue
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
            let own = super::caller::tgid_of(pid).unwrap_or(pid);
            if decide_other_process(st, nr, own, a[0] as i32 as i64, None) {
                Answer::Errno(libc::EPERM)
            } else {
                Answer::Continue
            }
        }
        nr::PIDFD_GETFD => pidfd_getfd(st, listener, n),
        // The reserved descriptors the libc layer holds its decided objects in (the filter
        // sends only calls reaching them, see spec::reserve_descriptors): out of reach, as if
        // beyond the descriptor limit. A close_range reaching them cannot be carried out for
        // the caller here: EPERM (glibc's closefrom then closes one by one), also with
        // CLOSE_RANGE_UNSHARE (it would close the held mount roots in the caller's copy of
        // the table, see trap::close_range_below_held); CLOSE_RANGE_CLOEXEC only marks.
        nr::CLOSE | nr::DUP3 => Answer::Errno(libc::EBADF),
        #[cfg(target_arch = "x86_64")]
        nr::DUP2 => Answer::Errno(libc::EBADF),
        nr::FCNTL => Answer::Errno(libc::EINVAL),
        nr::CLOSE_RANGE => {
            const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
            if a[2] & CLOSE_RANGE_CLOEXEC != 0 {
                Answer::Continue
            } else {
                Answer::Errno(libc::EPERM)
            }
        }
        nr::PTRACE => {
            // Only sent here in alert-only mode: it runs, and tracing another process is
            // reported under read_handler (the tracer reads its memory).
            let own = super::caller::tgid_of(pid).unwrap_or(pid);
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
