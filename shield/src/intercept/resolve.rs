//! Resolve, decide, then act on exactly what was decided.
//!
//! A path argument is resolved to objects the shield holds privately before anything is
//! decided: the starting directory (a private duplicate of the caller's dirfd, the caller's cwd
//! opened `O_PATH`, or the caller's root), the parent directory of the last component (opened
//! `O_PATH | O_DIRECTORY`, following every symlink and `/proc` magic link on the way, with the
//! caller's `RESOLVE_*` flags), and, for calls that follow the last component, the final object
//! itself. The decision is taken on the **real location** of those objects, read back from
//! `/proc/self/fd/N`, never on the literal path; the call is then carried out on the objects,
//! through `/proc/self/fd/<object>` or `/proc/self/fd/<parent>/<name>` paths, so a racing thread
//! that swaps a dirfd, the cwd, a symlink or a directory in the path after the decision changes
//! nothing: nothing is created, truncated, renamed or removed anywhere but where it was decided.
//!
//! Async-signal-safe: raw syscalls through the trampoline and stack buffers only. Shared by
//! both interceptors (the trap handler resolves for its own thread, the notify supervisor for
//! the thread or child process it answers).

use super::arch::nr;
use super::decide::{Access, PathDecision, Verdict, PATH_MAX};
use super::shared::{
    classify_arg, fd_path, note_created, proc_path, push, record_path, write_decimal, Creates,
    InterceptState, PathCopy,
};
use crate::event::{Record, RecordKind};
use crate::policy::PolicyKind;
use crate::sys::syscall;

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;
/// Longest file name (one component).
const NAME_MAX: usize = 255;
/// Symlinks followed by hand (only for creating opens through dangling symlinks).
const MAX_HOPS: usize = 8;
/// A private-object path: `/proc/thread-self/fd/<n>/<name>` and its NUL.
pub(crate) const ACT_MAX: usize = 32 + NAME_MAX + 1;

/// Who the path belongs to.
#[derive(Clone, Copy)]
pub(crate) struct Caller {
    /// Thread id of the caller; 0 means the calling thread itself (trap interceptor).
    pub(crate) tid: i64,
    /// Another process (a child), whose fds and root are not ours.
    pub(crate) foreign: bool,
}

impl Caller {
    /// The thread running the SIGSYS handler.
    pub(crate) const SELF: Caller = Caller {
        tid: 0,
        foreign: false,
    };
}

/// How the call walks the path.
#[derive(Clone, Copy)]
pub(crate) struct Walk {
    /// The call follows a symlink (or magic link) in the last component.
    pub(crate) follow: bool,
    /// The call may create the last component (an `O_CREAT` open): a dangling symlink there is
    /// followed to where the file would be created.
    pub(crate) create: bool,
    /// `openat2` `RESOLVE_*` flags, applied to the shield's own walks.
    pub(crate) resolve: u64,
}

/// Where a resolved path really is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Real {
    /// An absolute path (`real[..n]`).
    Path(usize),
    /// Not in any file system name space (a pipe, socket or anonymous inode reached through a
    /// magic link): no path policy applies.
    NotAPath,
    /// The kernel did not say where it is (`readlink` of `/proc/self/fd/N` failed: a path
    /// longer than a page, or a filter the function stacked on ours refusing the shield's own
    /// `readlinkat`). Decided as the most protected place the access could reach (fails
    /// closed): before, it counted as [`NotAPath`](Self::NotAPath) and the code was opened
    /// through a directory fd with no decision at all.
    Unknown,
}

/// A path resolved to private objects. Closes them when dropped.
pub(crate) struct Resolved {
    /// The parent directory of `last` (or the object itself when `last` is empty).
    dir: i64,
    /// The final object (`O_PATH`), when it exists and the call follows the last component.
    obj: i64,
    last: [u8; NAME_MAX + 1],
    last_len: usize,
    /// The real location decided on.
    pub(crate) real: [u8; PATH_MAX],
    pub(crate) kind: Real,
    /// The caller is a thread of this process (not a child): its `/proc/<pid>` is ours.
    own: bool,
}

impl Drop for Resolved {
    fn drop(&mut self) {
        close(self.dir);
        close(self.obj);
    }
}

