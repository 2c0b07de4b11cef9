//! The `Enforcement` report: per policy, how (and whether) it is enforced.

use crate::policy::PolicyKind;
use std::fmt;

/// The `reason` of a policy that is not enforced because its mode is `allow`.
pub(crate) const ALLOW_REASON: &str = "mode is allow";

/// How completely a policy is enforced (after rust-landlock's `RestrictionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnforcementState {
    /// Every route the policy covers is intercepted in the kernel.
    FullyEnforced,
    /// Some routes are intercepted; `reason` says which are not.
    PartiallyEnforced,
    /// Not enforced: violations go unseen.
    NotEnforced,
}

/// The interception mechanism in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mechanism {
    /// seccomp `SECCOMP_RET_TRAP` with fnshield's SIGSYS handler.
    SeccompTrap,
    /// seccomp `SECCOMP_RET_USER_NOTIF` with a supervisor thread.
    SeccompNotify,
    /// Decided in the kernel filter itself, with an errno.
    SeccompErrno,
    /// Nothing: the policy is in `allow` mode, or the kernel refused.
    None,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::SeccompTrap => "seccomp-trap",
            Mechanism::SeccompNotify => "seccomp-notify",
            Mechanism::SeccompErrno => "seccomp-errno",
            Mechanism::None => "none",
        })
    }
}

/// One policy's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEnforcement {
    /// The policy.
    pub policy: PolicyKind,
    /// How completely it is enforced.
    pub state: EnforcementState,
    /// By what.
    pub mechanism: Mechanism,
    /// Why it is in this state.
    pub reason: String,
}

/// What the kernel offered when fnshield probed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
}

/// The report `Shield::install` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforcement {
    /// Per policy.
    pub policies: Vec<PolicyEnforcement>,
    /// The interceptor in use.
    pub interceptor: Mechanism,
    /// Why this interceptor was chosen.
    pub interceptor_reason: String,
    /// What the kernel offered.
    pub kernel: KernelProbe,
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
        Ok(())
    }
}
