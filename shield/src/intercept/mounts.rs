//! Mount roots an allowed open may start from without the executable-identity `fstat`
//! (issue 14's `File::open` goal).
//!
//! After an allowed open, the trap handler and the libc layer `fstat` the new descriptor: a
//! hard link to the running executable (or a bind mount of its directory) at an allowed path
//! is the executable, whatever its name, and `read_handler` must see it
//! (`shared::verify_identity`). That `fstat` was 1.25× on its own on a bare open + close.
//!
//! It proves nothing the kernel cannot prove more cheaply for files that are **not on the
//! executable's file system**: a hard link never crosses file systems. At install the shield
//! holds, in its guarded descriptor range (`sys::held`), an `O_PATH` descriptor for the root
//! of a few mounts (the tmp root's first, at most [`MAX_ROOTS`]) whose file system is not the
//! executable's. An open of an absolute path below one of them is issued as
//! `openat2(root, rest, RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`. When
//! that succeeds, the kernel walked exactly the lexical path (no symlink) and never left the
//! root's mount, so the object is on that mount's file system, which is not the executable's:
//! the `fstat` is skipped. A `..` cannot climb above the root without leaving its mount (the
//! held directory is the root of the mount on top of its mount point, and `..` from a mount's
//! root steps into the parent mount, which `RESOLVE_NO_XDEV` refuses; at `/` it stays). So
//! `RESOLVE_BENEATH` adds nothing here, and it would cost a final `path_is_under` walk:
//! measured with a C loop on Linux 6.18, an open + close of a tmpfs file took 2.10 µs from the
//! root without it, 2.25 µs with it, 2.19 µs as a bare `openat` of the absolute path. A
//! failure that says only that this walk cannot settle the open (a submount on the way:
//! `EXDEV`; a symlink: `ELOOP`; openat2's own refusals: `EINVAL`, `E2BIG`, `ENOSYS`, `EPERM`)
//! repeats the open the way it was done before, identity check included. Any other error
//! (`ENOENT`, `EACCES`, `EINTR`, ...) is the open's own answer, met at the same component by
//! the walk from `/`, and is returned as is: repeating it turned an open that a signal
//! interrupted (EINTR, how a FIFO open is bounded with `alarm`) into a second blocking open.
//!
//! A root is taken only when all of these hold, checked on the held descriptor itself:
//! - the executable's file system and the root's are *plain* ([`PLAIN`]: ext2/3/4, xfs,
//!   tmpfs, squashfs, erofs, f2fs, ramfs, vfat, proc, sysfs). A stacking file system
//!   (overlayfs, FUSE, network file systems) can show a file of another file system, and
//!   btrfs shows one device per subvolume for one file system; with either on one side, the
//!   device number no longer proves that two files differ, so no root is taken;
//! - the root's `st_dev` differs from the executable's (a bind mount of the executable's file
//!   system has the same);
//! - the mount point and every directory above it are mount points (or `/`), so no path to
//!   it can be renamed: the prefix a path is matched against names the held root for as long
//!   as the process runs (moving a mount needs `CAP_SYS_ADMIN`, and the mount calls are
//!   decided);
//! - every directory above the mount point may be searched by anyone (mode `0111`, no POSIX
//!   ACL): a walk from the held root checks search permission only from the root down, so
//!   below a directory others may not search (`/dev/shm/p`, 0700), a process that dropped
//!   root after the install opened `/dev/shm/p/q/f`, which the kernel refuses it (EACCES);
//! - the mount point, opened with `RESOLVE_NO_SYMLINKS`, is the **root of a mount** (`..`
//!   from it leaves the mount: `EXDEV` under `RESOLVE_NO_XDEV`; `/` excepted). The mount
//!   table also lists mounts hidden under later ones: a path through one may now meet a
//!   symlink of the covering file system (held, `/dev/shm/t/a/tmp` with `a` -> `/dev/shm`
//!   named the tmp root, and `/dev/shm/t/a/tmp/secret` read it, decided as outside), or name
//!   a plain directory of it, from which `..` stays on the mount (held, then moved into the
//!   allowed sub-path, `/dev/shm/d/../../secret` read the tmp root's files);
//! - the seccomp filter guards the descriptor range (a policy blocks and the range was
//!   reserved): otherwise another thread could `dup2` a directory of the executable's file
//!   system over a held root. With the libc layer alone nothing guards descriptors, so no
//!   root is taken and every open is `fstat`ed.
//!
//! The roots are used (`enable`) only once **every thread's descriptor table** holds them,
//! checked after the filter is installed: a descriptor number names an object only in one
//! table, and a thread that unshared its table (`unshare(CLONE_FILES)`) before the install
//! never had them, so a plain `open` there (lowest free number) put a directory of the
//! executable's file system at a held root's number and a tmp path opened the executable.
//! After the check no table can lose a root: the filter keeps `close`, `dup2`, `dup3` and
//! `F_DUPFD` out of the range, and a `close_range` reaching it, **`CLOSE_RANGE_UNSHARE`
//! included**, closes only below it (run as asked, it emptied the range in the caller's new
//! copy of the table; the same attack followed). Tables made later are shares or copies.
//!
//! Opens on the executable's own file system (the task root on Lambda, or everything on a
//! machine with one file system, like the test machine's) keep the `fstat`.

