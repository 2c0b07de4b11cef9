//! The journal of what the function and its children created under the tmp root.
//!
//! The interceptors note every path they let through that a call *creates* (an open with
//! `O_CREAT`, `mkdir`, `mknod`, `symlink`, `link`, the new name of a `rename`, an `AF_UNIX`
//! `bind`), after resolving it against the caller's directory, and, for opens, the path the
//! kernel actually opened. Calls that only write to, truncate, re-mode or remove an existing
//! entry are not noted: a file another process created (an extension) stays its own even when
//! the function writes to it, and a name the function unlinked and another process then reused
//! is not the function's. [`Journal::note`] runs inside the SIGSYS handler and the notify
//! supervisor: it allocates nothing and takes no lock. It keeps the path relative to the tmp
//! root in a fixed ring (the event ring's lock-free queue) and the 64-bit hash of every path in
//! a fixed hash set, which also skips paths already noted since the last wipe.
//!
//! [`Journal::take`] (outside signal context, at the wipe) returns what was noted:
//! - the paths, as a set the wipe may remove (see [`super::TmpWiper::wipe_created`]), in two
//!   kinds: made by the function (a directory so named keeps entries inside that are not
//!   noted) and new names of a `rename` (a directory so named goes with what is in it);
//! - when a path was longer than a record holds, or the ring overflowed: the count of paths
//!   known only by their hash. The wipe then looks at every entry under the root and removes
//!   those whose relative path has a noted hash. A flood of creations does not let a planted
//!   file survive, and does not make anything else (another process's file created meanwhile)
//!   count as the function's;
//! - when even the hash set was full ([`SET`] slots, more than 28,000 distinct paths between
//!   two wipes): the count of creations that were not recorded at all. Those are left in
//!   place and the shield reports them; nothing is removed on a guess.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::event::{Record, RecordKind, Ring};
use crate::policy::PolicyKind;

/// Distinct created paths the journal holds by name between two wipes.
pub const CAPACITY: usize = 1024;

/// Slots of the hash set of every noted path (a power of two, well above [`CAPACITY`]).
pub const SET: usize = 1 << 15;
/// Probes before the set gives up de-duplicating a path (it is then noted again).
const PROBES: usize = 16;

/// What the shield's journal of allowed tmp writes recorded since it was last taken: the input
/// of [`TmpWiper::wipe_created`](super::TmpWiper::wipe_created).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Noted {
    /// Created paths, relative to the root: made by the function (an open with `O_CREAT`,
    /// `mkdir`, `mknod`, `symlink`, `link`, `bind`). A directory so named is entered and only
    /// the entries in it that are noted too are removed, then the directory if that empties it.
    pub paths: Vec<PathBuf>,
    /// New names of a `rename` (and both names of a `RENAME_EXCHANGE`), relative to the root:
    /// the function moved the entry there, so a directory so named goes with everything in it
    /// (except entries that existed before the shield started): its contents were noted under
    /// their old names.
    pub moved: Vec<PathBuf>,
    /// Paths known only by their hash (too long for a record, or past the ring's capacity):
    /// when not zero, the wipe looks at every entry and removes those whose relative path
    /// has one of the [`Noted::hashes`].
    pub lost: u64,
    /// Hashes of every noted path (64-bit FNV-1a of the path relative to the root, never 0;
    /// for the [`Noted::moved`] kind, of the path followed by a NUL byte); used when `lost` is
    /// not zero.
    pub hashes: std::collections::HashSet<u64>,
    /// Creations that could not be recorded at all (the hash set was full): left in place,
    /// and reported.
    pub unrecorded: u64,
}

impl Noted {
    /// What the journal gives after an overflow: `paths` known only by their hashes.
    pub fn hashed_only<P: AsRef<Path>>(paths: &[P]) -> Self {
        use std::os::unix::ffi::OsStrExt;
        Self {
            lost: paths.len() as u64,
            hashes: paths
                .iter()
                .map(|p| path_hash(p.as_ref().as_os_str().as_bytes()))
                .collect(),
            ..Self::default()
        }
    }

    /// [`Noted::hashed_only`] for paths that were the new names of a `rename`.
    pub fn moved_hashed_only<P: AsRef<Path>>(paths: &[P]) -> Self {
        use std::os::unix::ffi::OsStrExt;
        Self {
            lost: paths.len() as u64,
            hashes: paths
                .iter()
                .map(|p| moved_hash(p.as_ref().as_os_str().as_bytes()))
                .collect(),
            ..Self::default()
        }
    }
}

/// The hash the journal keeps of a path relative to the root (`a/b/c`): FNV-1a, never 0.
pub fn path_hash(rel: &[u8]) -> u64 {
    fnv_finish(fnv_extend(FNV_START, rel))
}

