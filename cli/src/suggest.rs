//! `fnshield suggest`: the allowances that let exactly what was observed through.

use crate::observe::{seen, Entry, Observations};
use fnshield::{Details, Mode, PolicyKind, Replay};
use std::fmt::Write as _;

/// The record text limit of an event (`TEXT_MAX`): a truncated path this long is a prefix.
const TEXT_MAX: usize = 256;

/// The rule by which tmp paths are collapsed, stated in the output.
pub const TMP_RULE: &str = "each path is allowed through the directory that holds it; a \
directory under another allowed directory is dropped; a path directly in the tmp root is \
allowed by itself, since allowing the root would turn the policy off";

/// One suggested allowance, with what it covers.
#[derive(Debug, Clone)]
pub struct Allowance {
    /// The value to put in the list.
    pub value: String,
    /// The comment: count, first and last seen, a request id, what it covers.
    pub comment: String,
}

/// What to add, per list, plus warnings.
#[derive(Debug, Default)]
pub struct Suggestion {
    /// `outbound_connectivity.allow`.
    pub outbound: Vec<Allowance>,
    /// `read_write_tmp.allow_read`.
    pub tmp_read: Vec<Allowance>,
    /// `read_write_tmp.allow_write`.
    pub tmp_write: Vec<Allowance>,
    /// `create_child_process.allow`.
    pub exec: Vec<Allowance>,
    /// Per policy: whether anything was observed for it.
    pub observed: [bool; 4],
    /// Things the user must know, each one line.
    pub warnings: Vec<String>,
}

fn policy_index(p: PolicyKind) -> usize {
    match p {
        PolicyKind::OutboundConnectivity => 0,
        PolicyKind::ReadWriteTmp => 1,
        PolicyKind::CreateChildProcess => 2,
        _ => 3,
    }
}

/// Whether `p` is `root` or below it (both normalised, absolute).
pub fn is_under(root: &str, p: &str) -> bool {
    p.starts_with(root)
        && (p.len() == root.len() || p.as_bytes()[root.len()] == b'/' || root == "/")
}

fn parent(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}

/// Merge `entries` into one allowance comment.
fn merged_comment(entries: &[&Entry], covers: Option<&[String]>) -> String {
    let count: u64 = entries.iter().map(|e| e.count).sum();
    let first = entries
        .iter()
        .filter(|e| !e.first.is_empty())
        .min_by(|a, b| a.first.cmp(&b.first));
    let last = entries.iter().map(|e| e.last.as_str()).max().unwrap_or("");
    let mut all = Entry::clone(first.unwrap_or(&entries[0]));
    all.count = count;
    all.blocked = entries.iter().map(|e| e.blocked).sum();
    all.last = last.to_owned();
    for e in entries {
        all.processes.extend(e.processes.iter().cloned());
        all.by_function |= e.by_function;
    }
    let mut s = seen(&all);
    if let Some(c) = covers {
        let shown: Vec<&str> = c.iter().take(3).map(String::as_str).collect();
        let more = c.len().saturating_sub(3);
        let _ = write!(s, "; covers {}", shown.join(", "));
        if more > 0 {
            let _ = write!(s, " and {more} more");
        }
    }
    s
}

/// Collapse observed tmp paths (with their entries) into the smallest covering directories.
fn collapse(
    root: &str,
    paths: Vec<(&Entry, &str)>,
    list: &str,
    warnings: &mut Vec<String>,
) -> Vec<Allowance> {
    // (candidate directory or file, entry, observed path)
    let mut cands: Vec<(String, &Entry, String)> = Vec::new();
    for (e, p) in paths {
        if !is_under(root, p) {
            warnings.push(format!(
                "{p} is outside the tmp root {root} ({}); pass the function's root with --tmp-root",
                seen(e)
            ));
            continue;
        }
        let cut_short = e.truncated && p.len() >= TEXT_MAX;
        let c = if p == root {
            None
        } else if cut_short || parent(p) != root {
            Some(parent(p).to_owned())
        } else {
            Some(p.to_owned())
        };
        match c {
            Some(c) if c != root => cands.push((c, e, p.to_owned())),
            _ => warnings.push(format!(
                "{list}: {} itself{} ({}) cannot be allowed without turning the policy off; \
                 it stays refused",
                if p == root {
                    root.to_owned()
                } else {
                    format!("a path cut short in {root}")
                },
                if p == root { " was accessed" } else { "" },
                seen(e)
            )),
        }
    }
    let mut dirs: Vec<&str> = cands.iter().map(|(c, _, _)| c.as_str()).collect();
    dirs.sort_unstable();
    dirs.dedup();
    let keep: Vec<String> = dirs
        .iter()
        .filter(|d| !dirs.iter().any(|o| o != *d && is_under(o, d)))
        .map(|d| (*d).to_owned())
        .collect();
    keep.into_iter()
        .map(|d| {
            let mut es: Vec<&Entry> = Vec::new();
            let mut covered: Vec<String> = Vec::new();
            for (c, e, p) in &cands {
                if is_under(&d, c) {
                    es.push(e);
                    if !covered.contains(p) {
                        covered.push(p.clone());
                    }
                }
            }
            let covers = (covered.len() > 1 || covered[0] != d).then_some(&covered[..]);
            Allowance {
                comment: merged_comment(&es, covers),
                value: d,
            }
        })
        .collect()
}

