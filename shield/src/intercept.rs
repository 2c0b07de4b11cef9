//! Glue between the shield and the kernel interceptors.

use crate::enforce::{Enforcement, EnforcementState, KernelProbe, Mechanism, PolicyEnforcement};
use crate::event::{Action, Details, Event};
use crate::policy::{Mode, PolicyKind};
use crate::shield::{InstallError, Inner};

/// Tighten a policy (see [`crate::Shield::tighten`]).
pub(crate) fn tighten(policy: PolicyKind, to: Mode) -> Option<Mode> {
    let _ = (policy, to);
    None
}

/// Install kernel enforcement for `shield` and report what is enforced.
pub(crate) fn install(shield: &Inner) -> Result<Enforcement, InstallError> {
    let policies = PolicyKind::RUNTIME
        .iter()
        .map(|&p| PolicyEnforcement {
            policy: p,
            state: EnforcementState::NotEnforced,
            mechanism: Mechanism::None,
            reason: "kernel enforcement is not available in this build".into(),
        })
        .collect();
    let report = Enforcement {
        policies,
        interceptor: Mechanism::None,
        interceptor_reason: "no interceptor".into(),
        kernel: KernelProbe::default(),
    };
    finish(shield, report)
}

fn finish(shield: &Inner, report: Enforcement) -> Result<Enforcement, InstallError> {
    if shield.policy.require_enforcement() && !report.is_fully_enforced() {
        return Err(InstallError::NotEnforced(Box::new(report)));
    }
    for p in &report.policies {
        if p.state != EnforcementState::FullyEnforced {
            shield.reporter.record(Event::new(
                PolicyKind::Shield,
                Action::Alerted,
                Details::Degraded {
                    policy: p.policy.as_str().to_owned(),
                    reason: format!("{:?} via {}: {}", p.state, p.mechanism, p.reason),
                },
                "unknown",
            ));
        }
    }
    shield.reporter.flush(None);
    Ok(report)
}
