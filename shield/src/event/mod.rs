//! Events: what fnshield reports for every alert and block, and where it sends them.
//!
//! Interceptors write fixed-size [`Record`]s into a lock-free [`Ring`] (async-signal-safe).
//! The [`Reporter`] drains the ring outside signal context, turns records into [`Event`]s,
//! folds repeats within an invocation into one event with a `count`, and emits them to the
//! configured sinks when the invocation is flushed (after its response has been posted and
//! before the next event is requested).

pub(crate) mod durable;
pub mod invocation;
pub mod record;
mod reporter;
pub mod ring;
mod sink;
#[cfg(test)]
mod tests;

pub use record::{Record, RecordKind};
pub use reporter::Reporter;
pub use ring::Ring;
pub(crate) use sink::rfc3339;
pub use sink::{Callback, WipeFigures};

use crate::policy::path::Access;
use crate::policy::PolicyKind;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The process-wide event ring the interceptors write into.
pub static RING: Ring = Ring::new();

/// The tmp root, for the hint of a blocked listing of the root itself. Set once at install;
/// read without locking (also from the SIGSYS handler, through [`durable`]).
static TMP_ROOT: std::sync::OnceLock<Box<[u8]>> = std::sync::OnceLock::new();

/// Record the tmp root (the first call wins).
pub(crate) fn set_tmp_root(root: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let _ = TMP_ROOT.set(root.as_os_str().as_bytes().into());
}

/// Whether `path` is the tmp root itself (a trailing `/` is ignored).
pub(crate) fn is_tmp_root(path: &[u8]) -> bool {
    let path = match path {
        [rest @ .., b'/'] if !rest.is_empty() => rest,
        p => p,
    };
    TMP_ROOT.get().is_some_and(|r| **r == *path)
}

/// The hint for a refused read of the tmp root: listing it shows every file in it, so the fix
/// is a sub-path, not the root.
pub(crate) const TMP_ROOT_READ_HINT: &str = "the tmp root itself can be looked up and traversed, but not listed: a listing shows every file in it. Allow the sub-paths the function reads in read_write_tmp.allow_read (builder: .allow_tmp_read(\"<root>/<dir>\")), or set read_write_tmp.read = \"alert\" or \"allow\" if it must list the root";

/// What the shield did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The operation went ahead and was reported.
    Alerted,
    /// The operation was refused and reported.
    Blocked,
}

