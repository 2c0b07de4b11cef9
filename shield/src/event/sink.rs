//! Sink formats: the FunctionShield-shaped JSON line, the CloudWatch EMF line, tracing.

use super::{Action, Details, Event};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A user callback that receives every emitted event.
pub type Callback = Arc<dyn Fn(&Event) + Send + Sync>;

/// RFC 3339 UTC with milliseconds.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

fn details_json(d: &Details) -> Value {
    match d {
        Details::Path { path, access } => json!({"path": path, "access": access}),
        Details::Connect { ip, port, host } => {
            let mut m = Map::new();
            if let Some(h) = host {
                m.insert("host".into(), json!(h));
            }
            m.insert("ip".into(), json!(ip.to_string()));
            m.insert("port".into(), json!(port));
            Value::Object(m)
        }
        Details::Exec { path, argv } => json!({"path": path, "argv": argv}),
        Details::Fork => json!({}),
        Details::Bypass { what } => json!({"what": what}),
        Details::Validation {
            target,
            envelope,
            violations,
        } => {
            let mut m = Map::new();
            m.insert("target".into(), json!(target));
            if let Some(e) = envelope {
                m.insert("envelope".into(), json!(e));
            }
            m.insert(
                "errors".into(),
                violations
                    .iter()
                    .map(|v| json!({"path": v.path, "message": v.message}))
                    .collect(),
            );
            Value::Object(m)
        }
        Details::Degraded { policy, reason } => json!({"policy": policy, "reason": reason}),
        Details::EventsLost { lost } => json!({"lost": lost}),
        Details::TmpNotWiped { leftovers } => json!({"leftovers": leftovers}),
    }
}

/// The log level of an event's lines: `ERROR` for blocks, `WARN` for alerts.
///
/// Lambda's log-level filtering (`AWS_LAMBDA_LOG_LEVEL`, JSON log format only) classifies a
/// JSON line by its `level` key and gives a line without one (or without a valid RFC 3339
/// `timestamp`) the level INFO, so a WARN filter would drop it. Every line fnshield prints
/// therefore carries both.
pub const fn level(action: Action) -> &'static str {
    match action {
        Action::Blocked => "ERROR",
        Action::Alerted => "WARN",
    }
}

/// The log level of event `e`'s lines: [`level`] of its action, except for a loss of events
/// (`EventsLost`), which is `ERROR`: the lost occurrences may have been blocks, and a loss
/// must survive the filter that keeps blocks.
pub fn event_level(e: &Event) -> &'static str {
    match e.details {
        Details::EventsLost { .. } => "ERROR",
        _ => level(e.action),
    }
}

/// The FunctionShield-compatible JSON line for one event:
/// `{"function_shield":true,"policy":…,"mode":…,"details":{…},"timestamp":…}` plus fnshield's
/// fields (`level`, `request_id`, `function_name`, `action`, `syscall`, `pid`, `count`,
/// `how_to_allow`). `level` is `ERROR` for a block and `WARN` for an alert (see [`level`]).
pub fn json_line(e: &Event) -> String {
    let mut m = Map::new();
    m.insert("function_shield".into(), json!(true));
    m.insert("level".into(), json!(event_level(e)));
    m.insert("policy".into(), json!(e.policy.as_str()));
    m.insert("mode".into(), json!(e.action.mode_str()));
    m.insert("action".into(), json!(e.action.as_str()));
    m.insert("details".into(), details_json(&e.details));
    m.insert("timestamp".into(), json!(rfc3339(e.timestamp)));
    m.insert("request_id".into(), json!(e.request_id));
    m.insert("function_name".into(), json!(e.function_name));
    if let Some(s) = e.syscall {
        m.insert("syscall".into(), json!(s));
    }
    m.insert("pid".into(), json!(e.pid));
    if let Some(p) = &e.process {
        m.insert("process".into(), json!(p));
    }
    m.insert("count".into(), json!(e.count));
    if e.truncated {
        m.insert("truncated".into(), json!(true));
    }
    m.insert("how_to_allow".into(), json!(e.how_to_allow()));
    Value::Object(m).to_string()
}