/// The hash the journal keeps of a path relative to the root that is the new name of a
/// `rename`: [`path_hash`] of the path followed by a NUL (which no path holds), so the two
/// kinds never share a hash.
pub fn moved_hash(rel: &[u8]) -> u64 {
    fnv_finish(fnv_extend(fnv_extend(FNV_START, rel), b"\0"))
}

/// [`Record::access`] of a record that names the new name of a `rename`.
const MOVED: u8 = 1;

pub(super) const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Feeds `bytes` into an FNV-1a state.
pub(super) fn fnv_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The final hash of an FNV-1a state (0 marks a free slot of the set).
pub(super) fn fnv_finish(h: u64) -> u64 {
    h | 1
}

/// The journal. The process has one, [`JOURNAL`], armed when the shield is installed.
pub struct Journal {
    root: OnceLock<Box<[u8]>>,
    armed: AtomicBool,
    ring: Ring<CAPACITY>,
    seen: [AtomicU64; SET],
    lost_taken: AtomicU64,
    /// Hashes inserted into the set since the last take (the set is cleared only when not 0).
    inserted: AtomicU64,
    /// Paths whose hash found no free slot (since the last take).
    unstored: AtomicU64,
}

impl Default for Journal {
    fn default() -> Self {
        Self::new()
    }
}

/// The process-wide journal the interceptors write into.
pub static JOURNAL: Journal = Journal::new();

impl Journal {
    /// An empty, unarmed journal.
    pub const fn new() -> Self {
        Self {
            root: OnceLock::new(),
            armed: AtomicBool::new(false),
            ring: Ring::new(),
            seen: [const { AtomicU64::new(0) }; SET],
            lost_taken: AtomicU64::new(0),
            inserted: AtomicU64::new(0),
            unstored: AtomicU64::new(0),
        }
    }

    /// Starts noting paths under `root` (absolute, normalised). Only the first call counts.
    pub fn arm(&self, root: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let _ = self.root.set(root.as_os_str().as_bytes().into());
        self.armed.store(true, Ordering::Release);
    }

    /// Whether `path` (absolute, not necessarily normalised) may lie under the root: a cheap,
    /// conservative test that spares a look-up before calls that cannot concern the journal.
    /// Async-signal-safe.
    pub fn may_cover(&self, path: &[u8]) -> bool {
        if !self.armed.load(Ordering::Acquire) {
            return false;
        }
        let Some(root) = self.root.get() else {
            return false;
        };
        path.starts_with(root)
            || path.starts_with(b"/proc/")
            || path.windows(2).any(|w| w == b"//" || w == b"/.")
    }

    /// Notes that the function (or a child) created `path` (absolute; normalised here):
    /// made it when `moved` is false, moved an entry there (the new name of a `rename`) when
    /// true. Paths outside the root are ignored.
    ///
    /// Async-signal-safe: no allocation, no lock, bounded work.
    pub fn note(&self, path: &[u8], moved: bool) {
        if !self.armed.load(Ordering::Acquire) {
            return;
        }
        let Some(root) = self.root.get() else { return };
        let mut buf = [0u8; crate::policy::path::PATH_MAX];
        let Some(n) = crate::policy::path::normalize_proc(path, &mut buf) else {
            return;
        };
        let p = &buf[..n];
        let Some(rel) = p
            .strip_prefix(&root[..])
            .and_then(|r| r.strip_prefix(b"/"))
            .filter(|r| !r.is_empty())
        else {
            return;
        };
        let h = if moved {
            moved_hash(rel)
        } else {
            path_hash(rel)
        };
        if !self.first_time(h) {
            return;
        }
        let mut rec = Record::new(PolicyKind::ReadWriteTmp, false, RecordKind::Path, -1);
        rec.access = if moved { MOVED } else { 0 };
        rec.set_text(rel);
        self.ring.push(&rec);
    }