impl Resolved {
    /// The real location as bytes, or `None` for a non-path object.
    pub(crate) fn real_path(&self) -> Option<&[u8]> {
        match self.kind {
            Real::Path(n) => Some(&self.real[..n]),
            Real::NotAPath | Real::Unknown => None,
        }
    }

    /// Whether something (a symlink counts) exists at the decided name.
    pub(crate) fn exists_unfollowed(&self) -> bool {
        if self.obj >= 0 || self.last_len == 0 {
            return true;
        }
        let mut name = [0u8; NAME_MAX + 2];
        name[..self.last_len].copy_from_slice(&self.last[..self.last_len]);
        let mut sb = [0u8; std::mem::size_of::<libc::stat>()];
        syscall(
            libc::SYS_newfstatat,
            [
                self.dir as u64,
                name.as_ptr() as u64,
                sb.as_mut_ptr() as u64,
                libc::AT_SYMLINK_NOFOLLOW as u64,
                0,
                0,
            ],
        ) == 0
    }

    /// Whether the final object exists and is held (the call acts on it, not on a name).
    pub(crate) fn has_object(&self) -> bool {
        self.obj >= 0
    }

    /// The path that names exactly the decided object, NUL-terminated in `out`, for a call
    /// made by this thread: `/proc/thread-self/fd/<object>` or
    /// `/proc/thread-self/fd/<parent>/<name>` (the supervisor's file table is its own).
    /// Returns its length without the NUL.
    pub(crate) fn act_path(&self, out: &mut [u8; ACT_MAX]) -> usize {
        let fd = if self.obj >= 0 { self.obj } else { self.dir };
        let mut n = 0;
        let head = b"/proc/thread-self/fd/";
        out[..head.len()].copy_from_slice(head);
        n += head.len();
        n += write_decimal(fd as u64, &mut out[n..n + 20]);
        if self.obj < 0 && self.last_len > 0 {
            out[n] = b'/';
            n += 1;
            out[n..n + self.last_len].copy_from_slice(&self.last[..self.last_len]);
            n += self.last_len;
        }
        out[n] = 0;
        n
    }

    /// Open the decided object (or create the decided name) with `flags` and `mode`, in this
    /// process. `O_NOFOLLOW` is added when acting on a name, so a symlink planted there after
    /// the decision fails with `ELOOP` (the caller retries the resolution) instead of being
    /// followed. Returns the fd or `-errno`.
    /// Whether the object the call opens is a FIFO (held, or the last name in the parent,
    /// not followed). An open of one may wait for the other end.
    pub(crate) fn is_fifo(&self) -> bool {
        let mut sb = [0u8; std::mem::size_of::<libc::stat>()];
        let mut name = [0u8; NAME_MAX + 2];
        let (fd, flags) = if self.obj >= 0 {
            (self.obj, libc::AT_EMPTY_PATH)
        } else {
            name[..self.last_len].copy_from_slice(&self.last[..self.last_len]);
            (self.dir, libc::AT_SYMLINK_NOFOLLOW)
        };
        let r = syscall(
            libc::SYS_newfstatat,
            [
                fd as u64,
                name.as_ptr() as u64,
                sb.as_mut_ptr() as u64,
                flags as u64,
                0,
                0,
            ],
        );
        let off = std::mem::offset_of!(libc::stat, st_mode);
        let mode = u32::from_ne_bytes(sb[off..off + 4].try_into().unwrap_or([0; 4]));
        r == 0 && mode & libc::S_IFMT == libc::S_IFIFO
    }

    pub(crate) fn open(&self, flags: u64, mode: u64) -> i64 {
        let f = flags;
        if self.obj >= 0 {
            let mut p = [0u8; ACT_MAX];
            self.act_path(&mut p);
            // Re-opening through the magic link of an O_PATH fd opens that very object.
            let f = f & !((libc::O_CREAT | libc::O_EXCL) as u64);
            return syscall(
                libc::SYS_openat,
                [AT_FDCWD as u64, p.as_ptr() as u64, f, mode, 0, 0],
            );
        }
        let mut name = [0u8; NAME_MAX + 2];
        let name_ptr = if self.last_len == 0 {
            name[0] = b'.';
            name.as_ptr()
        } else {
            name[..self.last_len].copy_from_slice(&self.last[..self.last_len]);
            name.as_ptr()
        };
        syscall(
            libc::SYS_openat,
            [
                self.dir as u64,
                name_ptr as u64,
                f | libc::O_NOFOLLOW as u64,
                mode,
                0,
                0,
            ],
        )
    }
}

