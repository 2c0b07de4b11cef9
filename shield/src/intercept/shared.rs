//! What both interceptors share: the state they decide with, copying pointer arguments out of
//! the caller (this process or, for notify, a child), resolving a path against a dirfd or the
//! cwd, classifying paths, executables and destinations with the [`Decider`], and recording
//! events into the ring.
//!
//! Everything here may run in the SIGSYS handler, so it is async-signal-safe: no allocation,
//! no locks, no tracing; only stack buffers, the precompiled tables, atomics and syscalls
//! through the exempt trampoline.

use super::arch::nr;
use super::caller::tgid_of;
pub(crate) use super::caller::{open_path, proc_path, write_decimal};
use super::decide::{Access, Decider, PathDecision, Verdict, PATH_MAX};
use super::dns::{HostTable, Name};
use crate::event::invocation;
use crate::event::{Record, RecordKind};
use crate::policy::PolicyKind;
use crate::sys::{self, now_monotonic_secs, now_realtime_ns, read_cstr_of, read_mem_of, syscall};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;
const EACCES: i64 = libc::EACCES as i64;

/// State the handler reads. Set once at install, before the filter goes in.
pub(crate) struct InterceptState {
    pub(crate) decider: Decider,
    /// (st_dev, st_ino) of the running executable: protected whatever path reaches it.
    pub(crate) exe: (u64, u64),
    /// Whether `read_handler` is enforced (the exe identity check applies).
    pub(crate) check_exe: bool,
    /// Mount roots an allowed open may start from without the identity check (see
    /// [`super::mounts`]).
    pub(crate) roots: super::mounts::MountRoots,
    /// The syscall numbers the filter sends to TRAP (a bit per number below 512): the only
    /// ones a SIGSYS is acted on for.
    pub(crate) trapped: [u64; 8],
}

impl InterceptState {
    /// Whether the filter sends syscall `nr` to `SECCOMP_RET_TRAP`.
    pub(crate) fn traps(&self, nr: i64) -> bool {
        (0..512).contains(&nr) && self.trapped[nr as usize / 64] & (1 << (nr % 64)) != 0
    }
}

/// The numbers `spec` sends to `SECCOMP_RET_TRAP` in any condition, as a bit set.
pub(crate) fn trapped_numbers(spec: &super::filter::FilterSpec) -> [u64; 8] {
    use super::filter::ReturnAction;
    let mut set = [0u64; 8];
    for p in &spec.syscalls {
        let trap = p.default == ReturnAction::Trap
            || p.branches.iter().any(|(_, a)| *a == ReturnAction::Trap);
        if trap && (0..512).contains(&p.nr) {
            set[p.nr as usize / 64] |= 1 << (p.nr % 64);
        }
    }
    set
}

/// The filters handed to the kernel, in order (at most one per install attempt), and which
/// one is in force: 0 none (before install, or after a refused one), `k` the `k`-th.
static ARMED: [OnceLock<super::filter::Filter>; 4] = [const { OnceLock::new() }; 4];
static ARMED_NOW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Record `filter` as the one in force: called right before it is handed to the kernel (a
/// genuine trap can arrive as soon as the kernel has it, on any thread). `false` if every slot
/// is taken (then the handler acts on nothing).
pub(crate) fn arm_filter(filter: &super::filter::Filter) -> bool {
    for (k, slot) in ARMED.iter().enumerate() {
        if slot.set(filter.clone()).is_ok() {
            ARMED_NOW.store(k + 1, Ordering::Release);
            return true;
        }
    }
    ARMED_NOW.store(0, Ordering::Release);
    false
}

/// The kernel refused the filter last armed: no filter is in force.
pub(crate) fn disarm_filter() {
    ARMED_NOW.store(0, Ordering::Release);
}

/// Whether the filter in force answers `SECCOMP_RET_TRAP` for syscall `nr` with arguments `a`
/// at instruction pointer `ip`: the kernel's own decision, run again on what the handler sees.
/// Async-signal-safe (the interpreter allocates nothing).
pub(crate) fn armed_filter_traps(nr: i64, a: [u64; 6], ip: u64) -> bool {
    use super::filter::{ret, SeccompData};
    let k = ARMED_NOW.load(Ordering::Acquire);
    let Some(filter) = k.checked_sub(1).and_then(|i| ARMED.get(i)?.get()) else {
        return false;
    };
    let data = SeccompData {
        nr: nr as i32,
        arch: super::arch::AUDIT_ARCH,
        instruction_pointer: ip,
        args: a,
    };
    filter.run(&data) & ret::ACTION_FULL == ret::TRAP
}

/// The SIGSYS bit in a kernel `sigset_t` word.
pub(crate) const SIGSYS_BIT: u64 = 1 << (libc::SIGSYS - 1);

pub(crate) static STATE: OnceLock<InterceptState> = OnceLock::new();

/// IP → host names learnt from DNS answers (bounded, TTL-honouring, lock-free).
pub(crate) static HOSTS: HostTable<1024> = HostTable::new();

/// The threads running the shield's housekeeping right now (0: a free slot): the tmp wipe and
/// the panic symbolizer, each on a thread of the shield's own.
///
/// Which thread is exempt is asked of the kernel (`gettid`), never of thread-local memory: a
/// thread-local lives at an address the thread itself chooses (`arch_prctl(ARCH_SET_FS)` on
/// x86_64, `msr tpidr_el0` on aarch64), so user code pointing its thread pointer at a page full
/// of `1` bytes read "exempt" in the SIGSYS handler and had every trapped call re-issued
/// undecided (issue 13, kind 1/3).
static EXEMPT_TIDS: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];