use crate::sys::held;
use std::os::fd::{AsFd, IntoRawFd};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

/// At most this many roots are held (descriptors taken from the guarded range for the whole
/// process; a small range spares fewer, see [`MountRoots::learn`]).
pub(crate) const MAX_ROOTS: usize = 6;

/// The longest mount point held, in bytes.
const PREFIX_MAX: usize = 96;

/// `statfs` magic numbers of file systems that neither stack on others nor show several
/// devices for one file system (see the module docs).
const PLAIN: &[i64] = &[
    0xEF53,      // ext2/ext3/ext4
    0x5846_5342, // xfs
    0x0102_1994, // tmpfs (and devtmpfs)
    0x7371_7368, // squashfs
    0xE0F5_E1E2, // erofs
    0xF2F5_2010, // f2fs
    0x8584_58F6, // ramfs
    0x4D44,      // vfat
    0x9FA0,      // proc
    0x6265_6572, // sysfs
];

/// Whether a `statfs` type is one of [`PLAIN`] (its width differs between C libraries).
#[allow(clippy::unnecessary_cast)]
fn is_plain(t: nix::sys::statfs::FsType) -> bool {
    PLAIN.contains(&(t.0 as i64))
}

#[derive(Clone, Copy)]
struct Root {
    prefix: [u8; PREFIX_MAX],
    len: usize,
    fd: i32,
    /// `(st_dev, st_ino)` of the held directory.
    id: (u64, u64),
}

/// The held mount roots (none until [`MountRoots::learn`] takes some). Read from the SIGSYS
/// handler and the libc hooks: plain data, no locks.
pub(crate) struct MountRoots {
    roots: [Root; MAX_ROOTS],
    n: usize,
    /// Set once the filter that guards the held roots is installed ([`MountRoots::enable`]).
    enabled: AtomicBool,
    /// For the report: the roots held, or why there are none.
    note: String,
    /// Why [`MountRoots::enable`] did not start using the roots it holds (for the report).
    not_enabled: std::sync::OnceLock<String>,
    /// Set by [`MountRoots::release`].
    released: AtomicBool,
}

impl MountRoots {
    /// No roots: every open is `fstat`ed.
    pub(crate) const fn none() -> MountRoots {
        MountRoots {
            roots: [Root {
                prefix: [0; PREFIX_MAX],
                len: 0,
                fd: -1,
                id: (0, 0),
            }; MAX_ROOTS],
            n: 0,
            enabled: AtomicBool::new(false),
            note: String::new(),
            not_enabled: std::sync::OnceLock::new(),
            released: AtomicBool::new(false),
        }
    }

