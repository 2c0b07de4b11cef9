//! The stand-by supervisor: a process that takes over the listener when this process
//! `execve`s.
//!
//! The notify supervisor is a thread of the process. An `execve` (of the process itself, or
//! of any program, from any of its threads) ends every other thread, the supervisor among
//! them, and closes the listener (it is close-on-exec); the filter stays. Without a
//! supervisor, every notified call of the new image would fail with ENOSYS.
//!
//! Design:
//! - **Created before the filter**, by a double `fork` at install: the stand-by is not under
//!   the filter (its own calls are never notified to itself), it is not a child of the
//!   function (a `wait()` for any child never sees it, and it never becomes a zombie the
//!   function must reap), and it runs only the shield's code: it never returns into the
//!   caller's frames and ends with `exit_group`. Every signal disposition is reset to its
//!   default (no handler of the function runs there), every fd it inherited is closed except
//!   stdout, stderr and the shield's own, and it marks itself non-dumpable where the kernel
//!   lets it (`/proc/<pid>/mem` and `ptrace` then need root).
//! - **Handed the listener** over a `SOCK_SEQPACKET` socket pair (`SCM_RIGHTS`) right after the
//!   filter is installed, with what the install's probes found (ADDFD with SEND, ADDFD,
//!   `pidfd_getfd`). It checks that the fd is a seccomp listener. Tightenings
//!   ([`crate::Shield::tighten`]) follow on the same socket, so the stand-by enforces the
//!   modes in force, never looser ones.
//! - **Woken by end of file** on that socket: the function's end is close-on-exec, so it
//!   closes when the image is replaced, and when the process ends; children forked with libc's
//!   `fork()` close their copy at once (an atfork handler), so only the function's own image
//!   holds it. The stand-by also holds a pidfd of the process: if it has exited, the stand-by
//!   exits too; otherwise the image was replaced and it supervises from then on, with the same
//!   code as the supervisor thread (every caller is "foreign": memory, root and cwd are read
//!   through `/proc/<pid>`), for the new image and its children.
//! - **Never lingers**: it exits when the pidfd reports the process gone, or when no task uses
//!   the filter any more (the listener reports hang-up), whichever comes first, after
//!   flushing its events. No `PR_SET_PDEATHSIG` (refused on Lambda).
//! - **Events** go to the same stdout (the fd is inherited): the same JSON lines, early first
//!   occurrences included, naming the caller's pid and executable; the request id is
//!   `unknown` (the new image is outside the invocation the runtime tracks).
//!
//! Limits (README, "stand-by supervisor"): a kernel that refuses the stand-by's memory reads
//! (Yama `ptrace_scope` ≥ 1: it is not an ancestor of the process) gets no stand-by, and the
//! report says so; a call another process of the function had in flight with the supervisor
//! thread at the moment of the exec is taken over by the stand-by and decided again (see
//! [`orphans`]; one held past 256 newer calls, such as a long connect, is not); if the
//! supervisor thread's receive fails, the stand-by takes over while the thread's workers may
//! still run: decisions stay the same (same modes), but its events carry request id `unknown`.

use crate::event::Reporter;
use crate::intercept::decide::ModeSlot;
use crate::intercept::shared::{proc_link, STATE};
use crate::policy::Mode;
use crate::sys::notif::{Listener, Notification};
use crate::sys::standby as raw;
use crate::sys::syscall;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// The function's end of the socket pair (-1: no stand-by).
static SOCK: AtomicI32 = AtomicI32::new(-1);
/// The stand-by's pid (0: none).
static PID: AtomicI32 = AtomicI32::new(0);

/// First message from the function: the listener, and the probes' findings.
const HAND_OVER: u8 = b'L';
/// Later messages: a tightened mode slot.
const TIGHTEN: u8 = b'T';