/// Whether thread `tid` (as the kernel names it) runs the shield's housekeeping.
pub(crate) fn is_exempt_tid(tid: u32) -> bool {
    tid != 0 && EXEMPT_TIDS.iter().any(|s| s.load(Ordering::Acquire) == tid)
}

/// Whether the calling thread runs the shield's housekeeping: no system call unless some
/// thread does. Async-signal-safe.
pub(crate) fn calling_thread_exempt() -> bool {
    if EXEMPT_TIDS.iter().all(|s| s.load(Ordering::Acquire) == 0) {
        return false;
    }
    is_exempt_tid(syscall(libc::SYS_gettid, [0; 6]) as u32)
}

/// Forget every exemption (the stand-by process, a forked copy, runs none of them).
pub(crate) fn clear_exemptions() {
    for s in &EXEMPT_TIDS {
        s.store(0, Ordering::Release);
    }
}

/// Run `f` exempt from the policies on a thread of the shield's own, with every signal but
/// SIGSYS blocked, so that no user code (a signal handler) ever runs while the exemption
/// holds. (A trap with SIGSYS blocked would kill the process, and the exemption works through
/// the SIGSYS handler.) `None` if that thread cannot be started: then nothing ran.
pub(crate) fn exempt_on_shield_thread<T: Send>(f: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("fnshield-wipe".into())
            .spawn_scoped(s, || {
                let all_but_sigsys: u64 = !(SIGSYS_BIT | crate::sys::sigsys::LIBC_SETXID_BIT);
                syscall(
                    libc::SYS_rt_sigprocmask,
                    [
                        libc::SIG_BLOCK as u64,
                        &all_but_sigsys as *const u64 as u64,
                        0,
                        8,
                        0,
                        0,
                    ],
                );
                exempt(f)
            })
            .ok()?
            .join()
            .ok()
    })
}