    /// Start using the roots: called once the filter that guards the descriptor range is in
    /// place (never where seccomp was refused), if every thread's descriptor table holds
    /// them ([`MountRoots::every_thread_holds`]); otherwise [`MountRoots::note`] says why not.
    pub(crate) fn enable(&self) {
        if self.n == 0 {
            return;
        }
        match self.every_thread_holds() {
            Ok(()) => self.enabled.store(true, Ordering::Release),
            Err(why) => {
                let _ = self.not_enabled.set(why);
            }
        }
    }

    /// Whether every thread of the process has the held roots at their numbers: `Err(why)`
    /// when one does not. Called once the filter guards the range, so that no table can lose
    /// them any more (`close`, `dup2`, `dup3`, `F_DUPFD`, `close_range` into the range are
    /// refused or kept below it, also with `CLOSE_RANGE_UNSHARE`); tables made later are
    /// shares or copies of a checked one.
    ///
    /// A thread that unshared its table (`unshare(CLONE_FILES)`) before the install never
    /// had the roots, which the installing thread opened in its own table: their numbers were
    /// free there, a plain `open` put a directory of the executable's file system at one of
    /// them, and an allowed tmp path then opened the executable from that thread without the
    /// identity check. Checked through `/proc/self/task/<tid>/fd/<n>` (one `stat` per thread
    /// and root, through the trampoline); threads that start meanwhile are checked in
    /// further rounds, a bounded number of times.
    fn every_thread_holds(&self) -> Result<(), String> {
        let mut checked: Vec<u64> = Vec::new();
        for _ in 0..8 {
            let tids: Vec<u64> = task_ids()
                .map_err(|e| format!("/proc/self/task: errno {e}"))?
                .into_iter()
                .filter(|t| !checked.contains(t))
                .collect();
            if tids.is_empty() {
                return Ok(());
            }
            for tid in tids {
                for r in &self.roots[..self.n] {
                    let link = format!("/proc/self/task/{tid}/fd/{}\0", r.fd);
                    let link = std::ffi::CStr::from_bytes_with_nul(link.as_bytes())
                        .map_err(|e| e.to_string())?;
                    match crate::sys::file_stamp(link) {
                        Some(s) if (s[0] as u64, s[1] as u64) == r.id => {}
                        _ if task_gone(tid) => break,
                        _ => {
                            return Err(format!(
                                "thread {tid} has its own descriptor table without the held mount roots (unshared before the install)"
                            ))
                        }
                    }
                }
                checked.push(tid);
            }
        }
        Err("threads kept starting while the held mount roots were checked".into())
    }

    /// Close the held roots: the install was refused after they were taken, so nothing will
    /// use them (they were never enabled) and they would stay open, unguarded, for the whole
    /// process. Once only.
    pub(crate) fn release(&self) {
        if self.enabled.load(Ordering::Acquire) || self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        for r in &self.roots[..self.n] {
            crate::sys::syscall(libc::SYS_close, [r.fd as u64, 0, 0, 0, 0, 0]);
        }
    }

    /// Stop using the roots (the kernel lacks `openat2`). Async-signal-safe.
    pub(crate) fn disable(&self) {
        self.enabled.store(false, Ordering::Release);
    }

    /// For the report: the mount points held, or why none is (or why they are not used).
    pub(crate) fn note(&self) -> String {
        match self.not_enabled.get() {
            Some(why) => format!(
                "every allowed open is checked against the executable's identity (fstat): {why}"
            ),
            None => self.note.clone(),
        }
    }