/// The dimension of every fnshield metric, as in Lambda's own `AWS/Lambda` metrics.
pub const DIMENSION: &str = "FunctionName";

/// The wipe's figures for the EMF line of the invocation after which it ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WipeFigures {
    /// Non-directory entries removed (files, symlinks, sockets, ...).
    pub files_removed: u64,
    /// Directories removed.
    pub dirs_removed: u64,
    /// Bytes of regular files freed.
    pub bytes_removed: u64,
    /// Entries that could not be removed.
    pub failures: u64,
    /// How long the wipe took, in microseconds.
    pub duration_micros: u64,
    /// When the wipe began, in microseconds since the Unix epoch (a property, not a metric).
    pub started_at_micros: u64,
}

/// One CloudWatch Embedded Metric Format line for the events of one invocation (all `events`
/// must carry `request_id`), with counts per policy and action (metric
/// `outbound_connectivity_blocked`, ...), `events_lost`, and the wipe's figures when `wipe` is
/// given (`FilesRemoved`, `DirsRemoved`, `BytesRemoved`, `WipeFailures`, `WipeDurationMicros`,
/// and the property `WipeStartedAtMicros`); dimension
/// [`DIMENSION`] (`FunctionName`).
///
/// The line also carries `level` (`ERROR` when an event is a block, `WARN` when one is an
/// alert or the wipe left something behind, `INFO` otherwise) and an RFC 3339 `timestamp`, so
/// that Lambda's log-level filtering keeps it exactly when it keeps the events it counts.
pub fn emf_line(
    namespace: &str,
    function_name: &str,
    request_id: &str,
    events: &[Event],
    wipe: Option<&WipeFigures>,
    now: SystemTime,
) -> String {
    let mut counts: BTreeMap<String, (u64, &str)> = BTreeMap::new();
    let mut level = "INFO";
    for e in events {
        level = match (level, event_level(e)) {
            (_, "ERROR") | ("ERROR", _) => "ERROR",
            _ => "WARN",
        };
        let name = match (&e.details, e.action) {
            (Details::EventsLost { lost }, _) => {
                counts.entry("events_lost".into()).or_insert((0, "Count")).0 += lost;
                continue;
            }
            (_, Action::Blocked) => format!("{}_blocked", e.policy.as_str()),
            (_, Action::Alerted) => format!("{}_alerted", e.policy.as_str()),
        };
        counts.entry(name).or_insert((0, "Count")).0 += e.count;
    }
    let mut started = None;
    if let Some(w) = wipe {
        started = Some(w.started_at_micros);
        if w.failures > 0 && level == "INFO" {
            level = "WARN";
        }
        for (name, value, unit) in [
            ("FilesRemoved", w.files_removed, "Count"),
            ("DirsRemoved", w.dirs_removed, "Count"),
            ("BytesRemoved", w.bytes_removed, "Bytes"),
            ("WipeFailures", w.failures, "Count"),
            ("WipeDurationMicros", w.duration_micros, "Microseconds"),
        ] {
            counts.insert(name.into(), (value, unit));
        }
    }
    let ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[DIMENSION]],
                "Metrics": counts.iter().map(|(k, (_, unit))| json!({"Name": k, "Unit": unit})).collect::<Vec<_>>(),
            }]
        }),
    );
    root.insert("level".into(), json!(level));
    root.insert("timestamp".into(), json!(rfc3339(now)));
    root.insert(DIMENSION.into(), json!(function_name));
    root.insert("request_id".into(), json!(request_id));
    for (k, (v, _)) in counts {
        root.insert(k, json!(v));
    }
    if let Some(us) = started {
        root.insert("WipeStartedAtMicros".into(), json!(us));
    }
    Value::Object(root).to_string()
}

