//! Wiping `/tmp` between invocations.
//!
//! Lambda reuses warm execution environments, and `/tmp` survives from one invocation to the
//! next. Whatever one invocation leaves there (a planted script, a poisoned cache, another
//! user's data) the next one can pick up. [`TmpWiper::wipe`] removes the *contents* of a root
//! directory (by default the function's `/tmp`), except for the sub-paths on a keep-list, and
//! returns a [`WipeReport`] saying what was removed, what was left and why.
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

use std::ffi::{CStr, CString, OsStr};
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::dir::{Dir, OwningIter, Type};
use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, FchmodatFlags, FileStat, Mode, SFlag};
use nix::unistd::{self, UnlinkatFlags};

/// At most this many directories below the root hold open descriptors at once (two each).
pub const MAX_OPEN_DIRS: usize = 32;

/// At most this many failures are listed in a [`WipeReport`]; the rest are only counted.
pub const MAX_LISTED_FAILURES: usize = 256;

/// A directory is scanned at most this many times before it is reported as
/// [`WipeFailureReason::NotEmpty`].
const MAX_PASSES: u8 = 3;

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// A configuration error: the root or a keep path is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WipeError {
    /// The root is a relative path.
    #[error("wipe root `{0}` is relative; give an absolute path such as `/tmp`")]
    RootNotAbsolute(PathBuf),
    /// The root is `/`.
    #[error("refusing to wipe `/`; give the directory to wipe, such as `/tmp`")]
    RootIsFilesystemRoot,
    /// The root contains a `..` component, which cannot be resolved without following symlinks.
    #[error("wipe root `{0}` contains `..`; give the path without `..` components")]
    RootHasParentComponent(PathBuf),
    /// A keep path lies outside the root.
    #[error("keep path `{keep}` is outside the wipe root `{root}`; give a path under the root, or relative to it")]
    KeepOutsideRoot {
        /// The keep path as given.
        keep: PathBuf,
        /// The wipe root.
        root: PathBuf,
    },
    /// A keep path names the root itself.
    #[error(
        "keep path `{0}` is the wipe root itself; to keep everything, disable the wipe instead"
    )]
    KeepIsRoot(PathBuf),
}

/// Where to wipe and what to keep. Validated on construction; see [`WipeConfig::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeConfig {
    root: PathBuf,
    keep: Vec<PathBuf>,
}

impl WipeConfig {
    /// A configuration that wipes everything under `root`.
    ///
    /// `root` must be absolute, must not be `/`, and must not contain `..`; `.` components and
    /// trailing slashes are dropped.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, WipeError> {
        let given: PathBuf = root.into();
        if !given.is_absolute() {
            return Err(WipeError::RootNotAbsolute(given));
        }
        let mut root = PathBuf::from("/");
        for c in given.components() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => return Err(WipeError::RootHasParentComponent(given)),
                Component::Normal(n) => root.push(n),
            }
        }
        if root.as_os_str() == "/" {
            return Err(WipeError::RootIsFilesystemRoot);
        }
        Ok(Self {
            root,
            keep: Vec::new(),
        })
    }

    /// Also keeps `path`: an absolute path under the root, or a path relative to the root.
    ///
    /// The path is normalised lexically (`.` dropped, `..` removes the previous component);
    /// it must stay strictly under the root. A kept directory keeps its whole subtree; the
    /// directories leading to it are kept, but not their other contents.
    pub fn keep(mut self, path: impl AsRef<Path>) -> Result<Self, WipeError> {
        let given = path.as_ref();
        let outside = || WipeError::KeepOutsideRoot {
            keep: given.to_path_buf(),
            root: self.root.clone(),
        };
        let absolute = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.root.join(given)
        };
        let mut parts: Vec<&OsStr> = Vec::new();
        for c in absolute.components() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    parts.pop();
                }
                Component::Normal(n) => parts.push(n),
            }
        }
        let normalised: PathBuf = std::iter::once(OsStr::new("/")).chain(parts).collect();
        let relative = normalised
            .strip_prefix(&self.root)
            .map_err(|_| outside())?
            .to_path_buf();
        if relative.as_os_str().is_empty() {
            return Err(WipeError::KeepIsRoot(given.to_path_buf()));
        }
        if !self.keep.contains(&relative) {
            self.keep.push(relative);
        }
        Ok(self)
    }

    /// The root whose contents are wiped (normalised).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The kept paths, relative to the root and normalised, in the order given.
    pub fn kept_paths(&self) -> &[PathBuf] {
        &self.keep
    }
}