fn close(fd: i64) {
    if fd >= 0 {
        syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    }
}

/// `openat2(base, path, {flags, 0, resolve})`, falling back to `openat` where the kernel lacks
/// openat2 (before 5.6) and no `RESOLVE_*` flag is asked for. `path` is NUL-terminated.
fn open_at(base: i64, path: &[u8], flags: i32, resolve: u64) -> i64 {
    // Every object the walk opens is held in the reserved descriptor range, out of reach of
    // the caller's other threads (see `sys::held::hold`).
    crate::sys::held::hold(open_at_anywhere(base, path, flags, resolve))
}

fn open_at_anywhere(base: i64, path: &[u8], flags: i32, resolve: u64) -> i64 {
    let how = [(flags | libc::O_CLOEXEC) as u64, 0, resolve];
    let r = syscall(
        libc::SYS_openat2,
        [
            base as u64,
            path.as_ptr() as u64,
            how.as_ptr() as u64,
            24,
            0,
            0,
        ],
    );
    if r == -(libc::ENOSYS as i64) && resolve == 0 {
        return syscall(
            libc::SYS_openat,
            [
                base as u64,
                path.as_ptr() as u64,
                (flags | libc::O_CLOEXEC) as u64,
                0,
                0,
                0,
            ],
        );
    }
    r
}

/// A private duplicate of the caller's fd `fd`.
///
/// A thread of this process seen by the notify supervisor is treated like another process
/// here when the supervisor has a file table of its own (`notify::private_table`): the fd
/// number means nothing in it. Where `pidfd_getfd` is refused, the fd's object is reopened
/// `O_PATH` through `/proc/<tid>/fd/<fd>` (enough to resolve paths relative to it).
fn dup_fd(who: Caller, fd: i64) -> i64 {
    if who.foreign || (who.tid != 0 && super::caller::has_private_table()) {
        match super::caller::dup_from(who.tid, fd) {
            Ok(f) => f,
            Err(e) if who.foreign => -(e as i64),
            Err(e) => {
                let mut what = [0u8; 24];
                what[..3].copy_from_slice(b"fd/");
                let n = 3 + write_decimal(fd.max(0) as u64, &mut what[3..]);
                let mut p = [0u8; 64];
                if fd < 0 || proc_path(who.tid, &what[..n], &mut p).is_none() {
                    return -(e as i64);
                }
                open_at(AT_FDCWD, &p, libc::O_PATH, 0)
            }
        }
    } else {
        crate::sys::held::dup_held(fd)
    }
}

/// `/proc/<tid>/<what>` of the caller opened `O_PATH` (its cwd or root, bound now).
fn proc_dir(tid: i64, what: &[u8]) -> i64 {
    let mut p = [0u8; 64];
    if proc_path(tid, what, &mut p).is_none() {
        return -(libc::ENAMETOOLONG as i64);
    }
    open_at(AT_FDCWD, &p, libc::O_PATH | libc::O_DIRECTORY, 0)
}

/// The starting directory for `path`: `Ok(AT_FDCWD)` for an absolute path in our own root, or
/// a private fd the caller must close.
fn base_fd(who: Caller, dirfd: i64, absolute: bool, resolve: u64) -> Result<i64, i64> {
    // RESOLVE_IN_ROOT / RESOLVE_BENEATH scope even absolute paths to the dirfd.
    const SCOPED: u64 = libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT;
    let r = if absolute && resolve & SCOPED == 0 {
        if !who.foreign {
            return Ok(AT_FDCWD);
        }
        proc_dir(who.tid, b"root")
    } else if dirfd == AT_FDCWD {
        if who.tid == 0 {
            open_at(AT_FDCWD, b".\0", libc::O_PATH | libc::O_DIRECTORY, 0)
        } else {
            proc_dir(who.tid, b"cwd")
        }
    } else {
        dup_fd(who, dirfd)
    };
    if r < 0 {
        Err(r)
    } else {
        Ok(r)
    }
}

