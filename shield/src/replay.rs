//! Replaying observed events against a policy, with the decision engine the interceptors use.

use crate::event::{Details, Event};
use crate::intercept::decide::{Access, Decider, Verdict};
use crate::policy::{Mode, Policy};

/// A policy compiled for replaying events.
///
/// A function run in staging with `SHIELD_MODE=alert` reports every operation a policy would
/// refuse. [`Replay`] answers, for each such [`Event`], what another [`Policy`] would do with
/// the same operation: this is how `fnshield check` (the `fnshield-cli` crate) tells whether
/// turning on block mode would break a function, without running it.
///
/// ```
/// use fnshield::{Action, Details, Event, Mode, PolicyKind, Replay, Shield};
///
/// let policy = Shield::builder()
///     .allow_destination("api.example.com:443")
///     .build_policy()?;
/// let replay = Replay::new(&policy);
/// let seen = Event::new(
///     PolicyKind::OutboundConnectivity,
///     Action::Alerted,
///     Details::Connect { ip: "192.0.2.7".parse()?, port: 443, host: Some("api.example.com".into()) },
///     "req-1",
/// );
/// assert_eq!(replay.decide(&seen), Some(Mode::Allow));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Building one compiles the same decision tables that [`crate::Shield::install`] compiles;
/// each [`Replay::decide`] then allocates nothing.
#[derive(Debug)]
pub struct Replay {
    decider: Decider,
    /// Whether process creation (fork, clone) passes: it does whenever an executable is
    /// allowed or `create_child_process` is not `block`, because the kernel sees no program at
    /// fork time and the exec that follows is decided on its own. Only a policy under which
    /// no child can ever run refuses (and reports) process creation.
    fork_allowed: bool,
}

impl Replay {
    /// Compile `policy` for replay.
    pub fn new(policy: &Policy) -> Self {
        Replay {
            decider: Decider::new(policy),
            fork_allowed: policy.children_may_run(),
        }
    }

    /// What the policy would do with the operation `event` reports: [`Mode::Allow`] (let it
    /// through silently), [`Mode::Alert`] or [`Mode::Block`].
    ///
    /// The event's own `action` and `policy` do not matter, only what it is about: the path
    /// and access, the destination (with the host name learnt for it, if any), the executable,
    /// or process creation. Returns `None` for events that report no operation (validation
    /// failures and the shield's own `shield` events).
    ///
    /// A path event with an `access` other than `read`, `write` or `read_write` is decided
    /// as a metadata access (`stat`, `access`, `readlink`), as the interceptors do.
    pub fn decide(&self, event: &Event) -> Option<Mode> {
        let verdict = match &event.details {
            Details::Path { path, access } => {
                let access = Access::from_name(access);
                self.decider.classify_path(path.as_bytes(), access).verdict
            }
            Details::Connect { ip, port, host } => {
                let mut names = host.iter().map(|h| h.as_bytes());
                self.decider.decide_connect(*ip, *port, &mut names)
            }
            Details::Exec { path, .. } => self.decider.decide_exec(path.as_bytes()),
            Details::Fork if self.fork_allowed => Verdict::Allow,
            Details::Fork => self.decider.decide_fork(),
            Details::Bypass { what } => self.decide_bypass(what),
            Details::Validation { .. }
            | Details::Degraded { .. }
            | Details::EventsLost { .. }
            | Details::TmpNotWiped { .. } => return None,
        };
        Some(match verdict {
            Verdict::Allow => Mode::Allow,
            Verdict::Alert => Mode::Alert,
            Verdict::Block => Mode::Block,
        })
    }