/// Why an entry was left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WipeFailureReason {
    /// `EBUSY`: the entry is in use as a mount point (a bind-mounted file, or a mount the
    /// kernel refused to remove).
    Busy,
    /// `EACCES`/`EPERM`, after the wiper tried to fix the directory's mode where it may
    /// (not owned by us, immutable, sticky directory owned by someone else, ...).
    PermissionDenied,
    /// The directory is a mount point (another file system, or a bind mount); it was not
    /// entered, and its contents were left alone.
    CrossesMount,
    /// The directory was refilled during the wipe and was still not empty after the last pass.
    NotEmpty,
    /// A directory was moved or replaced while the wiper had it closed; what was under it
    /// was left alone.
    Moved,
    /// Any other error, with its `errno`.
    Io(i32),
    /// A bug in the wiper: it stopped instead of panicking. Please report it.
    Internal,
}

impl WipeFailureReason {
    fn from_errno(e: Errno) -> Self {
        match e {
            Errno::EBUSY => Self::Busy,
            Errno::EACCES | Errno::EPERM => Self::PermissionDenied,
            Errno::EXDEV => Self::CrossesMount,
            Errno::ENOTEMPTY | Errno::EEXIST => Self::NotEmpty,
            e => Self::Io(e as i32),
        }
    }
}

impl fmt::Display for WipeFailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy => f.write_str("busy (mount point)"),
            Self::PermissionDenied => f.write_str("permission denied"),
            Self::CrossesMount => f.write_str("mount point, not crossed"),
            Self::NotEmpty => f.write_str("refilled during the wipe"),
            Self::Moved => f.write_str("moved during the wipe"),
            Self::Io(errno) => write!(f, "{}", std::io::Error::from_raw_os_error(*errno)),
            Self::Internal => f.write_str("internal error in the wiper"),
        }
    }
}

/// One entry that was left behind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WipeFailure {
    path: PathBuf,
    reason: WipeFailureReason,
}

impl WipeFailure {
    /// The entry's path relative to the root (empty for the root itself).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why it was left behind.
    pub fn reason(&self) -> WipeFailureReason {
        self.reason
    }
}

impl fmt::Display for WipeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path.display(), self.reason)
    }
}

/// What one wipe did. See the [module documentation](self) for what each figure means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeReport {
    root: PathBuf,
    files_removed: u64,
    dirs_removed: u64,
    bytes_removed: u64,
    kept: u64,
    failures: Vec<WipeFailure>,
    failure_count: u64,
    started_at: SystemTime,
    duration: Duration,
}

