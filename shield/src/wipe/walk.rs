//! The walk: an iterative, descriptor-based removal of a directory's contents.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use nix::dir::{Dir, OwningIter, Type};
use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, FchmodatFlags, FileStat, Mode, SFlag};
use nix::unistd::{self, UnlinkatFlags};

use super::report::{WipeFailure, WipeFailureReason, WipeReport};
use super::snapshot::Snapshot;
use super::trie::KeepTrie;
use super::{TmpWiper, MAX_LISTED_FAILURES, MAX_OPEN_DIRS};

/// A directory is scanned at most this many times before it is reported as
/// [`WipeFailureReason::NotEmpty`].
const MAX_PASSES: u8 = 3;

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// The two descriptors of an open directory: one for `*at` calls, one carrying the stream.
struct OpenDir {
    fd: OwnedFd,
    entries: OwningIter,
}

impl OpenDir {
    fn new(fd: OwnedFd) -> Result<Self, Errno> {
        let stream = unistd::dup(&fd)?;
        let entries = Dir::from_fd(stream)?.into_iter();
        Ok(Self { fd, entries })
    }
}

struct Frame {
    open: Option<OpenDir>,
    /// Name in the parent; empty for the root.
    name: CString,
    dev: u64,
    ino: u64,
    uid: u32,
    mode: u32,
    /// What may be removed in this directory.
    scope: Scope,
    /// Entries were left here because they are not the function's: not removed, not a
    /// failure, and this directory cannot be removed either.
    retained: bool,
    /// Inodes of entries left here on purpose (kept or failed); skipped on a rescan.
    left: Vec<u64>,
    /// The stream was restarted: skip `left`.
    rescan: bool,
    /// Something below could not be removed, so this directory cannot be either.
    failed_inside: bool,
    mode_fixed: bool,
    passes: u8,
}

/// What the walk may do with an entry and, for a directory, with its contents.
#[derive(Debug, Clone, Copy)]
struct Scope {
    /// Keep-trie node when this directory leads to kept paths.
    keep: Option<u32>,
    /// Created-trie node when only some of this directory's contents are the function's
    /// (the noted ones: also for a directory the function made, `own`, which is then removed
    /// only if that empties it); `None` when all of them are (inside the new name of a
    /// rename; except entries that existed before the shield started).
    target: Option<u32>,
    /// The entry itself may be removed.
    own: bool,
}

/// Which entries a wipe may remove: see [`TmpWiper::wipe_created`].
#[derive(Debug)]
pub(super) struct Created<'a> {
    /// The paths the function created, as a trie (`whole`: created; `sweep`: something under
    /// it was created whose path is not known).
    pub(super) trie: &'a KeepTrie,
    /// What existed before the shield started.
    pub(super) before: &'a Snapshot,
    /// After a journal overflow: the hashes of every created path (see
    /// [`super::journal::path_hash`] and [`super::journal::moved_hash`]); every directory is
    /// then entered and every entry whose relative path has one of them is the function's.
    pub(super) hashes: Option<&'a std::collections::HashSet<u64>>,
}

/// Created-trie node of a directory entered only to look for hashed paths.
const NO_NODE: u32 = u32::MAX;

/// What to do with one entry of a directory in [`Scope::target`] mode.
enum Disposition {
    /// Not the function's: leave it (a directory is not entered).
    Leave,
    /// The new name of a rename: remove it and, for a directory, everything in it that is
    /// not older.
    Remove,
    /// Made by the function: remove it; for a directory (with the created-trie node of its
    /// contents, [`NO_NODE`] when none), only the entries inside that are the function's by
    /// the same rules, and then the directory if that empties it. Another process's file
    /// inside keeps it.
    RemoveNoted(u32),
    /// A directory that leads to the function's entries (with the created-trie node of its
    /// contents, `None` when all newer entries in it are the function's): enter it, but never
    /// remove or modify it. A non-directory is left.
    Enter(Option<u32>),
}