/// Run `f` with this thread's syscalls exempt from the policies: only for the shield's own
/// housekeeping, on a thread that runs no user code and no signal handler
/// ([`exempt_on_shield_thread`], the panic symbolizer).
pub(crate) fn exempt<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(Option<&'static AtomicU32>);
    impl Drop for Reset {
        fn drop(&mut self) {
            if let Some(slot) = self.0 {
                slot.store(0, Ordering::Release);
            }
        }
    }
    let tid = syscall(libc::SYS_gettid, [0; 6]) as u32;
    // Two users at most (the wipe, the symbolizer) for four slots; were they all taken, `f`
    // would run decided like user code (fail closed).
    let slot = EXEMPT_TIDS.iter().find(|s| {
        s.compare_exchange(0, tid, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    });
    let _reset = Reset(slot);
    f()
}

/// A path argument: (dirfd argument index or none for AT_FDCWD, path argument index).
pub(crate) type PathArg = (Option<usize>, usize);

/// Path-taking syscalls other than opens and exec: their path arguments, the access they
/// make, and (flags argument index, AT_EMPTY_PATH-like bit) when an empty path names the fd.
/// How a path syscall is handled: its path arguments, its access, and the empty-path flag.
pub(crate) type PathSpec = (&'static [PathArg], Access, Option<(usize, u64)>);

pub(crate) fn path_table(n: i64) -> Option<PathSpec> {
    const P0: &[PathArg] = &[(None, 0)];
    const D01: &[PathArg] = &[(Some(0), 1)];
    const TWO: &[PathArg] = &[(None, 0), (None, 1)];
    const D01_D23: &[PathArg] = &[(Some(0), 1), (Some(2), 3)];
    const EMPTY: u64 = libc::AT_EMPTY_PATH as u64;
    use Access::{Meta, Write};
    Some(match n {
        #[cfg(target_arch = "x86_64")]
        nr::STAT | nr::LSTAT | nr::ACCESS | nr::READLINK => (P0, Meta, None),
        nr::STATFS | nr::CHDIR | nr::GETXATTR | nr::LGETXATTR | nr::LISTXATTR | nr::LLISTXATTR => {
            (P0, Meta, None)
        }
        nr::NEWFSTATAT => (D01, Meta, Some((3, EMPTY))),
        nr::STATX => (D01, Meta, Some((2, EMPTY))),
        nr::FACCESSAT | nr::READLINKAT | nr::NAME_TO_HANDLE_AT => (D01, Meta, None),
        // Watching a directory reveals its entries and their activity: a read.
        nr::INOTIFY_ADD_WATCH => (&[(None, 1)], Access::Read, None),
        nr::FACCESSAT2 => (D01, Meta, Some((3, EMPTY))),
        #[cfg(target_arch = "x86_64")]
        nr::MKDIR
        | nr::MKNOD
        | nr::UNLINK
        | nr::RMDIR
        | nr::CHMOD
        | nr::CHOWN
        | nr::LCHOWN
        | nr::UTIME
        | nr::UTIMES => (P0, Write, None),
        nr::TRUNCATE | nr::SETXATTR | nr::LSETXATTR | nr::REMOVEXATTR | nr::LREMOVEXATTR => {
            (P0, Write, None)
        }
        nr::MKDIRAT | nr::MKNODAT | nr::UNLINKAT | nr::FCHMODAT | nr::FCHMODAT2 | nr::UTIMENSAT => {
            (D01, Write, None)
        }
        #[cfg(target_arch = "x86_64")]
        nr::FUTIMESAT => (D01, Write, None),
        nr::FCHOWNAT => (D01, Write, Some((4, EMPTY))),
        #[cfg(target_arch = "x86_64")]
        nr::RENAME | nr::LINK => (TWO, Write, None),
        nr::RENAMEAT | nr::RENAMEAT2 => (D01_D23, Write, None),
        nr::LINKAT => (D01_D23, Write, Some((4, EMPTY))),
        #[cfg(target_arch = "x86_64")]
        nr::SYMLINK => (&[(None, 1)], Write, None),
        nr::SYMLINKAT => (&[(Some(1), 2)], Write, None),
        _ => return None,
    })
}

pub(crate) use crate::sys::PathCopy;

/// Resolve `path` (relative to `dirfd`, or the cwd) of process `pid` (0: this process) to an
/// absolute path in `out`.
pub(crate) fn resolve_in(
    pid: i64,
    dirfd: i64,
    path: &[u8],
    out: &mut [u8; PATH_MAX],
) -> Option<usize> {
    if path.first() == Some(&b'/') {
        out[..path.len()].copy_from_slice(path);
        return Some(path.len());
    }
    let base = if dirfd == AT_FDCWD && pid == 0 {
        // Our own cwd: getcwd is cheaper than reading /proc/self/cwd back.
        let r = syscall(
            libc::SYS_getcwd,
            [out.as_mut_ptr() as u64, PATH_MAX as u64, 0, 0, 0, 0],
        );
        if r <= 0 {
            return None;
        }
        // getcwd returns the length including the NUL.
        (r as usize).saturating_sub(1)
    } else if dirfd == AT_FDCWD {
        proc_link(pid, b"cwd", out)?
    } else {
        proc_fd_link(pid, dirfd, out)?
    };
    if out[..base].first() != Some(&b'/') {
        return None; // "(unreachable)" cwd, sockets, pipes: cannot be classified.
    }
    if path.is_empty() {
        return Some(base);
    }
    if base + 1 + path.len() > PATH_MAX {
        return None;
    }
    out[base] = b'/';
    out[base + 1..base + 1 + path.len()].copy_from_slice(path);
    Some(base + 1 + path.len())
}

/// readlink("/proc/<pid>/<what>") through the trampoline, e.g. `exe`, `cwd`, `fd/3`; pid 0
/// is this process.
pub(crate) fn proc_link(pid: i64, what: &[u8], out: &mut [u8; PATH_MAX]) -> Option<usize> {
    let mut p = [0u8; 64];
    proc_path(pid, what, &mut p)?;
    let r = syscall(
        nr::READLINKAT,
        [
            AT_FDCWD as u64,
            p.as_ptr() as u64,
            out.as_mut_ptr() as u64,
            PATH_MAX as u64,
            0,
            0,
        ],
    );
    (r > 0).then_some(r as usize)
}

/// readlink("/proc/self/fd/N") through the trampoline.
pub(crate) fn fd_path(fd: i64, out: &mut [u8; PATH_MAX]) -> Option<usize> {
    proc_fd_link(0, fd, out)
}

/// readlink("/proc/<pid>/fd/N"); pid 0 is this process.
fn proc_fd_link(pid: i64, fd: i64, out: &mut [u8; PATH_MAX]) -> Option<usize> {
    if fd < 0 {
        return None;
    }
    let mut what = [0u8; 24];
    what[..3].copy_from_slice(b"fd/");
    let n = 3 + write_decimal(fd as u64, &mut what[3..]);
    proc_link(pid, &what[..n], out)
}

thread_local! {
    /// Set by the notify supervisor to the thread it is deciding for (0: the caller itself).
    pub(crate) static TARGET: std::cell::Cell<(u32, bool)> = const { std::cell::Cell::new((0, false)) };
    /// Set by the supervisor while it handles a call the kernel restarted (see
    /// `notify::Lost`): its events were recorded the first time.
    pub(crate) static RESTARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set when this thread records an event (the supervisor clears it per notification).
    pub(crate) static RECORDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Fill the common fields and push.
/// The executable of another process, for its event. In its own frame: its `PATH_MAX` buffer
/// is on the stack only when it is needed (see `trap::handle` on stack use).
#[inline(never)]
fn set_foreign_exe(rec: &mut Record, pid: i64) {
    let mut exe = [0u8; PATH_MAX];
    if let Some(n) = proc_link(pid, b"exe", &mut exe) {
        let n = n.min(rec.exe.len());
        rec.exe[..n].copy_from_slice(&exe[..n]);
        rec.exe_len = n as u8;
    }
}

/// The notify supervisor's thread in this process (0: none), as the kernel names it.
static SUPERVISOR_TID: AtomicU32 = AtomicU32::new(0);

/// Called by the notify supervisor on its own thread before it handles any call.
pub(crate) fn note_supervisor_thread() {
    SUPERVISOR_TID.store(syscall(libc::SYS_gettid, [0; 6]) as u32, Ordering::Release);
}

/// Whether the calling thread is the notify supervisor: asked of the kernel, so that the
/// thread-locals only the supervisor sets ([`TARGET`], [`RESTARTED`], [`RECORDED`]) are read on
/// its thread alone. Elsewhere they live at an address user code chooses (its thread pointer):
/// a fake thread-local block full of `1` bytes made every event of that thread "a restart,
/// recorded already" and dropped it (issue 13, kind 9).
fn on_supervisor_thread() -> bool {
    let s = SUPERVISOR_TID.load(Ordering::Acquire);
    s != 0 && syscall(libc::SYS_gettid, [0; 6]) as u32 == s
}

pub(crate) fn push(mut rec: Record) {
    let supervisor = on_supervisor_thread();
    // A call the kernel restarted after its caller was interrupted was recorded already.
    if supervisor && RESTARTED.try_with(|r| r.get()).unwrap_or(false) {
        return;
    }
    let (target, foreign) = if supervisor {
        let _ = RECORDED.try_with(|r| r.set(true));
        TARGET.try_with(|t| t.get()).unwrap_or((0, false))
    } else {
        (0, false)
    };
    if target != 0 {
        // The notification names a thread; the event names its process.
        rec.pid = if foreign {
            super::caller::tgid_of(target as i64).map_or(target, |p| p as u32)
        } else {
            target
        };
        if foreign {
            set_foreign_exe(&mut rec, target as i64);
        }
    } else {
        rec.pid = syscall(libc::SYS_getpid, [0; 6]) as u32;
    }
    rec.timestamp_ns = now_realtime_ns();
    let mut id = [0u8; invocation::ID_MAX];
    // The supervisor decides for another thread: that thread's invocation, not its own.
    let n = if supervisor && target != 0 && !foreign {
        invocation::request_id_of_thread(target, &mut id)
    } else {
        invocation::current_request_id(&mut id)
    };
    let n = n.min(rec.request_id.len());
    rec.request_id[..n].copy_from_slice(&id[..n]);
    rec.request_id_len = n as u8;
    // The first occurrence of each violation reaches stdout before the call returns.
    crate::event::durable::first_occurrence(&mut rec);
    super::threads::push_record(&rec);
}

pub(crate) fn record_path(nr: i64, d: PathDecision, path: &[u8], access: Access) {
    if d.verdict == Verdict::Allow {
        return;
    }
    let mut rec = Record::new(
        d.policy.unwrap_or(PolicyKind::ReadWriteTmp),
        d.verdict == Verdict::Block,
        RecordKind::Path,
        nr,
    );
    rec.access = access.code();
    rec.set_text(path);
    push(rec);
}

pub(crate) fn open_access(flags: u64) -> Access {
    let f = flags as i32;
    if f & libc::O_PATH != 0 {
        return Access::Meta;
    }
    let write_bits = f & (libc::O_CREAT | libc::O_TRUNC) != 0;
    match f & libc::O_ACCMODE {
        libc::O_WRONLY => Access::Write,
        libc::O_RDWR => Access::ReadWrite,
        _ if write_bits => Access::ReadWrite,
        _ => Access::Read,
    }
}

/// The executable-identity half of [`verify_opened`]: a hard link to the running executable
/// is the executable, whatever its path.
pub(crate) fn verify_identity(
    st: &InterceptState,
    nr: i64,
    fd: i64,
    access: Access,
    d: PathDecision,
) -> i64 {
    if !st.check_exe || d.verdict == Verdict::Block {
        return fd;
    }
    if sys::fstat_identity(fd) == Some(st.exe) {
        let v = match st.decider.mode(super::decide::ModeSlot::ReadHandler) {
            crate::policy::Mode::Block => Verdict::Block,
            crate::policy::Mode::Alert => Verdict::Alert,
            crate::policy::Mode::Allow => Verdict::Allow,
        };
        record_path(
            nr,
            PathDecision {
                policy: Some(PolicyKind::ReadHandler),
                verdict: v,
            },
            b"/proc/self/exe",
            access,
        );
        if v == Verdict::Block {
            syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
            return -EACCES;
        }
    }
    fd
}

/// Whether a call creates the entry one of its path arguments names: what the wipe's journal
/// notes (the wipe removes only what the function and its children created).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Creates {
    /// It does not: a read, a write to an existing file, `unlink`, `chmod`, `truncate`, ...
    No,
    /// Only when nothing is there before the call: an open with `O_CREAT`, `mkdir`, `mknod`,
    /// `symlink`, the new name of a `link`, an `AF_UNIX` `bind`. A name that exists already
    /// (a file another process created, a directory `mkdir -p` walks through) is not noted.
    IfNew,
    /// It puts an entry at the name whatever was there: the new name of a `rename` (and both
    /// names of a `RENAME_EXCHANGE`).
    Always,
}

/// [`Creates`] for an open with `flags`.
pub(crate) fn open_creates(flags: u64) -> Creates {
    if flags as i32 & libc::O_CREAT != 0 {
        Creates::IfNew
    } else {
        Creates::No
    }
}

/// [`Creates`] for path argument `slot` (in [`path_table`]'s order) of syscall `nr`.
pub(crate) fn path_creates(nr: i64, a: &[u64; 6], slot: usize) -> Creates {
    #[cfg(target_arch = "x86_64")]
    match nr {
        nr::MKDIR | nr::MKNOD | nr::SYMLINK => return Creates::IfNew,
        nr::LINK if slot == 1 => return Creates::IfNew,
        nr::RENAME if slot == 1 => return Creates::Always,
        _ => {}
    }
    match nr {
        nr::MKDIRAT | nr::MKNODAT | nr::SYMLINKAT | nr::BIND => Creates::IfNew,
        nr::LINKAT if slot == 1 => Creates::IfNew,
        nr::RENAMEAT if slot == 1 => Creates::Always,
        nr::RENAMEAT2 if slot == 1 || a[4] & libc::RENAME_EXCHANGE as u64 != 0 => Creates::Always,
        _ => Creates::No,
    }
}

/// Tell the wipe's journal that the caller creates `path` (a call that goes ahead and, for
/// [`Creates::IfNew`], a name where `exists` finds nothing yet). Async-signal-safe.
pub(crate) fn note_created(
    d: PathDecision,
    path: &[u8],
    creates: Creates,
    exists: impl FnOnce() -> bool,
) {
    if d.verdict == Verdict::Block {
        return;
    }
    let journal = &crate::wipe::journal::JOURNAL;
    let note = match creates {
        Creates::No => false,
        Creates::IfNew => journal.may_cover(path) && !exists(),
        Creates::Always => true,
    };
    if note {
        // A new name of a rename takes what is in the entry (its contents were noted under
        // their old names); a made directory takes only what is noted inside it.
        journal.note(path, creates == Creates::Always);
    }
}

/// After an allowed open: confirm what was opened. A symlink, `..`, a `/proc/self/fd/N`
/// re-open or a hard link to the executable must not smuggle a protected file out.
pub(crate) fn verify_opened(
    st: &InterceptState,
    nr: i64,
    fd: i64,
    access: Access,
    first: PathDecision,
) -> i64 {
    let mut real = [0u8; PATH_MAX];
    let d = match fd_path(fd, &mut real) {
        Some(n) if real[0] == b'/' => {
            let d = st.decider.classify_path(&real[..n], access);
            if d != first && d.verdict != Verdict::Allow {
                record_path(nr, d, &real[..n], access);
            }
            d
        }
        _ => PathDecision {
            policy: None,
            verdict: Verdict::Allow,
        },
    };
    if d.verdict == Verdict::Block {
        syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
        return -EACCES;
    }
    verify_identity(st, nr, fd, access, d)
}

/// Resolve a path argument of process `pid` (0: this process) against `dirfd` into `abs`,
/// classify it and record the event. A path that cannot be resolved is classified as given
/// (which fails closed). Returns the decision and the resolved length.
#[allow(clippy::too_many_arguments)]
pub(crate) fn classify_arg(
    st: &InterceptState,
    pid: i64,
    nr: i64,
    dirfd: i64,
    path: &[u8],
    access: Access,
    creates: Creates,
    abs: &mut [u8; PATH_MAX],
) -> (PathDecision, Option<usize>) {
    let resolved = resolve_in(pid, dirfd, path, abs);
    let shown: &[u8] = match resolved {
        Some(n) => &abs[..n],
        None => path,
    };
    let d = st.decider.classify_path(shown, access);
    record_path(nr, d, shown, access);
    if let Some(n) = resolved {
        // Looked at before the path is borrowed for the journal (`exists` writes a NUL at n).
        let there = creates == Creates::IfNew
            && d.verdict != Verdict::Block
            && crate::wipe::journal::JOURNAL.may_cover(&abs[..n])
            && exists(abs, n);
        note_created(d, &abs[..n], creates, || there);
    }
    (d, resolved)
}

/// [`classify_arg`] for the non-open path calls. An empty path names nothing unless the call's
/// `AT_EMPTY_PATH`-like flag (`empty_ok`) makes it name a file fd: otherwise it is let through.
///
/// `Err(errno)`: fail the call with `errno` and report nothing. That is a `mkdir` of the tmp
/// root or of a directory on the way to an allowed sub-path that exists already: `EEXIST`, as
/// without a shield (`create_dir_all` relies on it). Nothing is created, so a passage that
/// appears or vanishes after the check changes nothing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_path_arg(
    st: &InterceptState,
    pid: i64,
    nr: i64,
    dirfd: i64,
    copy: &PathCopy,
    empty_ok: bool,
    access: Access,
    creates: Creates,
) -> Result<Verdict, i32> {
    let mut abs = [0u8; PATH_MAX];
    if copy.bytes().is_empty() && (!empty_ok || resolve_in(pid, dirfd, b"", &mut abs).is_none()) {
        // Nothing is named (an fd that is a socket or pipe, or no AT_EMPTY_PATH).
        return Ok(Verdict::Allow);
    }
    let mut access = access;
    if is_mkdir(nr) {
        if let Some(n) = resolve_in(pid, dirfd, copy.bytes(), &mut abs) {
            if st.decider.is_tmp_passage(&abs[..n]) {
                if exists(&mut abs, n) {
                    return Err(libc::EEXIST);
                }
                // A passage that does not exist yet: see `resolve::passage_access`.
                access = Access::Meta;
            }
        }
    }
    Ok(
        classify_arg(st, pid, nr, dirfd, copy.bytes(), access, creates, &mut abs)
            .0
            .verdict,
    )
}

pub(crate) fn is_mkdir(nr: i64) -> bool {
    #[cfg(target_arch = "x86_64")]
    if nr == nr::MKDIR {
        return true;
    }
    nr == nr::MKDIRAT
}

/// Whether something (a symlink counts, dangling or not) exists at the absolute path
/// `abs[..n]`, looked up through the trampoline. `Some(false)` only when the lookup says
/// `ENOENT` or `ENOTDIR`; `None` when it cannot tell (too long, permission, ...).
///
/// `abs[n]` is overwritten with the NUL the kernel needs: no second `PATH_MAX` buffer, because
/// these run in the SIGSYS handler on whatever stack the caller had (glibc's `posix_spawn`
/// child runs on about 32 KiB).
fn lookup(abs: &mut [u8; PATH_MAX], n: usize) -> Option<bool> {
    if n >= PATH_MAX {
        return None;
    }
    abs[n] = 0;
    lookup_c(&abs[..=n])
}

/// Why the OS refuses the name `abs[..n]` itself, following a symlink in the last component
/// as exec does: `ENOENT` (nothing there, or a dangling symlink), `ENOTDIR` (a file used as a
/// directory), `ELOOP` (a symlink loop), `ENAMETOOLONG` (a component longer than `NAME_MAX`),
/// `EACCES` (not a regular file, or no execute bit at all). An exec of such a name fails with
/// that errno whatever the policy, so it names no program.
/// `None` when the name leads to something (or the lookup failed otherwise: decided).
fn refused_name(abs: &mut [u8; PATH_MAX], n: usize) -> Option<i32> {
    if n >= PATH_MAX {
        return None;
    }
    abs[n] = 0;
    let fd = open_path(&abs[..=n], libc::O_PATH);
    if fd >= 0 {
        let mode = crate::sys::fstat_mode(fd);
        syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
        // Not a regular file (a directory named like the program), or no execute bit for
        // anyone: the kernel refuses the exec with EACCES for every caller, root included,
        // and a PATH search goes on to the next directory.
        return match mode {
            Some(m) if m & libc::S_IFMT != libc::S_IFREG || m & 0o111 == 0 => Some(libc::EACCES),
            _ => None,
        };
    }
    match -fd as i32 {
        e @ (libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG) => Some(e),
        _ => None,
    }
}

/// [`lookup`] of a NUL-terminated absolute path (a [`PathCopy`]'s buffer).
fn lookup_c(c: &[u8]) -> Option<bool> {
    let fd = open_path(c, libc::O_PATH | libc::O_NOFOLLOW);
    if fd >= 0 {
        syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
        return Some(true);
    }
    match -fd as i32 {
        libc::ENOENT | libc::ENOTDIR => Some(false),
        _ => None,
    }
}

fn exists(abs: &mut [u8; PATH_MAX], n: usize) -> bool {
    lookup(abs, n) == Some(true)
}

/// Whether something exists at the absolute path `copy` names (no second buffer: its own
/// ends with a NUL).
pub(crate) fn copy_exists(copy: &PathCopy) -> bool {
    lookup_c(copy.bytes_with_nul()) == Some(true)
}

/// The file the absolute path `abs[..n]` names, with every symlink resolved (open `O_PATH`,
/// read back `/proc/self/fd/N`), through the trampoline; `abs[n]` is overwritten with a NUL.
fn canonical_path(abs: &mut [u8; PATH_MAX], n: usize, out: &mut [u8; PATH_MAX]) -> Option<usize> {
    if n >= PATH_MAX {
        return None;
    }
    abs[n] = 0;
    let fd = open_path(&abs[..=n], libc::O_PATH);
    if fd < 0 {
        return None;
    }
    let n = fd_path(fd, out);
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    n
}

/// Whether the file `abs[..n]` names, with every symlink resolved, is an allowed executable.
/// In its own frame: its `PATH_MAX` buffer is on the stack only when it is needed.
#[inline(never)]
fn canonical_allowed(st: &InterceptState, abs: &mut [u8; PATH_MAX], n: usize) -> bool {
    let mut canon = [0u8; PATH_MAX];
    canonical_path(abs, n, &mut canon)
        .is_some_and(|c| st.decider.decide_exec(&canon[..c]) == Verdict::Allow)
}

/// Decide an exec of `path` (relative to `dirfd`) by process `pid` (0: this process) and record
/// the event with its argv (at most 32 arguments, bounded in length).
///
/// `Err(errno)`: the exec names no file (`ENOENT`, `ENOTDIR`: a `PATH` search trying each
/// directory in turn; `ELOOP`, `ENAMETOOLONG`: a name the OS refuses itself). The call fails
/// with the OS's errno, as without a shield, and is no violation. The shield answers it itself and never lets such a call through, so a file
/// that appears after the check is never executed unchecked. Only paths the caller spelled
/// out are looked up this way: an fd (`AT_EMPTY_PATH`, e.g. a memfd) or a `/proc` path is
/// always decided and reported.
pub(crate) fn check_exec(
    st: &InterceptState,
    pid: i64,
    nr: i64,
    dirfd: i64,
    path: &PathCopy,
    argv: u64,
    flags: u64,
) -> Result<Verdict, i32> {
    let mut abs = [0u8; PATH_MAX];
    let empty_ok = flags & libc::AT_EMPTY_PATH as u64 != 0;
    let n = if path.bytes().is_empty() && !empty_ok {
        None
    } else {
        resolve_in(pid, dirfd, path.bytes(), &mut abs)
    };
    let mut v = match n {
        Some(n) => st.decider.decide_exec(&abs[..n]),
        None => st.decider.decide_exec(b"\0unresolvable"),
    };
    let plain = |n: Option<usize>, abs: &[u8; PATH_MAX]| match n {
        Some(n) => !path.bytes().is_empty() && !abs[..n].starts_with(b"/proc/"),
        None => false,
    };
    if v != Verdict::Allow && plain(n, &abs) {
        let n = n.unwrap_or(0);
        // Whether an entry the tmp policy hides exists is not the caller's to learn (its
        // `stat` is refused too): such an exec is decided and reported whether it exists or not.
        let hidden = st.decider.classify_path(&abs[..n], Access::Meta).verdict == Verdict::Block;
        // exec follows a final symlink: a dangling one is ENOENT, as a missing name is. The
        // OS's own errno, not always ENOENT: glibc's execvp goes on after ENOTDIR but stops
        // at ELOOP, and the caller sees what it would see without a shield.
        if !hidden {
            if let Some(e) = refused_name(&mut abs, n) {
                return Err(e);
            }
        }
    }
    if v != Verdict::Allow && n.is_some() && !abs[..n.unwrap_or(0)].starts_with(b"/proc/") {
        // The allowlist names executables; `/bin/tr` on a merged-/usr system is
        // `/usr/bin/tr`. Match the resolved file too (a symlink cannot be planted at an
        // allowed path on Lambda's read-only file system, so either match is the same file).
        if canonical_allowed(st, &mut abs, n.unwrap_or(0)) {
            v = Verdict::Allow;
        }
    }
    let shown: &[u8] = match n {
        Some(n) => &abs[..n],
        None => path.bytes(),
    };
    if v != Verdict::Allow {
        let mut rec = Record::new(
            PolicyKind::CreateChildProcess,
            v == Verdict::Block,
            RecordKind::Exec,
            nr,
        );
        rec.set_text(shown);
        for i in 0..32u64 {
            let mut p = [0u8; 8];
            if read_mem_of(pid, argv + i * 8, &mut p) != 8 {
                break;
            }
            let ptr = u64::from_le_bytes(p);
            if ptr == 0 {
                break;
            }
            let mut arg = [0u8; 128];
            let len = match read_cstr_of(pid, ptr, &mut arg[..127]) {
                Some(l) => l,
                None => {
                    rec.truncated = true;
                    let l = read_mem_of(pid, ptr, &mut arg[..127]);
                    arg[..l].iter().position(|&b| b == 0).unwrap_or(l)
                }
            };
            rec.push_arg(&arg[..len]);
        }
        push(rec);
    }
    Ok(v)
}

/// Parse a sockaddr copy: Some((ip, port)) for AF_INET / AF_INET6.
pub(crate) fn inet(sa: &[u8]) -> Option<(IpAddr, u16)> {
    if sa.len() < 2 {
        return None;
    }
    let family = u16::from_ne_bytes([sa[0], sa[1]]) as i32;
    match family {
        libc::AF_INET if sa.len() >= 8 => Some((
            IpAddr::V4(Ipv4Addr::new(sa[4], sa[5], sa[6], sa[7])),
            u16::from_be_bytes([sa[2], sa[3]]),
        )),
        libc::AF_INET6 if sa.len() >= 24 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&sa[8..24]);
            Some((
                IpAddr::V6(Ipv6Addr::from(o)),
                u16::from_be_bytes([sa[2], sa[3]]),
            ))
        }
        _ => None,
    }
}