impl WipeReport {
    /// The root that was wiped.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Non-directory entries removed: regular files, symlinks, sockets, FIFOs, devices.
    pub fn files_removed(&self) -> u64 {
        self.files_removed
    }
    /// Directories removed.
    pub fn dirs_removed(&self) -> u64 {
        self.dirs_removed
    }
    /// Sum of `st_size` of the regular files whose last link was removed.
    pub fn bytes_removed(&self) -> u64 {
        self.bytes_removed
    }
    /// Keep-list entries found and kept (each counts once, whatever its size).
    pub fn kept(&self) -> u64 {
        self.kept
    }
    /// Entries left behind, with the reason; at most [`MAX_LISTED_FAILURES`].
    pub fn failures(&self) -> &[WipeFailure] {
        &self.failures
    }
    /// How many entries were left behind, including those not listed in [`Self::failures`].
    pub fn failure_count(&self) -> u64 {
        self.failure_count
    }
    /// When the wipe started.
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }
    /// How long the wipe took.
    pub fn duration(&self) -> Duration {
        self.duration
    }
    /// True when nothing but the keep-list was left behind.
    pub fn is_clean(&self) -> bool {
        self.failure_count == 0
    }

    /// One CloudWatch Embedded Metric Format line (JSON, no trailing newline) with the metrics
    /// `FilesRemoved`, `BytesRemoved`, `WipeFailures` and `WipeDurationMicros`, under
    /// `namespace`, with the dimension `FunctionName`.
    pub fn to_emf_line(&self, namespace: &str, function_name: &str) -> String {
        let timestamp = self
            .started_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        serde_json::json!({
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": [
                        {"Name": "FilesRemoved", "Unit": "Count"},
                        {"Name": "BytesRemoved", "Unit": "Bytes"},
                        {"Name": "WipeFailures", "Unit": "Count"},
                        {"Name": "WipeDurationMicros", "Unit": "Microseconds"},
                    ],
                }],
            },
            "FunctionName": function_name,
            "FilesRemoved": self.files_removed,
            "BytesRemoved": self.bytes_removed,
            "WipeFailures": self.failure_count,
            "WipeDurationMicros": u64::try_from(self.duration.as_micros()).unwrap_or(u64::MAX),
            // Not a metric: when the wipe began, in microseconds since the Unix epoch.
            "WipeStartedAtMicros": self
                .started_at
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
                .unwrap_or(0),
        })
        .to_string()
    }
}

impl fmt::Display for WipeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wiped `{}` in {:?}: {} files, {} directories, {} bytes removed, {} kept, {} left behind",
            self.root.display(),
            self.duration,
            self.files_removed,
            self.dirs_removed,
            self.bytes_removed,
            self.kept,
            self.failure_count
        )?;
        for failure in &self.failures {
            write!(f, "; {failure}")?;
        }
        Ok(())
    }
}

/// The keep-list as a trie of names. Node 0 is the root.
#[derive(Debug)]
struct KeepTrie {
    nodes: Vec<KeepNode>,
}

#[derive(Debug)]
struct KeepNode {
    name: Box<[u8]>,
    children: Vec<u32>,
    whole: bool,
}

impl KeepTrie {
    fn new(paths: &[PathBuf]) -> Self {
        let mut nodes = vec![KeepNode {
            name: Box::default(),
            children: Vec::new(),
            whole: false,
        }];
        for path in paths {
            let mut at = 0usize;
            for c in path.components() {
                let Component::Normal(name) = c else { continue };
                let name = name.as_bytes();
                let existing = nodes[at]
                    .children
                    .iter()
                    .copied()
                    .find(|&i| &*nodes[i as usize].name == name);
                at = match existing {
                    Some(i) => i as usize,
                    None => {
                        let i = nodes.len();
                        nodes.push(KeepNode {
                            name: name.into(),
                            children: Vec::new(),
                            whole: false,
                        });
                        nodes[at].children.push(i as u32);
                        i
                    }
                };
            }
            nodes[at].whole = true;
        }
        Self { nodes }
    }

    fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// The child of `node` called `name`, and whether it is kept whole.
    fn child(&self, node: u32, name: &[u8]) -> Option<(u32, bool)> {
        let n = self.nodes.get(node as usize)?;
        n.children.iter().copied().find_map(|i| {
            let c = self.nodes.get(i as usize)?;
            (&*c.name == name).then_some((i, c.whole))
        })
    }
}

/// Removes the contents of a root directory, safely. See the [module documentation](self).
#[derive(Debug)]
pub struct TmpWiper {
    root: PathBuf,
    root_c: CString,
    keep: KeepTrie,
    openat2_usable: AtomicBool,
}