/// The calls the supervisor thread has received, shared with the stand-by (a `MAP_SHARED`
/// mapping made before its fork): [`CALL_SLOTS`] slots of [`WORDS`] words, used round-robin.
/// When the exec ends the thread (and its workers), a call it held — received, not answered —
/// stayed pending for ever: its caller (another process of the function) waited until killed.
/// The stand-by takes such calls over first (see [`orphans`]). The kernel writes each
/// notification straight into its slot ([`recv_noted`]), so a thread ended between the
/// receive and anything after it leaves no call unaccounted for.
static INFLIGHT: std::sync::OnceLock<&'static [AtomicU64]> = std::sync::OnceLock::new();
static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);
/// Enough for every call in flight at once but the pathological (a slot is reused after this
/// many newer calls: a call held longer, such as a connect that waits, is not taken over).
const CALL_SLOTS: usize = 256;
/// A state word ([`SLOT_FREE`], [`SLOT_RECEIVING`], [`SLOT_HELD`]), then the ten words of a
/// `struct seccomp_notif` as the kernel wrote them.
const WORDS: usize = 11;
const SLOT_FREE: u64 = 0;
/// The receive was started; the notification words are valid if the id or pid is not zero.
const SLOT_RECEIVING: u64 = 2;
const SLOT_HELD: u64 = 1;

/// The supervisor thread's receive (`SECCOMP_IOCTL_NOTIF_RECV`) into the next slot of
/// [`INFLIGHT`] (a plain receive when there is no stand-by).
///
/// # Errors
///
/// As [`Listener::recv_into`].
pub(super) fn recv_noted(listener: Listener) -> Result<Notification, i32> {
    let Some(w) = INFLIGHT.get() else {
        return listener.recv();
    };
    let i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) as usize % CALL_SLOTS;
    let s = &w[i * WORDS..(i + 1) * WORDS];
    s[0].store(SLOT_FREE, Ordering::Release);
    for x in &s[1..] {
        x.store(0, Ordering::Relaxed);
    }
    s[0].store(SLOT_RECEIVING, Ordering::Release);
    let r = listener.recv_into(&s[1..]);
    s[0].store(
        if r.is_ok() { SLOT_HELD } else { SLOT_FREE },
        Ordering::Release,
    );
    r
}

/// The calls the supervisor thread received that are still pending (never answered): taken
/// over by the stand-by once the thread is gone, before anything new.
pub(super) fn orphans(listener: Listener) -> Vec<Notification> {
    let Some(w) = INFLIGHT.get() else {
        return Vec::new();
    };
    let mut out: Vec<Notification> = Vec::new();
    for s in w.chunks_exact(WORDS) {
        let state = s[0].load(Ordering::Acquire);
        if state != SLOT_HELD && state != SLOT_RECEIVING {
            continue;
        }
        let mut words = [0u64; 10];
        for (k, x) in words.iter_mut().enumerate() {
            *x = s[1 + k].load(Ordering::Relaxed);
        }
        s[0].store(SLOT_FREE, Ordering::Release);
        let n = crate::sys::notif::decode_notif(words);
        // A receive that took nothing leaves the words zero (a real notification names its
        // caller: pid ≠ 0).
        if n.pid == 0 && n.id == 0 {
            continue;
        }
        if !out.iter().any(|o| o.id == n.id) && listener.id_valid(n.id) {
            out.push(n);
        }
    }
    out
}

/// The stand-by's pid, if one is waiting (0 otherwise).
pub(crate) fn pid() -> i32 {
    PID.load(Ordering::Acquire)
}