    /// For an absolute `path` as the caller gave it: the held root whose mount point is its
    /// longest prefix (component-wise), and the offset in `path` of the rest, which is not
    /// empty and does not start with `/`. `None`: no root covers it (or it names a root
    /// itself). Async-signal-safe.
    #[inline]
    pub(crate) fn start(&self, path: &[u8]) -> Option<(i32, usize)> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let mut best: Option<(i32, usize)> = None;
        for r in &self.roots[..self.n] {
            let p = &r.prefix[..r.len];
            let covers = path.starts_with(p) && (r.len == 1 || path.get(r.len) == Some(&b'/'));
            if covers && best.is_none_or(|(_, l)| r.len > l) {
                best = Some((r.fd, r.len));
            }
        }
        let (fd, mut off) = best?;
        while path.get(off) == Some(&b'/') {
            off += 1;
        }
        (off < path.len()).then_some((fd, off))
    }

    /// Hold the roots an open may start from (see the module docs) for a process whose
    /// executable is `exe` (`(st_dev, st_ino)`) and whose tmp root is `tmp_root`. Called at
    /// install, before the filter, once the descriptor range is reserved; [`MountRoots::enable`]
    /// starts using them once the filter guards the range. Without a range (no policy blocks,
    /// or a low `RLIMIT_NOFILE`) none is taken; [`MountRoots::note`] says why.
    pub(crate) fn learn(exe: (u64, u64), tmp_root: &Path) -> MountRoots {
        let mut out = MountRoots::none();
        let why = out.take(exe, tmp_root);
        out.note = match why {
            Some(why) => format!(
                "every allowed open is checked against the executable's identity (fstat): {why}"
            ),
            None => {
                let held: Vec<String> = out.roots[..out.n]
                    .iter()
                    .map(|r| String::from_utf8_lossy(&r.prefix[..r.len]).into_owned())
                    .collect();
                format!(
                    "allowed opens below {} (not the executable's file system) skip the executable-identity fstat",
                    held.join(", ")
                )
            }
        };
        out
    }

    /// [`MountRoots::learn`]'s work: `Some(why)` when no root is held.
    fn take(&mut self, exe: (u64, u64), tmp_root: &Path) -> Option<String> {
        if held::held_from() == 0 {
            return Some(
                "no guarded descriptor range (no policy blocks, or RLIMIT_NOFILE is too low)"
                    .into(),
            );
        }
        match nix::sys::statfs::statfs("/proc/self/exe") {
            Ok(s) if is_plain(s.filesystem_type()) => {}
            Ok(s) => {
                return Some(format!(
                    "the executable is on a file system (statfs type {:#x}) that may show other file systems' files",
                    s.filesystem_type().0
                ))
            }
            Err(e) => return Some(format!("statfs(/proc/self/exe): {e}")),
        }
        // The calling thread's view: mount namespaces can differ between threads.
        let table = std::fs::read("/proc/thread-self/mountinfo")
            .or_else(|_| std::fs::read("/proc/self/mountinfo"))
            .unwrap_or_default();
        let points = crate::wipe::mount_points(&table);
        // The tmp root's mount first (the opens the goal is about), then the others in order.
        let tmp_mount = points
            .iter()
            .filter(|p| tmp_root.starts_with(p))
            .max_by_key(|p| p.as_os_str().len());
        let ordered = tmp_mount.into_iter().chain(points.iter());
        // A small range spares fewer descriptors for the whole process.
        let cap = if held::held_len() >= held::HELD_SLOTS {
            MAX_ROOTS
        } else {
            1
        };
        for point in ordered {
            if self.n >= cap {
                break;
            }
            let bytes = point.as_os_str().as_encoded_bytes();
            let known = self.roots[..self.n]
                .iter()
                .any(|r| &r.prefix[..r.len] == bytes);
            if bytes.len() > PREFIX_MAX
                || known
                || !unrenameable(point, &points)
                || !searchable_above(point)
            {
                continue;
            }
            if let Some((fd, id)) = hold_root(point, exe) {
                let r = &mut self.roots[self.n];
                r.prefix[..bytes.len()].copy_from_slice(bytes);
                r.len = bytes.len();
                r.fd = fd;
                r.id = id;
                self.n += 1;
            }
        }
        (self.n == 0).then(|| {
            "no mount point outside the executable's file system qualifies (plain file system, under mount points only)".into()
        })
    }
}

