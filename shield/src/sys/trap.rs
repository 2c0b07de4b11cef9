//! The SIGSYS trap interceptor.
//!
//! Everything reachable from [`on_sigsys`] is async-signal-safe: no allocation, no locks, no
//! tracing, no `regex`. It reads pointer arguments with `process_vm_readv` into its own stack
//! buffers (a bad pointer gives EFAULT, never a crash), decides on the copies with the
//! precompiled [`Decider`], re-issues the syscall on the copies through the exempt
//! trampoline, and records events into the lock-free ring.

use super::{read_mem, syscall};
use crate::arch::nr;
use crate::decide::{Access, Decider, PathDecision, Verdict, PATH_MAX};
use crate::dns::{HostTable, Name};
use crate::event::{Record, RecordKind, RING};
use crate::invocation;
use crate::policy::PolicyKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// State the handler reads. Set once at install, before the filter goes in.
pub(crate) struct TrapState {
    pub(crate) decider: Decider,
    /// (st_dev, st_ino) of the running executable: protected whatever path reaches it.
    pub(crate) exe: (u64, u64),
    /// Whether `read_handler` is enforced (the exe identity check applies).
    pub(crate) check_exe: bool,
}

pub(crate) static STATE: OnceLock<TrapState> = OnceLock::new();

/// IP → host names learnt from DNS answers (bounded, TTL-honouring, lock-free).
pub(crate) static HOSTS: HostTable<1024> = HostTable::new();

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;
const EACCES: i64 = libc::EACCES as i64;
const EPERM: i64 = libc::EPERM as i64;
const EFAULT: i64 = libc::EFAULT as i64;
const ENAMETOOLONG: i64 = libc::ENAMETOOLONG as i64;

/// The SIGSYS handler.
///
/// Async-signal-safe: saves and restores `errno`, touches only the precompiled tables, atomics,
/// the event ring and its own stack.
pub(crate) extern "C" fn on_sigsys(
    _sig: libc::c_int,
    _info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    // SAFETY: __errno_location returns the calling thread's errno slot, valid for the
    // thread's lifetime.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *errno };
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid ucontext_t as the third
    // argument; it lives on this stack frame's caller for the handler's duration.
    let (nr, args) = unsafe { regs(&*uc) };
    let ret = match STATE.get() {
        Some(st) => handle(st, nr, args),
        None => -(libc::ENOSYS as i64),
    };
    // SAFETY: same ucontext as above; writing the return register is how a trap handler
    // completes an emulated syscall.
    unsafe { set_ret(&mut *uc, ret) };
    // SAFETY: as above.
    unsafe { *errno = saved };
}

#[cfg(target_arch = "x86_64")]
fn regs(uc: &libc::ucontext_t) -> (i64, [u64; 6]) {
    let g = &uc.uc_mcontext.gregs;
    let r = |i: libc::c_int| g[i as usize] as u64;
    (
        g[libc::REG_RAX as usize],
        [
            r(libc::REG_RDI),
            r(libc::REG_RSI),
            r(libc::REG_RDX),
            r(libc::REG_R10),
            r(libc::REG_R8),
            r(libc::REG_R9),
        ],
    )
}

#[cfg(target_arch = "x86_64")]
fn set_ret(uc: &mut libc::ucontext_t, ret: i64) {
    uc.uc_mcontext.gregs[libc::REG_RAX as usize] = ret;
}

#[cfg(target_arch = "aarch64")]
fn regs(uc: &libc::ucontext_t) -> (i64, [u64; 6]) {
    let r = &uc.uc_mcontext.regs;
    (r[8] as i64, [r[0], r[1], r[2], r[3], r[4], r[5]])
}

#[cfg(target_arch = "aarch64")]
fn set_ret(uc: &mut libc::ucontext_t, ret: i64) {
    uc.uc_mcontext.regs[0] = ret as u64;
}

/// The thread running the shield's housekeeping right now (0: none).
pub(crate) static EXEMPT_TID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