    /// A [`Details::Bypass`]: a DNS query passes when its name is allowed; io_uring is refused
    /// when any policy it could bypass blocks; everything else (raw and packet sockets,
    /// routing options, unknown families) follows `outbound_connectivity`'s mode.
    fn decide_bypass(&self, what: &str) -> Verdict {
        use crate::intercept::decide::ModeSlot;
        let verdict = |m: Mode| match m {
            Mode::Allow => Verdict::Allow,
            Mode::Alert => Verdict::Alert,
            Mode::Block => Verdict::Block,
        };
        if let Some(name) = what.strip_prefix("DNS query for ") {
            if self.decider.name_allowed(name.as_bytes()) {
                return Verdict::Allow;
            }
        }
        if what.starts_with("io_uring") {
            return [
                ModeSlot::Outbound,
                ModeSlot::TmpRead,
                ModeSlot::TmpWrite,
                ModeSlot::ReadHandler,
            ]
            .iter()
            .map(|&s| verdict(self.decider.mode(s)))
            .max_by_key(|v| match v {
                Verdict::Allow => 0,
                Verdict::Alert => 1,
                Verdict::Block => 2,
            })
            .unwrap_or(Verdict::Allow);
        }
        verdict(self.decider.mode(ModeSlot::Outbound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Action;
    use crate::policy::{Env, PolicyKind};

    fn policy(toml: &str) -> Policy {
        crate::policy::load::from_str(std::path::Path::new("replay.toml"), toml)
            .unwrap()
            .into_policy(&Env::from_pairs([("LAMBDA_TASK_ROOT", "/var/task")]), "")
            .unwrap()
    }

    fn ev(policy: PolicyKind, details: Details) -> Event {
        Event::new(policy, Action::Alerted, details, "req")
    }

    fn path(p: &str, access: &'static str) -> Details {
        Details::Path {
            path: p.into(),
            access,
        }
    }

    #[test]
    fn paths_follow_the_tmp_allow_lists_and_protected_paths() {
        let r = Replay::new(&policy(
            "[read_write_tmp]\nroot = \"/scratch\"\nallow_read = [\"/scratch/cache\"]\nallow_write = [\"/scratch/out\"]\n",
        ));
        let tmp = PolicyKind::ReadWriteTmp;
        assert_eq!(
            r.decide(&ev(tmp, path("/scratch/cache/a", "read"))),
            Some(Mode::Allow)
        );
        assert_eq!(
            r.decide(&ev(tmp, path("/scratch/cache/a", "write"))),
            Some(Mode::Block)
        );
        assert_eq!(
            r.decide(&ev(tmp, path("/scratch/out/b", "write"))),
            Some(Mode::Allow)
        );
        assert_eq!(
            r.decide(&ev(tmp, path("/scratch/out/b", "read_write"))),
            Some(Mode::Block)
        );
        assert_eq!(
            r.decide(&ev(tmp, path("/scratch/cache/../x", "metadata"))),
            Some(Mode::Block)
        );
        assert_eq!(
            r.decide(&ev(tmp, path("/elsewhere", "write"))),
            Some(Mode::Allow)
        );
        let rh = PolicyKind::ReadHandler;
        assert_eq!(
            r.decide(&ev(rh, path("/proc/42/environ", "read"))),
            Some(Mode::Block)
        );
        assert_eq!(
            r.decide(&ev(rh, path("/var/task/bootstrap", "read"))),
            Some(Mode::Block)
        );
    }

    #[test]
    fn connections_match_names_and_networks_with_ports() {
        let r = Replay::new(&policy(
            "[outbound_connectivity]\nmode = \"alert\"\nallow = [\"api.test:443\", \"10.0.0.0/8\"]\n",
        ));
        let out = PolicyKind::OutboundConnectivity;
        let c = |ip: &str, port, host: Option<&str>| Details::Connect {
            ip: ip.parse().unwrap(),
            port,
            host: host.map(str::to_owned),
        };
        assert_eq!(
            r.decide(&ev(out, c("192.0.2.1", 443, Some("api.test")))),
            Some(Mode::Allow)
        );
        assert_eq!(
            r.decide(&ev(out, c("192.0.2.1", 80, Some("api.test")))),
            Some(Mode::Alert)
        );
        assert_eq!(
            r.decide(&ev(out, c("192.0.2.1", 443, None))),
            Some(Mode::Alert)
        );
        assert_eq!(
            r.decide(&ev(out, c("10.1.2.3", 5432, None))),
            Some(Mode::Allow)
        );
        // AWS endpoints stay allowed by default.
        assert_eq!(
            r.decide(&ev(
                out,
                c("192.0.2.9", 443, Some("s3.us-east-1.amazonaws.com"))
            )),
            Some(Mode::Allow)
        );
    }

    #[test]
    fn exec_and_fork() {
        let child = PolicyKind::CreateChildProcess;
        let exec = |p: &str| Details::Exec {
            path: p.into(),
            argv: vec![],
        };
        let r = Replay::new(&policy(
            "[create_child_process]\nallow = [\"/usr/bin/git\"]\n",
        ));
        assert_eq!(
            r.decide(&ev(child, exec("/usr/bin/git"))),
            Some(Mode::Allow)
        );
        assert_eq!(
            r.decide(&ev(child, exec("/usr/bin/./git"))),
            Some(Mode::Allow)
        );
        assert_eq!(r.decide(&ev(child, exec("/bin/sh"))), Some(Mode::Block));
        assert_eq!(r.decide(&ev(child, Details::Fork)), Some(Mode::Allow));
        let r = Replay::new(&policy("mode = \"block\"\n"));
        assert_eq!(r.decide(&ev(child, Details::Fork)), Some(Mode::Block));
        // In alert mode the kernel lets process creation through silently; the exec that
        // follows is what alerts.
        let r = Replay::new(&policy("[create_child_process]\nmode = \"alert\"\n"));
        assert_eq!(r.decide(&ev(child, Details::Fork)), Some(Mode::Allow));
        assert_eq!(r.decide(&ev(child, exec("/bin/sh"))), Some(Mode::Alert));
    }

    #[test]
    fn events_without_an_operation_are_not_decided() {
        let r = Replay::new(&policy("mode = \"block\"\n"));
        let e = ev(PolicyKind::Shield, Details::EventsLost { lost: 3 });
        assert_eq!(r.decide(&e), None);
    }
}