impl TmpWiper {
    /// A wiper for `config`.
    pub fn new(config: WipeConfig) -> Self {
        // A path from `Path` has no interior NUL unless the caller built one on purpose; such a
        // root cannot exist, and `wipe` reports it as `EINVAL`.
        let root_c = CString::new(config.root.as_os_str().as_bytes()).unwrap_or_default();
        Self {
            keep: KeepTrie::new(&config.keep),
            root: config.root,
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
        let mut walk = Walk::new(self);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| walk.run()));
        if outcome.is_err() {
            walk.stack.clear();
            walk.fail_at(0, None, WipeFailureReason::Internal);
        }
        WipeReport {
            root: self.root.clone(),
            files_removed: walk.files,
            dirs_removed: walk.dirs,
            bytes_removed: walk.bytes,
            kept: walk.kept,
            failures: std::mem::take(&mut walk.failures),
            failure_count: walk.failure_count,
            started_at,
            duration: start.elapsed(),
        }
    }
}

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
    /// Keep-trie node when this directory leads to kept paths.
    keep: Option<u32>,
    /// Inodes of entries left here on purpose (kept or failed); skipped on a rescan.
    left: Vec<u64>,
    /// The stream was restarted: skip `left`.
    rescan: bool,
    /// Something below could not be removed, so this directory cannot be either.
    failed_inside: bool,
    mode_fixed: bool,
    passes: u8,
}

impl Frame {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.open.as_ref().map(|o| o.fd.as_fd())
    }
}

struct Walk<'w> {
    wiper: &'w TmpWiper,
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
    fn new(wiper: &'w TmpWiper) -> Self {
        Self {
            wiper,
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

    fn run(&mut self) {
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
            keep: (!self.wiper.keep.is_empty()).then_some(0),
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
        if let Some(node) = top.keep {
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
        match kind {
            Some(Type::Directory) => self.descend(name, ino, keep, true),
            Some(Type::File) | None => self.stat_and_remove(name, ino, keep),
            Some(_) => self.unlink(name, ino, 0, keep, true),
        }
    }

    fn top_fd(&self) -> Option<BorrowedFd<'_>> {
        self.stack.last().and_then(Frame::fd)
    }

    fn stat_and_remove(&mut self, name: &CStr, ino: u64, keep: Option<u32>) {
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
    fn unlink(&mut self, name: &CStr, ino: u64, bytes: u64, keep: Option<u32>, may_descend: bool) {
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
        if t == 0 || frame.mode_fixed || (frame.uid != euid && euid != 0) {
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
            for line in table.split(|&b| b == b'\n') {
                let Some(field) = line.split(|&b| b == b' ').nth(4) else {
                    continue;
                };
                let point = PathBuf::from(OsStr::from_bytes(&unescape_mountinfo(field)));
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
    fn descend(&mut self, name: &CStr, ino: u64, keep: Option<u32>, may_unlink: bool) {
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
                    if self.fix_child_mode(parent, name) {
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
                e => self.fail_entry(name, ino, WipeFailureReason::from_errno(e)),
            };
        };
        self.push(fd, name, ino, keep, 0, Vec::new());
    }

    fn stat_nondir_and_unlink(&mut self, name: &CStr, ino: u64, keep: Option<u32>) {
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
        keep: Option<u32>,
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
            keep,
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
            keep,
            left,
            failed_inside,
            passes,
            ..
        } = child;
        drop(open);
        if keep.is_some() || failed_inside {
            if let Some(parent) = self.stack.last_mut() {
                parent.left.push(ino);
                parent.failed_inside |= failed_inside;
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
                Err(Errno::ENOTEMPTY | Errno::EEXIST) if passes + 1 < MAX_PASSES => {
                    // Refilled meanwhile (or `readdir` missed an entry): scan it again.
                    return match self.open_dir_checked(&name, ino) {
                        Ok(Some(fd)) => self.push(fd, &name, ino, None, passes + 1, left),
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

    #[test]
    fn keep_trie_marks_whole_and_ancestor_nodes() {
        let trie = KeepTrie::new(&[
            PathBuf::from("a/b"),
            PathBuf::from("a/c/d"),
            PathBuf::from("e"),
        ]);
        let (a, whole) = trie.child(0, b"a").unwrap();
        assert!(!whole);
        assert_eq!(trie.child(a, b"b").map(|(_, w)| w), Some(true));
        let (c, whole) = trie.child(a, b"c").unwrap();
        assert!(!whole);
        assert_eq!(trie.child(c, b"d").map(|(_, w)| w), Some(true));
        assert_eq!(trie.child(0, b"e").map(|(_, w)| w), Some(true));
        assert_eq!(trie.child(0, b"x"), None);
        assert!(KeepTrie::new(&[]).is_empty());
    }
}