/// Emit one event as a `tracing` event: target `fnshield`, at its [`event_level`] (WARN for
/// alerts, ERROR for blocks and losses).
pub(crate) fn trace(e: &Event) {
    let details = details_json(&e.details).to_string();
    let how = e.how_to_allow();
    let syscall = e.syscall.unwrap_or("");
    macro_rules! emit {
        ($lvl:expr) => {
            tracing::event!(
                target: "fnshield",
                $lvl,
                policy = e.policy.as_str(),
                action = e.action.as_str(),
                details = %details,
                syscall,
                pid = e.pid,
                request_id = %e.request_id,
                function_name = %e.function_name,
                count = e.count,
                how_to_allow = %how,
                "fnshield {} {}",
                e.action.as_str(),
                e.policy.as_str()
            )
        };
    }
    match event_level(e) {
        "ERROR" => emit!(tracing::Level::ERROR),
        _ => emit!(tracing::Level::WARN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyKind;
    use std::time::Duration;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(1_795_000_000_123)), "2026-11-18T11:06:40.123Z");
        assert_eq!(rfc3339(at(951_782_400_000)), "2000-02-29T00:00:00.000Z");
    }

    fn ev(details: Details, policy: PolicyKind, action: Action) -> Event {
        let mut e = Event::new(policy, action, details, "req-1");
        e.timestamp = at(1_795_000_000_123);
        e.pid = 7;
        e.function_name = "fn".into();
        e.syscall = Some("connect");
        e.count = 3;
        e
    }

    #[test]
    fn json_line_snapshot() {
        let e = ev(
            Details::Connect {
                ip: "127.0.0.2".parse().unwrap(),
                port: 8080,
                host: Some("evil.test".into()),
            },
            PolicyKind::OutboundConnectivity,
            Action::Blocked,
        );
        assert_eq!(
            json_line(&e),
            r#"{"function_shield":true,"level":"ERROR","policy":"outbound_connectivity","mode":"block","action":"blocked","details":{"host":"evil.test","ip":"127.0.0.2","port":8080},"timestamp":"2026-11-18T11:06:40.123Z","request_id":"req-1","function_name":"fn","syscall":"connect","pid":7,"count":3,"how_to_allow":"add \"evil.test:8080\" to outbound_connectivity.allow (builder: .allow_destination(\"evil.test:8080\"))"}"#
        );
        let e = ev(
            Details::Path {
                path: "/tmp/x".into(),
                access: "write",
            },
            PolicyKind::ReadWriteTmp,
            Action::Alerted,
        );
        assert_eq!(
            json_line(&e),
            r#"{"function_shield":true,"level":"WARN","policy":"read_write_tmp","mode":"alert","action":"alerted","details":{"path":"/tmp/x","access":"write"},"timestamp":"2026-11-18T11:06:40.123Z","request_id":"req-1","function_name":"fn","syscall":"connect","pid":7,"count":3,"how_to_allow":"add \"/tmp/x\" or a parent directory to read_write_tmp.allow_write (builder: .allow_tmp_write(\"/tmp/x\"))"}"#
        );
    }

    #[test]
    fn emf_line_snapshot() {
        let events = vec![
            ev(
                Details::Fork,
                PolicyKind::CreateChildProcess,
                Action::Blocked,
            ),
            ev(
                Details::Path {
                    path: "/tmp/a".into(),
                    access: "read",
                },
                PolicyKind::ReadWriteTmp,
                Action::Alerted,
            ),
            ev(
                Details::EventsLost { lost: 5 },
                PolicyKind::Shield,
                Action::Alerted,
            ),
        ];
        assert_eq!(
            emf_line("fnshield", "fn", "req-1", &events, None, at(1000)),
            r#"{"_aws":{"Timestamp":1000,"CloudWatchMetrics":[{"Namespace":"fnshield","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"create_child_process_blocked","Unit":"Count"},{"Name":"events_lost","Unit":"Count"},{"Name":"read_write_tmp_alerted","Unit":"Count"}]}]},"level":"ERROR","timestamp":"1970-01-01T00:00:01.000Z","FunctionName":"fn","request_id":"req-1","create_child_process_blocked":3,"events_lost":5,"read_write_tmp_alerted":3}"#
        );
        // A loss alone: ERROR (what was lost may have been blocks), in both lines.
        let line = emf_line("fnshield", "fn", "req-1", &events[2..], None, at(1000));
        assert!(line.contains(r#""level":"ERROR""#), "{line}");
        assert!(
            json_line(&events[2]).contains(r#""level":"ERROR""#),
            "{}",
            json_line(&events[2])
        );
        // Alerts only: WARN. The wipe's figures ride on the same line.
        let wipe = WipeFigures {
            files_removed: 2,
            dirs_removed: 0,
            bytes_removed: 10,
            failures: 0,
            duration_micros: 7,
            started_at_micros: 5,
        };
        assert_eq!(
            emf_line(
                "fnshield",
                "fn",
                "req-1",
                &events[1..2],
                Some(&wipe),
                at(1000)
            ),
            r#"{"_aws":{"Timestamp":1000,"CloudWatchMetrics":[{"Namespace":"fnshield","Dimensions":[["FunctionName"]],"Metrics":[{"Name":"BytesRemoved","Unit":"Bytes"},{"Name":"DirsRemoved","Unit":"Count"},{"Name":"FilesRemoved","Unit":"Count"},{"Name":"WipeDurationMicros","Unit":"Microseconds"},{"Name":"WipeFailures","Unit":"Count"},{"Name":"read_write_tmp_alerted","Unit":"Count"}]}]},"level":"WARN","timestamp":"1970-01-01T00:00:01.000Z","FunctionName":"fn","request_id":"req-1","BytesRemoved":10,"DirsRemoved":0,"FilesRemoved":2,"WipeDurationMicros":7,"WipeFailures":0,"read_write_tmp_alerted":3,"WipeStartedAtMicros":5}"#
        );
        // The wipe alone: INFO, or WARN when it left something behind.
        let line = emf_line("fnshield", "fn", "req-1", &[], Some(&wipe), at(1000));
        assert!(line.contains(r#""level":"INFO""#), "{line}");
        let failed = WipeFigures {
            failures: 1,
            ..wipe
        };
        let line = emf_line("fnshield", "fn", "req-1", &[], Some(&failed), at(1000));
        assert!(line.contains(r#""level":"WARN""#), "{line}");
    }

    /// Captures (level, target, fields) of every tracing event.
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct V(String);
            impl tracing::field::Visit for V {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!(" {}={:?}", f.name(), v));
                }
                fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
                    self.0.push_str(&format!(" {}={}", f.name(), v));
                }
            }
            let m = event.metadata();
            let mut v = V(format!("{} {}", m.level(), m.target()));
            event.record(&mut v);
            self.0.lock().unwrap().push(v.0);
        }
    }

    #[test]
    fn tracing_snapshot() {
        use tracing_subscriber::layer::SubscriberExt;
        let cap = Capture::default();
        let sub = tracing_subscriber::registry().with(cap.clone());
        tracing::subscriber::with_default(sub, || {
            trace(&ev(
                Details::Path {
                    path: "/proc/self/environ".into(),
                    access: "read",
                },
                PolicyKind::ReadHandler,
                Action::Blocked,
            ));
            trace(&ev(
                Details::Fork,
                PolicyKind::CreateChildProcess,
                Action::Alerted,
            ));
        });
        let got = cap.0.lock().unwrap().clone();
        assert_eq!(
            got,
            [
                r#"ERROR fnshield message=fnshield blocked read_handler policy=read_handler action=blocked details={"path":"/proc/self/environ","access":"read"} syscall=connect pid=7 request_id=req-1 function_name=fn count=3 how_to_allow=set read_handler.mode = "allow" (builder: .read_handler(Mode::Allow); env: SHIELD_POLICY_READ_HANDLER=allow); protected paths cannot be allowed one by one"#,
                r#"WARN fnshield message=fnshield alerted create_child_process policy=create_child_process action=alerted details={} syscall=connect pid=7 request_id=req-1 function_name=fn count=3 how_to_allow=list the programs the function runs in create_child_process.allow (builder: .allow_exec(...)), or set create_child_process.mode = "allow""#,
            ]
        );
    }
}
