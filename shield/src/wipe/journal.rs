//! The journal of what the function and its children created under the tmp root.
//!
//! The interceptors note every path they let through with write access (open with `O_WRONLY`,
//! `O_RDWR`, `O_CREAT` or `O_TRUNC`, `mkdir`, `mknod`, `symlink`, `link`, `rename`, ... — the
//! calls that can create an entry), after resolving it against the caller's directory, and,
//! for opens, the path the kernel actually opened. [`Journal::note`] runs inside the SIGSYS
//! handler and the notify supervisor: it allocates nothing and takes no lock. It keeps the path
//! relative to the tmp root in a fixed ring (the event ring's lock-free queue) and skips paths
//! it has already noted since the last wipe (a fixed hash set).
//!
//! [`Journal::take`] (outside signal context, at the wipe) returns what was noted:
//! - the paths, as a set the wipe may remove (see [`super::TmpWiper::wipe_created`]);
//! - for a path longer than a record holds: its longest directory prefix that fits, whose
//!   whole contents then count as created (a "sweep");
//! - when the ring overflowed: a sweep of the root. Everything created after the shield
//!   started then counts as the function's: a flood of creations must not let a planted file
//!   survive. What existed before the shield started is still never removed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::event::{Record, RecordKind, Ring};
use crate::policy::PolicyKind;

/// Distinct created paths the journal holds between two wipes.
pub const CAPACITY: usize = 1024;

/// Slots of the de-duplicating hash set (a power of two, well above [`CAPACITY`]).
const SET: usize = 4096;
/// Probes before the set gives up de-duplicating a path (it is then noted again).
const PROBES: usize = 16;

/// What the shield's journal of allowed tmp writes recorded since it was last taken: the input
/// of [`TmpWiper::wipe_created`](super::TmpWiper::wipe_created).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Noted {
    /// Created paths, relative to the root.
    pub paths: Vec<PathBuf>,
    /// Directories (relative; empty for the root) whose whole contents count as created.
    pub sweeps: Vec<PathBuf>,
    /// Paths that did not fit the journal (each implies a sweep of the root).
    pub lost: u64,
}

/// The journal. The process has one, [`JOURNAL`], armed when the shield is installed.
pub struct Journal {
    root: OnceLock<Box<[u8]>>,
    armed: AtomicBool,
    ring: Ring<CAPACITY>,
    seen: [AtomicU64; SET],
    lost_taken: AtomicU64,
}

impl Default for Journal {
    fn default() -> Self {
        Self::new()
    }
}

/// The process-wide journal the interceptors write into.
pub static JOURNAL: Journal = Journal::new();

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h | 1 // 0 marks a free slot
}

impl Journal {
    /// An empty, unarmed journal.
    pub const fn new() -> Self {
        Self {
            root: OnceLock::new(),
            armed: AtomicBool::new(false),
            ring: Ring::new(),
            seen: [const { AtomicU64::new(0) }; SET],
            lost_taken: AtomicU64::new(0),
        }
    }

    /// Starts noting paths under `root` (absolute, normalised). Only the first call counts.
    pub fn arm(&self, root: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let _ = self.root.set(root.as_os_str().as_bytes().into());
        self.armed.store(true, Ordering::Release);
    }

    /// Notes that the function (or a child) may have created `path` (absolute; normalised
    /// here). Paths outside the root are ignored.
    ///
    /// Async-signal-safe: no allocation, no lock, bounded work.
    pub fn note(&self, path: &[u8]) {
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
        if !self.first_time(rel) {
            return;
        }
        let mut rec = Record::new(PolicyKind::ReadWriteTmp, false, RecordKind::Path, -1);
        rec.set_text(rel);
        self.ring.push(&rec);
    }

    /// Inserts `rel`'s hash into the set; false when it was there already.
    fn first_time(&self, rel: &[u8]) -> bool {
        let h = fnv1a(rel);
        for i in 0..PROBES {
            let slot = &self.seen[(h as usize).wrapping_add(i) & (SET - 1)];
            match slot.compare_exchange(0, h, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(cur) if cur == h => return false,
                Err(_) => {}
            }
        }
        true
    }

    /// Everything noted since the last call, and a fresh start.
    pub fn take(&self) -> Noted {
        let mut out = Noted::default();
        while let Some(r) = self.ring.pop() {
            let text = &r.text[..r.text_len as usize];
            if r.truncated {
                // Keep the longest directory prefix that was recorded whole.
                let dir = match text.iter().rposition(|&b| b == b'/') {
                    Some(i) => &text[..i],
                    None => b"",
                };
                out.sweeps.push(rel_path(dir));
            } else {
                out.paths.push(rel_path(text));
            }
        }
        let lost = self.ring.overflowed();
        let before = self.lost_taken.swap(lost, Ordering::AcqRel);
        out.lost = lost.saturating_sub(before);
        for slot in &self.seen {
            slot.store(0, Ordering::Release);
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
        j.note(b"/tmp/before-arming");
        j.arm(Path::new("/tmp"));
        j.note(b"/tmp/a");
        j.note(b"//tmp/./b/../c");
        j.note(b"/proc/self/root/tmp/d/e");
        j.note(b"/tmp/a");
        j.note(b"/tmpx/no");
        j.note(b"/etc/passwd");
        j.note(b"/tmp");
        let n = j.take();
        assert_eq!(
            n.paths,
            ["a", "c", "d/e"].map(PathBuf::from).to_vec(),
            "{n:?}"
        );
        assert!(n.sweeps.is_empty() && n.lost == 0);
        // After a take, the same path is noted again.
        j.note(b"/tmp/a");
        assert_eq!(j.take().paths, [PathBuf::from("a")]);
    }

    #[test]
    fn long_paths_become_sweeps_and_overflow_is_counted() {
        static J: Journal = Journal::new();
        let j = &J;
        j.arm(Path::new("/tmp"));
        let long = format!("/tmp/dir/{}", "x".repeat(400));
        j.note(long.as_bytes());
        for i in 0..CAPACITY + 5 {
            j.note(format!("/tmp/f{i}").as_bytes());
        }
        let n = j.take();
        assert_eq!(n.sweeps, [PathBuf::from("dir")]);
        assert_eq!(n.paths.len(), CAPACITY - 1);
        assert_eq!(n.lost, 6);
        assert_eq!(j.take(), Noted::default());
    }
}