/// Compute the allowances for every observed operation that `existing` (if any) does not
/// already allow. `tmp_root` is the function's tmp root, normalised.
pub fn suggest(obs: &Observations, tmp_root: &str, existing: Option<&Replay>) -> Suggestion {
    let mut s = Suggestion::default();
    let needed = |e: &&Entry| existing.is_none_or(|r| r.decide(&e.event) != Some(Mode::Allow));
    for e in obs.all() {
        s.observed[policy_index(e.event.policy)] = true;
    }
    // Destinations: by host name when the event carries one, else by IP; with the port.
    let mut dests: Vec<(String, Vec<&Entry>)> = Vec::new();
    for e in obs.entries(PolicyKind::OutboundConnectivity).filter(needed) {
        if let Details::Connect { ip, port, host } = &e.event.details {
            let d = match host {
                Some(h) => format!("{h}:{port}"),
                None if ip.is_ipv6() => format!("[{ip}]:{port}"),
                None => format!("{ip}:{port}"),
            };
            match dests.iter_mut().find(|(x, _)| *x == d) {
                Some((_, v)) => v.push(e),
                None => dests.push((d, vec![e])),
            }
        }
    }
    // DNS queries for names that were not allowed: under block, a query is sent only for an
    // allowed name (whatever the port). A name already covered by a destination above needs
    // nothing more; otherwise the narrowest allowance that lets the query through is the name
    // on port 53.
    const DNS: &str = "DNS query for ";
    let mut others = Vec::new();
    for e in obs.all().filter(needed) {
        let Details::Bypass { what } = &e.event.details else {
            continue;
        };
        match what.strip_prefix(DNS) {
            Some(name) => {
                let covered = dests
                    .iter()
                    .any(|(d, _)| d.rsplit_once(':').is_some_and(|(h, _)| h == name));
                if !covered {
                    let d = format!("{name}:53");
                    match dests.iter_mut().find(|(x, _)| *x == d) {
                        Some((_, v)) => v.push(e),
                        None => dests.push((d, vec![e])),
                    }
                }
            }
            None => others.push(e),
        }
    }
    for e in others {
        if let Details::Bypass { what } = &e.event.details {
            s.warnings.push(format!(
                "{} fired on a bypass: {what} ({}). It cannot be allowed by an entry; under \
                 block it is refused. If the function needs it, set {}.mode = \"alert\" or \
                 \"allow\"",
                e.event.policy,
                seen(e),
                e.event.policy
            ));
        }
    }
    for (d, es) in dests {
        let mut comment = merged_comment(&es, None);
        if let Some(Details::Connect { host: Some(_), .. }) = es.first().map(|e| &e.event.details) {
            let mut ips: Vec<String> = es
                .iter()
                .filter_map(|e| match &e.event.details {
                    Details::Connect { ip, .. } => Some(ip.to_string()),
                    _ => None,
                })
                .collect();
            ips.dedup();
            let _ = write!(comment, "; seen at {}", ips.join(", "));
        }
        s.outbound.push(Allowance { value: d, comment });
    }
    // Tmp paths, reads and writes apart.
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    for e in obs.entries(PolicyKind::ReadWriteTmp).filter(needed) {
        if let Details::Path { path, access } = &e.event.details {
            if matches!(*access, "read" | "read_write" | "metadata") {
                reads.push((e, path.as_str()));
            }
            if matches!(*access, "write" | "read_write") {
                writes.push((e, path.as_str()));
            }
        }
    }
    s.tmp_read = collapse(tmp_root, reads, "allow_read", &mut s.warnings);
    s.tmp_write = collapse(tmp_root, writes, "allow_write", &mut s.warnings);
    // Executables; process creation without a program.
    let mut forks = 0;
    for e in obs.entries(PolicyKind::CreateChildProcess).filter(needed) {
        match &e.event.details {
            Details::Exec { path, .. } if e.truncated && path.len() >= TEXT_MAX => {
                s.warnings.push(format!(
                    "an executable path was cut short in the log ({path}…, {}); find the \
                     program and add it to create_child_process.allow by hand",
                    seen(e)
                ))
            }
            Details::Exec { path, .. } => s.exec.push(Allowance {
                value: path.clone(),
                comment: seen(e),
            }),
            _ => forks += e.count,
        }
    }
    if forks > 0 && s.exec.is_empty() && existing.is_none_or(|r| !allows_any_exec(r, obs)) {
        s.warnings.push(format!(
            "process creation without a program run was refused {forks} times: no executable \
             to allow; allowing any executable lets process creation through, or set \
             create_child_process.mode = \"allow\""
        ));
    }
    // read_handler: protected paths cannot be allowed one by one.
    for e in obs.entries(PolicyKind::ReadHandler).filter(needed) {
        if let Details::Path { path, .. } = &e.event.details {
            s.warnings.push(format!(
                "read_handler fired on {path} ({}). It stays in block: protected paths \
                 cannot be allowed one by one. If the function must read it, set \
                 read_handler.mode = \"allow\" and accept that its code and secrets can be read",
                seen(e)
            ));
        }
    }
    if obs.shield.lost > 0 {
        s.warnings.push(format!(
            "{} events were lost (the event ring was full): this answer may be incomplete; \
             collect more logs or lower the load in staging",
            obs.shield.lost
        ));
    }
    for (policy, reason) in &obs.shield.degraded {
        s.warnings.push(format!(
            "{policy} was not fully enforced where the log comes from ({reason}); if it was \
             not enforced at all, its operations are missing and this answer may be incomplete"
        ));
    }
    s
}