    /// Inserts hash `h` into the set; false when it was there already. A hash that finds
    /// no free slot is counted as unstored (and the path is still noted by name).
    fn first_time(&self, h: u64) -> bool {
        for i in 0..PROBES {
            let slot = &self.seen[(h as usize).wrapping_add(i) & (SET - 1)];
            match slot.compare_exchange(0, h, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.inserted.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(cur) if cur == h => return false,
                Err(_) => {}
            }
        }
        self.unstored.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Everything noted since the last call, and a fresh start.
    pub fn take(&self) -> Noted {
        let mut out = Noted::default();
        let mut cut = 0u64;
        while let Some(r) = self.ring.pop() {
            if r.truncated {
                // Too long for a record: known by its hash only.
                cut += 1;
            } else if r.access == MOVED {
                out.moved.push(rel_path(&r.text[..r.text_len as usize]));
            } else {
                out.paths.push(rel_path(&r.text[..r.text_len as usize]));
            }
        }
        let overflowed = self.ring.overflowed();
        let before = self.lost_taken.swap(overflowed, Ordering::AcqRel);
        let overflow = overflowed.saturating_sub(before);
        out.lost = overflow + cut;
        let unstored = self.unstored.swap(0, Ordering::AcqRel);
        if out.lost > 0 {
            out.hashes = self
                .seen
                .iter()
                .map(|s| s.load(Ordering::Acquire))
                .filter(|&h| h != 0)
                .collect();
            // A path whose hash was not stored is lost only if its record was lost too; at
            // most this many.
            out.unrecorded = unstored.min(out.lost);
        }
        if self.inserted.swap(0, Ordering::AcqRel) > 0 {
            for slot in &self.seen {
                slot.store(0, Ordering::Release);
            }
        }
        out
    }
}

fn rel_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_paths_under_the_root_once_normalised() {
        // Too big for a test thread's stack: one static journal per test.
        static J: Journal = Journal::new();
        let j = &J;
        j.note(b"/tmp/before-arming", false);
        j.arm(Path::new("/tmp"));
        j.note(b"/tmp/a", false);
        j.note(b"//tmp/./b/../c", false);
        j.note(b"/proc/self/root/tmp/d/e", false);
        j.note(b"/tmp/a", false);
        j.note(b"/tmpx/no", false);
        j.note(b"/etc/passwd", false);
        j.note(b"/tmp", false);
        let n = j.take();
        assert_eq!(
            n.paths,
            ["a", "c", "d/e"].map(PathBuf::from).to_vec(),
            "{n:?}"
        );
        assert!(n.lost == 0 && n.hashes.is_empty());
        for (p, may) in [
            (&b"/tmp/a"[..], true),
            (b"/etc/passwd", false),
            (b"/var/tmp-not/x", false),
            (b"/proc/self/root/tmp/x", true),
            (b"/var/../tmp/x", true),
            (b"//tmp/x", true),
        ] {
            assert_eq!(j.may_cover(p), may, "{}", String::from_utf8_lossy(p));
        }
        // After a take, the same path is noted again.
        j.note(b"/tmp/a", false);
        assert_eq!(j.take().paths, [PathBuf::from("a")]);
    }

    #[test]
    fn new_names_of_a_rename_are_noted_apart_from_made_paths() {
        static J: Journal = Journal::new();
        let j = &J;
        j.arm(Path::new("/tmp"));
        j.note(b"/tmp/made", false);
        j.note(b"/tmp/moved", true);
        // Made, then the new name of a rename: both kinds.
        j.note(b"/tmp/both", false);
        j.note(b"/tmp/both", true);
        j.note(b"/tmp/moved", true);
        let n = j.take();
        assert_eq!(
            n.paths,
            ["made", "both"].map(PathBuf::from).to_vec(),
            "{n:?}"
        );
        assert_eq!(
            n.moved,
            ["moved", "both"].map(PathBuf::from).to_vec(),
            "{n:?}"
        );
        assert_ne!(path_hash(b"a"), moved_hash(b"a"));
        // After an overflow each kind is known by its own hash.
        for i in 0..CAPACITY + 1 {
            j.note(format!("/tmp/f{i}").as_bytes(), false);
        }
        j.note(b"/tmp/moved-late", true);
        let n = j.take();
        assert_eq!(n.lost, 2);
        assert!(n.hashes.contains(&moved_hash(b"moved-late")));
        assert!(!n.hashes.contains(&path_hash(b"moved-late")));
    }

    #[test]
    fn long_and_overflowing_paths_are_known_by_their_hashes() {
        static J: Journal = Journal::new();
        let j = &J;
        j.arm(Path::new("/tmp"));
        let long = format!("/tmp/dir/{}", "x".repeat(400));
        j.note(long.as_bytes(), false);
        for i in 0..CAPACITY + 5 {
            j.note(format!("/tmp/f{i}").as_bytes(), false);
        }
        let n = j.take();
        assert_eq!(n.paths.len(), CAPACITY - 1);
        // One cut short, six past the ring's capacity.
        assert_eq!(n.lost, 7);
        assert_eq!(n.unrecorded, 0);
        // Every path is in the hash set, the long one and the overflowing ones included.
        assert_eq!(n.hashes.len(), CAPACITY + 6);
        assert!(n.hashes.contains(&path_hash(&long.as_bytes()[5..])));
        let last = format!("f{}", CAPACITY + 4);
        assert!(n.hashes.contains(&path_hash(last.as_bytes())));
        assert_eq!(j.take(), Noted::default());
    }
}