thread_local! {
    /// Set while the shield's own housekeeping (the tmp wipe) runs on this thread.
    static EXEMPT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` with this thread's syscalls exempt from the policies: only for the shield's own
/// housekeeping (wiping the tmp root between invocations). Not reachable from the public API.
pub(crate) fn exempt<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            EXEMPT.with(|e| e.set(false));
            EXEMPT_TID.store(0, std::sync::atomic::Ordering::Release);
        }
    }
    EXEMPT.with(|e| e.set(true));
    // The notify supervisor decides for other threads and cannot see thread-locals.
    EXEMPT_TID.store(
        syscall(libc::SYS_gettid, [0; 6]) as u32,
        std::sync::atomic::Ordering::Release,
    );
    let _reset = Reset;
    f()
}

/// Dispatch one trapped syscall; returns the value the caller sees.
pub(crate) fn handle(st: &TrapState, nr: i64, a: [u64; 6]) -> i64 {
    if EXEMPT.try_with(|e| e.get()).unwrap_or(false) {
        return syscall(nr, a);
    }
    match nr {
        nr::OPENAT => open_like(st, nr, a, a[0] as i32 as i64, 1, a[2], a[3]),
        #[cfg(target_arch = "x86_64")]
        nr::OPEN => open_like(st, nr, a, AT_FDCWD, 0, a[1], a[2]),
        #[cfg(target_arch = "x86_64")]
        nr::CREAT => open_like(
            st,
            nr,
            a,
            AT_FDCWD,
            0,
            (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
            a[1],
        ),
        nr::OPENAT2 => {
            let mut how = [0u8; 8];
            if a[3] < 8 || read_mem(a[2], &mut how) != 8 {
                return -EFAULT;
            }
            open_like(st, nr, a, a[0] as i32 as i64, 1, u64::from_le_bytes(how), 0)
        }
        nr::EXECVE => exec(st, nr, a, AT_FDCWD, 0, 1, 0),
        nr::EXECVEAT => exec(st, nr, a, a[0] as i32 as i64, 1, 2, a[4]),
        nr::CONNECT => net_addr(st, nr, a, 1, 2),
        nr::SENDTO => net_addr(st, nr, a, 4, 5),
        nr::SENDMSG => sendmsg(st, nr, a),
        nr::SENDMMSG => sendmmsg(st, nr, a),
        nr::RECVFROM => recvfrom(st, nr, a),
        nr::RECVMSG => recvmsg(st, nr, a),
        _ => match path_table(nr) {
            Some((paths, access, empty_flag)) => path_call(st, nr, a, paths, access, empty_flag),
            None => syscall(nr, a),
        },
    }
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

/// A NUL-terminated copy of a path argument.
pub(crate) struct PathCopy {
    pub(crate) buf: [u8; PATH_MAX + 1],
    pub(crate) len: usize,
}

impl PathCopy {
    pub(crate) fn read(addr: u64) -> Result<PathCopy, i64> {
        Self::read_of(0, addr)
    }

    /// Copy a path from process `pid` (0: this process).
    pub(crate) fn read_of(pid: i64, addr: u64) -> Result<PathCopy, i64> {
        let mut c = PathCopy {
            buf: [0; PATH_MAX + 1],
            len: 0,
        };
        match super::read_cstr_of(pid, addr, &mut c.buf[..PATH_MAX]) {
            Some(n) => {
                c.len = n;
                c.buf[n] = 0;
                Ok(c)
            }
            None if super::read_mem_of(pid, addr, &mut [0u8; 1]) == 0 => Err(-EFAULT),
            None => Err(-ENAMETOOLONG),
        }
    }
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    pub(crate) fn ptr(&self) -> u64 {
        self.buf.as_ptr() as u64
    }
}

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

/// Write the NUL-terminated path `/proc/<pid>/<what>` (pid 0: `self`) into `out`; its length
/// without the NUL, or `None` if it does not fit.
pub(crate) fn proc_path(pid: i64, what: &[u8], out: &mut [u8; 64]) -> Option<usize> {
    let mut n = 6;
    out[..6].copy_from_slice(b"/proc/");
    if pid == 0 {
        out[n..n + 4].copy_from_slice(b"self");
        n += 4;
    } else {
        n += write_decimal(pid as u64, &mut out[n..]);
    }
    out[n] = b'/';
    n += 1;
    if n + what.len() >= out.len() {
        return None;
    }
    out[n..n + what.len()].copy_from_slice(what);
    out[n + what.len()] = 0;
    Some(n + what.len())
}

/// `openat(AT_FDCWD, path, flags)` through the trampoline; `path` is NUL-terminated.
pub(crate) fn open_path(path: &[u8], flags: i32) -> i64 {
    syscall(
        nr::OPENAT,
        [
            AT_FDCWD as u64,
            path.as_ptr() as u64,
            (flags | libc::O_CLOEXEC) as u64,
            0,
            0,
            0,
        ],
    )
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

/// Write `v` in decimal into `out`; returns the digits written.
pub(crate) fn write_decimal(mut v: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n.min(out.len()) {
        out[i] = digits[n - 1 - i];
    }
    n.min(out.len())
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

fn now_realtime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`; it is async-signal-safe (vDSO).
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub(crate) fn now_monotonic_secs() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as in `now_realtime_ns`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64
}