/// Whether `point` and every directory above it is a mount point (or `/`), in normal form.
fn unrenameable(point: &Path, points: &[std::path::PathBuf]) -> bool {
    if !point.is_absolute()
        || point
            .components()
            .any(|c| !matches!(c, Component::RootDir | Component::Normal(_)))
    {
        return false;
    }
    point
        .ancestors()
        .skip(1)
        .all(|a| a == Path::new("/") || points.iter().any(|p| p == a))
}

/// Whether every directory a walk from `/` to `point` passes through (not `point` itself)
/// lets anyone search it: `x` for owner, group and others, and no POSIX ACL. The held root
/// was opened with the installing process's credentials, and a walk from it checks search
/// permission only from the root down: below a directory that others may not search, a
/// process that dropped root after the install opened files that the kernel refuses it.
fn searchable_above(point: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    point.ancestors().skip(1).all(|dir| {
        let Ok(st) = nix::sys::stat::stat(dir) else {
            return false;
        };
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        let acl = b"system.posix_acl_access\0";
        let r = crate::sys::syscall(
            libc::SYS_getxattr,
            [c.as_ptr() as u64, acl.as_ptr() as u64, 0, 0, 0, 0],
        );
        let no_acl = r == -i64::from(libc::ENODATA) || r == -i64::from(libc::EOPNOTSUPP);
        st.st_mode & 0o111 == 0o111 && no_acl
    })
}

/// Open `point` as an `O_PATH` directory and move it into the guarded range if it qualifies
/// (plain file system, another device than the executable's): the held descriptor and the
/// directory's `(st_dev, st_ino)`.
fn hold_root(point: &Path, exe: (u64, u64)) -> Option<(i32, (u64, u64))> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag, AT_FDCWD};
    // The path itself, with no symlink on the way: a mount point hidden under a later mount
    // may now be reached through a symlink of the covering file system (to the tmp root, for
    // one), and the prefix would name another directory than the one held.
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(AT_FDCWD, point, how).ok()?;
    // The root of a mount, so that `..` out of it leaves the mount (EXDEV under
    // RESOLVE_NO_XDEV): where the path now names a plain directory of a covering mount,
    // `..` stayed on that mount, and once the function had moved the directory into the tmp
    // root's allowed sub-path, `<prefix>/../../secret` (decided as outside the tmp root)
    // reached the tmp root. `/` is the exception: `..` there stays at `/`.
    if point != Path::new("/") {
        let up = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_NO_XDEV);
        if !matches!(openat2(&fd, "..", up), Err(nix::errno::Errno::EXDEV)) {
            return None;
        }
    }
    let fs = nix::sys::statfs::fstatfs(fd.as_fd()).ok()?;
    if !is_plain(fs.filesystem_type()) {
        return None;
    }
    let st = nix::sys::stat::fstat(fd.as_fd()).ok()?;
    if st.st_dev == exe.0 {
        return None;
    }
    let high = held::hold(i64::from(fd.into_raw_fd()));
    (high >= 0).then_some((high as i32, (st.st_dev, st.st_ino)))
}

/// Whether thread `tid` of this process has exited (gone, or a zombie whose files are
/// released).
fn task_gone(tid: u64) -> bool {
    let mut stat = [0u8; 512];
    match super::caller::read_start(
        format!("/proc/self/task/{tid}/stat\0").as_bytes(),
        &mut stat,
    ) {
        // The state follows the command name's closing parenthesis.
        Ok(n) => stat[..n]
            .iter()
            .rposition(|&b| b == b')')
            .and_then(|i| stat[..n].get(i + 2))
            .is_some_and(|s| matches!(s, b'Z' | b'X')),
        Err(_) => true,
    }
}