/// Start the stand-by (before the filter is installed, on the installing thread). Returns its
/// pid, or why there is none (nothing is left running then).
pub(crate) fn start(reporter: &Arc<Reporter>) -> Result<i32, String> {
    let mut sv = [-1i32; 2];
    let r = syscall(
        libc::SYS_socketpair,
        [
            libc::AF_UNIX as u64,
            (libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC) as u64,
            0,
            sv.as_mut_ptr() as u64,
            0,
            0,
        ],
    );
    if r < 0 {
        return Err(format!("socketpair failed: errno {}", -r));
    }
    let (ours, theirs) = (sv[0], sv[1]);
    if INFLIGHT.get().is_none() {
        if let Some(w) = raw::shared_words(CALL_SLOTS * WORDS) {
            let _ = INFLIGHT.set(w);
        }
    }
    let origin = syscall(libc::SYS_getpid, [0; 6]) as i32;
    let first = raw::fork();
    if first == 0 {
        // The intermediate child: fork the stand-by and leave, so that it is not our child.
        close(ours);
        let second = raw::fork();
        if second == 0 {
            stand_by(origin, theirs, reporter.clone());
        }
        raw::exit_group(if second < 0 { 1 } else { 0 });
    }
    close(theirs);
    if first < 0 {
        close(ours);
        return Err(format!("fork failed: errno {}", -first));
    }
    let mut status = 0i32;
    loop {
        let r = syscall(
            libc::SYS_wait4,
            [first as u64, &mut status as *mut i32 as u64, 0, 0, 0, 0],
        );
        if r != -(libc::EINTR as i64) {
            break;
        }
    }
    // The stand-by's greeting: its pid and what reading this process's memory gave.
    let mut hello = [0u8; 12];
    let (n, _) = raw::recv_with_fd(ours, &mut hello);
    if n != 12 {
        close(ours);
        return Err(
            "the stand-by process did not start (fork of the intermediate failed, or it ended)"
                .to_owned(),
        );
    }
    let pid = i32::from_le_bytes(hello[0..4].try_into().unwrap_or_default());
    let read = i64::from_le_bytes(hello[4..12].try_into().unwrap_or_default());
    if read < 0 {
        close(ours); // the stand-by exits on end of file
        return Err(format!(
            "the stand-by cannot read this process's memory (process_vm_readv: errno {}; Yama ptrace_scope >= 1 allows it only to ancestors)",
            -read
        ));
    }
    if !raw::close_in_forked_children(ours) {
        close(ours);
        return Err("pthread_atfork failed".to_owned());
    }
    SOCK.store(ours, Ordering::Release);
    PID.store(pid, Ordering::Release);
    Ok(pid)
}

/// Hand the listener (and the probes' findings) to the stand-by. Returns `false` if it could
/// not be sent (the stand-by is then told to go: its socket is closed).
pub(crate) fn hand_over(listener: i32, addfd_send: bool, addfd: bool, pidfd_getfd: bool) -> bool {
    let sock = SOCK.load(Ordering::Acquire);
    if sock < 0 {
        return false;
    }
    let msg = [
        HAND_OVER,
        u8::from(addfd_send),
        u8::from(addfd),
        u8::from(pidfd_getfd),
    ];
    if raw::send_with_fd(sock, &msg, listener) == msg.len() as i64 {
        return true;
    }
    abandon();
    false
}

/// No stand-by after all (the install was refused): close our end; it exits.
pub(crate) fn abandon() {
    let sock = SOCK.swap(-1, Ordering::AcqRel);
    if sock >= 0 {
        close(sock);
    }
    PID.store(0, Ordering::Release);
}

/// Tell the stand-by that `slot` was tightened to `to`, so that it enforces the same modes.
pub(crate) fn tightened(slot: ModeSlot, to: Mode) {
    if LINKED.load(Ordering::Acquire) {
        // The link thread sends every slot's mode in force. Wait until it has (an exec right
        // after the tightening would end it first): a bounded wait, it only sends.
        let gen = wake_link();
        for _ in 0..1000 {
            let sent = LINK_SENT.load(Ordering::Acquire);
            if sent.wrapping_sub(gen) as i32 >= 0 {
                return;
            }
            futex_wait(&LINK_SENT, sent, 1_000_000);
        }
        return;
    }
    let sock = SOCK.load(Ordering::Acquire);
    if sock >= 0 {
        raw::send_with_fd(sock, &[TIGHTEN, slot as u8, to as u8], -1);
    }
}

/// The socket is held by the link thread alone (see [`spawn_link`]).
static LINKED: AtomicBool = AtomicBool::new(false);
/// Bumped (and futex-woken) when the link thread has something to do: a tightening to pass
/// on, or [`LET_GO`].
static LINK_GEN: AtomicU32 = AtomicU32::new(0);
/// The supervisor thread lost the listener: the link thread closes the socket, so that the
/// stand-by takes over now.
static LET_GO: AtomicBool = AtomicBool::new(false);