/// Decide a destination; records the event. Returns true if blocked.
pub(crate) fn decide_dest(st: &InterceptState, nr: i64, ip: IpAddr, port: u16) -> bool {
    let ip = crate::policy::canonical(ip);
    let mut names = [Name::empty(), Name::empty(), Name::empty(), Name::empty()];
    let mut count = 0usize;
    let mut add = |n: &Name| {
        if count < names.len() {
            names[count] = *n;
            count += 1;
        }
    };
    // Names from /etc/hosts first: they are what the function asked for by name, and the
    // event (and its hint) names the first one.
    st.decider.hosts_file_names(ip, &mut add);
    HOSTS.lookup(ip, now_monotonic_secs(), &mut add);
    let v = st
        .decider
        .decide_connect(ip, port, &mut names[..count].iter().map(|n| n.as_bytes()));
    if v != Verdict::Allow {
        let mut rec = Record::new(
            PolicyKind::OutboundConnectivity,
            v == Verdict::Block,
            RecordKind::Net,
            nr,
        );
        rec.set_ip(ip, port);
        if count > 0 {
            rec.set_text(names[0].as_bytes());
        }
        push(rec);
    }
    v == Verdict::Block
}

pub(crate) const SA_MAX: usize = 128;

pub(crate) const MSGHDR: usize = std::mem::size_of::<libc::msghdr>();