thread_local! {
    /// Set by the notify supervisor to the thread it is deciding for (0: the caller itself).
    pub(crate) static TARGET: std::cell::Cell<(u32, bool)> = const { std::cell::Cell::new((0, false)) };
}

/// Fill the common fields and push.
pub(crate) fn push(mut rec: Record) {
    let (target, foreign) = TARGET.try_with(|t| t.get()).unwrap_or((0, false));
    if target != 0 {
        rec.pid = target;
        if foreign {
            let mut exe = [0u8; PATH_MAX];
            if let Some(n) = proc_link(target as i64, b"exe", &mut exe) {
                let n = n.min(rec.exe.len());
                rec.exe[..n].copy_from_slice(&exe[..n]);
                rec.exe_len = n as u8;
            }
        }
    } else {
        rec.pid = syscall(libc::SYS_getpid, [0; 6]) as u32;
    }
    rec.timestamp_ns = now_realtime_ns();
    let mut id = [0u8; invocation::ID_MAX];
    let n = invocation::current_request_id(&mut id);
    let n = n.min(rec.request_id.len());
    rec.request_id[..n].copy_from_slice(&id[..n]);
    rec.request_id_len = n as u8;
    RING.push(&rec);
    super::wake_reporter_if_needed();
}

pub(crate) fn access_code(a: Access) -> u8 {
    match a {
        Access::Read => 0,
        Access::Write => 1,
        Access::ReadWrite => 2,
        Access::Meta => 3,
    }
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
    rec.access = access_code(access);
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

fn open_like(
    st: &TrapState,
    nr: i64,
    mut a: [u64; 6],
    dirfd: i64,
    path_idx: usize,
    flags: u64,
    mode: u64,
) -> i64 {
    let copy = match PathCopy::read(a[path_idx]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let access = open_access(flags);
    let mut abs = [0u8; PATH_MAX];
    let (d, _) = classify_arg(st, 0, nr, dirfd, copy.bytes(), access, &mut abs);
    if d.verdict == Verdict::Block {
        return -EACCES;
    }
    a[path_idx] = copy.ptr();
    if nr != nr::OPENAT2 && access != Access::Meta {
        // Fast path: open our copy with symlinks (and /proc magic links) refused. If that
        // works, the path was resolved purely lexically, so the decision above is exact and
        // only the executable's identity is left to check. Otherwise (ELOOP, or a kernel or
        // flag openat2 refuses) fall back to the plain call and verify what it opened.
        let how = [
            flags,
            if flags as i32 & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
                mode
            } else {
                0
            },
            RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        ];
        let base = if path_idx == 0 { AT_FDCWD as u64 } else { a[0] };
        let fd = syscall(
            nr::OPENAT2,
            [base, copy.ptr(), how.as_ptr() as u64, 24, 0, 0],
        );
        let fallback = [
            libc::ELOOP,
            libc::EINVAL,
            libc::ENOSYS,
            libc::E2BIG,
            libc::EPERM,
        ]
        .contains(&(-fd as i32));
        if !fallback {
            if fd < 0 {
                return fd;
            }
            return verify_identity(st, nr, fd, access, d);
        }
    }
    let fd = syscall(nr, a);
    if fd < 0 || access == Access::Meta {
        return fd;
    }
    verify_opened(st, nr, fd, access, d)
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;

/// The executable-identity half of [`verify_opened`]: a hard link to the running executable
/// is the executable, whatever its path.
fn verify_identity(st: &TrapState, nr: i64, fd: i64, access: Access, d: PathDecision) -> i64 {
    if !st.check_exe || d.verdict == Verdict::Block {
        return fd;
    }
    // SAFETY: a zeroed `stat` is a valid plain-data value for fstat to fill.
    let mut sb: libc::stat = unsafe { std::mem::zeroed() };
    if syscall(
        libc::SYS_fstat,
        [fd as u64, &mut sb as *mut _ as u64, 0, 0, 0, 0],
    ) == 0
        && (sb.st_dev, sb.st_ino) == st.exe
    {
        let v = match st.decider.mode(crate::decide::ModeSlot::ReadHandler) {
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

/// After an allowed open: confirm what was opened. A symlink, `..`, a `/proc/self/fd/N`
/// re-open or a hard link to the executable must not smuggle a protected file out.
pub(crate) fn verify_opened(
    st: &TrapState,
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

fn path_call(
    st: &TrapState,
    nr: i64,
    mut a: [u64; 6],
    paths: &[PathArg],
    access: Access,
    empty: Option<(usize, u64)>,
) -> i64 {
    let mut copies: [Option<PathCopy>; 2] = [None, None];
    let mut blocked = false;
    for (slot, &(dirfd_idx, path_idx)) in paths.iter().enumerate().take(2) {
        if a[path_idx] == 0 {
            continue; // e.g. utimensat(fd, NULL, ...): acts on the fd.
        }
        let copy = match PathCopy::read(a[path_idx]) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let dirfd = dirfd_idx.map_or(AT_FDCWD, |i| a[i] as i32 as i64);
        let empty_ok = empty.is_some_and(|(fi, bit)| a[fi] & bit != 0);
        blocked |= check_path_arg(st, 0, nr, dirfd, &copy, empty_ok, access) == Verdict::Block;
        copies[slot] = Some(copy);
    }
    if blocked {
        return -EACCES;
    }
    for (slot, &(_, path_idx)) in paths.iter().enumerate().take(2) {
        if let Some(c) = &copies[slot] {
            a[path_idx] = c.ptr();
        }
    }
    syscall(nr, a)
}

fn exec(
    st: &TrapState,
    nr: i64,
    mut a: [u64; 6],
    dirfd: i64,
    path_idx: usize,
    argv_idx: usize,
    flags: u64,
) -> i64 {
    let copy = match PathCopy::read(a[path_idx]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if check_exec(st, 0, nr, dirfd, &copy, a[argv_idx], flags) == Verdict::Block {
        return -EACCES;
    }
    a[path_idx] = copy.ptr();
    syscall(nr, a)
}

/// Resolve a path argument of process `pid` (0: this process) against `dirfd` into `abs`,
/// classify it and record the event. A path that cannot be resolved is classified as given
/// (which fails closed). Returns the decision and the resolved length.
pub(crate) fn classify_arg(
    st: &TrapState,
    pid: i64,
    nr: i64,
    dirfd: i64,
    path: &[u8],
    access: Access,
    abs: &mut [u8; PATH_MAX],
) -> (PathDecision, Option<usize>) {
    let resolved = resolve_in(pid, dirfd, path, abs);
    let shown: &[u8] = match resolved {
        Some(n) => &abs[..n],
        None => path,
    };
    let d = st.decider.classify_path(shown, access);
    record_path(nr, d, shown, access);
    (d, resolved)
}

/// [`classify_arg`] for the non-open path calls. An empty path names nothing unless the call's
/// `AT_EMPTY_PATH`-like flag (`empty_ok`) makes it name a file fd: otherwise it is let through.
pub(crate) fn check_path_arg(
    st: &TrapState,
    pid: i64,
    nr: i64,
    dirfd: i64,
    copy: &PathCopy,
    empty_ok: bool,
    access: Access,
) -> Verdict {
    let mut abs = [0u8; PATH_MAX];
    if copy.len == 0 && (!empty_ok || resolve_in(pid, dirfd, b"", &mut abs).is_none()) {
        // Nothing is named (an fd that is a socket or pipe, or no AT_EMPTY_PATH).
        return Verdict::Allow;
    }
    classify_arg(st, pid, nr, dirfd, copy.bytes(), access, &mut abs)
        .0
        .verdict
}

/// The file an absolute path names, with every symlink resolved (open `O_PATH`, read back
/// `/proc/self/fd/N`), through the trampoline.
fn canonical_path(abs: &[u8], out: &mut [u8; PATH_MAX]) -> Option<usize> {
    let mut c = [0u8; PATH_MAX + 1];
    if abs.len() >= PATH_MAX {
        return None;
    }
    c[..abs.len()].copy_from_slice(abs);
    let fd = open_path(&c, libc::O_PATH);
    if fd < 0 {
        return None;
    }
    let n = fd_path(fd, out);
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    n
}

/// Decide an exec of `path` (relative to `dirfd`) by process `pid` (0: this process) and record
/// the event with its argv (at most 32 arguments, bounded in length).
pub(crate) fn check_exec(
    st: &TrapState,
    pid: i64,
    nr: i64,
    dirfd: i64,
    path: &PathCopy,
    argv: u64,
    flags: u64,
) -> Verdict {
    let mut abs = [0u8; PATH_MAX];
    let empty_ok = flags & libc::AT_EMPTY_PATH as u64 != 0;
    let n = if path.len == 0 && !empty_ok {
        None
    } else {
        resolve_in(pid, dirfd, path.bytes(), &mut abs)
    };
    let shown: &[u8] = match n {
        Some(n) => &abs[..n],
        None => path.bytes(),
    };
    let mut v = match n {
        Some(_) => st.decider.decide_exec(shown),
        None => st.decider.decide_exec(b"\0unresolvable"),
    };
    if v != Verdict::Allow && n.is_some() && !shown.starts_with(b"/proc/") {
        // The allowlist names executables; `/bin/tr` on a merged-/usr system is
        // `/usr/bin/tr`. Match the resolved file too (a symlink cannot be planted at an
        // allowed path on Lambda's read-only file system, so either match is the same file).
        let mut canon = [0u8; PATH_MAX];
        if let Some(c) = canonical_path(shown, &mut canon) {
            if st.decider.decide_exec(&canon[..c]) == Verdict::Allow {
                v = Verdict::Allow;
            }
        }
    }
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
            if super::read_mem_of(pid, argv + i * 8, &mut p) != 8 {
                break;
            }
            let ptr = u64::from_le_bytes(p);
            if ptr == 0 {
                break;
            }
            let mut arg = [0u8; 128];
            let len = match super::read_cstr_of(pid, ptr, &mut arg[..127]) {
                Some(l) => l,
                None => {
                    rec.truncated = true;
                    let l = super::read_mem_of(pid, ptr, &mut arg[..127]);
                    arg[..l].iter().position(|&b| b == 0).unwrap_or(l)
                }
            };
            rec.push_arg(&arg[..len]);
        }
        push(rec);
    }
    v
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
pub(crate) fn decide_dest(st: &TrapState, nr: i64, ip: IpAddr, port: u16) -> bool {
    let ip = crate::policy::canonical(ip);
    let mut names = [Name::empty(), Name::empty(), Name::empty(), Name::empty()];
    let mut count = 0usize;
    HOSTS.lookup(ip, now_monotonic_secs(), &mut |n: &Name| {
        if count < names.len() {
            names[count] = *n;
            count += 1;
        }
    });
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

fn net_addr(st: &TrapState, nr: i64, mut a: [u64; 6], addr_idx: usize, len_idx: usize) -> i64 {
    if a[addr_idx] == 0 {
        return syscall(nr, a);
    }
    let mut sa = [0u8; SA_MAX];
    let len = (a[len_idx] as usize).min(SA_MAX);
    if read_mem(a[addr_idx], &mut sa[..len]) != len {
        return -EFAULT;
    }
    if let Some((ip, port)) = inet(&sa[..len]) {
        if decide_dest(st, nr, ip, port) {
            return -EPERM;
        }
    }
    a[addr_idx] = sa.as_ptr() as u64;
    a[len_idx] = len as u64;
    syscall(nr, a)
}

pub(crate) const MSGHDR: usize = std::mem::size_of::<libc::msghdr>();

fn sendmsg(st: &TrapState, nr: i64, mut a: [u64; 6]) -> i64 {
    let mut hdr = [0u8; MSGHDR];
    if read_mem(a[1], &mut hdr) != MSGHDR {
        return -EFAULT;
    }
    let mut sa = [0u8; SA_MAX];
    if let Err(e) = check_msghdr(st, nr, &mut hdr, &mut sa) {
        return e;
    }
    a[1] = hdr.as_ptr() as u64;
    syscall(nr, a)
}

/// Check a copied msghdr's destination; point its name at `sa` (our copy).
fn check_msghdr(
    st: &TrapState,
    nr: i64,
    hdr: &mut [u8; MSGHDR],
    sa: &mut [u8; SA_MAX],
) -> Result<(), i64> {
    let name = u64::from_ne_bytes(hdr[0..8].try_into().unwrap_or([0; 8]));
    let namelen = u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])) as usize;
    if name == 0 || namelen == 0 {
        return Ok(());
    }
    let len = namelen.min(SA_MAX);
    if read_mem(name, &mut sa[..len]) != len {
        return Err(-EFAULT);
    }
    if let Some((ip, port)) = inet(&sa[..len]) {
        if decide_dest(st, nr, ip, port) {
            return Err(-EPERM);
        }
    }
    hdr[0..8].copy_from_slice(&(sa.as_ptr() as u64).to_ne_bytes());
    hdr[8..12].copy_from_slice(&(len as u32).to_ne_bytes());
    Ok(())
}

/// sendmmsg: at most this many messages are sent per call (the caller sees a short count,
/// which sendmmsg's contract allows).
const MMSG_MAX: usize = 8;

fn sendmmsg(st: &TrapState, nr: i64, mut a: [u64; 6]) -> i64 {
    const ENTRY: usize = std::mem::size_of::<libc::mmsghdr>();
    let vlen = (a[2] as usize).min(MMSG_MAX);
    let mut hdrs = [[0u8; MSGHDR]; MMSG_MAX];
    let mut names = [[0u8; SA_MAX]; MMSG_MAX];
    for i in 0..vlen {
        if read_mem(a[1] + (i * ENTRY) as u64, &mut hdrs[i]) != MSGHDR {
            return -EFAULT;
        }
        if let Err(e) = check_msghdr(st, nr, &mut hdrs[i], &mut names[i]) {
            return e;
        }
    }
    let mut vec = [[0u8; ENTRY]; MMSG_MAX];
    for i in 0..vlen {
        vec[i][..MSGHDR].copy_from_slice(&hdrs[i]);
    }
    let user = a[1];
    a[1] = vec.as_ptr() as u64;
    a[2] = vlen as u64;
    let r = syscall(nr, a);
    if r > 0 {
        for (i, entry) in vec.iter().enumerate().take(r as usize) {
            let p = (user + (i * ENTRY + MSGHDR) as u64) as *mut u32;
            let v = u32::from_ne_bytes(entry[MSGHDR..MSGHDR + 4].try_into().unwrap_or([0; 4]));
            // SAFETY: the caller passed this vector to sendmmsg, which writes msg_len into
            // each sent entry; we read the same entries successfully above.
            unsafe { p.write_unaligned(v) };
        }
    }
    r
}

/// recvmsg: performed as asked; when the message came from a resolver on port 53, the first
/// iovec's data teaches the host table.
fn recvmsg(st: &TrapState, nr: i64, a: [u64; 6]) -> i64 {
    let r = syscall(nr, a);
    if r <= 0 {
        return r;
    }
    let mut hdr = [0u8; MSGHDR];
    if read_mem(a[1], &mut hdr) != MSGHDR {
        return r;
    }
    let word = |o: usize| u64::from_ne_bytes(hdr[o..o + 8].try_into().unwrap_or([0; 8]));
    let name = word(0);
    let namelen =
        (u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])) as usize).min(SA_MAX);
    if name == 0 || namelen == 0 || word(24) == 0 {
        return r;
    }
    let mut sa = [0u8; SA_MAX];
    if read_mem(name, &mut sa[..namelen]) != namelen {
        return r;
    }
    if let Some((ip, 53)) = inet(&sa[..namelen]) {
        if st.decider.is_resolver(crate::policy::canonical(ip)) {
            let mut iov = [0u8; 16];
            if read_mem(word(16), &mut iov) == 16 {
                let base = u64::from_ne_bytes(iov[0..8].try_into().unwrap_or([0; 8]));
                let len = u64::from_ne_bytes(iov[8..16].try_into().unwrap_or([0; 8])) as usize;
                let mut msg = [0u8; 4096];
                let want = len.min(r as usize).min(msg.len());
                let n = read_mem(base, &mut msg[..want]);
                HOSTS.learn_from_response(&msg[..n], now_monotonic_secs());
            }
        }
    }
    r
}

/// recvfrom with a source address: performed as asked; answers from a resolver on port 53
/// teach the host table which names an address has.
fn recvfrom(st: &TrapState, nr: i64, a: [u64; 6]) -> i64 {
    let r = syscall(nr, a);
    if r <= 0 || a[4] == 0 || a[5] == 0 {
        return r;
    }
    let mut lenb = [0u8; 4];
    if read_mem(a[5], &mut lenb) != 4 {
        return r;
    }
    let len = (u32::from_ne_bytes(lenb) as usize).min(SA_MAX);
    let mut sa = [0u8; SA_MAX];
    if read_mem(a[4], &mut sa[..len]) != len {
        return r;
    }
    if let Some((ip, 53)) = inet(&sa[..len]) {
        if st.decider.is_resolver(crate::policy::canonical(ip)) {
            let mut msg = [0u8; 4096];
            let n = read_mem(a[1], &mut msg[..(r as usize).min(4096)]);
            HOSTS.learn_from_response(&msg[..n], now_monotonic_secs());
        }
    }
    r
}
