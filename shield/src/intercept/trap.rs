//! The SIGSYS trap interceptor.
//!
//! Everything reachable from [`on_trap`] is async-signal-safe: no allocation, no locks, no
//! tracing, no `regex`. It reads pointer arguments into its own stack buffers with
//! `process_vm_readv`, or directly from memory proven readable (`sys::readable`) (a bad
//! pointer gives EFAULT, never a crash), decides on the copies with the
//! precompiled [`Decider`](super::decide::Decider), re-issues the syscall on the copies
//! through the exempt trampoline, and records events into the lock-free ring. The signal
//! handler itself (registers in, return value out, `errno` saved) is `sys::sigsys`.

use super::arch::nr;
use super::caller::pidfd_pid;
use super::decide::{Access, PathDecision, Verdict, PATH_MAX};
use super::resolve::{
    self, decide_resolved, existing_passage, follows, moved_access, moved_creates, passage_access,
    refuse_unresolved, unclassified_event, unix_path, Caller, Resolved, Walk,
};
use super::shared::{
    check_exec, copy_exists, decide_dns_query, decide_other_process, decide_sockaddr,
    decide_socket, decide_socket_other, fd_path, inet, note_created, open_access, open_creates,
    path_creates, path_table, record_path, report_io_uring, to_resolver, verify_identity,
    verify_opened, Creates, InterceptState, PathArg, PathCopy, CTL_MAX, DNS_MAX, HOSTS, MSGHDR,
    SA_MAX, SIGSYS_BIT, STATE,
};
use crate::sys::sigsys::Trapped;
use crate::sys::{now_monotonic_secs, read_mem, syscall};

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;
const EACCES: i64 = libc::EACCES as i64;
const EPERM: i64 = libc::EPERM as i64;
const EFAULT: i64 = libc::EFAULT as i64;

/// The trap handler's entry point, registered with `sys::sigsys::install`: the value the
/// trapped caller sees for syscall `t` with arguments `a` at instruction pointer `ip`, or
/// `None` (nothing re-issued) unless the installed filter itself answers `SECCOMP_RET_TRAP`
/// for exactly that call. A forged SIGSYS (a queued siginfo, registers set through a signal
/// handler's `ucontext`) or a trap raised by another filter stacked on ours (whose TRAP
/// outranks our ERRNO, e.g. for `rt_sigaction(SIGSYS)`) is thus never acted on for a call
/// our filter refuses, allows, or leaves to the trampoline. Async-signal-safe.
pub(crate) fn on_trap(t: Trapped, a: [u64; 6], ip: u64, mask: &mut u64) -> Option<i64> {
    let st = STATE.get()?;
    let nr = t.nr;
    if !st.traps(nr) || !super::shared::armed_filter_traps(nr, a, ip) {
        return None;
    }
    if !t.whole {
        // Bits above 31 in the number register: 5.10 answers ENOSYS, 6.x runs the low half.
        return Some(-(libc::ENOSYS as i64));
    }
    if nr == nr::RT_SIGPROCMASK {
        return Some(sigprocmask_without_sigsys(a, mask));
    }
    Some(handle(st, nr, a))
}

