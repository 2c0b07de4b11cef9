//! Path calls carried out for the caller: opens (installed with ADDFD), the write-side path
//! calls, AF_UNIX binds and `open_by_handle_at`, resolved in the caller's own view (its cwd,
//! its fds, its mount namespace and root).

#[allow(unused_imports)]
use super::*;

/// The umask of thread `tid` (Linux 4.7+); 022 when unknown.
pub(super) fn umask_of(tid: i64) -> u64 {
    status_field(tid, b"Umask:", 8).unwrap_or(0o022) as u64
}

/// Rewrite a path that names "the calling process" (`/proc/self`, `/proc/thread-self`,
/// `/dev/fd`, `/dev/std{in,out,err}`) so that the supervisor, opening it on the caller's
/// behalf, opens the caller's and not its own. Returns the new length, or `None` when the path
/// needs no rewrite.
pub(super) fn rewrite_self(
    path: &[u8],
    tid: i64,
    tgid: i64,
    out: &mut [u8; PATH_MAX],
) -> Option<usize> {
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

/// `copy` as the supervisor must walk it for caller `tid`: a path naming "the calling process"
/// (see [`rewrite_self`]) rewritten to the caller's `/proc` entry, `None` when it needs no
/// rewrite. The kernel resolves `/proc/self` and `/proc/thread-self` for the task that walks
/// the path (the supervisor, whose file table and cwd are its own), never for the caller.
pub(super) fn for_caller(copy: &PathCopy, tid: i64) -> Option<PathCopy> {
    let p = copy.bytes();
    if !(p.starts_with(b"/proc/") || p.starts_with(b"/dev/")) {
        return None;
    }
    let mut out = [0u8; PATH_MAX];
    let l = rewrite_self(p, tid, tgid_of(tid).unwrap_or(tid), &mut out)?;
    PathCopy::from_bytes(&out[..l])
}

/// A directory fd for resolving the caller's relative path: its dirfd or its cwd.
pub(super) fn dirfd_of(pid: i64, dirfd: i64) -> Result<i64, i32> {
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

pub(super) fn close(fd: i64) {
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
}

/// A mount namespace and a root directory, as (device, inode) pairs.
pub(super) type View = [(u64, u64); 2];

/// The supervisor's own view, taken when it starts.
pub(super) static OWN_VIEW: std::sync::OnceLock<Option<View>> = std::sync::OnceLock::new();

/// The mount namespace and root directory of thread `tid` (0: the calling thread), or `None`
/// if they cannot be read (the thread is gone, or /proc is not mounted).
pub(super) fn view_of(tid: i64) -> Option<View> {
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
pub(super) fn same_view(tid: i64) -> bool {
    let own = *OWN_VIEW.get_or_init(|| view_of(0));
    match (own, view_of(tid)) {
        (Some(own), Some(theirs)) => own == theirs,
        _ => true,
    }
}

/// `bind` of an `AF_UNIX` socket to a path: decided like a file creation on the resolved
/// location, then continued (the caller's socket binds itself).
pub(super) fn unix_bind(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
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
    let Some(copy) = PathCopy::from_bytes(path) else {
        return Answer::Continue;
    };
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
    let own = for_caller(&copy, pid);
    let copy = own.as_ref().unwrap_or(&copy);
    let blocked = match resolve::resolve(who, AT_FDCWD, copy.bytes(), walk) {
        Ok(r) => {
            decide_resolved(st, nr, &r, Access::Write, Creates::IfNew).verdict == Verdict::Block
        }
        Err(e) => {
            refuse_unresolved(st, pid, nr, AT_FDCWD, copy, Access::Write, e)
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

/// Open `path` in the supervisor as the caller would: absolute paths as they are, relative
/// ones against a duplicate of the caller's dirfd (or its cwd). `how` is a copied `open_how`
/// (openat2), whose flags gain `O_CLOEXEC` and whose mode gets the caller's umask like `mode`
/// does. Returns the fd or `-errno`.
pub(super) fn open_for(
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
pub(super) fn caller_mode(pid: i64, flags: u64, mode: u64) -> u64 {
    let f = flags as i32;
    if f & libc::O_CREAT != 0 || f & libc::O_TMPFILE == libc::O_TMPFILE {
        mode & !umask_of(pid) & 0o7777
    } else {
        mode
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn open(
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
    let nr = n.nr as i64;
    let blocks = |slot| st.decider.mode(slot) == crate::policy::Mode::Block;
    use crate::intercept::decide::ModeSlot;
    let enforcing =
        blocks(ModeSlot::ReadHandler) || blocks(ModeSlot::TmpRead) || blocks(ModeSlot::TmpWrite);
    // Enforcing: noted when decided on the resolved objects below.
    let creates = if enforcing {
        Creates::No
    } else {
        open_creates(flags)
    };
    let (d, resolved) = classify_arg(st, pid, nr, dirfd, copy.bytes(), access, creates, &mut abs);
    if d.verdict == Verdict::Block {
        return Answer::Errno(libc::EACCES);
    }
    // The path as the supervisor must open it on the caller's behalf: paths that name "the
    // calling process" (/proc/self, /dev/fd, ...) rewritten to the caller's /proc entry and
    // opened by their absolute path; anything else as the caller gave it.
    let mut own = None;
    let rewritten = resolved.and_then(|l| {
        let p = &abs[..l];
        // Only /proc and /dev paths can name the caller; reading its thread-group id costs a
        // file read, so it is done only for them.
        if !(p.starts_with(b"/proc/") || p.starts_with(b"/dev/")) {
            return None;
        }
        let mut out = [0u8; PATH_MAX];
        let l = rewrite_self(p, pid, tgid_of(pid).unwrap_or(pid), &mut out)?;
        own = PathCopy::from_bytes(&out[..l]);
        own.as_ref().map(|_| ())
    });
    let copy = match (&own, rewritten) {
        (Some(own), Some(())) => own,
        _ => &copy,
    };
    // Emulation exists to enforce: a racing thread must not swap an allowed path for a blocked
    // one after the check. When no path policy blocks (alert-only staging, or everything
    // allowed), a swap could only dodge an *alert*, so the call continues in the caller — which
    // also keeps the caller's credentials exactly right, and avoids ADDFD's two cross-thread
    // wake-ups (tens of µs on an idle VM).
    if !enforcing {
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
                if let Some(r) = crate::intercept::shared::fd_path(fd, &mut real) {
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
        let d = decide_resolved(st, n.nr as i64, &r, access, open_creates(flags));
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
        if may_wait(&r, flags) {
            return open_later(
                listener,
                n,
                r,
                flags,
                caller_mode(pid, flags, mode),
                access,
                d,
            );
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

/// Whether opening `r` with `flags` may wait for another process: a FIFO opened for reading
/// only or writing only without `O_NONBLOCK` waits for its other end.
fn may_wait(r: &Resolved, flags: u64) -> bool {
    let f = flags as i32;
    f & libc::O_NONBLOCK == 0 && f & libc::O_ACCMODE != libc::O_RDWR && r.is_fifo()
}

/// Carry out a decided open that may wait for long (see [`may_wait`]) on a worker thread,
/// which installs the fd and answers: in the supervisor it made every notified call of every
/// thread and child wait too, and a reader and the writer that would have completed it
/// deadlocked for ever (issue 13 kind 10). The worker shares the supervisor's file table (it
/// holds `r`'s objects). If the caller gives up meanwhile (a signal, on kernels without
/// `WAIT_KILLABLE_RECV`), the worker still waits for the other end, then finds the call gone
/// and closes the fd.
fn open_later(
    listener: Listener,
    n: &Notification,
    r: Resolved,
    flags: u64,
    mode: u64,
    access: Access,
    d: crate::intercept::decide::PathDecision,
) -> Answer {
    let (id, nr) = (n.id, n.nr as i64);
    let target = TARGET.with(|t| t.get());
    let cloexec = flags & libc::O_CLOEXEC as u64 != 0;
    let spawned = std::thread::Builder::new()
        .name("fnshield-open".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let Some(st) = STATE.get() else { return };
            TARGET.with(|t| t.set(target));
            let fd = r.open(flags | libc::O_CLOEXEC as u64, mode);
            drop(r);
            let a = if fd < 0 {
                Answer::Errno(-fd as i32)
            } else {
                let v = verify_opened(st, nr, fd, access, d);
                if v < 0 {
                    Answer::Errno(-v as i32)
                } else {
                    Answer::AddFd { fd, cloexec }
                }
            };
            send(listener, id, a);
        });
    match spawned {
        Ok(_) => Answer::Deferred,
        Err(_) => Answer::Errno(libc::EAGAIN),
    }
}

pub(super) fn path_call(
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
    use crate::intercept::decide::ModeSlot;
    if !(blocks(ModeSlot::ReadHandler) || blocks(ModeSlot::TmpRead) || blocks(ModeSlot::TmpWrite)) {
        // Nothing to enforce (alert-only staging): decide on the path as given, as the open
        // path does, and continue; resolving would only slow the supervisor down.
        for (slot, &(dirfd_idx, path_idx)) in paths.iter().enumerate().take(2) {
            if a[path_idx] == 0 {
                continue;
            }
            let copy = match PathCopy::read_of(pid, a[path_idx]) {
                Ok(c) => c,
                Err(e) => return Answer::Errno(-e as i32),
            };
            let dirfd = dirfd_idx.map_or(AT_FDCWD, |i| a[i] as i32 as i64);
            let empty_ok = empty.is_some_and(|(fi, bit)| a[fi] & bit != 0);
            let creates = path_creates(nr, &a, slot);
            if let Err(e) = check_path_arg(st, pid, nr, dirfd, &copy, empty_ok, access, creates) {
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
        if copy.bytes().is_empty() {
            let empty_ok = empty.is_some_and(|(fi, bit)| a[fi] & bit != 0);
            match check_path_arg(st, pid, nr, dirfd, &copy, empty_ok, access, Creates::No) {
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
        let own = for_caller(&copy, pid);
        let copy = own.as_ref().unwrap_or(&copy);
        match resolve::resolve(who, dirfd, copy.bytes(), walk) {
            Ok(r) if existing_passage(st, nr, &r) => return Answer::Errno(libc::EEXIST),
            Ok(r) => held[slot] = Some(r),
            Err(e) => {
                if refuse_unresolved(st, pid, nr, dirfd, copy, access, e) == -(libc::EACCES as i64)
                {
                    blocked = true;
                }
            }
        }
    }
    for (slot, r) in held.iter().enumerate() {
        let Some(r) = r else { continue };
        let acc = passage_access(st, nr, r, moved_access(st, nr, &a, slot, access, &held));
        let creates = moved_creates(path_creates(nr, &a, slot), slot, &held);
        blocked |= decide_resolved(st, nr, r, acc, creates).verdict == Verdict::Block;
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

/// Carry out a file-system write (mkdir, mknod, unlink, rmdir, rename, link, symlink,
/// truncate, chmod, chown, utime/utimes/utimensat, set/removexattr) in the supervisor, on the
/// objects it resolved and decided on, so that a racing thread cannot swap a directory, a
/// dirfd or the cwd after the decision. Other calls return `None` and continue in the caller.
pub(super) fn emulate_write(
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
        // Their other pointer arguments are copied below.
        #[cfg(target_arch = "x86_64")]
        nr::UTIME | nr::UTIMES | nr::FUTIMESAT => None,
        nr::UTIMENSAT | nr::SETXATTR | nr::LSETXATTR | nr::REMOVEXATTR | nr::LREMOVEXATTR => None,
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
    // Pointer arguments other than paths (times, an xattr's name and value) are read from the
    // caller's memory once and the call is made on the copies: the supervisor's own address
    // space is not the caller's. (These calls used to continue in the caller, which re-read
    // the path after the decision: a racing thread swapped it for another file, issue 13
    // kind 4; `notify.rs` `toctou_race_on_utimensat_path_notify`.)
    let copy_of = |addr: u64, len: usize| -> Result<Vec<u8>, i64> {
        let mut v = vec![0u8; len];
        if len > 0 && read_mem_of(pid, addr, &mut v) != len {
            return Err(-(libc::EFAULT as i64));
        }
        Ok(v)
    };
    // (argument, bytes) of a fixed-size struct argument, if any.
    let fixed: Option<(usize, usize)> = match nr {
        #[cfg(target_arch = "x86_64")]
        nr::UTIME => Some((1, 16)),
        #[cfg(target_arch = "x86_64")]
        nr::UTIMES => Some((1, 32)),
        #[cfg(target_arch = "x86_64")]
        nr::FUTIMESAT => Some((2, 32)),
        nr::UTIMENSAT => Some((2, 32)),
        _ => None,
    };
    let times;
    if let Some((i, len)) = fixed {
        if a[i] != 0 {
            times = match copy_of(a[i], len) {
                Ok(v) => v,
                Err(e) => return Some(e),
            };
            a[i] = times.as_ptr() as u64;
        }
    }
    let (name, value);
    if matches!(
        nr,
        nr::SETXATTR | nr::LSETXATTR | nr::REMOVEXATTR | nr::LREMOVEXATTR
    ) {
        name = match PathCopy::read_of(pid, a[1]) {
            Ok(c) => c,
            Err(e) => return Some(e),
        };
        a[1] = name.ptr();
        if matches!(nr, nr::SETXATTR | nr::LSETXATTR) {
            // XATTR_SIZE_MAX: the kernel refuses more before reading anything.
            if a[3] > 65_536 {
                return Some(-(libc::E2BIG as i64));
            }
            if a[2] != 0 {
                value = match copy_of(a[2], a[3] as usize) {
                    Ok(v) => v,
                    Err(e) => return Some(e),
                };
                a[2] = value.as_ptr() as u64;
            }
        }
    }
    Some(syscall(nr, a))
}

/// `open_by_handle_at`, only sent here when no path policy blocks: the supervisor opens the
/// same handle (through a duplicate of the caller's mount fd) to see which file it names,
/// reports it like any open, and the call continues in the caller.
pub(super) fn open_by_handle(st: &InterceptState, listener: Listener, n: &Notification) -> Answer {
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