/// The last [`LINK_GEN`] whose modes the link thread has sent.
static LINK_SENT: AtomicU32 = AtomicU32::new(0);

/// Bump [`LINK_GEN`] and wake the link thread; returns the new generation.
fn wake_link() -> u32 {
    let gen = LINK_GEN.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
    futex_wake(&LINK_GEN);
    gen
}

fn futex_wake(word: &AtomicU32) {
    syscall(
        libc::SYS_futex,
        [
            word.as_ptr() as u64,
            (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as u64,
            i32::MAX as u64,
            0,
            0,
            0,
        ],
    );
}

/// Wait while `word` holds `seen`, at most `ns` nanoseconds (0: no limit).
fn futex_wait(word: &AtomicU32, seen: u32, ns: i64) {
    let ts = libc::timespec {
        tv_sec: ns / 1_000_000_000,
        tv_nsec: ns % 1_000_000_000,
    };
    let tsp = if ns > 0 {
        &ts as *const libc::timespec as u64
    } else {
        0
    };
    syscall(
        libc::SYS_futex,
        [
            word.as_ptr() as u64,
            (libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG) as u64,
            u64::from(seen),
            tsp,
            0,
            0,
        ],
    );
}

/// The link thread, started before the filter (see [`spawn_link`]): `go` gives it the
/// socket once the listener has been handed over; `done` says whether it now holds it alone.
pub(crate) struct Link {
    go: std::sync::mpsc::Sender<i32>,
    done: std::sync::mpsc::Receiver<bool>,
}

/// Start the link thread: the one holder of the function's end of the socket.
///
/// End of file on the socket tells the stand-by that the image was replaced, so no other
/// process may hold that end: a child forked without libc's `fork()` (a raw `fork` or
/// `clone`, glibc's `_Fork`, `clone()`), whose copy of the fd table is not cleaned by the
/// atfork handler, kept it open after the exec, and the new image's notified calls then
/// waited for ever (no supervisor: the thread was gone, the stand-by never woke). And code of
/// the function could close it or `dup2` over it. The link thread moves the socket into a
/// file table of its own (`unshare(CLONE_FILES)`, every other fd closed there) and the
/// function's copy is closed: forks copy the forking thread's table, which no longer has it,
/// and the function cannot name it. The exec ends the thread, which releases its table:
/// end of file. Tightenings reach it through a futex; it sends the modes in force.
/// `None` if the thread could not be started (the socket then stays in the function's table,
/// closed in children by the atfork handler alone).
pub(crate) fn spawn_link() -> Option<Link> {
    let (go_tx, go_rx) = std::sync::mpsc::channel::<i32>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<bool>();
    super::super::threads::spawn_shield_thread("fnshield-standby-link", move || {
        let Ok(sock) = go_rx.recv() else { return };
        let own = syscall(libc::SYS_unshare, [libc::CLONE_FILES as u64, 0, 0, 0, 0, 0]) == 0;
        if !own {
            let _ = done_tx.send(false);
            return;
        }
        close_inherited(&[sock]);
        for fd in 0..=2 {
            if fd != sock {
                close(fd);
            }
        }
        let _ = done_tx.send(true);
        let mut sent = 0u32;
        loop {
            let now = LINK_GEN.load(Ordering::Acquire);
            if LET_GO.load(Ordering::Acquire) {
                close(sock);
                return;
            }
            if now != sent {
                if let Some(st) = STATE.get() {
                    for slot in SLOTS {
                        let m = st.decider.mode(slot);
                        raw::send_with_fd(sock, &[TIGHTEN, slot as u8, m as u8], -1);
                    }
                }
                sent = now;
                LINK_SENT.store(now, Ordering::Release);
                futex_wake(&LINK_SENT);
            }
            futex_wait(&LINK_GEN, now, 0);
        }
    })
    .ok()?;
    Some(Link {
        go: go_tx,
        done: done_rx,
    })
}

/// After the hand-over: give the socket to the link thread, and close the function's copy
/// once the thread holds it in its own table. Returns whether it does.
pub(crate) fn link(l: Link) -> bool {
    let sock = SOCK.load(Ordering::Acquire);
    if sock < 0 || l.go.send(sock).is_err() || l.done.recv() != Ok(true) {
        return false;
    }
    LINKED.store(true, Ordering::Release);
    SOCK.store(-1, Ordering::Release);
    // The fd number may be reused: forked children must not close it any more.
    raw::close_in_forked_children(-1);
    close(sock);
    true
}

/// The supervisor thread lost the listener (code of the function closed the fd, or replaced
/// it with `dup2`): let the stand-by take over now, alongside the thread if it still runs (the
/// same decisions; its events carry request id `unknown`).
pub(crate) fn supervisor_lost() {
    if LINKED.load(Ordering::Acquire) {
        LET_GO.store(true, Ordering::Release);
        wake_link();
    } else {
        abandon();
    }
}

fn close(fd: i32) {
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
}

/// Is `fd` readable (or hung up) right now?
fn ready(fd: i32) -> bool {
    let mut p = [libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }];
    crate::sys::poll(&mut p, 0) > 0 && p[0].revents != 0
}

