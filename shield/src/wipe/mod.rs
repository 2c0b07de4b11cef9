//! Wiping `/tmp` between invocations.
//!
//! Lambda reuses warm execution environments, and `/tmp` survives from one invocation to the
//! next. Whatever one invocation leaves there (a planted script, a poisoned cache, another
//! user's data) the next one can pick up. But `/tmp` is not only the function's: Lambda
//! extensions share it, and on a developer's machine (`cargo lambda watch`) it holds everyone's
//! files. So the shield calls [`TmpWiper::wipe_created`], which removes only what the function
//! and its children created since the shield started: the paths the interceptors noted in the
//! journal (every creation they allowed), minus everything recorded in the [`Snapshot`] taken
//! at install (see the README's "The `/tmp` wipe" for the rule and its limits).
//!
//! [`TmpWiper::wipe`] removes all the *contents* of a root directory, except for the sub-paths
//! on a keep-list: for a root you own (the shield uses it only for the opt-in cold-start wipe).
//! Both return a [`WipeReport`] saying what was removed, what was left and why.
//!
//! ```no_run
//! use fnshield::wipe::{TmpWiper, WipeConfig};
//!
//! let config = WipeConfig::new("/tmp")?.keep("model-cache")?;
//! let wiper = TmpWiper::new(config);
//! let report = wiper.wipe();
//! if !report.is_clean() {
//!     eprintln!("left behind in /tmp: {:?}", report.failures());
//! }
//! println!("{}", report.to_emf_line("fnshield", "my-function"));
//! # Ok::<(), fnshield::wipe::WipeError>(())
//! ```
//!
//! # What is guaranteed
//!
//! * **The root itself is never removed, and never modified.** Only its contents are removed.
//!   The root path is the only path the wiper ever resolves as a string; it is opened with
//!   `O_DIRECTORY | O_NOFOLLOW`, so a root that is itself a symlink is refused (reported as a
//!   failure with `ENOTDIR`). Everything below it is reached through directory file descriptors.
//! * **Symlinks are never followed.** Every directory is opened with `openat(parent_fd, name,
//!   O_DIRECTORY | O_NOFOLLOW)` (via `openat2` with `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
//!   RESOLVE_NO_XDEV` where the kernel allows it), every entry is removed with
//!   `unlinkat(parent_fd, name)`, and every `fstatat` uses `AT_SYMLINK_NOFOLLOW`. A symlink is
//!   unlinked like a file; its target is untouched, wherever it points. An entry swapped for a
//!   symlink between `readdir` and `openat` fails the open with `ELOOP` and is then unlinked.
//! * **Mounts are never crossed.** With `openat2`, `RESOLVE_NO_XDEV` makes the kernel refuse to
//!   open any directory that is a mount point, bind mounts of the same file system included.
//!   Where `openat2` is unavailable (Linux < 5.6, or a seccomp filter that refuses it; the
//!   wiper notices `ENOSYS`/`EPERM` once and remembers), every directory's `st_dev` is compared
//!   with the root's, and the `(st_dev, st_ino)` of every mount point under the root listed in
//!   `/proc/thread-self/mountinfo` at the start of the wipe is refused as well. A mount point is left
//!   alone, together with everything under it, and reported as
//!   [`WipeFailureReason::CrossesMount`]. A file that is a mount point fails `unlinkat` with
//!   `EBUSY` and is reported as [`WipeFailureReason::Busy`].
//! * **Permissions are repaired, not bypassed.** A directory we cannot list, search or write
//!   gets mode `u+rwx` with `fchmod` (or `fchmodat(parent_fd, name, AT_SYMLINK_NOFOLLOW)` when
//!   it cannot even be opened), but only when we own it (`st_uid == geteuid()`) or run as root,
//!   and only after an operation failed with `EACCES`/`EPERM`. Anything still refused is
//!   reported as [`WipeFailureReason::PermissionDenied`].
//! * **Open files are removed** like any other: unlinking does not care about open descriptors
//!   (the data is freed when the last descriptor closes).
//! * **Races are tolerated.** An entry that vanishes during the walk (`ENOENT`) is not a
//!   failure and is not counted. An entry that changes type between `readdir` and the
//!   operation is handled as what it now is. A directory that is refilled while it is being
//!   emptied is scanned again, up to three passes in total, and then reported as
//!   [`WipeFailureReason::NotEmpty`]. Every entry that existed when the wipe started, that
//!   is not kept and not reported, is gone when `wipe` returns.
//! * **Keep-list.** A kept path is kept exactly: a kept directory keeps its whole subtree. The
//!   directories leading to a kept path are kept too, but the rest of their contents is
//!   removed. Kept paths are matched by name along *real* directories: if an entry on the way
//!   to a kept path is not a directory (for example a symlink named like the kept path's
//!   parent), it is removed like any other entry, because it cannot contain the kept path.
//! * **It never panics**, and whatever it cannot remove is reported with a reason.
//! * **No recursion.** The walk is iterative with an explicit stack, so a tree of any depth is
//!   removed without growing the thread's stack.
//!
//! # Concurrency
//!
//! [`TmpWiper`] is `Send + Sync` and [`TmpWiper::wipe`] takes `&self`. The wiper cannot know
//! which files belong to an invocation still in flight: the caller must only call `wipe` when no
//! invocation is running (the fnshield Lambda layer does this after the response has been posted
//! and, under `run_concurrent`, only when the in-flight count is zero). Files created by another
//! thread or process *during* a wipe may or may not be removed; the wipe still terminates,
//! because every directory is scanned at most three times.
//!
//! # File descriptors: the scheme
//!
//! Each directory on the current path (the stack) may hold two descriptors: one for
//! `openat`/`unlinkat`/`fstat`/`fchmod`, and a `dup` of it that carries the `readdir` stream.
//! At most [`MAX_OPEN_DIRS`] directories below the root are open at once (so at most
//! `2 * MAX_OPEN_DIRS + 2` = 66 descriptors, plus one transient one while a directory is being
//! reopened), whatever the depth. When the walk goes deeper, the descriptors of the shallowest
//! open directory are closed; the directory keeps its name, `(st_dev, st_ino)` and the inodes of
//! the entries it deliberately left in place.
//!
//! When the walk climbs back to a closed directory, it reopens it the way `fts(3)` does: with
//! `openat(child_fd, "..")`, and it checks that the result has the recorded `(st_dev, st_ino)`.
//! If the child was moved meanwhile, `..` is some other directory and the check fails; the
//! wiper then walks down again by name from the nearest open ancestor (the root is always
//! open), verifying `(st_dev, st_ino)` at every step. If that fails too, the part of the tree
//! that moved is left alone and reported as [`WipeFailureReason::Moved`]. The wiper therefore
//! never operates on a directory it has not identified. A reopened directory is read again
//! from the start: entries already removed are gone, and entries it left in place on purpose
//! (kept or failed) are skipped by inode, so nothing is counted or reported twice.
//!
//! # What is reported
//!
//! [`WipeReport`] counts the non-directory entries removed (regular files, symlinks, sockets,
//! FIFOs, devices), the directories removed, the bytes removed (the `st_size` of every regular
//! file whose last link was removed, i.e. whose link count was 1; a file with several hard
//! links in the tree counts once), the kept entries, the time taken, and every entry that could
//! not be removed, with its path relative to the root and a [`WipeFailureReason`]. A directory
//! that could not be emptied because of a failure inside it is not reported again itself. At
//! most [`MAX_LISTED_FAILURES`] failures are listed; [`WipeReport::failure_count`] has the
//! total. [`WipeReport::to_emf_line`] renders the figures as a CloudWatch Embedded Metric
//! Format line.
//!
//! # Cost
//!
//! Per regular file: one `fstatat` (for the byte count) and one `unlinkat`. Other entries:
//! one `unlinkat`. Per directory: `openat2`, `fstat`, `dup`, `getdents64` until the end, and
//! `unlinkat(AT_REMOVEDIR)`. The entry type comes from `d_type`, so no `stat` is needed to tell
//! files from directories on file systems that fill it in.

