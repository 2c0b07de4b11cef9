//! The `Enforcement` report: per policy, how (and whether) it is enforced.
//!
//! Every type here serializes (serde) to the JSON the examples' `probe` prints: enum values as
//! the snake_case or kebab-case names their `Display` uses, a [`FeatureStatus`] as
//! `{"status": "available" | "refused" | "killed" | "not_probed", ...}` with the errno or
//! signal.

use crate::policy::PolicyKind;
use serde::{Serialize, Serializer};
use std::fmt;

/// The `reason` of a policy that is not enforced because its mode is `allow`.
pub(crate) const ALLOW_REASON: &str = "mode is allow";

/// How completely a policy is enforced (after rust-landlock's `RestrictionStatus`).
/// Serializes as `"fully_enforced"`, `"partially_enforced"` or `"not_enforced"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementState {
    /// Every route the policy covers is intercepted in the kernel.
    FullyEnforced,
    /// Some routes are intercepted; `reason` says which are not.
    PartiallyEnforced,
    /// Not enforced: violations go unseen.
    NotEnforced,
}

/// The interception mechanism in use. Serializes as its `Display` name (`"seccomp-trap"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Mechanism {
    /// seccomp `SECCOMP_RET_TRAP` with fnshield's SIGSYS handler.
    SeccompTrap,
    /// seccomp `SECCOMP_RET_USER_NOTIF` with a supervisor thread.
    SeccompNotify,
    /// Decided in the kernel filter itself, with an errno.
    SeccompErrno,
    /// fnshield's in-process libc layer: the libc entry points the function's binary calls
    /// (the only mechanism where seccomp is refused).
    Libc,
    /// Nothing: the policy is in `allow` mode, or the kernel refused.
    None,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::SeccompTrap => "seccomp-trap",
            Mechanism::SeccompNotify => "seccomp-notify",
            Mechanism::SeccompErrno => "seccomp-errno",
            Mechanism::Libc => "libc",
            Mechanism::None => "none",
        })
    }
}

/// One policy's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyEnforcement {
    /// The policy (serialized as its configuration name, e.g. `"outbound_connectivity"`).
    #[serde(serialize_with = "policy_name")]
    pub policy: PolicyKind,
    /// How completely it is enforced.
    pub state: EnforcementState,
    /// The mechanism that enforces it (libc layer, seccomp trap, seccomp notify, or none).
    pub mechanism: Mechanism,
    /// Why it is in this state.
    pub reason: String,
}

fn policy_name<S: Serializer>(p: &PolicyKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// What the kernel offered when fnshield probed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KernelProbe {
    /// `NoNewPrivs` from /proc/self/status before install.
    pub no_new_privs: bool,
    /// `Seccomp` mode from /proc/self/status before install (0 none, 1 strict, 2 filter).
    pub seccomp_mode: u8,
    /// Filters already installed before ours.
    pub seccomp_filters: u32,
    /// `SECCOMP_GET_ACTION_AVAIL` said TRAP is available.
    pub trap_available: bool,
    /// `SECCOMP_GET_ACTION_AVAIL` said USER_NOTIF is available.
    pub notify_available: bool,
    /// The Landlock ABI version, if Landlock is available.
    pub landlock_abi: Option<u32>,
    /// Error from `seccomp(2)` or `prctl(2)`, if one refused.
    pub refused: Option<String>,
    /// Each kernel feature fnshield may rely on, as probed, in probe order (see
    /// [`KernelProbe::feature`] for the names).
    pub features: Vec<Feature>,
}

/// A kernel feature fnshield may rely on, and what probing it found. Serializes as
/// `{"name": ..., "status": ...}` plus the status's `errno`/`signal` (see [`FeatureStatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Feature {
    /// The feature: `prctl_no_new_privs`, `seccomp_filter` (tried in a forked child first),
    /// `seccomp_trap`, `seccomp_user_notif` (`SECCOMP_GET_ACTION_AVAIL`),
    /// `new_listener`, `tsync_esrch`, `wait_killable_recv` (filter flags), `addfd`,
    /// `addfd_send`, `sync_wake_up` (listener ioctls), `pidfd_open`, `pidfd_getfd`,
    /// `process_vm_readv`, `openat2`, `landlock` (syscalls).
    pub name: &'static str,
    /// What the probe found.
    #[serde(flatten)]
    pub status: FeatureStatus,
}

/// What probing one kernel feature found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureStatus {
    /// The kernel offers it.
    Available,
    /// The kernel (or a sandbox's filter) refused it with this errno.
    Refused(i32),
    /// A sandbox's filter killed the (short-lived, forked) probe process with this signal.
    Killed(i32),
    /// Not probed: nothing installed needed it, or an earlier step failed.
    NotProbed,
}

/// `{"status": "available"}`, `{"status": "refused", "errno": 1, "error": "Operation not
/// permitted (os error 1)"}`, `{"status": "killed", "signal": 31}` or
/// `{"status": "not_probed"}`.
impl Serialize for FeatureStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self {
            FeatureStatus::Available => m.serialize_entry("status", "available")?,
            FeatureStatus::Refused(e) => {
                m.serialize_entry("status", "refused")?;
                m.serialize_entry("errno", e)?;
                m.serialize_entry("error", &std::io::Error::from_raw_os_error(*e).to_string())?;
            }
            FeatureStatus::Killed(sig) => {
                m.serialize_entry("status", "killed")?;
                m.serialize_entry("signal", sig)?;
            }
            FeatureStatus::NotProbed => m.serialize_entry("status", "not_probed")?,
        }
        m.end()
    }
}