impl Action {
    /// `alerted` or `blocked`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Alerted => "alerted",
            Action::Blocked => "blocked",
        }
    }

    /// The FunctionShield `mode` value: `alert` or `block`.
    pub const fn mode_str(self) -> &'static str {
        match self {
            Action::Alerted => "alert",
            Action::Blocked => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validation problem, as reported in events (no instance values).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ViolationDetail {
    /// JSON Pointer into the validated document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// What the event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Details {
    /// A file-system access.
    Path {
        /// The path as the caller gave it, resolved to an absolute path.
        path: String,
        /// `read`, `write`, `read_write` or `metadata`.
        access: &'static str,
    },
    /// An outbound connection or datagram.
    Connect {
        /// Destination address.
        ip: IpAddr,
        /// Destination port.
        port: u16,
        /// The host name learnt from DNS for this address, if any.
        host: Option<String>,
    },
    /// Running a program.
    Exec {
        /// The executable.
        path: String,
        /// Its arguments (bounded; see `truncated`).
        argv: Vec<String>,
    },
    /// Creating a process (fork, vfork, clone).
    Fork,
    /// A call that bypasses or redirects what a policy decides on: a raw or packet socket, a
    /// routing header or source route, an address family fnshield does not know, a DNS query
    /// (sent to a resolver) for a name that is not allowed, or io_uring (alert mode).
    Bypass {
        /// What was attempted, e.g. `packet socket (AF_PACKET)` or
        /// `DNS query for evil.example`.
        what: String,
    },
    /// An event or response failed validation.
    Validation {
        /// `event` or `response`.
        target: &'static str,
        /// The envelope the event was unwrapped with (for `envelope = "auto"`, the detected
        /// source: `"sqs"`, `"api_gateway_v1"`, ...); `None` for responses and pointers.
        envelope: Option<&'static str>,
        /// The problems found.
        violations: Vec<ViolationDetail>,
    },
    /// A policy is not (fully) enforced.
    Degraded {
        /// The policy concerned.
        policy: String,
        /// Why, and what it means for the policy (e.g. "seccomp refused: prctl EPERM").
        reason: String,
    },
    /// Events were lost because the ring was full.
    EventsLost {
        /// How many occurrences were lost since the previous report.
        lost: u64,
    },
    /// The /tmp wipe left something behind.
    TmpNotWiped {
        /// What was left and why, one entry per item.
        leftovers: Vec<String>,
    },
}

/// One alert or block.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The policy that fired.
    pub policy: PolicyKind,
    /// What the shield did.
    pub action: Action,
    /// What it was about.
    pub details: Details,
    /// The syscall, when the event comes from an interceptor (the first one, when several
    /// syscalls committed the same violation and were folded into this event).
    pub syscall: Option<&'static str>,
    /// The process that made the call (a child's pid for supervised children).
    pub pid: u32,
    /// When it happened (the first occurrence when folded).
    pub timestamp: SystemTime,
    /// The invocation's request id, or `unknown`.
    pub request_id: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// How many identical occurrences this event stands for, within one invocation.
    pub count: u64,
    /// The first occurrence was written to stdout at once, before the violating call returned
    /// (the `json` sink's `"early": true` line). At the flush the `json` sink prints the event
    /// again only if it occurred more than once, with its full count.
    pub early: bool,
    /// Set when a path or argv was truncated to fit the record.
    pub truncated: bool,
    /// The executable of the process that made the call, when it is a child process.
    pub process: Option<String>,
}

impl Event {
    /// A new event with count 1, timestamped now, attributed to `request_id`.
    pub fn new(
        policy: PolicyKind,
        action: Action,
        details: Details,
        request_id: impl Into<String>,
    ) -> Self {
        Event {
            policy,
            action,
            details,
            syscall: None,
            pid: std::process::id(),
            timestamp: SystemTime::now(),
            request_id: request_id.into(),
            function_name: String::new(),
            count: 1,
            early: false,
            truncated: false,
            process: None,
        }
    }