fn allows_any_exec(r: &Replay, obs: &Observations) -> bool {
    obs.entries(PolicyKind::CreateChildProcess).any(|e| {
        matches!(e.event.details, Details::Exec { .. }) && r.decide(&e.event) == Some(Mode::Allow)
    })
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a TOML comment: control characters (a newline would end the comment and
/// let a logged path write configuration) are shown escaped.
pub fn comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn list(out: &mut String, key: &str, items: &[Allowance]) {
    let _ = writeln!(out, "{key} = [");
    for a in items {
        let _ = writeln!(out, "    # {}", comment(&a.comment));
        let _ = writeln!(out, "    {},", quote(&a.value));
    }
    out.push_str("]\n");
}

/// Render a complete, commented `fnshield.toml`.
pub fn render(s: &Suggestion, obs: &Observations, tmp_root: &str, sources: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# fnshield.toml suggested by `fnshield suggest` from {}.",
        comment(sources)
    );
    let _ = writeln!(out, "# {}.", comment(&obs.summary()));
    out.push_str(
        "# It allows exactly what was observed and blocks everything else. Review it before\n\
         # deploying: anything the function does that the logs did not show will be blocked.\n",
    );
    for w in &s.warnings {
        let _ = writeln!(out, "# WARNING: {}", comment(w));
    }
    out.push('\n');
    let none = "# Nothing was observed for this policy: it stays in block.\n";

    out.push_str("[outbound_connectivity]\nmode = \"block\"\n");
    if s.outbound.is_empty() {
        out.push_str(if s.observed[0] { "" } else { none });
    } else {
        list(&mut out, "allow", &s.outbound);
    }

    out.push_str("\n[read_write_tmp]\nmode = \"block\"\n");
    if tmp_root != "/tmp" {
        let _ = writeln!(out, "root = {}", quote(tmp_root));
    }
    if !s.observed[1] {
        out.push_str(none);
    } else {
        let _ = writeln!(out, "# Rule: {}.", comment(TMP_RULE));
        if !s.tmp_read.is_empty() {
            list(&mut out, "allow_read", &s.tmp_read);
        }
        if !s.tmp_write.is_empty() {
            list(&mut out, "allow_write", &s.tmp_write);
        }
    }

    out.push_str("\n[create_child_process]\nmode = \"block\"\n");
    if s.exec.is_empty() {
        out.push_str(if s.observed[2] { "" } else { none });
    } else {
        list(&mut out, "allow", &s.exec);
    }

    out.push_str("\n[read_handler]\nmode = \"block\"\n");
    if !s.observed[3] {
        out.push_str(none);
    } else {
        out.push_str(
            "# read_handler fired (see the warnings above); it stays in block because protected\n\
             # paths cannot be allowed one by one.\n",
        );
    }
    out
}