/// Wait until the listener has a call to receive (`true`), or the watched process has exited
/// or no task uses the filter any more (`false`). Used by [`super::supervise`] in the
/// stand-by.
pub(super) fn wait_for_call(listener: Listener, pidfd: i32) -> bool {
    loop {
        match readable_or_gone(listener.raw(), pidfd) {
            None => return false,
            Some(rev) if rev & libc::POLLIN != 0 => return true,
            // POLLHUP: the filter has no task left; POLLERR/POLLNVAL: the listener is unusable.
            Some(rev) if rev != 0 => return false,
            Some(_) => {}
        }
    }
}

/// Wait until `fd` reports an event (its `revents`), or `None` once the process behind `pidfd`
/// is gone (or the wait fails). Interrupted waits are retried.
fn readable_or_gone(fd: i32, pidfd: i32) -> Option<i16> {
    loop {
        let mut p = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let r = crate::sys::poll(&mut p, -1);
        if r == -(libc::EINTR as i64) {
            continue;
        }
        if r < 0 || p[1].revents != 0 {
            return None;
        }
        return Some(p[0].revents);
    }
}

/// The stand-by process. Never returns.
fn stand_by(origin: i32, sock: i32, reporter: Arc<Reporter>) -> ! {
    raw::reset_signals();
    // A reporter of its own: the function's may need locks that another of its threads held
    // at the fork (stdout's, a tracing subscriber's, the on_event callback's).
    let reporter = Arc::new(reporter.for_forked_child());
    let pidfd = syscall(libc::SYS_pidfd_open, [origin as u64, 0, 0, 0, 0, 0]);
    if pidfd < 0 {
        raw::exit_group(1);
    }
    let pidfd = pidfd as i32;
    // Non-dumpable: /proc/<pid>/mem and ptrace then need CAP_SYS_PTRACE (a sandbox that
    // refuses prctl leaves it dumpable: same uid, like the function's own threads).
    syscall(
        libc::SYS_prctl,
        [libc::PR_SET_DUMPABLE as u64, 0, 0, 0, 0, 0],
    );
    close_inherited(&[
        sock,
        pidfd,
        crate::event::durable::out_fd(),
        crate::event::durable::report_fd(),
    ]);
    // Can it read the process's memory (it is not an ancestor: Yama may refuse)?
    static PROBE: u64 = 0x5eed;
    let mut word = [0u8; 8];
    let read = crate::sys::read_mem_of(origin as i64, std::ptr::addr_of!(PROBE) as u64, &mut word);
    let read: i64 = if read == 8 && u64::from_ne_bytes(word) == PROBE {
        0
    } else {
        -(libc::EPERM as i64)
    };
    let mut hello = [0u8; 12];
    hello[0..4].copy_from_slice(&(syscall(libc::SYS_getpid, [0; 6]) as i32).to_le_bytes());
    hello[4..12].copy_from_slice(&read.to_le_bytes());
    if raw::send_with_fd(sock, &hello, -1) != 12 || read < 0 {
        raw::exit_group(0);
    }
    // What was pending in the parent is the parent's to report.
    reporter.forget_pending();
    crate::intercept::shared::clear_exemptions();
    let mut listener = -1;
    loop {
        if readable_or_gone(sock, pidfd).is_none() {
            raw::exit_group(0); // the process has exited
        }
        let mut msg = [0u8; 8];
        let (n, fd) = raw::recv_with_fd(sock, &mut msg);
        if n == -(libc::EINTR as i64) || n == -(libc::EAGAIN as i64) {
            continue;
        }
        if n <= 0 {
            break; // end of file: the image was replaced, or the process is ending
        }
        match (msg[0], n, fd) {
            (HAND_OVER, 4, fd) if fd >= 0 && listener < 0 && is_listener(fd) => {
                super::configure(msg[1] != 0, msg[2] != 0, msg[3] != 0);
                listener = fd;
            }
            (TIGHTEN, 3, -1) => {
                if let (Some(slot), Some(st)) = (slot_of(msg[1]), STATE.get()) {
                    st.decider.tighten(slot, Mode::from_u8(msg[2]));
                }
            }
            (_, _, fd) => {
                if fd >= 0 {
                    close(fd);
                }
            }
        }
    }
    if listener < 0 || ready(pidfd) {
        raw::exit_group(0);
    }
    // The image was replaced: supervise it (and its children) from here on.
    start_reporter(reporter.clone());
    super::supervise(Listener::from_raw(listener), pidfd);
    reporter.flush(None);
    raw::exit_group(0);
}