/// The thread ids of this process (`/proc/self/task`), or the errno. Every call goes through
/// the trampoline: this runs once the filter is installed, before the notify supervisor
/// answers anything.
fn task_ids() -> Result<Vec<u64>, i64> {
    use crate::sys::syscall;
    let dir = b"/proc/self/task\0";
    let flags = (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
    let fd = syscall(
        libc::SYS_openat,
        [libc::AT_FDCWD as u64, dir.as_ptr() as u64, flags, 0, 0, 0],
    );
    if fd < 0 {
        return Err(-fd);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let r = loop {
        let n = syscall(
            libc::SYS_getdents64,
            [
                fd as u64,
                buf.as_mut_ptr() as u64,
                buf.len() as u64,
                0,
                0,
                0,
            ],
        );
        if n <= 0 {
            break n;
        }
        // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
        let mut at = 0usize;
        while at + 19 < n as usize {
            let reclen = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
            if reclen == 0 || at + reclen > n as usize {
                break;
            }
            let name = &buf[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let Some(tid) = std::str::from_utf8(name).ok().and_then(|t| t.parse().ok()) {
                out.push(tid);
            }
            at += reclen;
        }
    };
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    if r < 0 {
        return Err(-r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(points: &[(&str, i32)]) -> MountRoots {
        let mut m = MountRoots::none();
        for (p, fd) in points {
            let r = &mut m.roots[m.n];
            r.prefix[..p.len()].copy_from_slice(p.as_bytes());
            r.len = p.len();
            r.fd = *fd;
            m.n += 1;
        }
        // (`enable` would check the threads' tables for these made-up descriptors.)
        m.enabled.store(true, Ordering::Release);
        m
    }

    #[test]
    fn the_longest_covering_mount_point_is_the_start() {
        let m = roots(&[("/", 10), ("/tmp", 11), ("/dev", 12), ("/dev/shm", 13)]);
        assert_eq!(m.start(b"/tmp/a/b"), Some((11, 5)));
        assert_eq!(m.start(b"/tmp//a"), Some((11, 6)));
        assert_eq!(m.start(b"/dev/shm/x"), Some((13, 9)));
        assert_eq!(m.start(b"/dev/null"), Some((12, 5)));
        assert_eq!(m.start(b"/etc/hosts"), Some((10, 1)));
        // A name that merely starts like a mount point is under its parent.
        assert_eq!(m.start(b"/tmpx/a"), Some((10, 1)));
        assert_eq!(m.start(b"/dev/shmem"), Some((12, 5)));
    }

    #[test]
    fn a_root_itself_and_uncovered_paths_have_no_start() {
        let m = roots(&[("/tmp", 11)]);
        assert_eq!(m.start(b"/tmp"), None);
        assert_eq!(m.start(b"/tmp/"), None);
        assert_eq!(m.start(b"/tmp//"), None);
        assert_eq!(m.start(b"/var/task/bootstrap"), None);
        assert_eq!(MountRoots::none().start(b"/tmp/a"), None);
        let mut off = roots(&[("/tmp", 11)]);
        off.enabled = AtomicBool::new(false);
        assert_eq!(
            off.start(b"/tmp/a"),
            None,
            "not before the filter guards the roots"
        );
    }

    #[test]
    fn only_mount_points_under_mount_points_qualify() {
        let points: Vec<std::path::PathBuf> = ["/", "/dev", "/dev/shm", "/srv/data", "/tmp"]
            .iter()
            .map(Into::into)
            .collect();
        assert!(unrenameable(Path::new("/dev/shm"), &points));
        assert!(unrenameable(Path::new("/tmp"), &points));
        assert!(unrenameable(Path::new("/"), &points));
        // /srv is a plain directory: renaming it would move the mount under another name.
        assert!(!unrenameable(Path::new("/srv/data"), &points));
        assert!(!unrenameable(Path::new("/tmp/../srv"), &points));
        assert!(!unrenameable(Path::new("tmp"), &points));
    }
}