/// Dispatch one trapped syscall; returns the value the caller sees.
///
/// This runs on the trapping thread's own stack, which can be small (glibc's `posix_spawn`
/// child has about 32 KiB, C libraries start threads with 64 KiB): each emulation is
/// `#[inline(never)]`, so only the one taken is on the stack, not the sum of every arm's
/// buffers (26 KiB in a release build before).
pub(crate) fn handle(st: &InterceptState, nr: i64, a: [u64; 6]) -> i64 {
    if super::shared::calling_thread_exempt() {
        return syscall(nr, a);
    }
    match nr {
        nr::OPENAT => open_like(st, nr, a, a[0] as i32 as i64, 1, a[2], a[3], 0),
        #[cfg(target_arch = "x86_64")]
        nr::OPEN => open_like(st, nr, a, AT_FDCWD, 0, a[1], a[2], 0),
        #[cfg(target_arch = "x86_64")]
        nr::CREAT => open_like(
            st,
            nr,
            a,
            AT_FDCWD,
            0,
            (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
            a[1],
            0,
        ),
        nr::OPENAT2 => {
            let mut how = [0u8; 24];
            if a[3] < 24 {
                return -(libc::EINVAL as i64);
            }
            if read_mem(a[2], &mut how) != 24 {
                return -EFAULT;
            }
            let word =
                |i: usize| u64::from_le_bytes(how[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
            open_like(st, nr, a, a[0] as i32 as i64, 1, word(0), word(1), word(2))
        }
        nr::EXECVE => exec(st, nr, a, AT_FDCWD, 0, 1, 0),
        nr::EXECVEAT => exec(st, nr, a, a[0] as i32 as i64, 1, 2, a[4]),
        nr::CONNECT => net_addr(st, nr, a, 1, 2),
        nr::SENDTO => net_addr(st, nr, a, 4, 5),
        nr::SENDMSG => sendmsg(st, nr, a),
        nr::SENDMMSG => sendmmsg(st, nr, a),
        nr::RECVFROM => recvfrom(st, nr, a),
        nr::RECVMSG => recvmsg(st, nr, a),
        nr::SOCKET => {
            if decide_socket(st, nr, a[0] as i32, a[1] as i32, a[2] as i32) {
                return -EPERM;
            }
            syscall(nr, a)
        }
        nr::SETSOCKOPT => setsockopt(st, nr, a),
        nr::PROCESS_VM_READV | nr::PROCESS_VM_WRITEV => {
            let own = syscall(libc::SYS_getpid, [0; 6]);
            if decide_other_process(st, nr, own, a[0] as i32 as i64, None) {
                return -EPERM;
            }
            syscall(nr, a)
        }
        nr::PIDFD_GETFD => pidfd_getfd(st, nr, a),
        nr::PTRACE => {
            // Only sent here in alert-only mode: it runs, and tracing another process is
            // reported under read_handler (the tracer reads its memory).
            let own = syscall(libc::SYS_getpid, [0; 6]);
            decide_other_process(st, nr, own, a[1] as i32 as i64, None);
            syscall(nr, a)
        }
        nr::IO_URING_SETUP => {
            // Only sent here in alert mode: it runs, and is reported.
            report_io_uring(st, nr);
            syscall(nr, a)
        }
        nr::OPEN_BY_HANDLE_AT => {
            // Only sent here when no path policy blocks: it runs, and what it opened is
            // reported like any open.
            let fd = syscall(nr, a);
            if fd >= 0 {
                let access = open_access(a[2]);
                let none = PathDecision {
                    policy: None,
                    verdict: Verdict::Allow,
                };
                return verify_opened(st, nr, fd, access, none);
            }
            fd
        }
        nr::RT_SIGACTION => sigaction_without_sigsys(nr, a),
        // The shield's reserved descriptors (the filter sends only those here): out of reach,
        // as if beyond the descriptor limit.
        nr::CLOSE | nr::DUP3 => -(libc::EBADF as i64),
        #[cfg(target_arch = "x86_64")]
        nr::DUP2 => -(libc::EBADF as i64),
        nr::FCNTL => -(libc::EINVAL as i64),
        nr::CLOSE_RANGE => close_range_below_held(nr, a),
        // Only the libc layer sends these here (the filter decides them in the kernel).
        nr::SETNS | nr::UNSHARE => namespaces(st, nr, a),
        nr::BIND => unix_bind(st, nr, a),
        _ => match path_table(nr) {
            Some((paths, access, empty_flag)) => path_call(st, nr, a, paths, access, empty_flag),
            None if super::pathcalls::is_unclassified(nr) => unclassified(st, nr, a),
            None => syscall(nr, a),
        },
    }
}
/// `setns` and `unshare` into a new mount or user namespace (or `setns(fd, 0)`, any kind):
/// refused with EPERM, without an event, while a path policy is enforced and a policy blocks
/// (the filter's rule, for the libc layer where seccomp is refused): the shield would resolve
/// the caller's paths in another view than the caller's.
#[inline(never)]
fn namespaces(st: &InterceptState, nr: i64, a: [u64; 6]) -> i64 {
    use crate::intercept::decide::ModeSlot;
    use crate::policy::Mode;
    let new_ns = (libc::CLONE_NEWNS | libc::CLONE_NEWUSER) as u64;
    let flags = if nr == nr::SETNS { a[1] } else { a[0] };
    let enters = flags & new_ns != 0 || (nr == nr::SETNS && flags as u32 == 0);
    let m = |s| st.decider.mode(s);
    let paths = [ModeSlot::TmpRead, ModeSlot::TmpWrite, ModeSlot::ReadHandler]
        .into_iter()
        .any(|s| m(s) != Mode::Allow);
    let blocks = [
        ModeSlot::Outbound,
        ModeSlot::TmpRead,
        ModeSlot::TmpWrite,
        ModeSlot::Child,
        ModeSlot::ReadHandler,
    ]
    .into_iter()
    .any(|s| m(s) == Mode::Block);
    if enters && paths && blocks {
        return -EPERM;
    }
    syscall(nr, a)
}

/// `close_range(first, last, flags)` reaching the reserved descriptors: carried out below
/// them. With `CLOSE_RANGE_CLOEXEC` (marks only; the shield's are close-on-exec already) it
/// runs as asked. With `CLOSE_RANGE_UNSHARE` alone the caller's table is unshared and the
/// range below the reserved descriptors closed in the copy: the copy keeps the shield's
/// held objects. (Run as asked, it closed them in the calling thread's copy, and a plain
/// `open` then put a directory of the executable's file system at a held mount root's
/// number: the fast path of `super::mounts` opened the executable through a tmp path.)
fn close_range_below_held(nr: i64, a: [u64; 6]) -> i64 {
    const CLOSE_RANGE_UNSHARE: u64 = 1 << 1;
    const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
    if a[2] & CLOSE_RANGE_CLOEXEC != 0 {
        return syscall(nr, a);
    }
    let from = crate::sys::held::held_from();
    let (first, last) = (a[0] as u32, a[1] as u32);
    if from <= 0 || first > last {
        return syscall(nr, a);
    }
    if first >= from as u32 {
        if a[2] & CLOSE_RANGE_UNSHARE != 0 {
            // Nothing to close below the range; the table is still unshared as asked.
            return syscall(nr::UNSHARE, [libc::CLONE_FILES as u64, 0, 0, 0, 0, 0]);
        }
        return 0;
    }
    syscall(nr, [a[0], u64::from((from - 1) as u32), a[2], 0, 0, 0])
}

/// `rt_sigaction(sig, act, ...)` for a signal other than SIGSYS: installed with SIGSYS removed
/// from the handler's mask, so that a trapped call inside the handler still reaches the shield
/// (a trap with SIGSYS blocked kills the process).
fn sigaction_without_sigsys(nr: i64, mut a: [u64; 6]) -> i64 {
    // The kernel's struct sigaction: handler, flags, restorer, mask (x86_64 and aarch64).
    let mut act = [0u8; 32];
    if a[1] != 0 {
        if read_mem(a[1], &mut act) != act.len() {
            return -EFAULT;
        }
        let mask = u64::from_ne_bytes(act[24..32].try_into().unwrap_or([0; 8])) & !SIGSYS_BIT;
        act[24..32].copy_from_slice(&mask.to_ne_bytes());
        a[1] = act.as_ptr() as u64;
    }
    syscall(nr, a)
}

/// `rt_sigprocmask(how, set, oldset, 8)`, emulated on the interrupted code's mask `mask` (the
/// one `sigreturn` restores), with SIGSYS never blocked (see [`sigaction_without_sigsys`]).
fn sigprocmask_without_sigsys(a: [u64; 6], mask: &mut u64) -> i64 {
    if a[3] != 8 {
        return -(libc::EINVAL as i64);
    }
    let old = *mask;
    let mut new = old;
    if a[1] != 0 {
        let mut set = [0u8; 8];
        if read_mem(a[1], &mut set) != set.len() {
            return -EFAULT;
        }
        let set = u64::from_ne_bytes(set);
        new = match a[0] as i32 {
            libc::SIG_BLOCK => old | set,
            libc::SIG_UNBLOCK => old & !set,
            libc::SIG_SETMASK => set,
            _ => return -(libc::EINVAL as i64),
        };
        // SIGKILL and SIGSTOP cannot be blocked; SIGSYS is kept deliverable.
        new &= !(SIGSYS_BIT | 1 << (libc::SIGKILL - 1) | 1 << (libc::SIGSTOP - 1));
    }
    if a[2] != 0 && crate::sys::write_mem_of(0, a[2], &old.to_ne_bytes()) != 8 {
        return -EFAULT;
    }
    *mask = new;
    0
}

#[inline(never)]
fn unclassified(st: &InterceptState, nr: i64, a: [u64; 6]) -> i64 {
    if unclassified_event(st, nr) == Verdict::Block {
        return -(libc::ENOSYS as i64);
    }
    syscall(nr, a)
}
/// `bind` of an `AF_UNIX` socket to a path creates a file there: decided like a `mknod` on the
/// resolved location and carried out on it. Other families and abstract names pass.
#[inline(never)]
fn unix_bind(st: &InterceptState, nr: i64, mut a: [u64; 6]) -> i64 {
    let mut sa = [0u8; 112];
    let len = (a[2] as usize).min(sa.len());
    if a[1] == 0 || len <= 2 {
        return syscall(nr, a);
    }
    if read_mem(a[1], &mut sa[..len]) != len {
        return -EFAULT;
    }
    let Some(path) = unix_path(&sa[..len]) else {
        return syscall(nr, a);
    };
    let Some(copy) = PathCopy::from_bytes(path) else {
        return syscall(nr, a);
    };
    let walk = Walk {
        follow: false,
        create: false,
        resolve: 0,
    };
    let r = match resolve::resolve(Caller::SELF, AT_FDCWD, copy.bytes(), walk) {
        Ok(r) => r,
        Err(e) => return refuse_unresolved(st, 0, nr, AT_FDCWD, &copy, Access::Write, e),
    };
    if decide_resolved(st, nr, &r, Access::Write, Creates::IfNew).verdict == Verdict::Block {
        return -EACCES;
    }
    let mut act = [0u8; resolve::ACT_MAX];
    let n = r.act_path(&mut act);
    // sun_path holds 108 bytes with the NUL; a longer object path keeps the caller's (the
    // decision stands; only a racing swap of a directory in the path is not bound then).
    let mut out = [0u8; 112];
    if n < 108 {
        out[..2].copy_from_slice(&sa[..2]);
        out[2..2 + n].copy_from_slice(&act[..n]);
        a[1] = out.as_ptr() as u64;
        a[2] = (2 + n + 1) as u64;
    } else {
        a[1] = sa.as_ptr() as u64;
    }
    syscall(nr, a)
}

#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn open_like(
    st: &InterceptState,
    nr: i64,
    a: [u64; 6],
    dirfd: i64,
    path_idx: usize,
    flags: u64,
    mode: u64,
    resolve: u64,
) -> i64 {
    let mut slot = std::mem::MaybeUninit::uninit();
    let copy: &PathCopy = match PathCopy::read_in(&mut slot, 0, a[path_idx]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if copy.bytes().is_empty() {
        // The open family has no AT_EMPTY_PATH: the kernel answers ENOENT. (Resolving it
        // would name the directory fd or the cwd itself.)
        return -(libc::ENOENT as i64);
    }
    let access = open_access(flags);
    // O_TMPFILE includes the O_DIRECTORY bit: test all of it (a plain O_DIRECTORY open with a
    // stray mode made openat2 refuse it with EINVAL, and every such open took the slow path).
    let f = flags as i32;
    let mode = if f & libc::O_CREAT != 0 || f & libc::O_TMPFILE == libc::O_TMPFILE {
        mode
    } else {
        0
    };
    if copy.bytes().first() == Some(&b'/') && resolve == 0 {
        // Fast path for an absolute path: decide on it lexically, then open it with symlinks
        // and /proc magic links refused. If that works, nothing but the lexical path was
        // walked, so the decision was exact; otherwise (ELOOP, or a kernel without openat2)
        // resolve it properly below. Nothing is created or truncated before a decision.
        let d = st.decider.classify_path(copy.bytes(), access);
        if d.verdict == Verdict::Block {
            record_path(nr, d, copy.bytes(), access);
            return -EACCES;
        }
        // Whether the open creates the file: looked at before it happens.
        let creates = match open_creates(flags) {
            Creates::IfNew
                if crate::wipe::journal::JOURNAL.may_cover(copy.bytes()) && copy_exists(copy) =>
            {
                Creates::No
            }
            c => c,
        };
        // Below a held mount root outside the executable's file system (see `super::mounts`),
        // the open starts there and may not leave that mount: then the object cannot be the
        // executable and the identity check's `fstat` is not needed.
        let open2 = |base: u64, path: u64, resolve: u64| {
            let how = [
                flags,
                mode,
                RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | resolve,
            ];
            syscall(nr::OPENAT2, [base, path, how.as_ptr() as u64, 24, 0, 0])
        };
        let lexical = || open2(AT_FDCWD as u64, copy.ptr(), 0);
        let mut rooted = st.roots.start(copy.bytes());
        let mut fd = match rooted {
            Some((root, off)) => open2(root as u64, copy.ptr() + off as u64, RESOLVE_NO_XDEV),
            None => lexical(),
        };
        if rooted.is_some() && RETRY_LEXICAL.contains(&(-fd as i32)) {
            if fd == -(libc::ENOSYS as i64) {
                // No openat2 here (Linux < 5.6, or a sandbox's filter): stop trying.
                st.roots.disable();
            }
            // Only what the walk from the root cannot settle (a submount, a symlink,
            // openat2's own refusals) is repeated from the lexical path, identity check
            // included. Any other answer is the open's own, which the walk from `/` meets at
            // the same component. (Repeating it made an open that a signal interrupted block
            // again instead of returning EINTR, and doubled the cost of every ENOENT.)
            rooted = None;
            fd = lexical();
        }
        // Otherwise (ELOOP, or a kernel without openat2) resolve it properly below.
        if !RETRY_LEXICAL.contains(&(-fd as i32)) {
            record_path(nr, d, copy.bytes(), access);
            if fd < 0 {
                return fd;
            }
            note_created(d, copy.bytes(), creates, || false);
            if rooted.is_some() {
                return fd;
            }
            return verify_identity(st, nr, fd, access, d);
        }
    }
    open_resolved(st, nr, dirfd, copy, flags, mode, resolve, access)
}

/// The open of `copy` relative to `dirfd`, resolved to private objects, decided on their real
/// location and carried out on them (see [`super::resolve`]).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn open_resolved(
    st: &InterceptState,
    nr: i64,
    dirfd: i64,
    copy: &PathCopy,
    flags: u64,
    mode: u64,
    resolve: u64,
    access: Access,
) -> i64 {
    let f = flags as i32;
    let walk = Walk {
        follow: f & libc::O_NOFOLLOW == 0
            && f & (libc::O_CREAT | libc::O_EXCL) != (libc::O_CREAT | libc::O_EXCL),
        create: f & libc::O_CREAT != 0,
        resolve,
    };
    // A symlink planted at the decided name after the decision makes the open fail with
    // ELOOP (it is opened O_NOFOLLOW); resolve again, a bounded number of times.
    for _ in 0..4 {
        let r = match resolve::resolve(Caller::SELF, dirfd, copy.bytes(), walk) {
            Ok(r) => r,
            Err(e) => return refuse_unresolved(st, 0, nr, dirfd, copy, access, e),
        };
        let d = decide_resolved(st, nr, &r, access, open_creates(flags));
        if d.verdict == Verdict::Block {
            return -EACCES;
        }
        let fd = r.open(flags, mode);
        if fd == -(libc::ELOOP as i64) && walk.follow && !r.has_object() {
            continue;
        }
        if fd < 0 {
            return fd;
        }
        return verify_identity(st, nr, fd, access, d);
    }
    -(libc::ELOOP as i64)
}

/// The errors of `openat2(.., RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS [| RESOLVE_NO_XDEV])`
/// that say only that this way of opening cannot settle the open: a symlink or magic link
/// (ELOOP), a mount crossed from a held root (EXDEV), openat2's stricter flag and mode checks
/// (EINVAL), no openat2 (ENOSYS, E2BIG, or EPERM from a sandbox's filter). The open is then
/// repeated another way; every other error is the open's own answer.
const RETRY_LEXICAL: [i32; 6] = [
    libc::ELOOP,
    libc::EINVAL,
    libc::ENOSYS,
    libc::E2BIG,
    libc::EPERM,
    libc::EXDEV,
];

const RESOLVE_NO_MAGICLINKS: u64 = libc::RESOLVE_NO_MAGICLINKS;
const RESOLVE_NO_SYMLINKS: u64 = libc::RESOLVE_NO_SYMLINKS;
const RESOLVE_NO_XDEV: u64 = libc::RESOLVE_NO_XDEV;

#[inline(never)]
fn path_call(
    st: &InterceptState,
    nr: i64,
    mut a: [u64; 6],
    paths: &[PathArg],
    access: Access,
    empty: Option<(usize, u64)>,
) -> i64 {
    // Each path argument is resolved to private objects and decided on its real location;
    // the call is then re-issued on paths that name exactly those objects.
    let mut held: [Option<Resolved>; 2] = [None, None];
    let mut acts = [[0u8; resolve::ACT_MAX]; 2];
    let mut dup: [i64; 2] = [-1, -1];
    let result = (|| {
        for (slot, &(dirfd_idx, path_idx)) in paths.iter().enumerate().take(2) {
            if a[path_idx] == 0 {
                continue; // e.g. utimensat(fd, NULL, ...): acts on the fd.
            }
            let mut copy_slot = std::mem::MaybeUninit::uninit();
            let copy: &PathCopy = PathCopy::read_in(&mut copy_slot, 0, a[path_idx])?;
            let dirfd = dirfd_idx.map_or(AT_FDCWD, |i| a[i] as i32 as i64);
            if copy.bytes().is_empty() {
                let empty_ok = empty.is_some_and(|(fi, bit)| a[fi] & bit != 0);
                let Some(di) = dirfd_idx.filter(|_| empty_ok && dirfd != AT_FDCWD) else {
                    continue; // Names nothing (or the cwd): the kernel answers.
                };
                // The call acts on the fd itself: on a private duplicate of it.
                let fd = crate::sys::held::dup_held(dirfd);
                if fd < 0 {
                    return Err(fd);
                }
                dup[slot] = fd;
                a[di] = fd as u64;
                let mut real = [0u8; PATH_MAX];
                let d = match fd_path(fd, &mut real) {
                    Some(n) if real[0] == b'/' => {
                        let d = st.decider.classify_path(&real[..n], access);
                        record_path(nr, d, &real[..n], access);
                        d
                    }
                    // A pipe, a socket, an anonymous inode: no path policy applies.
                    Some(_) => continue,
                    // The kernel did not say where it is: fail closed (see `resolve::Real`).
                    None => {
                        let d = st.decider.unresolvable(access);
                        let n = resolve::unknown_location(b"", &mut real);
                        record_path(nr, d, &real[..n], access);
                        d
                    }
                };
                if d.verdict == Verdict::Block {
                    return Err(-EACCES);
                }
                continue;
            }
            let walk = Walk {
                follow: follows(nr, &a, slot),
                create: false,
                resolve: 0,
            };
            let r = match resolve::resolve(Caller::SELF, dirfd, copy.bytes(), walk) {
                Ok(r) if existing_passage(st, nr, &r) => return Err(-(libc::EEXIST as i64)),
                Ok(r) => r,
                Err(e) => return Err(refuse_unresolved(st, 0, nr, dirfd, copy, access, e)),
            };
            r.act_path(&mut acts[slot]);
            a[path_idx] = acts[slot].as_ptr() as u64;
            held[slot] = Some(r);
        }
        let mut blocked = false;
        for (slot, r) in held.iter().enumerate() {
            let Some(r) = r else { continue };
            let acc = passage_access(st, nr, r, moved_access(st, nr, &a, slot, access, &held));
            let creates = moved_creates(path_creates(nr, &a, slot), slot, &held);
            blocked |= decide_resolved(st, nr, r, acc, creates).verdict == Verdict::Block;
        }
        if blocked {
            return Err(-EACCES);
        }
        Ok(syscall(nr, a))
    })();
    for fd in dup {
        if fd >= 0 {
            syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
        }
    }
    drop(held);
    result.unwrap_or_else(|e| e)
}

#[inline(never)]
fn exec(
    st: &InterceptState,
    nr: i64,
    mut a: [u64; 6],
    dirfd: i64,
    path_idx: usize,
    argv_idx: usize,
    flags: u64,
) -> i64 {
    let mut slot = std::mem::MaybeUninit::uninit();
    let copy: &PathCopy = match PathCopy::read_in(&mut slot, 0, a[path_idx]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    match check_exec(st, 0, nr, dirfd, copy, a[argv_idx], flags) {
        Ok(Verdict::Block) => return -EACCES,
        Ok(_) => {}
        Err(e) => return -(e as i64),
    }
    a[path_idx] = copy.ptr();
    syscall(nr, a)
}

#[inline(never)]
fn net_addr(st: &InterceptState, nr: i64, mut a: [u64; 6], addr_idx: usize, len_idx: usize) -> i64 {
    if a[addr_idx] == 0 {
        return syscall(nr, a);
    }
    let mut sa = [0u8; SA_MAX];
    let len = (a[len_idx] as usize).min(SA_MAX);
    if read_mem(a[addr_idx], &mut sa[..len]) != len {
        return -EFAULT;
    }
    if decide_sockaddr(st, nr, &sa[..len]) {
        return -EPERM;
    }
    let mut q = [0u8; DNS_MAX];
    if nr == nr::SENDTO && to_resolver(st, &sa[..len]) {
        // A datagram to a resolver: decided (and sent) on a copy of its data.
        let dlen = a[2] as usize;
        let data: &[u8] = if dlen <= DNS_MAX {
            if read_mem(a[1], &mut q[..dlen]) != dlen {
                return -EFAULT;
            }
            &q[..dlen]
        } else {
            &[]
        };
        if decide_dns_query(st, nr, data) {
            return -EPERM;
        }
        if dlen <= DNS_MAX {
            a[1] = q.as_ptr() as u64;
        }
    }
    a[addr_idx] = sa.as_ptr() as u64;
    a[len_idx] = len as u64;
    syscall(nr, a)
}

/// A gathered copy of a message's data, for checking it as a DNS query and sending it.
pub(crate) struct DnsCopy {
    buf: [u8; DNS_MAX],
    iov: [u64; 2],
}

impl DnsCopy {
    pub(crate) const fn new() -> Self {
        DnsCopy {
            buf: [0; DNS_MAX],
            iov: [0; 2],
        }
    }
}

/// Gather the data of a copied msghdr (at most 16 iovecs, [`DNS_MAX`] bytes) into `out`;
/// its length, `Ok(None)` if it is larger, or `Err(-EFAULT)`.
fn gather(hdr: &[u8; MSGHDR], out: &mut [u8; DNS_MAX]) -> Result<Option<usize>, i64> {
    let word = |o: usize| u64::from_ne_bytes(hdr[o..o + 8].try_into().unwrap_or([0; 8]));
    let (iov, iovlen) = (word(16), word(24));
    if iovlen > 16 {
        return Ok(None);
    }
    let mut n = 0usize;
    for i in 0..iovlen {
        let mut v = [0u8; 16];
        if read_mem(iov + i * 16, &mut v) != 16 {
            return Err(-EFAULT);
        }
        let base = u64::from_ne_bytes(v[0..8].try_into().unwrap_or([0; 8]));
        let len = u64::from_ne_bytes(v[8..16].try_into().unwrap_or([0; 8])) as usize;
        if len > DNS_MAX - n {
            return Ok(None);
        }
        if len > 0 && read_mem(base, &mut out[n..n + len]) != len {
            return Err(-EFAULT);
        }
        n += len;
    }
    Ok(Some(n))
}

#[inline(never)]
fn sendmsg(st: &InterceptState, nr: i64, mut a: [u64; 6]) -> i64 {
    let mut hdr = [0u8; MSGHDR];
    if read_mem(a[1], &mut hdr) != MSGHDR {
        return -EFAULT;
    }
    let mut sa = [0u8; SA_MAX];
    let mut ctl = [0u8; CTL_MAX];
    let mut dns = DnsCopy::new();
    if let Err(e) = check_msghdr(st, nr, &mut hdr, &mut sa, &mut ctl, &mut dns) {
        return e;
    }
    a[1] = hdr.as_ptr() as u64;
    syscall(nr, a)
}

/// Check a copied msghdr's destination and control messages; point its name at `sa` and its
/// control at `ctl` (our copies), so that the kernel acts on exactly what was decided.
fn check_msghdr(
    st: &InterceptState,
    nr: i64,
    hdr: &mut [u8; MSGHDR],
    sa: &mut [u8; SA_MAX],
    ctl: &mut [u8; CTL_MAX],
    dns: &mut DnsCopy,
) -> Result<(), i64> {
    let name = u64::from_ne_bytes(hdr[0..8].try_into().unwrap_or([0; 8]));
    let namelen = u32::from_ne_bytes(hdr[8..12].try_into().unwrap_or([0; 4])) as usize;
    if name != 0 && namelen != 0 {
        let len = namelen.min(SA_MAX);
        if read_mem(name, &mut sa[..len]) != len {
            return Err(-EFAULT);
        }
        if decide_sockaddr(st, nr, &sa[..len]) {
            return Err(-EPERM);
        }
        hdr[0..8].copy_from_slice(&(sa.as_ptr() as u64).to_ne_bytes());
        hdr[8..12].copy_from_slice(&(len as u32).to_ne_bytes());
        if to_resolver(st, &sa[..len]) {
            // Decided, and sent, on a gathered copy of the data.
            match gather(hdr, &mut dns.buf)? {
                Some(n) => {
                    if decide_dns_query(st, nr, &dns.buf[..n]) {
                        return Err(-EPERM);
                    }
                    dns.iov = [dns.buf.as_ptr() as u64, n as u64];
                    hdr[16..24].copy_from_slice(&(dns.iov.as_ptr() as u64).to_ne_bytes());
                    hdr[24..32].copy_from_slice(&1u64.to_ne_bytes());
                }
                None => {
                    if decide_dns_query(st, nr, &[]) {
                        return Err(-EPERM);
                    }
                }
            }
        }
    }
    let control = u64::from_ne_bytes(hdr[32..40].try_into().unwrap_or([0; 8]));
    let controllen = u64::from_ne_bytes(hdr[40..48].try_into().unwrap_or([0; 8])) as usize;
    if control != 0 && controllen != 0 {
        if controllen > CTL_MAX {
            // Too large for the handler's copy. Nothing to enforce unless outbound blocks.
            if st
                .decider
                .mode(crate::intercept::decide::ModeSlot::Outbound)
                == crate::policy::Mode::Block
            {
                return Err(-(libc::ENOBUFS as i64));
            }
            return Ok(());
        }
        if read_mem(control, &mut ctl[..controllen]) != controllen {
            return Err(-EFAULT);
        }
        if let Some(why) = super::netcheck::control_redirects(&ctl[..controllen]) {
            if decide_socket_other(st, nr, why.as_bytes()) {
                return Err(-EPERM);
            }
        }
        hdr[32..40].copy_from_slice(&(ctl.as_ptr() as u64).to_ne_bytes());
    }
    Ok(())
}

/// `setsockopt`: options that route datagrams elsewhere are decided on a copy of the value,
/// and the call is re-issued on that copy.
#[inline(never)]
fn setsockopt(st: &InterceptState, nr: i64, mut a: [u64; 6]) -> i64 {
    let len = a[4] as u32 as usize;
    let mut val = [0u8; CTL_MAX];
    if len > CTL_MAX {
        if st
            .decider
            .mode(crate::intercept::decide::ModeSlot::Outbound)
            == crate::policy::Mode::Block
        {
            return -(libc::ENOBUFS as i64);
        }
        return syscall(nr, a);
    }
    if len > 0 && read_mem(a[3], &mut val[..len]) != len {
        return -EFAULT;
    }
    if let Some(why) = super::netcheck::sockopt_redirects(a[1] as i32, a[2] as i32, &val[..len]) {
        if decide_socket_other(st, nr, why.as_bytes()) {
            return -EPERM;
        }
    }
    if len > 0 {
        a[3] = val.as_ptr() as u64;
    }
    syscall(nr, a)
}

/// `pidfd_getfd`: decided on a private duplicate of the pidfd (a racing `dup2` cannot swap
/// it after the check), and performed on that duplicate.
#[inline(never)]
fn pidfd_getfd(st: &InterceptState, nr: i64, a: [u64; 6]) -> i64 {
    let dup = crate::sys::held::dup_held(a[0] as i32 as i64);
    if dup < 0 {
        return dup;
    }
    let own = syscall(libc::SYS_getpid, [0; 6]);
    let target = pidfd_pid(0, dup).unwrap_or(-1);
    let r = if decide_other_process(st, nr, own, target, Some(a[1] as i32 as i64)) {
        -EPERM
    } else {
        syscall(nr, [dup as u64, a[1], a[2], 0, 0, 0])
    };
    syscall(libc::SYS_close, [dup as u64, 0, 0, 0, 0, 0]);
    r
}

/// sendmmsg: at most this many messages are sent per call (the caller sees a short count,
/// which sendmmsg's contract allows).
const MMSG_MAX: usize = 8;

#[inline(never)]
fn sendmmsg(st: &InterceptState, nr: i64, mut a: [u64; 6]) -> i64 {
    const ENTRY: usize = std::mem::size_of::<libc::mmsghdr>();
    let mut vlen = (a[2] as usize).min(MMSG_MAX);
    let mut hdrs = [[0u8; MSGHDR]; MMSG_MAX];
    let mut names = [[0u8; SA_MAX]; MMSG_MAX];
    let mut ctls = [[0u8; CTL_MAX]; MMSG_MAX];
    let mut dns = [const { DnsCopy::new() }; MMSG_MAX];
    for i in 0..vlen {
        let checked = if read_mem(a[1] + (i * ENTRY) as u64, &mut hdrs[i]) != MSGHDR {
            Err(-EFAULT)
        } else {
            check_msghdr(
                st,
                nr,
                &mut hdrs[i],
                &mut names[i],
                &mut ctls[i],
                &mut dns[i],
            )
        };
        if let Err(e) = checked {
            // Like the kernel: the messages before the failing one are sent and counted.
            if i == 0 {
                return e;
            }
            vlen = i;
            break;
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
            // Only through the checked copy: a read-only or unmapped vector gives EFAULT
            // (as the kernel's own put_user would), never a crash in the handler.
            let at = user + (i * ENTRY + MSGHDR) as u64;
            if crate::sys::write_mem_of(0, at, &entry[MSGHDR..MSGHDR + 4]) != 4 {
                return if i > 0 { i as i64 } else { -EFAULT };
            }
        }
    }
    r
}

/// Learn host names from the datagram waiting on `fd`, when — as the kernel reports it into the
/// handler's own buffers — it comes from a configured resolver on port 53. It peeks
/// (`MSG_PEEK`) into private buffers first, so neither a pre-filled source address, a short
/// address length nor a thread racing on the caller's buffers can forge what is learnt.
/// Returns the peek's error (for the caller to see, exactly as its own call would have: a
/// pending socket error is consumed by the first receive) or `None` to go on with the call.
#[inline(never)]
fn learn_by_peek(st: &InterceptState, fd: u64, flags: u64) -> Option<i64> {
    if flags & (libc::MSG_ERRQUEUE | libc::MSG_OOB) as u64 != 0 {
        return None;
    }
    let mut msg = [0u8; 4096];
    let mut sa = [0u8; SA_MAX];
    let mut salen = SA_MAX as u32;
    let r = syscall(
        nr::RECVFROM,
        [
            fd,
            msg.as_mut_ptr() as u64,
            msg.len() as u64,
            (flags & libc::MSG_DONTWAIT as u64) | libc::MSG_PEEK as u64,
            sa.as_mut_ptr() as u64,
            &mut salen as *mut u32 as u64,
        ],
    );
    if r < 0 {
        return Some(r);
    }
    let r = r as usize;
    // A full buffer may be a truncated datagram: nothing is learnt from it.
    if r == 0 || r >= msg.len() {
        return None;
    }
    let salen = (salen as usize).min(SA_MAX);
    if let Some((ip, 53)) = inet(&sa[..salen]) {
        if st.decider.is_resolver(crate::policy::canonical(ip)) {
            HOSTS.learn_from_response(&msg[..r], now_monotonic_secs());
        }
    }
    None
}

/// recvmsg with a source address requested: learn from a resolver's answer (see
/// [`learn_by_peek`]), then perform the call as asked.
#[inline(never)]
fn recvmsg(st: &InterceptState, nr: i64, a: [u64; 6]) -> i64 {
    let mut hdr = [0u8; MSGHDR];
    if read_mem(a[1], &mut hdr) == MSGHDR {
        let name = u64::from_ne_bytes(hdr[0..8].try_into().unwrap_or([0; 8]));
        if name != 0 {
            if let Some(err) = learn_by_peek(st, a[0], a[2]) {
                return err;
            }
        }
    }
    syscall(nr, a)
}

/// recvfrom with a source address: learn from a resolver's answer (see [`learn_by_peek`]),
/// then perform the call as asked.
#[inline(never)]
fn recvfrom(st: &InterceptState, nr: i64, a: [u64; 6]) -> i64 {
    if a[4] != 0 && a[5] != 0 {
        if let Some(err) = learn_by_peek(st, a[0], a[3]) {
            return err;
        }
    }
    syscall(nr, a)
}
