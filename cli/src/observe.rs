//! Folding the events of one or more logs into one entry per distinct operation.
//!
//! Memory grows with the number of distinct operations (paths, destinations, programs), never
//! with the number of lines.

use crate::event::{self, Observed};
use crate::input::{self, Counts};
use fnshield::{Action, Details, Event, PolicyKind};
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;

/// How many distinct child-process executables an entry remembers.
const PROCESSES_MAX: usize = 4;

/// Everything seen of one distinct operation.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The first event seen (its `count` is that event's own).
    pub event: Event,
    /// Occurrences: the sum of the events' `count`s (folded events stand for several).
    pub count: u64,
    /// How many of them were blocked.
    pub blocked: u64,
    /// Earliest `timestamp` seen (RFC 3339 UTC compares as text).
    pub first: String,
    /// Latest `timestamp` seen.
    pub last: String,
    /// One request id in which it happened (the earliest seen).
    pub request_id: String,
    /// Child-process executables that did it (`process`), at most a few.
    pub processes: BTreeSet<String>,
    /// Whether it was also done by the function's own process (no `process`).
    pub by_function: bool,
    /// Whether any of the events had `truncated` set.
    pub truncated: bool,
}

/// The shield's own reports.
#[derive(Debug, Clone, Default)]
pub struct ShieldReports {
    /// Events lost because the ring was full (sum of `lost`).
    pub lost: u64,
    /// Degradations: (policy, reason), distinct.
    pub degraded: BTreeSet<(String, String)>,
    /// `/tmp` wipes that left something behind.
    pub tmp_not_wiped: u64,
    /// Validation events (not operations; they are counted, not replayed).
    pub validation: u64,
}

/// The folded content of the logs.
#[derive(Debug, Default)]
pub struct Observations {
    /// Line counts over all inputs.
    pub counts: Counts,
    /// Event lines that could not be read as events (bad field values), with a sample reason.
    pub bad_events: u64,
    /// One reason a line was counted in `bad_events`.
    pub bad_sample: Option<String>,
    entries: HashMap<String, Entry>,
    order: Vec<String>,
    /// The shield's own reports.
    pub shield: ShieldReports,
}

fn key(e: &Event) -> String {
    format!("{}|{:?}", e.policy, e.details)
}

impl Observations {
    /// Read one input to its end.
    ///
    /// # Errors
    /// An I/O error reading it.
    pub fn read(&mut self, input: impl BufRead) -> std::io::Result<()> {
        let counts = input::read(input, &mut |v| match event::parse(&v) {
            Ok(o) => self.add(o),
            Err(e) => {
                self.bad_events += 1;
                self.bad_sample.get_or_insert(e.0);
            }
        })?;
        // Events whose fields could not be read are counted as events by the reader and
        // in `bad_events` here; `summary` reports them as malformed.
        self.counts.add(counts);
        Ok(())
    }

    /// Add one event.
    pub fn add(&mut self, o: Observed) {
        let e = &o.event;
        match &e.details {
            Details::EventsLost { lost } => {
                self.shield.lost += lost;
                return;
            }
            Details::Degraded { policy, reason } => {
                self.shield
                    .degraded
                    .insert((policy.clone(), reason.clone()));
                return;
            }
            Details::TmpNotWiped { .. } => {
                self.shield.tmp_not_wiped += e.count;
                return;
            }
            Details::Validation { .. } => {
                self.shield.validation += e.count;
                return;
            }
            _ => {}
        }
        let k = key(e);
        let blocked = if e.action == Action::Blocked {
            e.count
        } else {
            0
        };
        match self.entries.get_mut(&k) {
            Some(x) => {
                x.count += e.count;
                x.blocked += blocked;
                if !o.timestamp.is_empty() && (x.first.is_empty() || o.timestamp < x.first) {
                    x.first.clone_from(&o.timestamp);
                    x.request_id.clone_from(&e.request_id);
                }
                if o.timestamp > x.last {
                    x.last.clone_from(&o.timestamp);
                }
                match &e.process {
                    Some(p) if x.processes.len() < PROCESSES_MAX => {
                        x.processes.insert(p.clone());
                    }
                    Some(_) => {}
                    None => x.by_function = true,
                }
                x.truncated |= e.truncated;
            }
            None => {
                let entry = Entry {
                    count: e.count,
                    blocked,
                    first: o.timestamp.clone(),
                    last: o.timestamp.clone(),
                    request_id: e.request_id.clone(),
                    processes: e.process.iter().cloned().collect(),
                    by_function: e.process.is_none(),
                    truncated: e.truncated,
                    event: o.event,
                };
                self.order.push(k.clone());
                self.entries.insert(k, entry);
            }
        }
    }

    /// The entries of `policy`, in the order first seen.
    pub fn entries(&self, policy: PolicyKind) -> impl Iterator<Item = &Entry> {
        self.order
            .iter()
            .filter_map(|k| self.entries.get(k))
            .filter(move |e| e.event.policy == policy)
    }

    /// All entries, in the order first seen.
    pub fn all(&self) -> impl Iterator<Item = &Entry> {
        self.order.iter().filter_map(|k| self.entries.get(k))
    }

    /// Events read (operations and shield reports), after folding, as a total of `count`s.
    pub fn occurrences(&self) -> u64 {
        self.entries.values().map(|e| e.count).sum()
    }

    /// Lines skipped or malformed, for the summary line.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let mut s = format!(
            "{} lines read: {} fnshield events, {} other lines skipped, {} malformed",
            c.lines,
            c.events - self.bad_events,
            c.skipped,
            c.malformed + self.bad_events
        );
        if let Some(why) = &self.bad_sample {
            s.push_str(&format!(" (e.g. {why})"));
        }
        s
    }
}

/// One line of text for a comment or a report: `count times, first … last …, request …`.
pub fn seen(e: &Entry) -> String {
    let times = if e.count == 1 { "time" } else { "times" };
    let mut s = format!("{} {times}", e.count);
    if e.blocked > 0 && e.blocked < e.count {
        s.push_str(&format!(" ({} blocked)", e.blocked));
    } else if e.blocked > 0 {
        s.push_str(" (blocked)");
    }
    if !e.first.is_empty() {
        if e.first == e.last {
            s.push_str(&format!(", at {}", e.first));
        } else {
            s.push_str(&format!(", first {}, last {}", e.first, e.last));
        }
    }
    s.push_str(&format!(", e.g. request {}", e.request_id));
    if !e.processes.is_empty() {
        let who: Vec<&str> = e.processes.iter().map(String::as_str).collect();
        s.push_str(&format!(
            ", by child process {}{}",
            who.join(", "),
            if e.by_function {
                " and the function"
            } else {
                ""
            }
        ));
    }
    s
}