impl Frame {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.open.as_ref().map(|o| o.fd.as_fd())
    }
}

pub(super) struct Walk<'w> {
    wiper: &'w TmpWiper,
    /// `Some` for [`TmpWiper::wipe_created`], `None` for [`TmpWiper::wipe`].
    created: Option<Created<'w>>,
    stack: Vec<Frame>,
    /// Frames `1..lo` are closed, `lo..len` are open; the root (0) is always open.
    lo: usize,
    root_dev: u64,
    euid: u32,
    /// `(dev, ino)` of mount points under the root, for the fallback without `openat2`.
    mounts: Option<Vec<(u64, u64)>>,
    files: u64,
    dirs: u64,
    bytes: u64,
    kept: u64,
    failures: Vec<WipeFailure>,
    failure_count: u64,
}

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn is_reg(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

fn reg_bytes(st: &FileStat) -> u64 {
    if is_reg(st) && st.st_nlink <= 1 {
        u64::try_from(st.st_size).unwrap_or(0)
    } else {
        0
    }
}

impl<'w> Walk<'w> {
    /// The report of this walk.
    pub(super) fn into_report(
        mut self,
        root: PathBuf,
        started_at: SystemTime,
        duration: Duration,
    ) -> WipeReport {
        WipeReport {
            root,
            files_removed: self.files,
            dirs_removed: self.dirs,
            bytes_removed: self.bytes,
            kept: self.kept,
            failures: std::mem::take(&mut self.failures),
            failure_count: self.failure_count,
            started_at,
            duration,
        }
    }

    /// Stops after a panic inside the walk, reporting it as an internal error.
    pub(super) fn abort_internal(&mut self) {
        self.stack.clear();
        self.fail_at(0, None, WipeFailureReason::Internal);
    }

    pub(super) fn new(wiper: &'w TmpWiper, created: Option<Created<'w>>) -> Self {
        Self {
            wiper,
            created,
            stack: Vec::new(),
            lo: 1,
            root_dev: 0,
            euid: unistd::geteuid().as_raw(),
            mounts: None,
            files: 0,
            dirs: 0,
            bytes: 0,
            kept: 0,
            failures: Vec::new(),
            failure_count: 0,
        }
    }

    /// Records a failure for `name` inside frame `at` (or for frame `at` itself).
    fn fail_at(&mut self, at: usize, name: Option<&CStr>, reason: WipeFailureReason) {
        self.failure_count += 1;
        if self.failures.len() >= MAX_LISTED_FAILURES {
            return;
        }
        let mut path = PathBuf::new();
        for frame in self.stack.iter().take(at + 1).skip(1) {
            path.push(OsStr::from_bytes(frame.name.to_bytes()));
        }
        if let Some(name) = name {
            path.push(OsStr::from_bytes(name.to_bytes()));
        }
        self.failures.push(WipeFailure { path, reason });
    }

    /// Records a failure for entry `name` (inode `ino`) of the top directory, which keeps it.
    fn fail_entry(&mut self, name: &CStr, ino: u64, reason: WipeFailureReason) {
        let Some(t) = self.stack.len().checked_sub(1) else {
            return;
        };
        self.fail_at(t, Some(name), reason);
        if let Some(top) = self.stack.last_mut() {
            top.left.push(ino);
            top.failed_inside = true;
        }
    }

    pub(super) fn run(&mut self) {
        let fd = match fcntl::open(self.wiper.root_c.as_c_str(), DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) => return self.fail_at(0, None, WipeFailureReason::from_errno(e)),
        };
        let st = match stat::fstat(&fd) {
            Ok(st) => st,
            Err(e) => return self.fail_at(0, None, WipeFailureReason::from_errno(e)),
        };
        self.root_dev = st.st_dev;
        let open = match OpenDir::new(fd) {
            Ok(open) => open,
            Err(e) => return self.fail_at(0, None, WipeFailureReason::from_errno(e)),
        };
        if !self.wiper.openat2_usable.load(Ordering::Relaxed) {
            self.load_mounts();
        }
        self.stack.push(Frame {
            open: Some(open),
            name: CString::default(),
            dev: st.st_dev,
            ino: st.st_ino,
            uid: st.st_uid,
            mode: st.st_mode,
            scope: Scope {
                keep: (!self.wiper.keep.is_empty()).then_some(0),
                target: self.created.as_ref().map(|_| 0),
                own: false,
            },
            retained: false,
            left: Vec::new(),
            rescan: false,
            failed_inside: false,
            // The root is never modified.
            mode_fixed: true,
            passes: 0,
        });

        while let Some(top) = self.stack.last_mut() {
            let next = match top.open.as_mut() {
                Some(open) => open.entries.next(),
                None => {
                    // Unreachable by the window invariant; stop rather than loop.
                    let at = self.stack.len() - 1;
                    self.fail_at(at, None, WipeFailureReason::Internal);
                    self.stack.clear();
                    return;
                }
            };
            match next {
                Some(Ok(entry)) => self.on_entry(entry.file_name(), entry.ino(), entry.file_type()),
                Some(Err(e)) => {
                    let at = self.stack.len() - 1;
                    self.fail_at(at, None, WipeFailureReason::from_errno(e));
                    if let Some(top) = self.stack.last_mut() {
                        top.failed_inside = true;
                    }
                    self.finish_top();
                }
                None => self.finish_top(),
            }
        }
    }

    fn on_entry(&mut self, name: &CStr, ino: u64, kind: Option<Type>) {
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            return;
        }
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if top.rescan && top.left.contains(&ino) {
            return;
        }
        let mut keep = None;
        if let Some(node) = top.scope.keep {
            match self.wiper.keep.child(node, bytes) {
                Some((_, true)) => {
                    top.left.push(ino);
                    self.kept += 1;
                    return;
                }
                Some((child, false)) => keep = Some(child),
                None => {}
            }
        }
        let target = top.scope.target;
        let (target, own) = match self.verdict(target, bytes, ino) {
            Disposition::Leave => return self.retain(ino),
            Disposition::Remove => (None, true),
            Disposition::RemoveNoted(node) => (Some(node), true),
            Disposition::Enter(node) => (node, false),
        };
        let scope = Scope { keep, target, own };
        match kind {
            Some(Type::Directory) => self.descend(name, ino, scope, true),
            Some(Type::File) | None => self.stat_and_remove(name, ino, scope),
            Some(_) => self.unlink(name, ino, 0, scope, true),
        }
    }

    /// Whether entry `name` (inode `ino`, on the root's file system) of a directory whose
    /// created-trie node is `target` is the function's.
    fn verdict(&self, target: Option<u32>, name: &[u8], ino: u64) -> Disposition {
        let Some(created) = &self.created else {
            return Disposition::Remove; // `wipe`: everything goes.
        };
        let before = created.before.contains(self.root_dev, ino);
        let Some(node) = target else {
            // Inside something the function created: every newer entry is the
            // function's; older ones (moved in, hard-linked, pre-existing directories) are
            // entered, since newer entries may be inside, but never removed.
            return if before {
                Disposition::Enter(None)
            } else {
                Disposition::Remove
            };
        };
        let child = created.trie.child(node, name);
        if !before {
            if let Some(hashes) = created.hashes {
                let (made, moved) = self.entry_hashes(name);
                if hashes.contains(&moved) {
                    return Disposition::Remove;
                }
                if hashes.contains(&made) {
                    return match child {
                        Some((c, _)) if created.trie.is_deep(c) => Disposition::Remove,
                        Some((c, _)) => Disposition::RemoveNoted(c),
                        None => Disposition::RemoveNoted(NO_NODE),
                    };
                }
            }
        }
        match child {
            Some((c, true)) if !before && created.trie.is_deep(c) => Disposition::Remove,
            Some((c, true)) if !before => Disposition::RemoveNoted(c),
            Some((c, _)) => Disposition::Enter(Some(c)),
            // Hashed paths may be anywhere: look inside every directory.
            None if created.hashes.is_some() => Disposition::Enter(Some(NO_NODE)),
            None => Disposition::Leave,
        }
    }

    /// The journal's hashes of entry `name` of the top directory, by its path from the root:
    /// as made ([`super::journal::path_hash`]) and as moved ([`super::journal::moved_hash`]).
    fn entry_hashes(&self, name: &[u8]) -> (u64, u64) {
        use super::journal::{fnv_extend, fnv_finish, FNV_START};
        let mut h = FNV_START;
        for frame in self.stack.iter().skip(1) {
            h = fnv_extend(h, frame.name.to_bytes());
            h = fnv_extend(h, b"/");
        }
        let h = fnv_extend(h, name);
        (fnv_finish(h), fnv_finish(fnv_extend(h, b"\0")))
    }

    /// Leaves non-directory entry `ino` of the top directory in place (not the function's).
    fn retain(&mut self, ino: u64) {
        if let Some(top) = self.stack.last_mut() {
            top.left.push(ino);
            top.retained = true;
        }
    }

    fn top_fd(&self) -> Option<BorrowedFd<'_>> {
        self.stack.last().and_then(Frame::fd)
    }

    fn stat_and_remove(&mut self, name: &CStr, ino: u64, keep: Scope) {
        loop {
            let Some(fd) = self.top_fd() else { return };
            return match stat::fstatat(fd, name, fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if is_dir(&st) => self.descend(name, ino, keep, false),
                Ok(st) => self.unlink(name, ino, reg_bytes(&st), keep, false),
                Err(Errno::ENOENT) => {}
                // No search permission on the directory: fix it (once) and retry.
                Err(Errno::EACCES) if self.fix_top_mode() => continue,
                Err(e) => self.fail_entry(name, ino, WipeFailureReason::from_errno(e)),
            };
        }
    }

    /// Unlinks a non-directory entry of the top directory.
    fn unlink(&mut self, name: &CStr, ino: u64, bytes: u64, keep: Scope, may_descend: bool) {
        if !keep.own {
            // Leads to the function's entries only if it is a directory.
            if may_descend {
                if let Some(fd) = self.top_fd() {
                    if stat::fstatat(fd, name, fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                        .is_ok_and(|st| is_dir(&st))
                    {
                        return self.descend(name, ino, keep, false);
                    }
                }
            }
            return self.retain(ino);
        }
        let mut fixed = false;
        loop {
            let Some(fd) = self.top_fd() else { return };
            match unistd::unlinkat(fd, name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) => {
                    self.files += 1;
                    self.bytes += bytes;
                    return;
                }
                Err(Errno::ENOENT) => return,
                // Replaced by a directory since `readdir`.
                Err(Errno::EISDIR) if may_descend => return self.descend(name, ino, keep, false),
                Err(Errno::EACCES | Errno::EPERM) if !fixed => {
                    fixed = true;
                    if !self.fix_top_mode() {
                        return self.fail_entry(name, ino, WipeFailureReason::PermissionDenied);
                    }
                }
                Err(e) => return self.fail_entry(name, ino, WipeFailureReason::from_errno(e)),
            }
        }
    }

    /// [`Self::fix_mode`] on the top directory.
    fn fix_top_mode(&mut self) -> bool {
        self.fix_mode(self.stack.len().saturating_sub(1))
    }

    /// Gives frame `t` (never the root) mode `u+rwx` if we own it or are root; false when
    /// that is not allowed, was already done, or failed.
    fn fix_mode(&mut self, t: usize) -> bool {
        let euid = self.euid;
        let Some(frame) = self.stack.get_mut(t) else {
            return false;
        };
        // Only directories that are the wipe's to remove are ever modified.
        if t == 0 || frame.mode_fixed || !frame.scope.own || (frame.uid != euid && euid != 0) {
            return false;
        }
        frame.mode_fixed = true;
        let Some(fd) = frame.fd() else { return false };
        let mode = Mode::from_bits_truncate((frame.mode & 0o7777) | 0o700);
        stat::fchmod(fd, mode).is_ok()
    }

    /// Opens directory `name` under `parent` without following symlinks or crossing mounts,
    /// and loads the fallback mount table if `openat2` just turned out to be unavailable.
    fn open_dir(&mut self, parent: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
        let (result, switched) = open_dir(self.wiper, parent, name);
        if switched {
            self.load_mounts();
        }
        result
    }

    /// Fallback mount detection: `(dev, ino)` of every mount point under the root.
    fn load_mounts(&mut self) {
        if self.mounts.is_some() {
            return;
        }
        let mut found = Vec::new();
        // The calling thread's view: mount namespaces can differ between threads.
        let table = std::fs::read("/proc/thread-self/mountinfo")
            .or_else(|_| std::fs::read("/proc/self/mountinfo"));
        if let Ok(table) = table {
            for point in mount_points(&table) {
                if point != self.wiper.root && point.starts_with(&self.wiper.root) {
                    if let Ok(st) = stat::lstat(&point) {
                        found.push((st.st_dev, st.st_ino));
                    }
                }
            }
        }
        self.mounts = Some(found);
    }

    /// Enters directory `name` of the top directory.
    fn descend(&mut self, name: &CStr, ino: u64, keep: Scope, may_unlink: bool) {
        let wiper = self.wiper;
        let mut fixed = false;
        let fd = loop {
            let Some(parent) = self.top_fd() else { return };
            let (result, switched) = open_dir(wiper, parent, name);
            let error = match result {
                Ok(fd) => {
                    if switched {
                        self.load_mounts();
                    }
                    break fd;
                }
                Err(Errno::EACCES) if !fixed => {
                    // Our own directory may lack search permission; otherwise the child
                    // lacks read or search permission.
                    if self.fix_top_mode() {
                        continue;
                    }
                    fixed = true;
                    let Some(parent) = self.top_fd() else { return };
                    if keep.own && self.fix_child_mode(parent, name) {
                        continue;
                    }
                    Errno::EACCES
                }
                Err(e) => e,
            };
            return match error {
                Errno::ENOENT => {}
                // Not a directory (any more): a symlink or a file. Remove it as such.
                Errno::ELOOP | Errno::ENOTDIR if may_unlink => {
                    self.stat_nondir_and_unlink(name, ino, keep)
                }
                // Entered only to look for hashed paths (after a journal overflow), and not
                // ours: another user's directory, a mount. Left alone, not a failure.
                _ if keep.target == Some(NO_NODE) && !keep.own => self.retain(ino),
                e => self.fail_entry(name, ino, WipeFailureReason::from_errno(e)),
            };
        };
        self.push(fd, name, ino, keep, 0, Vec::new());
    }

    fn stat_nondir_and_unlink(&mut self, name: &CStr, ino: u64, keep: Scope) {
        loop {
            let Some(fd) = self.top_fd() else { return };
            return match stat::fstatat(fd, name, fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => self.unlink(name, ino, reg_bytes(&st), keep, false),
                Err(Errno::ENOENT) => {}
                Err(Errno::EACCES) if self.fix_top_mode() => continue,
                Err(e) => self.fail_entry(name, ino, WipeFailureReason::from_errno(e)),
            };
        }
    }

    /// `chmod u+rwx` on a directory we cannot open, if we own it or are root.
    fn fix_child_mode(&self, parent: BorrowedFd<'_>, name: &CStr) -> bool {
        let Ok(st) = stat::fstatat(parent, name, fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) else {
            return false;
        };
        if !is_dir(&st) || (st.st_uid != self.euid && self.euid != 0) {
            return false;
        }
        let mode = Mode::from_bits_truncate((st.st_mode & 0o7777) | 0o700);
        // AT_SYMLINK_NOFOLLOW: glibc opens the entry with O_PATH | O_NOFOLLOW, refuses a
        // symlink, and changes the mode through that descriptor (or uses fchmodat2).
        stat::fchmodat(parent, name, mode, FchmodatFlags::NoFollowSymlink).is_ok()
    }

    /// Pushes directory `fd` (entry `name` of the top directory) after checking it.
    fn push(
        &mut self,
        fd: OwnedFd,
        name: &CStr,
        ino: u64,
        keep: Scope,
        passes: u8,
        left: Vec<u64>,
    ) {
        let st = match stat::fstat(&fd) {
            Ok(st) => st,
            Err(e) => return self.fail_entry(name, ino, WipeFailureReason::from_errno(e)),
        };
        if !self.wiper.openat2_usable.load(Ordering::Relaxed) {
            let foreign = st.st_dev != self.root_dev
                || self
                    .mounts
                    .as_ref()
                    .is_some_and(|m| m.contains(&(st.st_dev, st.st_ino)));
            if foreign && keep.target == Some(NO_NODE) && !keep.own {
                return self.retain(ino);
            }
            if foreign {
                return self.fail_entry(name, ino, WipeFailureReason::CrossesMount);
            }
        }
        let open = match OpenDir::new(fd) {
            Ok(open) => open,
            Err(e) => return self.fail_entry(name, ino, WipeFailureReason::from_errno(e)),
        };
        // Keep at most MAX_OPEN_DIRS directories below the root open: close the shallowest.
        let index = self.stack.len();
        if index >= self.lo + MAX_OPEN_DIRS {
            if let Some(frame) = self.stack.get_mut(self.lo) {
                frame.open = None;
            }
            self.lo += 1;
        }
        self.stack.push(Frame {
            open: Some(open),
            name: name.to_owned(),
            dev: st.st_dev,
            ino: st.st_ino,
            uid: st.st_uid,
            mode: st.st_mode,
            scope: keep,
            retained: false,
            rescan: !left.is_empty(),
            left,
            failed_inside: false,
            mode_fixed: false,
            passes,
        });
    }

    /// The top directory has been read to the end: remove it from its parent.
    fn finish_top(&mut self) {
        let Some(child) = self.stack.pop() else {
            return;
        };
        let Some(p) = self.stack.len().checked_sub(1) else {
            return; // the root: never removed
        };
        if self.stack[p].open.is_none() && !self.reopen_parent(&child) {
            return;
        }
        if p < self.lo {
            self.lo = p.max(1);
        }
        let Frame {
            open,
            name,
            ino,
            scope,
            retained,
            left,
            failed_inside,
            passes,
            ..
        } = child;
        drop(open);
        if scope.keep.is_some() || failed_inside || retained || !scope.own {
            if let Some(parent) = self.stack.last_mut() {
                parent.left.push(ino);
                parent.failed_inside |= failed_inside;
                parent.retained |= !failed_inside;
            }
            return;
        }
        let mut fixed = false;
        loop {
            let Some(fd) = self.top_fd() else { return };
            match unistd::unlinkat(fd, name.as_c_str(), UnlinkatFlags::RemoveDir) {
                Ok(()) => {
                    self.dirs += 1;
                    return;
                }
                Err(Errno::ENOENT) => return,
                // A directory the function made still holds entries that are not its own
                // (another process wrote them after the scan): it stays, and that is no
                // failure.
                Err(Errno::ENOTEMPTY | Errno::EEXIST)
                    if scope.target.is_some() && passes + 1 >= MAX_PASSES =>
                {
                    if let Some(parent) = self.stack.last_mut() {
                        parent.left.push(ino);
                        parent.retained = true;
                    }
                    return;
                }
                Err(Errno::ENOTEMPTY | Errno::EEXIST) if passes + 1 < MAX_PASSES => {
                    // Refilled meanwhile (or `readdir` missed an entry): scan it again.
                    return match self.open_dir_checked(&name, ino) {
                        Ok(Some(fd)) => self.push(fd, &name, ino, scope, passes + 1, left),
                        Ok(None) => {}
                        Err(e) => self.fail_entry(&name, ino, WipeFailureReason::from_errno(e)),
                    };
                }
                Err(Errno::EACCES | Errno::EPERM) if !fixed => {
                    fixed = true;
                    if !self.fix_mode(p) {
                        return self.fail_entry(&name, ino, WipeFailureReason::PermissionDenied);
                    }
                }
                Err(e) => return self.fail_entry(&name, ino, WipeFailureReason::from_errno(e)),
            }
        }
    }

    /// Opens `name` under the top directory and checks it is still inode `ino`. `Ok(None)`
    /// when it vanished or was replaced by something else (created after the wipe started).
    fn open_dir_checked(&mut self, name: &CStr, ino: u64) -> Result<Option<OwnedFd>, Errno> {
        let Some(parent) = self.top_fd() else {
            return Ok(None);
        };
        let (result, switched) = open_dir(self.wiper, parent, name);
        if switched {
            self.load_mounts();
        }
        let fd = match result {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => return Ok(None),
            Err(e) => return Err(e),
        };
        let st = stat::fstat(&fd)?;
        Ok((st.st_ino == ino).then_some(fd))
    }

    /// Reopens the (closed) parent of `child`, which is now the top of the stack.
    fn reopen_parent(&mut self, child: &Frame) -> bool {
        let Some(p) = self.stack.len().checked_sub(1) else {
            return false;
        };
        let (want_dev, want_ino) = (self.stack[p].dev, self.stack[p].ino);
        // 1. Climb with "..", as fts(3) does, and verify the identity.
        let climbed = child.fd().and_then(|cfd| {
            let fd = fcntl::openat(cfd, c"..", DIR_FLAGS, Mode::empty()).ok()?;
            let st = stat::fstat(&fd).ok()?;
            (st.st_dev == want_dev && st.st_ino == want_ino).then_some(fd)
        });
        let fd = match climbed {
            Some(fd) => fd,
            // 2. The child moved: walk down by name from the nearest open ancestor.
            None => match self.walk_down(p) {
                Some(fd) => fd,
                None => return false,
            },
        };
        match OpenDir::new(fd) {
            Ok(open) => {
                let frame = &mut self.stack[p];
                frame.open = Some(open);
                frame.rescan = true;
                true
            }
            Err(e) => {
                self.abandon_from(p, WipeFailureReason::from_errno(e));
                false
            }
        }
    }

    /// Opens frame `p` by walking down by name from the nearest open ancestor, verifying
    /// `(dev, ino)` at each step and keeping one transient descriptor.
    fn walk_down(&mut self, p: usize) -> Option<OwnedFd> {
        let a = (0..p).rev().find(|&i| self.stack[i].open.is_some())?;
        let mut cur: OwnedFd = match self.stack[a].fd().map(|fd| fd.try_clone_to_owned()) {
            Some(Ok(fd)) => fd,
            _ => {
                self.abandon_from(a + 1, WipeFailureReason::Io(Errno::EMFILE as i32));
                return None;
            }
        };
        for i in a + 1..=p {
            let name = self.stack[i].name.clone();
            let (dev, ino) = (self.stack[i].dev, self.stack[i].ino);
            let next = self
                .open_dir(cur.as_fd(), &name)
                .ok()
                .filter(|fd| stat::fstat(fd).is_ok_and(|st| st.st_dev == dev && st.st_ino == ino));
            match next {
                Some(fd) => cur = fd,
                None => {
                    // Frame i moved: leave it and everything under it, continue with i - 1.
                    if i - 1 > a {
                        match OpenDir::new(cur) {
                            Ok(open) => {
                                let frame = &mut self.stack[i - 1];
                                frame.open = Some(open);
                                frame.rescan = true;
                            }
                            Err(e) => {
                                self.abandon_from(i - 1, WipeFailureReason::from_errno(e));
                                return None;
                            }
                        }
                    }
                    self.abandon_from(i, WipeFailureReason::Moved);
                    return None;
                }
            }
        }
        Some(cur)
    }

    /// Gives up on frame `i` (or, if its parent is closed too, on the shallowest closed frame
    /// above the nearest open ancestor) and everything above it, and reports it.
    fn abandon_from(&mut self, i: usize, reason: WipeFailureReason) {
        let i = i.clamp(1, self.stack.len());
        let Some(a) = (0..i).rev().find(|&k| self.stack[k].open.is_some()) else {
            self.stack.clear();
            return;
        };
        if a + 1 >= self.stack.len() {
            return;
        }
        self.fail_at(a + 1, None, reason);
        let ino = self.stack[a + 1].ino;
        self.stack.truncate(a + 1);
        if let Some(parent) = self.stack.last_mut() {
            parent.left.push(ino);
            parent.failed_inside = true;
        }
        if a < self.lo {
            self.lo = a.max(1);
        }
    }
}

