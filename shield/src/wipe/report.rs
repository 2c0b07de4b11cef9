//! What a wipe did: counts, failures with reasons, and the CloudWatch EMF rendering.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;

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
    pub(super) fn from_errno(e: Errno) -> Self {
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
    pub(super) path: PathBuf,
    pub(super) reason: WipeFailureReason,
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

/// What one wipe did. See the [module documentation](crate::wipe) for what each figure means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeReport {
    pub(super) root: PathBuf,
    pub(super) files_removed: u64,
    pub(super) dirs_removed: u64,
    pub(super) bytes_removed: u64,
    pub(super) kept: u64,
    pub(super) failures: Vec<WipeFailure>,
    pub(super) failure_count: u64,
    pub(super) started_at: SystemTime,
    pub(super) duration: Duration,
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
    /// Entries left behind, with the reason; at most [`MAX_LISTED_FAILURES`](super::MAX_LISTED_FAILURES).
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

    /// The figures the shield puts into the EMF line of the invocation after which the wipe
    /// ran.
    pub fn figures(&self) -> crate::event::WipeFigures {
        crate::event::WipeFigures {
            files_removed: self.files_removed,
            dirs_removed: self.dirs_removed,
            bytes_removed: self.bytes_removed,
            failures: self.failure_count,
            duration_micros: u64::try_from(self.duration.as_micros()).unwrap_or(u64::MAX),
            started_at_micros: self
                .started_at
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
                .unwrap_or(0),
        }
    }

    /// One CloudWatch Embedded Metric Format line (JSON, no trailing newline) with the metrics
    /// `FilesRemoved`, `BytesRemoved`, `WipeFailures` and `WipeDurationMicros`, under
    /// `namespace`, with the dimension `FunctionName`, a `level` (`WARN` when something was
    /// left behind, else `INFO`) and an RFC 3339 `timestamp` for Lambda's log-level filtering.
    ///
    /// The shield itself does not print this line: it puts the same figures into the EMF line
    /// of the invocation after which the wipe ran (see `emf_line` in the event module).
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
            "level": if self.failure_count > 0 { "WARN" } else { "INFO" },
            "timestamp": crate::event::rfc3339(self.started_at),
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