impl fmt::Display for FeatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureStatus::Available => f.write_str("available"),
            FeatureStatus::Refused(e) => {
                write!(f, "refused ({})", std::io::Error::from_raw_os_error(*e))
            }
            FeatureStatus::Killed(sig) => write!(f, "killed (signal {sig})"),
            FeatureStatus::NotProbed => f.write_str("not probed"),
        }
    }
}

impl KernelProbe {
    /// What probing feature `name` found ([`FeatureStatus::NotProbed`] if it was not).
    pub fn feature(&self, name: &str) -> FeatureStatus {
        self.features
            .iter()
            .rev()
            .find(|f| f.name == name)
            .map_or(FeatureStatus::NotProbed, |f| f.status)
    }

    /// Whether feature `name` was probed and found available.
    pub fn has(&self, name: &str) -> bool {
        self.feature(name) == FeatureStatus::Available
    }

    /// Record what probing `name` found (from a raw syscall result: `>= 0` available,
    /// `-errno` refused).
    pub(crate) fn record(&mut self, name: &'static str, raw: i64) {
        let status = if raw >= 0 {
            FeatureStatus::Available
        } else {
            FeatureStatus::Refused(-raw as i32)
        };
        self.features.retain(|f| f.name != name);
        self.features.push(Feature { name, status });
    }
}

/// The report `Shield::install` returns. Serializes (serde) with the field names below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enforcement {
    /// One entry for each of the four policies.
    pub policies: Vec<PolicyEnforcement>,
    /// The interceptor in use.
    pub interceptor: Mechanism,
    /// Why this interceptor was chosen.
    pub interceptor_reason: String,
    /// What the kernel offered.
    pub kernel: KernelProbe,
    /// The in-process libc layer: whether it decides calls in this process, or why not.
    pub libc_layer: LibcLayer,
}

/// The state of the in-process libc layer (the `libc-layer` cargo feature). Serializes as
/// `"active"`, `"inactive"` or `"not_built"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LibcLayer {
    /// Active: calls through the libc entry points are decided in process (the fast path
    /// beside seccomp, or the only enforcement where seccomp is refused).
    Active,
    /// Built, but not active (the shield is not installed).
    Inactive,
    /// Not in this build: the `libc-layer` feature is off, or the target is not glibc.
    NotBuilt,
}

impl fmt::Display for LibcLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LibcLayer::Active => "active",
            LibcLayer::Inactive => "inactive",
            LibcLayer::NotBuilt => "not built (feature `libc-layer` off, or not a glibc target)",
        })
    }
}

impl Enforcement {
    /// The line for `policy`.
    pub fn policy(&self, policy: PolicyKind) -> Option<&PolicyEnforcement> {
        self.policies.iter().find(|p| p.policy == policy)
    }

    /// Whether every policy is either fully enforced or deliberately `allow` (a policy set to
    /// `allow` is not enforced, and is not a degradation either). False when any policy that
    /// should be enforced is only partly enforced or not at all, e.g. because the kernel
    /// refused seccomp.
    pub fn is_fully_enforced(&self) -> bool {
        self.policies
            .iter()
            .all(|p| p.state == EnforcementState::FullyEnforced || p.reason == ALLOW_REASON)
    }
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "interceptor: {} ({})",
            self.interceptor, self.interceptor_reason
        )?;
        writeln!(f, "libc layer: {}", self.libc_layer)?;
        for p in &self.policies {
            writeln!(
                f,
                "  {:<22} {:?} via {}: {}",
                p.policy.as_str(),
                p.state,
                p.mechanism,
                p.reason
            )?;
        }
        if !self.kernel.features.is_empty() {
            write!(f, "  kernel features:")?;
            for x in &self.kernel.features {
                write!(f, " {}={}", x.name, x.status)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn feature_status_serializes_with_its_errno_or_signal() {
        let f = |name, status| serde_json::to_value(Feature { name, status }).unwrap();
        assert_eq!(
            f("addfd", FeatureStatus::Available),
            json!({"name": "addfd", "status": "available"})
        );
        assert_eq!(
            f("addfd_send", FeatureStatus::Refused(libc::EINVAL)),
            json!({"name": "addfd_send", "status": "refused", "errno": 22,
                   "error": "Invalid argument (os error 22)"})
        );
        assert_eq!(
            f("seccomp_filter", FeatureStatus::Killed(libc::SIGSYS)),
            json!({"name": "seccomp_filter", "status": "killed", "signal": 31})
        );
        assert_eq!(
            f("landlock", FeatureStatus::NotProbed),
            json!({"name": "landlock", "status": "not_probed"})
        );
    }

    #[test]
    fn enforcement_serializes_with_configuration_names() {
        let e = Enforcement {
            policies: vec![PolicyEnforcement {
                policy: PolicyKind::OutboundConnectivity,
                state: EnforcementState::PartiallyEnforced,
                mechanism: Mechanism::SeccompNotify,
                reason: "r".into(),
            }],
            interceptor: Mechanism::SeccompTrap,
            interceptor_reason: "why".into(),
            kernel: KernelProbe::default(),
            libc_layer: LibcLayer::NotBuilt,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v["policies"][0],
            json!({"policy": "outbound_connectivity", "state": "partially_enforced",
                   "mechanism": "seccomp-notify", "reason": "r"})
        );
        assert_eq!(v["interceptor"], "seccomp-trap");
        assert_eq!(v["libc_layer"], "not_built");
        assert_eq!(v["kernel"]["no_new_privs"], false);
        assert_eq!(v["kernel"]["features"], json!([]));
    }
}