/// The largest datagram to a resolver that is checked as a DNS query (larger ones are not
/// queries).
pub(crate) const DNS_MAX: usize = 512;

/// Whether `sa` names a configured resolver on port 53 while outbound connectivity is not
/// `allow`: what is sent there is checked as a DNS query.
pub(crate) fn to_resolver(st: &InterceptState, sa: &[u8]) -> bool {
    if st
        .decider
        .mode(crate::intercept::decide::ModeSlot::Outbound)
        == crate::policy::Mode::Allow
    {
        return false;
    }
    match super::netcheck::send_dest(sa) {
        super::netcheck::Dest::Inet(ip, 53) => st.decider.is_resolver(crate::policy::canonical(ip)),
        _ => false,
    }
}

/// A datagram sent with an explicit address to a resolver must be a DNS query for a name the
/// policy allows (an allowed host, or an AWS endpoint when those are allowed): the resolver is
/// always reachable, and query names are a channel out. Records the event; true if blocked.
pub(crate) fn decide_dns_query(st: &InterceptState, nr: i64, data: &[u8]) -> bool {
    let mut name = [0u8; 256];
    match super::netcheck::dns_query_name(data, &mut name) {
        Some(n) if st.decider.name_allowed(&name[..n]) => false,
        Some(n) => {
            let mut what = [0u8; 14 + 256];
            what[..14].copy_from_slice(b"DNS query for ");
            what[14..14 + n].copy_from_slice(&name[..n]);
            decide_socket_other(st, nr, &what[..14 + n])
        }
        None => decide_socket_other(st, nr, b"datagram to a resolver that is not a DNS query"),
    }
}

