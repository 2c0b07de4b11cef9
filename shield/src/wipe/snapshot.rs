//! What existed under the tmp root before the shield started: the inode numbers of every
//! entry on the root's file system, taken once at install.
//!
//! The wipe never removes an entry whose inode is in the snapshot, whatever its name now: a
//! pre-existing file that the function renamed, hard-linked, moved into a directory it created
//! or merely wrote to stays. The walk is read-only (`openat` with `O_NOFOLLOW | O_DIRECTORY`,
//! `getdents64`, `fstat`), never follows a symlink, never enters another file system, and is
//! bounded: at most [`MAX_ENTRIES`] entries and [`MAX_DEPTH`] levels. Past either bound the
//! snapshot is marked incomplete (see [`Snapshot::is_complete`]): entries it did not reach are
//! not protected by it, and the shield reports that at install.

use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::dir::{Dir, Type};
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, Mode};

/// Entries recorded at most (8 bytes each, plus the set's overhead).
pub const MAX_ENTRIES: usize = 1 << 20;
/// Directory levels below the root entered at most.
pub const MAX_DEPTH: usize = 64;

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// The inodes under a root at one moment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    dev: u64,
    inodes: HashSet<u64>,
    complete: bool,
}

impl Snapshot {
    /// An empty snapshot: nothing existed (for a root the shield created itself).
    pub fn empty() -> Self {
        Self {
            dev: 0,
            inodes: HashSet::new(),
            complete: true,
        }
    }

    /// Records every entry under `root` (not `root` itself). A root that does not exist or
    /// cannot be read gives an empty snapshot (nothing there to protect), marked incomplete
    /// when the root exists but could not be read.
    pub fn take(root: &Path) -> Self {
        let mut snap = Self {
            dev: 0,
            inodes: HashSet::new(),
            complete: true,
        };
        let fd = match fcntl::open(root, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => return snap,
            Err(_) => {
                snap.complete = false;
                return snap;
            }
        };
        let Ok(st) = stat::fstat(&fd) else {
            snap.complete = false;
            return snap;
        };
        snap.dev = st.st_dev;
        // Depth-first with an explicit stack of open directories.
        let mut stack: Vec<(OwnedFd, nix::dir::OwningIter)> = Vec::new();
        match Self::iter(fd) {
            Some(it) => stack.push(it),
            None => snap.complete = false,
        }
        while let Some((_, top)) = stack.last_mut() {
            let Some(entry) = top.next() else {
                stack.pop();
                continue;
            };
            let Ok(entry) = entry else {
                snap.complete = false;
                stack.pop();
                continue;
            };
            let name = entry.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            if snap.inodes.len() >= MAX_ENTRIES {
                snap.complete = false;
                break;
            }
            snap.inodes.insert(entry.ino());
            if !matches!(entry.file_type(), Some(Type::Directory) | None) {
                continue;
            }
            if stack.len() > MAX_DEPTH {
                snap.complete = false;
                continue;
            }
            let Some((parent, _)) = stack.last() else {
                break;
            };
            let Ok(child) = fcntl::openat(parent.as_fd(), name, DIR_FLAGS, Mode::empty()) else {
                continue; // not a directory after all, or gone
            };
            // Never enter another file system: its inode numbers mean something else.
            if stat::fstat(&child).map(|s| s.st_dev) != Ok(snap.dev) {
                continue;
            }
            match Self::iter(child) {
                Some(it) => stack.push(it),
                None => snap.complete = false,
            }
        }
        snap
    }

    /// The directory's descriptor and a stream over a duplicate of it.
    fn iter(fd: OwnedFd) -> Option<(OwnedFd, nix::dir::OwningIter)> {
        let stream = nix::unistd::dup(&fd).ok()?;
        let it = Dir::from_fd(stream).ok()?.into_iter();
        Some((fd, it))
    }

    /// Whether inode `ino` of file system `dev` existed when the snapshot was taken.
    pub fn contains(&self, dev: u64, ino: u64) -> bool {
        dev == self.dev && self.inodes.contains(&ino)
    }

    /// Entries recorded.
    pub fn len(&self) -> usize {
        self.inodes.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.inodes.is_empty()
    }

    /// Whether every entry under the root was reached.
    pub fn is_complete(&self) -> bool {
        self.complete
    }
}