const SLOTS: [ModeSlot; 5] = [
    ModeSlot::Outbound,
    ModeSlot::TmpRead,
    ModeSlot::TmpWrite,
    ModeSlot::Child,
    ModeSlot::ReadHandler,
];

fn slot_of(b: u8) -> Option<ModeSlot> {
    SLOTS.into_iter().find(|s| *s as u8 == b)
}

/// Whether `fd` is a seccomp user-notification listener (`anon_inode:seccomp notify`).
fn is_listener(fd: i32) -> bool {
    let mut what = [0u8; 16];
    what[..3].copy_from_slice(b"fd/");
    let n = 3 + crate::intercept::shared::write_decimal(fd as u64, &mut what[3..]);
    let mut link = [0u8; crate::intercept::decide::PATH_MAX];
    proc_link(0, &what[..n], &mut link).is_some_and(|r| &link[..r] == b"anon_inode:seccomp notify")
}

/// Close every fd the stand-by inherited except 0, 1, 2 and `keep`: it must not hold the
/// function's files and connections open (a peer would never see them closed).
pub(super) fn close_inherited(keep: &[i32]) {
    let mut keep: Vec<i32> = keep.iter().copied().filter(|&f| f > 2).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = 3u32;
    for &k in keep.iter().chain(std::iter::once(&-1)) {
        let to = if k < 0 { u32::MAX } else { k as u32 - 1 };
        if k >= 0 && (k as u32) < from {
            continue;
        }
        if from <= to {
            let r = syscall(libc::SYS_close_range, [from as u64, to as u64, 0, 0, 0, 0]);
            if r < 0 {
                // close_range is Linux 5.9+: close one by one, up to the usual limit.
                for fd in from..to.min(65_536).saturating_add(1) {
                    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
                }
            }
        }
        if k >= 0 {
            from = k as u32 + 1;
        }
    }
}

/// The stand-by's reporter thread: every record wakes it, and it writes what it collects at
/// once (there is no invocation whose end would flush it).
fn start_reporter(reporter: Arc<Reporter>) {
    super::super::threads::WAKE_EVERY.store(true, Ordering::Release);
    let fd = crate::sys::eventfd();
    if fd < 0 {
        return; // events are still written early, and at the final flush
    }
    let started = super::super::threads::spawn_shield_thread("fnshield-standby-reporter", {
        let reporter = reporter.clone();
        move || loop {
            let r = crate::sys::wait_wake(fd as i32);
            if r < 0 && r != -(libc::EINTR as i64) {
                return;
            }
            reporter.flush(None);
        }
    });
    if started.is_ok() {
        super::super::threads::WAKE_FD.store(fd as i32, Ordering::Release);
    }
}