/// The largest control-message buffer the handlers copy (1 KiB: ancillary data for IP
/// sockets is a few dozen bytes). Larger ones get ENOBUFS under outbound block.
pub(crate) const CTL_MAX: usize = 1024;

/// Decide a destination sockaddr copy as the kernel will read it (see [`super::netcheck`]);
/// records the event. Returns true if blocked. `connect` reads family 0 as "disconnect".
pub(crate) fn decide_sockaddr(st: &InterceptState, nr: i64, sa: &[u8]) -> bool {
    use super::netcheck::{connect_dest, send_dest, Dest};
    let d = if nr == nr::CONNECT {
        connect_dest(sa)
    } else {
        send_dest(sa)
    };
    match d {
        Dest::Inet(ip, port) => decide_dest(st, nr, ip, port),
        Dest::Local | Dest::NoAddress => false,
        Dest::Unknown(f) => {
            let mut what = [0u8; 40];
            let pre = b"address family ";
            what[..pre.len()].copy_from_slice(pre);
            let n = pre.len() + write_decimal(u64::from(f), &mut what[pre.len()..]);
            decide_socket_other(st, nr, &what[..n])
        }
    }
}

/// Decide (by the outbound mode) a socket operation that bypasses or redirects addressing,
/// described by `what`; records the event. Returns true if blocked.
pub(crate) fn decide_socket_other(st: &InterceptState, nr: i64, what: &[u8]) -> bool {
    let v = match st
        .decider
        .mode(crate::intercept::decide::ModeSlot::Outbound)
    {
        crate::policy::Mode::Block => Verdict::Block,
        crate::policy::Mode::Alert => Verdict::Alert,
        crate::policy::Mode::Allow => Verdict::Allow,
    };
    if v != Verdict::Allow {
        let mut rec = Record::new(
            PolicyKind::OutboundConnectivity,
            v == Verdict::Block,
            RecordKind::Bypass,
            nr,
        );
        rec.set_text(what);
        push(rec);
    }
    v == Verdict::Block
}

