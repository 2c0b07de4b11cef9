//! `fnshield check`: replay the observed operations against a configuration.

use crate::observe::{seen, Entry, Observations};
use fnshield::{Details, Mode, Replay};
use std::fmt::Write as _;

/// What a configuration would do with the observed operations.
#[derive(Debug, Default)]
pub struct Outcome<'a> {
    /// Operations it would block.
    pub blocked: Vec<&'a Entry>,
    /// Operations it would let through with an alert.
    pub alerted: Vec<&'a Entry>,
    /// Operations it would let through silently.
    pub allowed: u64,
}

impl Outcome<'_> {
    /// Occurrences that would be blocked (sum of counts).
    pub fn blocked_count(&self) -> u64 {
        self.blocked.iter().map(|e| e.count).sum()
    }
}

/// Replay every observed operation.
pub fn replay<'a>(obs: &'a Observations, replay: &Replay) -> Outcome<'a> {
    let mut out = Outcome::default();
    for e in obs.all() {
        match replay.decide(&e.event) {
            Some(Mode::Block) => out.blocked.push(e),
            Some(Mode::Alert) => out.alerted.push(e),
            _ => out.allowed += e.count,
        }
    }
    out
}

/// What an entry is about, in one line: `read_handler read /proc/self/environ`.
pub fn what(e: &Entry) -> String {
    let p = e.event.policy.as_str();
    match &e.event.details {
        Details::Path { path, access } => format!("{p} {access} {path}"),
        Details::Connect { ip, port, host } => match host {
            Some(h) => format!("{p} connect {h}:{port} ({ip})"),
            None if ip.is_ipv6() => format!("{p} connect [{ip}]:{port}"),
            None => format!("{p} connect {ip}:{port}"),
        },
        Details::Exec { path, .. } => format!("{p} exec {path}"),
        Details::Fork => format!("{p} fork (process creation)"),
        Details::Bypass { what } => format!("{p} {what}"),
        _ => p.to_owned(),
    }
}

/// The report text.
pub fn render(o: &Outcome<'_>, obs: &Observations, config: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "fnshield check against {config}");
    let _ = writeln!(out, "{}", obs.summary());
    for (label, list) in [("would block", &o.blocked), ("would alert", &o.alerted)] {
        let n: u64 = list.iter().map(|e| e.count).sum();
        let _ = writeln!(out, "\n{label}: {} operations, {n} occurrences", list.len());
        for e in list.iter() {
            let _ = writeln!(out, "  {}  [{}]", what(e), seen(e));
        }
    }
    let _ = writeln!(out, "\nallowed silently: {} occurrences", o.allowed);
    if obs.shield.lost > 0 {
        let _ = writeln!(
            out,
            "WARNING: {} events were lost in the logs (the event ring was full): operations \
             missing from them were not replayed",
            obs.shield.lost
        );
    }
    for (policy, reason) in &obs.shield.degraded {
        let _ = writeln!(
            out,
            "WARNING: {policy} was not fully enforced where the logs come from ({reason}): \
             operations it missed were not replayed"
        );
    }
    if obs.shield.validation > 0 {
        let _ = writeln!(
            out,
            "note: {} input_validation events are not replayed (validation depends on the \
             schemas and events, not on these allowances)",
            obs.shield.validation
        );
    }
    let _ = writeln!(
        out,
        "\nresult: {}",
        if o.blocked.is_empty() {
            "nothing would be blocked".to_owned()
        } else {
            format!(
                "FAIL: {} occurrences of {} operations would be blocked",
                o.blocked_count(),
                o.blocked.len()
            )
        }
    );
    out
}
