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
pub mod ring;
mod sink;

pub use record::{Record, RecordKind};
pub use ring::Ring;
pub(crate) use sink::rfc3339;
pub use sink::{emf_line, json_line, Callback, WipeFigures};

use crate::policy::path::Access;
use crate::policy::{PolicyKind, Sinks};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
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

/// Counts of what one flush emitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushSummary {
    /// Distinct blocked events emitted.
    pub blocked: u64,
    /// Distinct alerted events emitted.
    pub alerted: u64,
}

#[derive(Default)]
struct Pending {
    order: Vec<String>,
    events: HashMap<String, Event>,
    /// Invocations already flushed (most recent last, bounded): an event of theirs that shows
    /// up late is emitted by the next flush instead of waiting forever.
    finished: std::collections::VecDeque<String>,
}

/// How many flushed request ids are remembered for late events.
const FINISHED_MAX: usize = 256;

/// Drains the ring, folds repeats and emits to sinks.
pub struct Reporter {
    sinks: Sinks,
    emf_namespace: String,
    function_name: String,
    callback: Option<Callback>,
    pending: Mutex<Pending>,
    /// Held while records move from the ring into `pending`, so that a flush never misses a
    /// record another thread has taken off the ring but not yet recorded.
    drain: Mutex<()>,
    /// The figures of the last wipe that removed something or failed, with the request id
    /// of the invocation after which it ran; they go into that invocation's EMF line.
    wipe: Mutex<Option<(String, WipeFigures)>>,
    lost_reported: AtomicU64,
    out: Mutex<Box<dyn std::io::Write + Send>>,
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("sinks", &self.sinks)
            .finish_non_exhaustive()
    }
}

impl Reporter {
    /// A reporter writing JSON and EMF lines to stdout.
    pub fn new(
        sinks: Sinks,
        emf_namespace: &str,
        function_name: &str,
        callback: Option<Callback>,
    ) -> Self {
        Self::with_writer(
            sinks,
            emf_namespace,
            function_name,
            callback,
            Box::new(std::io::stdout()),
        )
    }