    /// How to allow what was blocked: the configuration key and the builder call.
    pub fn how_to_allow(&self) -> String {
        match (&self.details, self.policy) {
            (Details::Connect { ip, port, host }, _) => {
                let dest = match host {
                    Some(h) => format!("{h}:{port}"),
                    None if ip.is_ipv6() => format!("[{ip}]:{port}"),
                    None => format!("{ip}:{port}"),
                };
                format!(
                    "add \"{dest}\" to outbound_connectivity.allow (builder: .allow_destination(\"{dest}\"))"
                )
            }
            (Details::Path { path, access }, PolicyKind::ReadWriteTmp)
                if !Access::from_name(access).writes() && is_tmp_root(path.as_bytes()) =>
            {
                TMP_ROOT_READ_HINT.to_owned()
            }
            (Details::Path { path, access }, PolicyKind::ReadWriteTmp) => {
                let (key, call) = if Access::from_name(access).writes() {
                    ("read_write_tmp.allow_write", "allow_tmp_write")
                } else {
                    ("read_write_tmp.allow_read", "allow_tmp_read")
                };
                format!("add \"{path}\" or a parent directory to {key} (builder: .{call}(\"{path}\"))")
            }
            (Details::Path { .. }, _) => {
                "set read_handler.mode = \"allow\" (builder: .read_handler(Mode::Allow); env: SHIELD_POLICY_READ_HANDLER=allow); protected paths cannot be allowed one by one".into()
            }
            (Details::Exec { path, .. }, _) => format!(
                "add \"{path}\" to create_child_process.allow (builder: .allow_exec(\"{path}\"))"
            ),
            (Details::Bypass { what }, _) if what.starts_with("DNS query for ") => format!(
                "add \"{}\" to outbound_connectivity.allow (builder: .allow_destination(...)); under block, DNS queries are sent only for allowed names",
                &what["DNS query for ".len()..]
            ),
            (Details::Bypass { what }, _) if what.starts_with("io_uring") || what.starts_with("a syscall through the 32-bit ABI") => "io_uring and the 32-bit ABI are refused whenever a policy blocks (io_uring with ENOSYS, the 32-bit ABI killed); only alert-only mode lets them run, reported".into(),
            (Details::Bypass { .. }, _) => "raw and packet sockets, routing headers, source routes and unknown address families are refused under outbound_connectivity block; set outbound_connectivity.mode = \"alert\" or \"allow\" if the function needs them".into(),
            (Details::Fork, _) => "list the programs the function runs in create_child_process.allow (builder: .allow_exec(...)), or set create_child_process.mode = \"allow\"".into(),
            (Details::Validation { .. }, _) => "fix the event or the schema; validation.mode = \"alert\" (env: SHIELD_POLICY_INPUT_VALIDATION=alert) lets invalid events through".into(),
            (Details::Degraded { .. }, _) => "see the Enforcement report; require_enforcement = true makes this fatal".into(),
            (Details::EventsLost { .. }, _) => "events arrive faster than the ring drains; see the README's event reference".into(),
            (Details::TmpNotWiped { .. }, _) => "remove the leftovers' cause (open files, other mounts) or add them to tmp_wipe.keep".into(),
        }
    }

    fn fold_key(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{:?}|{:?}",
            self.request_id, self.policy, self.action, self.syscall, self.details
        )
    }

    /// Build an event from a ring record.
    pub fn from_record(r: &Record, function_name: &str) -> Self {
        let text = String::from_utf8_lossy(&r.text[..r.text_len as usize]).into_owned();
        let details = match r.kind {
            RecordKind::Path => Details::Path {
                path: text,
                access: Access::from_code(r.access).name(),
            },
            RecordKind::Net => {
                let ip = if r.family == 6 {
                    IpAddr::V6(Ipv6Addr::from(r.ip))
                } else {
                    IpAddr::V4(Ipv4Addr::new(r.ip[0], r.ip[1], r.ip[2], r.ip[3]))
                };
                Details::Connect {
                    ip,
                    port: r.port,
                    host: (!text.is_empty()).then_some(text),
                }
            }
            RecordKind::Exec => Details::Exec {
                path: text,
                argv: if r.argv_len == 0 {
                    Vec::new()
                } else {
                    r.argv[..r.argv_len as usize]
                        .split(|&b| b == 0)
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect()
                },
            },
            RecordKind::Fork => Details::Fork,
            RecordKind::Bypass => Details::Bypass { what: text },
        };
        let request_id = if r.request_id_len == 0 {
            "unknown".to_owned()
        } else {
            String::from_utf8_lossy(&r.request_id[..r.request_id_len as usize]).into_owned()
        };
        Event {
            policy: PolicyKind::from_u8(r.policy),
            action: if r.blocked {
                Action::Blocked
            } else {
                Action::Alerted
            },
            details,
            syscall: (r.syscall >= 0).then(|| crate::syscall_name(r.syscall as i64)),
            pid: r.pid,
            timestamp: UNIX_EPOCH + Duration::from_nanos(r.timestamp_ns),
            request_id,
            function_name: function_name.to_owned(),
            count: 1,
            early: r.early,
            truncated: r.truncated,
            process: (r.exe_len > 0)
                .then(|| String::from_utf8_lossy(&r.exe[..r.exe_len as usize]).into_owned()),
        }
    }
}