/// Decide `socket(family, type, ..)`: raw and packet sockets (and unknown families) bypass
/// addressing. Returns true if blocked.
pub(crate) fn decide_socket(
    st: &InterceptState,
    nr: i64,
    family: i32,
    ty: i32,
    protocol: i32,
) -> bool {
    match super::netcheck::socket_bypass(family, ty, protocol) {
        Some(why) => decide_socket_other(st, nr, why.as_bytes()),
        None => false,
    }
}

/// Decide access to another process (`process_vm_readv`/`writev`, `pidfd_getfd`): the
/// `read_handler` policy covers other processes' memory and descriptors. `own` is the caller's
/// thread-group id, `target` the pid or tid named; `fd` the descriptor taken, if any. Records
/// the event (as a read of `/proc/<pid>/mem` or `/proc/<pid>/fd/<n>`). Returns true if blocked.
pub(crate) fn decide_other_process(
    st: &InterceptState,
    nr: i64,
    own: i64,
    target: i64,
    fd: Option<i64>,
) -> bool {
    if target == own || (target > 0 && tgid_of(target) == Some(own)) {
        return false;
    }
    let v = match st
        .decider
        .mode(crate::intercept::decide::ModeSlot::ReadHandler)
    {
        crate::policy::Mode::Block => Verdict::Block,
        crate::policy::Mode::Alert => Verdict::Alert,
        crate::policy::Mode::Allow => Verdict::Allow,
    };
    if v != Verdict::Allow {
        let mut p = [0u8; 64];
        let mut n = 6;
        p[..n].copy_from_slice(b"/proc/");
        n += write_decimal(target.max(0) as u64, &mut p[n..]);
        match fd {
            Some(fd) => {
                p[n..n + 4].copy_from_slice(b"/fd/");
                n += 4;
                n += write_decimal(fd.max(0) as u64, &mut p[n..]);
            }
            None => {
                p[n..n + 4].copy_from_slice(b"/mem");
                n += 4;
            }
        }
        let access = if nr == nr::PROCESS_VM_WRITEV {
            Access::Write
        } else {
            Access::Read
        };
        record_path(
            nr,
            PathDecision {
                policy: Some(PolicyKind::ReadHandler),
                verdict: v,
            },
            &p[..n],
            access,
        );
    }
    v == Verdict::Block
}