/// Opens directory `name` under `parent` without following symlinks or crossing mounts.
/// The flag is true when `openat2` just turned out to be unavailable (the caller then loads
/// the fallback mount table).
fn open_dir(
    wiper: &TmpWiper,
    parent: BorrowedFd<'_>,
    name: &CStr,
) -> (Result<OwnedFd, Errno>, bool) {
    if wiper.openat2_usable.load(Ordering::Relaxed) {
        let how = fcntl::OpenHow::new().flags(DIR_FLAGS).resolve(
            fcntl::ResolveFlag::RESOLVE_NO_XDEV
                | fcntl::ResolveFlag::RESOLVE_NO_SYMLINKS
                | fcntl::ResolveFlag::RESOLVE_BENEATH,
        );
        match fcntl::openat2(parent, name, how) {
            Err(Errno::ENOSYS | Errno::EPERM | Errno::E2BIG) => {
                // Not available here (old kernel, or refused by a seccomp filter). Use the
                // fallback if plain openat works, for this and later wipes.
                let result = fcntl::openat(parent, name, DIR_FLAGS, Mode::empty());
                let switched = result.is_ok();
                if switched {
                    wiper.openat2_usable.store(false, Ordering::Relaxed);
                }
                return (result, switched);
            }
            other => return (other, false),
        }
    }
    (fcntl::openat(parent, name, DIR_FLAGS, Mode::empty()), false)
}

/// The mount points a `/proc/self/mountinfo` table lists (its fifth field), in its order.
pub(crate) fn mount_points(table: &[u8]) -> Vec<PathBuf> {
    table
        .split(|&b| b == b'\n')
        .filter_map(|line| line.split(|&b| b == b' ').nth(4))
        .map(|field| PathBuf::from(OsStr::from_bytes(&unescape_mountinfo(field))))
        .collect()
}

/// Decodes the octal escapes (`\040` for a space, ...) of a `/proc/self/mountinfo` field.
fn unescape_mountinfo(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 3 < field.len() {
            let digits = &field[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(br"/tmp/a\040b"), b"/tmp/a b");
        assert_eq!(unescape_mountinfo(br"/tmp/tab\011x\134"), b"/tmp/tab\tx\\");
        // Malformed or truncated escapes are kept as they are.
        assert_eq!(unescape_mountinfo(br"/tmp/x\04"), br"/tmp/x\04");
        assert_eq!(unescape_mountinfo(br"/tmp/x\999"), br"/tmp/x\999");
    }
}