mod config;
pub(crate) mod journal;
mod report;
mod snapshot;
mod trie;
mod walk;
pub(crate) use walk::mount_points;

pub use config::{WipeConfig, WipeError};
pub use journal::Noted;
pub use report::{WipeFailure, WipeFailureReason, WipeReport};
pub use snapshot::Snapshot;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use trie::KeepTrie;
use walk::{Created, Walk};

/// At most this many directories below the root hold open descriptors at once (two each).
pub const MAX_OPEN_DIRS: usize = 32;

/// At most this many failures are listed in a [`WipeReport`]; the rest are only counted.
pub const MAX_LISTED_FAILURES: usize = 256;

/// Removes the contents of a root directory, safely. See the [module documentation](self).
#[derive(Debug)]
pub struct TmpWiper {
    root: PathBuf,
    root_c: CString,
    keep: KeepTrie,
    /// Cleared once `openat2(2)` turns out to be unavailable; read by the walk.
    openat2_usable: AtomicBool,
}

impl TmpWiper {
    /// A wiper for `config`.
    pub fn new(config: WipeConfig) -> Self {
        // A path from `Path` has no interior NUL unless the caller built one on purpose; such a
        // root cannot exist, and `wipe` reports it as `EINVAL`.
        let root_c = CString::new(config.root().as_os_str().as_bytes()).unwrap_or_default();
        Self {
            keep: KeepTrie::new(config.kept_paths()),
            root: config.root().to_path_buf(),
            root_c,
            openat2_usable: AtomicBool::new(true),
        }
    }