/// A call through the 32-bit ABI (`int 0x80`), let through in alert-only mode: reported once
/// per call under the first alerting policy. Its number is not a native one, so the event
/// names no syscall (`unknown`).
pub(crate) fn report_foreign_abi(st: &InterceptState) {
    use crate::intercept::decide::ModeSlot;
    use crate::policy::Mode;
    let policy = [
        (ModeSlot::ReadHandler, PolicyKind::ReadHandler),
        (ModeSlot::TmpRead, PolicyKind::ReadWriteTmp),
        (ModeSlot::TmpWrite, PolicyKind::ReadWriteTmp),
        (ModeSlot::Outbound, PolicyKind::OutboundConnectivity),
        (ModeSlot::Child, PolicyKind::CreateChildProcess),
    ]
    .iter()
    .find(|(slot, _)| st.decider.mode(*slot) == Mode::Alert)
    .map(|&(_, p)| p);
    if let Some(p) = policy {
        let mut rec = Record::new(p, false, RecordKind::Bypass, -1);
        rec.set_text(b"a syscall through the 32-bit ABI (int 0x80): not decided by the shield");
        push(rec);
    }
}

/// Report an io_uring instance (alert mode only: its operations bypass seccomp, so the
/// policies that alert cannot see them).
pub(crate) fn report_io_uring(st: &InterceptState, nr: i64) {
    use crate::intercept::decide::ModeSlot;
    use crate::policy::Mode;
    let policy = [
        (ModeSlot::ReadHandler, PolicyKind::ReadHandler),
        (ModeSlot::TmpRead, PolicyKind::ReadWriteTmp),
        (ModeSlot::TmpWrite, PolicyKind::ReadWriteTmp),
        (ModeSlot::Outbound, PolicyKind::OutboundConnectivity),
    ]
    .iter()
    .find(|(slot, _)| st.decider.mode(*slot) == Mode::Alert)
    .map(|&(_, p)| p);
    if let Some(p) = policy {
        let mut rec = Record::new(p, false, RecordKind::Bypass, nr);
        rec.set_text(b"io_uring instance: its operations are not seen by the shield");
        push(rec);
    }
}