    /// A reporter writing JSON and EMF lines to `out` (for tests).
    pub fn with_writer(
        sinks: Sinks,
        emf_namespace: &str,
        function_name: &str,
        callback: Option<Callback>,
        out: Box<dyn std::io::Write + Send>,
    ) -> Self {
        Reporter {
            sinks,
            emf_namespace: emf_namespace.to_owned(),
            function_name: function_name.to_owned(),
            callback,
            pending: Mutex::new(Pending::default()),
            drain: Mutex::new(()),
            wipe: Mutex::new(None),
            lost_reported: AtomicU64::new(0),
            out: Mutex::new(out),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add an event (from outside signal context), folding it with identical ones.
    pub fn record(&self, mut ev: Event) {
        if ev.function_name.is_empty() {
            ev.function_name = self.function_name.clone();
        }
        let key = ev.fold_key();
        let mut p = self.lock();
        match p.events.get_mut(&key) {
            Some(e) => {
                e.count += ev.count;
                e.early |= ev.early;
            }
            None => {
                p.order.push(key.clone());
                p.events.insert(key, ev);
            }
        }
    }

    /// Move everything in `ring` into the pending set.
    pub fn collect_from<const N: usize>(&self, ring: &Ring<N>) {
        let _draining = self.drain.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(r) = ring.pop() {
            self.record(Event::from_record(&r, &self.function_name));
        }
        let lost = ring.overflowed();
        let before = self.lost_reported.swap(lost, Ordering::AcqRel);
        if lost > before {
            self.record(Event::new(
                PolicyKind::Shield,
                Action::Alerted,
                Details::EventsLost {
                    lost: lost - before,
                },
                "unknown",
            ));
        }
    }

    /// Move everything in the process ring into the pending set.
    pub fn collect(&self) {
        self.collect_from(&RING);
    }

    /// [`Reporter::collect`], then wait (briefly, bounded) for records other threads have
    /// claimed but not yet finished writing: a record stuck behind one could otherwise miss
    /// its invocation's flush.
    fn collect_settled(&self) {
        // Not a timing assumption: a producer that has claimed a slot finishes writing it in
        // a few instructions once it runs; the bound only keeps a flush from waiting forever
        // on a thread that can never run again (its progress is the ring's dequeue count).
        let mut seen = RING.dequeued();
        let mut since = std::time::Instant::now();
        loop {
            self.collect();
            if RING.is_empty() {
                return;
            }
            let progress = RING.dequeued();
            if progress != seen {
                seen = progress;
                since = std::time::Instant::now();
            } else if since.elapsed() >= std::time::Duration::from_secs(2) {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// Blocks recorded so far for `request_id` (after [`Reporter::collect`]).
    pub fn blocks_for(&self, request_id: &str) -> u64 {
        let p = self.lock();
        p.events
            .values()
            .filter(|e| {
                e.request_id == request_id
                    && e.action == Action::Blocked
                    && e.policy != PolicyKind::Shield
            })
            .map(|e| e.count)
            .sum()
    }

    /// Note a wipe's figures for the EMF line of `request_id`'s flush. Only a wipe that
    /// removed something or left something behind is worth a metric; others are ignored.
    pub fn note_wipe(&self, request_id: &str, figures: WipeFigures) {
        if figures.files_removed == 0 && figures.dirs_removed == 0 && figures.failures == 0 {
            return;
        }
        *self.wipe.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((request_id.to_owned(), figures));
    }

    /// Emit the pending events of `request_id` plus those attributed to `unknown` or to
    /// invocations already flushed (or all pending events when `request_id` is `None`), then
    /// their EMF line: one per attribution, so that an event's `request_id` is the same in
    /// every sink (normally exactly one line, the invocation's). The last noted wipe's figures
    /// go into the line of the invocation it followed. Nothing at all happened: no line.
    pub fn flush(&self, request_id: Option<&str>) -> FlushSummary {
        self.collect_settled();
        let take: Vec<Event> = {
            let mut p = self.lock();
            let Pending {
                order,
                events,
                finished,
            } = &mut *p;
            let mut out = Vec::new();
            order.retain(|k| {
                let e = &events[k];
                let mine = match request_id {
                    None => true,
                    Some(id) => {
                        e.request_id == id
                            || e.request_id == "unknown"
                            || finished.iter().any(|f| *f == e.request_id)
                    }
                };
                if mine {
                    out.push(events.remove(k).expect("key in order is in map"));
                }
                !mine
            });
            if let Some(id) = request_id {
                finished.push_back(id.to_owned());
                if finished.len() > FINISHED_MAX {
                    finished.pop_front();
                }
            }
            out
        };
        let wipe = self.wipe.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut summary = FlushSummary::default();
        if take.is_empty() && wipe.is_none() {
            return summary;
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        for e in &take {
            match e.action {
                Action::Blocked => summary.blocked += 1,
                Action::Alerted => summary.alerted += 1,
            }
            // A first occurrence already written early is not repeated unless the count adds
            // something (see `durable`).
            if self.sinks.json && !(e.early && e.count == 1) {
                let _ = writeln!(out, "{}", json_line(e));
            }
            if self.sinks.tracing {
                sink::trace(e);
            }
            if let Some(cb) = &self.callback {
                // A panicking user callback must not take the function down.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(e)));
            }
        }
        if self.sinks.emf {
            // One line per attribution, in order of first appearance.
            let mut ids: Vec<&str> = Vec::new();
            for e in &take {
                if !ids.contains(&e.request_id.as_str()) {
                    ids.push(&e.request_id);
                }
            }
            if let Some((id, _)) = &wipe {
                if !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
            let now = SystemTime::now();
            for id in ids {
                let events: Vec<Event> = take
                    .iter()
                    .filter(|e| e.request_id == id)
                    .cloned()
                    .collect();
                let figures = wipe.as_ref().filter(|(w, _)| w == id).map(|(_, f)| f);
                let line = emf_line(
                    &self.emf_namespace,
                    &self.function_name,
                    id,
                    &events,
                    figures,
                    now,
                );
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = out.flush();
        summary
    }
}

use std::io::Write as _;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Out(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Out {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn ev(id: &str, path: &str) -> Event {
        Event::new(
            PolicyKind::ReadWriteTmp,
            Action::Blocked,
            Details::Path {
                path: path.into(),
                access: "write",
            },
            id,
        )
    }

    #[test]
    fn folding_flushing_and_late_events() {
        let out = Out::default();
        let r = Reporter::with_writer(
            Sinks {
                tracing: false,
                json: true,
                emf: false,
            },
            "ns",
            "fn",
            None,
            Box::new(out.clone()),
        );
        r.record(ev("a", "/tmp/x"));
        r.record(ev("a", "/tmp/x"));
        r.record(ev("b", "/tmp/y"));
        assert_eq!(r.blocks_for("a"), 2);
        // Flushing `a` emits a's events (folded, count 2), not b's.
        assert_eq!(
            r.flush(Some("a")),
            FlushSummary {
                blocked: 1,
                alerted: 0
            }
        );
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.contains("\"count\":2") && text.contains("/tmp/x"));
        // An event of `a` that shows up after a's flush goes out with the next flush.
        r.record(ev("a", "/tmp/late"));
        assert_eq!(
            r.flush(Some("b")),
            FlushSummary {
                blocked: 2,
                alerted: 0
            }
        );
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("/tmp/late") && text.contains("/tmp/y"),
            "{text}"
        );
    }

    fn lines(out: &Out) -> Vec<serde_json::Value> {
        String::from_utf8(out.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn json_and_emf() -> (Reporter, Out) {
        let out = Out::default();
        let sinks = Sinks {
            tracing: false,
            json: true,
            emf: true,
        };
        let r = Reporter::with_writer(sinks, "ns", "fn", None, Box::new(out.clone()));
        (r, out)
    }

    /// Item 5: an event's attribution is the same in its JSON line and in the EMF line that
    /// counts it, also when a flush takes events of `unknown` or of an earlier invocation.
    #[test]
    fn every_sink_shows_the_same_attribution() {
        let (r, out) = json_and_emf();
        r.record(ev("a", "/tmp/x"));
        r.record(ev("unknown", "/tmp/u"));
        r.flush(Some("a"));
        let got = lines(&out);
        for json in got.iter().filter(|l| l["function_shield"] == true) {
            let path = json["details"]["path"].as_str().unwrap();
            let emf: Vec<_> = got
                .iter()
                .filter(|l| l["_aws"].is_object() && l["request_id"] == json["request_id"])
                .collect();
            assert_eq!(emf.len(), 1, "{path}: {got:?}");
            assert_eq!(emf[0]["read_write_tmp_blocked"], 1, "{got:?}");
        }
        assert_eq!(got.iter().filter(|l| l["_aws"].is_object()).count(), 2);
    }

    /// Item 4: one EMF line per invocation, carrying the wipe's figures; none when nothing
    /// happened; a wipe that removed nothing adds nothing.
    #[test]
    fn one_emf_line_per_invocation_with_the_wipe() {
        let (r, out) = json_and_emf();
        let nothing = WipeFigures::default();
        r.note_wipe("a", nothing);
        r.flush(Some("a"));
        assert!(lines(&out).is_empty());
        r.record(ev("b", "/tmp/x"));
        r.note_wipe(
            "b",
            WipeFigures {
                files_removed: 1,
                ..nothing
            },
        );
        r.flush(Some("b"));
        let got = lines(&out);
        let emf: Vec<_> = got.iter().filter(|l| l["_aws"].is_object()).collect();
        assert_eq!(emf.len(), 1, "{got:?}");
        assert_eq!(emf[0]["FilesRemoved"], 1);
        assert_eq!(emf[0]["read_write_tmp_blocked"], 1);
        assert_eq!(emf[0]["level"], "ERROR");
        assert_eq!(
            emf[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "FunctionName"
        );
        assert_eq!(emf[0]["FunctionName"], "fn");
        // A wipe that removed something, in an invocation without events: its own line.
        r.note_wipe(
            "c",
            WipeFigures {
                files_removed: 2,
                ..nothing
            },
        );
        r.flush(Some("c"));
        let got = lines(&out);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[2]["request_id"], "c");
        assert_eq!(got[2]["FilesRemoved"], 2);
    }
}