/// Split `p` (no trailing slashes) into its directory part and last component. The directory
/// part is written NUL-terminated into `dir`; returns (dir length, start of the last component)
/// or `None` when there is no plain last component (`/`, `.`, `..`, or empty): the whole path
/// names the object.
fn split(p: &[u8], dir: &mut [u8; PATH_MAX + 1]) -> Option<(usize, usize)> {
    let at = p.iter().rposition(|&b| b == b'/');
    let (d, last): (&[u8], &[u8]) = match at {
        None => (b".", p),
        Some(0) => (b"/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
    };
    if last.is_empty() || last == b"." || last == b".." || last.len() > NAME_MAX {
        return None;
    }
    dir[..d.len()].copy_from_slice(d);
    dir[d.len()] = 0;
    Some((d.len(), p.len() - last.len()))
}

/// Read back where fd `fd` really is.
fn real_of(fd: i64, out: &mut [u8; PATH_MAX]) -> Real {
    match fd_path(fd, out) {
        Some(n) if out[0] == b'/' => Real::Path(n),
        Some(_) => Real::NotAPath,
        None => Real::Unknown,
    }
}

fn is_symlink(dir: i64, name: &[u8]) -> bool {
    // A byte buffer the size of `struct stat`, filled by the kernel.
    let mut sb = [0u8; std::mem::size_of::<libc::stat>()];
    let r = syscall(
        libc::SYS_newfstatat,
        [
            dir as u64,
            name.as_ptr() as u64,
            sb.as_mut_ptr() as u64,
            libc::AT_SYMLINK_NOFOLLOW as u64,
            0,
            0,
        ],
    );
    if r != 0 {
        return false;
    }
    // st_mode sits at the same offset as in libc::stat.
    let off = std::mem::offset_of!(libc::stat, st_mode);
    let mode = u32::from_ne_bytes(sb[off..off + 4].try_into().unwrap_or([0; 4]));
    mode & libc::S_IFMT == libc::S_IFLNK
}

/// Resolve `path` of `who`, relative to `dirfd` (or the cwd), as a call that walks it like
/// `w`. An error is the `-errno` the call itself would most likely have failed with (the
/// shield's walk meets the same missing directories and permissions).
pub(crate) fn resolve(who: Caller, dirfd: i64, path: &[u8], w: Walk) -> Result<Resolved, i64> {
    let mut cur = [0u8; PATH_MAX + 1];
    if path.len() > PATH_MAX {
        return Err(-(libc::ENAMETOOLONG as i64));
    }
    cur[..path.len()].copy_from_slice(path);
    let mut len = path.len();
    let mut base = base_fd(who, dirfd, path.first() == Some(&b'/'), w.resolve)?;
    if who.foreign && path.first() == Some(&b'/') && base != AT_FDCWD {
        // Relative to the caller's root: drop the leading slashes.
        let skip = cur[..len].iter().take_while(|&&b| b == b'/').count();
        cur.copy_within(skip..len, 0);
        len -= skip;
    }
    let mut out = Resolved {
        dir: -1,
        obj: -1,
        last: [0; NAME_MAX + 1],
        last_len: 0,
        real: [0; PATH_MAX],
        kind: Real::NotAPath,
        own: !who.foreign,
    };
    let result = (|| {
        for _ in 0..MAX_HOPS {
            // A trailing slash makes the last component a directory that is followed.
            let mut trailing = false;
            while len > 1 && cur[len - 1] == b'/' {
                len -= 1;
                trailing = true;
            }
            let follow = w.follow || trailing;
            let mut dir = [0u8; PATH_MAX + 1];
            let Some((dlen, last_at)) = split(&cur[..len], &mut dir) else {
                // The whole path names a directory (".", "..", "/", "x/..", or empty).
                let mut whole = [0u8; PATH_MAX + 1];
                let p: &[u8] = if len == 0 { b"." } else { &cur[..len] };
                whole[..p.len()].copy_from_slice(p);
                let fd = open_at(base, &whole, libc::O_PATH, w.resolve);
                if fd < 0 {
                    return Err(fd);
                }
                close(out.dir);
                out.dir = fd;
                out.last_len = 0;
                out.kind = real_of(fd, &mut out.real);
                return Ok(());
            };
            let _ = dlen;
            let fd = open_at(base, &dir, libc::O_PATH | libc::O_DIRECTORY, w.resolve);
            if fd < 0 {
                return Err(fd);
            }
            close(out.dir);
            out.dir = fd;
            let last = &cur[last_at..len];
            out.last[..last.len()].copy_from_slice(last);
            out.last[last.len()] = 0;
            out.last_len = last.len();
            let mut name = [0u8; NAME_MAX + 2];
            name[..last.len()].copy_from_slice(last);
            if follow {
                let obj = open_at(out.dir, &name, libc::O_PATH, w.resolve);
                if obj >= 0 {
                    out.obj = obj;
                    out.kind = real_of(obj, &mut out.real);
                    return Ok(());
                }
                if obj != -(libc::ENOENT as i64) {
                    return Err(obj);
                }
                if w.create && is_symlink(out.dir, &name) {
                    // A dangling symlink: the file would be created at its target. Follow it
                    // by hand, from the parent (relative target) or the root.
                    let mut target = [0u8; PATH_MAX + 1];
                    let n = syscall(
                        libc::SYS_readlinkat,
                        [
                            out.dir as u64,
                            name.as_ptr() as u64,
                            target.as_mut_ptr() as u64,
                            PATH_MAX as u64,
                            0,
                            0,
                        ],
                    );
                    if n <= 0 {
                        return Err(-(libc::ENOENT as i64));
                    }
                    let n = n as usize;
                    let next_base = if target[0] == b'/' {
                        if who.foreign {
                            proc_dir(who.tid, b"root")
                        } else {
                            AT_FDCWD
                        }
                    } else {
                        crate::sys::held::dup_held(out.dir)
                    };
                    if next_base < 0 && next_base != AT_FDCWD {
                        return Err(next_base);
                    }
                    if base >= 0 {
                        close(base);
                    }
                    base = next_base;
                    let skip = if who.foreign && target[0] == b'/' {
                        target[..n].iter().take_while(|&&b| b == b'/').count()
                    } else {
                        0
                    };
                    cur[..n - skip].copy_from_slice(&target[skip..n]);
                    len = n - skip;
                    continue;
                }
            }
            // Decide on <real parent>/<name>.
            let mut parent = [0u8; PATH_MAX];
            match real_of(out.dir, &mut parent) {
                Real::Path(p) if p + 1 + last.len() <= PATH_MAX => {
                    let mut n = p;
                    out.real[..n].copy_from_slice(&parent[..p]);
                    if n > 1 {
                        out.real[n] = b'/';
                        n += 1;
                    }
                    out.real[n..n + last.len()].copy_from_slice(last);
                    out.kind = Real::Path(n + last.len());
                }
                // A directory that has no path (a detached mount): fail closed.
                _ => return Err(-(libc::EACCES as i64)),
            }
            return Ok(());
        }
        Err(-(libc::ELOOP as i64))
    })();
    if base >= 0 {
        close(base);
    }
    result.map(|()| out)
}

/// Decide on where a resolved path really is and record the event.
pub(crate) fn decide_resolved(
    st: &InterceptState,
    nr: i64,
    r: &Resolved,
    access: Access,
    creates: Creates,
) -> PathDecision {
    match r.real_path() {
        Some(p) => {
            let d = st.decider.classify_path(p, access);
            if d.verdict != Verdict::Allow {
                // Walking `/proc/self` lands on `/proc/<pid>`; the event names it as the
                // caller wrote it, as the lexical paths (and the supervisor) do.
                let mut shown = [0u8; PATH_MAX];
                let n = if r.own { own_proc(p, &mut shown) } else { None };
                record_path(nr, d, n.map_or(p, |n| &shown[..n]), access);
            }
            note_created(d, p, creates, || r.exists_unfollowed());
            d
        }
        None if r.kind == Real::Unknown => {
            let d = st.decider.unresolvable(access);
            if d.verdict != Verdict::Allow {
                let mut shown = [0u8; PATH_MAX];
                let n = unknown_location(&r.last[..r.last_len], &mut shown);
                record_path(nr, d, &shown[..n], access);
            }
            d
        }
        None => PathDecision {
            policy: None,
            verdict: Verdict::Allow,
        },
    }
}

/// What an event names for an object whose location the kernel did not give:
/// `(location unknown)/<last component>`. Returns the length written into `out`.
pub(crate) fn unknown_location(last: &[u8], out: &mut [u8; PATH_MAX]) -> usize {
    const HEAD: &[u8] = b"(location unknown)";
    out[..HEAD.len()].copy_from_slice(HEAD);
    let mut n = HEAD.len();
    if !last.is_empty() && n + 1 + last.len() <= PATH_MAX {
        out[n] = b'/';
        out[n + 1..n + 1 + last.len()].copy_from_slice(last);
        n += 1 + last.len();
    }
    n
}

/// `path` with this process's own `/proc/<pid>` prefix written as `/proc/self`, in `out`; its
/// length, or `None` when `path` does not start with it. Async-signal-safe.
pub(crate) fn own_proc(path: &[u8], out: &mut [u8; PATH_MAX]) -> Option<usize> {
    let rest = path.strip_prefix(b"/proc/")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || (rest.len() > digits && rest[digits] != b'/') {
        return None;
    }
    let mut pid: u64 = 0;
    for &b in &rest[..digits] {
        pid = pid.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    if pid != syscall(libc::SYS_getpid, [0; 6]) as u64 {
        return None;
    }
    let tail = &rest[digits..];
    let n = b"/proc/self".len() + tail.len();
    if n > out.len() {
        return None;
    }
    out[..10].copy_from_slice(b"/proc/self");
    out[10..n].copy_from_slice(tail);
    Some(n)
}

/// A `mkdir` of the tmp root or of a directory leading to an allowed sub-path that exists:
/// `EEXIST`, as the OS answers (`create_dir_all` relies on it), never a refusal.
pub(crate) fn existing_passage(st: &InterceptState, nr: i64, r: &Resolved) -> bool {
    mkdir_of_passage(st, nr, r) && r.exists_unfollowed()
}

/// Whether `nr` is a `mkdir` of the tmp root or of a directory leading to an allowed sub-path.
fn mkdir_of_passage(st: &InterceptState, nr: i64, r: &Resolved) -> bool {
    #[cfg(target_arch = "x86_64")]
    let mkdir = nr == nr::MKDIR || nr == nr::MKDIRAT;
    #[cfg(not(target_arch = "x86_64"))]
    let mkdir = nr == nr::MKDIRAT;
    mkdir && r.real_path().is_some_and(|p| st.decider.is_tmp_passage(p))
}

/// The access to decide path argument `r` of call `nr` with: a `mkdir` of a directory that
/// leads to an allowed sub-path and does not exist yet (Lambda's `/tmp` starts empty, and
/// `create_dir_all("/tmp/cache/models")` with only that path allowed must be able to make
/// `/tmp/cache`) is a traversal, not a write beside the allowed path: it makes an empty
/// directory whose only use is to reach the allowed one (and the wipe's journal notes it).
pub(crate) fn passage_access(st: &InterceptState, nr: i64, r: &Resolved, access: Access) -> Access {
    if mkdir_of_passage(st, nr, r) {
        Access::Meta
    } else {
        access
    }
}

/// A path that cannot be resolved (a missing directory, no permission, a loop) fails the call
/// with the resolution's error, unless the literal path would be refused: then EACCES and an
/// event, so that a refused location does not become an existence oracle.
pub(crate) fn refuse_unresolved(
    st: &InterceptState,
    pid: i64,
    nr: i64,
    dirfd: i64,
    copy: &PathCopy,
    access: Access,
    err: i64,
) -> i64 {
    let mut abs = [0u8; PATH_MAX];
    // A `mkdir` of a passage whose parent is missing too (`create_dir_all` walking up): the
    // OS's error, as for the passage itself (see `passage_access`).
    let access = match crate::intercept::shared::resolve_in(pid, dirfd, copy.bytes(), &mut abs) {
        Some(n)
            if crate::intercept::shared::is_mkdir(nr) && st.decider.is_tmp_passage(&abs[..n]) =>
        {
            Access::Meta
        }
        _ => access,
    };
    // Nothing is created: the call fails either way.
    let (d, _) = classify_arg(
        st,
        pid,
        nr,
        dirfd,
        copy.bytes(),
        access,
        Creates::No,
        &mut abs,
    );
    if d.verdict == Verdict::Block {
        -(libc::EACCES as i64)
    } else {
        err
    }
}

/// Whether path argument `slot` of syscall `nr` (arguments `a`) follows a symlink in its last
/// component.
pub(crate) fn follows(nr: i64, a: &[u64; 6], slot: usize) -> bool {
    const NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
    const FOLLOW: u64 = libc::AT_SYMLINK_FOLLOW as u64;
    match nr {
        #[cfg(target_arch = "x86_64")]
        nr::LSTAT
        | nr::READLINK
        | nr::MKDIR
        | nr::MKNOD
        | nr::UNLINK
        | nr::RMDIR
        | nr::LCHOWN
        | nr::RENAME
        | nr::LINK
        | nr::SYMLINK => false,
        nr::LGETXATTR
        | nr::LLISTXATTR
        | nr::LSETXATTR
        | nr::LREMOVEXATTR
        | nr::READLINKAT
        | nr::MKDIRAT
        | nr::MKNODAT
        | nr::UNLINKAT
        | nr::RENAMEAT
        | nr::RENAMEAT2
        | nr::SYMLINKAT => false,
        nr::NEWFSTATAT | nr::FACCESSAT2 => a[3] & NOFOLLOW == 0,
        nr::STATX => a[2] & NOFOLLOW == 0,
        nr::FCHOWNAT => a[4] & NOFOLLOW == 0,
        nr::UTIMENSAT | nr::FCHMODAT2 => a[3] & NOFOLLOW == 0,
        nr::NAME_TO_HANDLE_AT => a[4] & FOLLOW != 0,
        nr::INOTIFY_ADD_WATCH => a[2] & libc::IN_DONT_FOLLOW as u64 == 0,
        nr::LINKAT => slot == 0 && a[4] & FOLLOW != 0,
        _ => true,
    }
}

/// The access a rename or link makes of its source: moving or linking a file to where it can
/// be read reads it, so the source counts as read too when the destination is readable and
/// the source is not (both ways for `RENAME_EXCHANGE`).
pub(crate) fn moved_access(
    st: &InterceptState,
    nr: i64,
    a: &[u64; 6],
    slot: usize,
    access: Access,
    held: &[Option<Resolved>; 2],
) -> Access {
    #[cfg(target_arch = "x86_64")]
    let two = matches!(nr, nr::RENAME | nr::LINK);
    #[cfg(not(target_arch = "x86_64"))]
    let two = false;
    let two = two || matches!(nr, nr::RENAMEAT | nr::RENAMEAT2 | nr::LINKAT);
    if !two {
        return access;
    }
    const RENAME_EXCHANGE: u64 = libc::RENAME_EXCHANGE as u64;
    let exchange = nr == nr::RENAMEAT2 && a[4] & RENAME_EXCHANGE != 0;
    if slot == 1 && !exchange {
        return access;
    }
    let (Some(src), Some(dst)) = (&held[slot], &held[1 - slot]) else {
        return access;
    };
    let readable = |r: &Resolved| {
        r.real_path()
            .is_none_or(|p| st.decider.classify_path(p, Access::Read).verdict == Verdict::Allow)
    };
    if readable(dst) && !readable(src) {
        Access::ReadWrite
    } else {
        access
    }
}

/// [`Creates`] for path argument `slot` of a two-path call whose arguments resolved to
/// `held`: the new name of a `rename` is the function's only if the old name exists (a rename
/// that fails with `ENOENT` puts nothing at the new name, which may be another process's).
pub(crate) fn moved_creates(
    creates: Creates,
    slot: usize,
    held: &[Option<Resolved>; 2],
) -> Creates {
    match (creates, held.get(1 - slot.min(1))) {
        (Creates::Always, Some(Some(other))) if !other.exists_unfollowed() => Creates::No,
        (c, _) => c,
    }
}

/// The file path of an `AF_UNIX` socket address, if it names one (not abstract, not unnamed).
pub(crate) fn unix_path(sa: &[u8]) -> Option<&[u8]> {
    if sa.len() <= 2 || u16::from_ne_bytes([sa[0], sa[1]]) != libc::AF_UNIX as u16 || sa[2] == 0 {
        return None;
    }
    let p = &sa[2..];
    Some(&p[..p.iter().position(|&b| b == 0).unwrap_or(p.len())])
}

/// The strictest mode of the path policies, for calls the shield does not decide.
fn unclassified_verdict(st: &InterceptState) -> (PolicyKind, Verdict) {
    use super::decide::ModeSlot;
    use crate::policy::Mode;
    let mut best = (PolicyKind::ReadWriteTmp, Mode::Allow);
    for (slot, policy) in [
        (ModeSlot::TmpWrite, PolicyKind::ReadWriteTmp),
        (ModeSlot::TmpRead, PolicyKind::ReadWriteTmp),
        (ModeSlot::ReadHandler, PolicyKind::ReadHandler),
    ] {
        let m = st.decider.mode(slot);
        if m > best.1 {
            best = (policy, m);
        }
    }
    let v = match best.1 {
        Mode::Block => Verdict::Block,
        Mode::Alert => Verdict::Alert,
        Mode::Allow => Verdict::Allow,
    };
    (best.0, v)
}

/// A path-taking syscall the shield does not decide (see `pathcalls`): an event, and the
/// verdict (`Block`: the caller gets `ENOSYS`, and libc falls back to a call the shield
/// decides).
pub(crate) fn unclassified_event(st: &InterceptState, nr: i64) -> Verdict {
    let (policy, v) = unclassified_verdict(st);
    if v != Verdict::Allow {
        let mut rec = Record::new(policy, v == Verdict::Block, RecordKind::Path, nr);
        rec.access = Access::ReadWrite.code();
        rec.set_text(b"(a path-taking syscall fnshield does not decide)");
        push(rec);
    }
    v
}

/// A path-taking call from a caller whose mount namespace or root directory is not the
/// supervisor's: its paths name other objects than the ones the shield would resolve, so it is
/// not decided on them. An event, and the verdict (`Block`: the caller gets `EACCES`; alert
/// mode lets it run as with no shield). `exec`: decided by `create_child_process`.
pub(crate) fn other_view_event(st: &InterceptState, nr: i64, exec: bool) -> Verdict {
    let (policy, v) = if exec {
        let v = match st.decider.mode(super::decide::ModeSlot::Child) {
            crate::policy::Mode::Block => Verdict::Block,
            crate::policy::Mode::Alert => Verdict::Alert,
            crate::policy::Mode::Allow => Verdict::Allow,
        };
        (PolicyKind::CreateChildProcess, v)
    } else {
        unclassified_verdict(st)
    };
    if v != Verdict::Allow {
        let mut rec = Record::new(policy, v == Verdict::Block, RecordKind::Path, nr);
        rec.access = Access::ReadWrite.code();
        rec.set_text(b"(a caller in another mount namespace or root directory)");
        push(rec);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_proc_names_this_process_as_self() {
        let me = std::process::id();
        let own = |p: String| {
            let mut out = [0u8; PATH_MAX];
            own_proc(p.as_bytes(), &mut out).map(|n| String::from_utf8(out[..n].to_vec()).unwrap())
        };
        assert_eq!(
            own(format!("/proc/{me}/environ")).as_deref(),
            Some("/proc/self/environ")
        );
        assert_eq!(own(format!("/proc/{me}")).as_deref(), Some("/proc/self"));
        assert_eq!(
            own(format!("/proc/{me}/task/{me}/mem")).as_deref(),
            Some(&*format!("/proc/self/task/{me}/mem"))
        );
        // Another process, a longer number with our pid as its prefix, not a pid at all.
        assert_eq!(own(format!("/proc/{}/environ", me + 1)), None);
        assert_eq!(own(format!("/proc/{me}0/environ")), None);
        assert_eq!(own(format!("/proc/{me}x/environ")), None);
        assert_eq!(own("/proc/self/environ".to_owned()), None);
        assert_eq!(own(format!("/tmp/proc/{me}")), None);
    }

    fn s(p: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut d = [0u8; PATH_MAX + 1];
        split(p, &mut d).map(|(n, at)| (d[..n].to_vec(), p[at..].to_vec()))
    }

    #[test]
    fn split_names_the_parent_and_the_last_component() {
        assert_eq!(s(b"a"), Some((b".".to_vec(), b"a".to_vec())));
        assert_eq!(s(b"/a"), Some((b"/".to_vec(), b"a".to_vec())));
        assert_eq!(s(b"/x/y/z"), Some((b"/x/y".to_vec(), b"z".to_vec())));
        assert_eq!(s(b"x//y"), Some((b"x/".to_vec(), b"y".to_vec())));
        for whole in [&b""[..], b"/", b".", b"..", b"a/..", b"/proc/self/fd/3/."] {
            assert_eq!(s(whole), None, "{:?}", String::from_utf8_lossy(whole));
        }
    }
}