    /// The root whose contents this wiper removes.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Testing aid: behave as if `openat2(2)` were unavailable (the fallback that compares
    /// `st_dev` and reads `/proc/thread-self/mountinfo`).
    #[doc(hidden)]
    pub fn without_openat2(self) -> Self {
        self.openat2_usable.store(false, Ordering::Relaxed);
        self
    }

    /// Removes everything under the root except the keep-list, and reports what it did.
    ///
    /// Never panics. Must not run while an invocation that uses the root is in flight.
    pub fn wipe(&self) -> WipeReport {
        let started_at = SystemTime::now();
        let start = Instant::now();
        let mut walk = Walk::new(self, None);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| walk.run()));
        if outcome.is_err() {
            walk.abort_internal();
        }
        walk.into_report(self.root.clone(), started_at, start.elapsed())
    }

    /// Removes what the function and its children created under the root, and nothing else:
    /// the entries named in `noted.paths` (paths relative to the root, from the journal of
    /// the creations the interceptors allowed; a directory so named, one the function made,
    /// loses only the entries in it that are noted too, and is removed only if that empties
    /// it: another process's file in it keeps it, which is no failure), the entries named in
    /// `noted.moved` (new names of a `rename`) with everything inside, and, when `noted.lost`
    /// is not zero, every entry whose relative path has one of `noted.hashes` (the whole tree
    /// is then looked at; the hash tells a made path from a moved one) — in every case except
    /// entries whose inode is in `before` (what existed when the shield started) and the
    /// keep-list.
    /// Otherwise, entries not named are not even looked at; directories that lead to named
    /// entries are entered but never removed or modified. Nothing is removed on a guess:
    /// `noted.unrecorded` creations the journal could not record stay where they are.
    ///
    /// The same guarantees as [`Self::wipe`] hold (no symlink followed, no mount crossed, no
    /// panic, every failure reported). Never panics. Must not run while an invocation that
    /// uses the root is in flight.
    pub fn wipe_created(&self, noted: &Noted, before: &Snapshot) -> WipeReport {
        let started_at = SystemTime::now();
        let start = Instant::now();
        let mut trie = KeepTrie::new(&[]);
        for p in &noted.paths {
            trie.insert_whole(p);
        }
        for p in &noted.moved {
            trie.insert_deep(p);
        }
        let hashes = (noted.lost > 0 && !noted.hashes.is_empty()).then_some(&noted.hashes);
        if trie.is_empty() && hashes.is_none() {
            // Nothing was created: nothing to look at.
            return Walk::new(self, None).into_report(
                self.root.clone(),
                started_at,
                start.elapsed(),
            );
        }
        let created = Created {
            trie: &trie,
            before,
            hashes,
        };
        let mut walk = Walk::new(self, Some(created));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| walk.run()));
        if outcome.is_err() {
            walk.abort_internal();
        }
        walk.into_report(self.root.clone(), started_at, start.elapsed())
    }
}
