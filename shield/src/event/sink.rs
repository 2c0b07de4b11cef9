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
        Details::Validation { target, violations } => json!({
            "target": target,
            "errors": violations.iter().map(|v| json!({"path": v.path, "message": v.message})).collect::<Vec<_>>(),
        }),
        Details::Degraded { policy, reason } => json!({"policy": policy, "reason": reason}),
        Details::EventsLost { lost } => json!({"lost": lost}),
        Details::TmpNotWiped { leftovers } => json!({"leftovers": leftovers}),
    }
}

/// The FunctionShield-compatible JSON line for one event:
/// `{"function_shield":true,"policy":…,"mode":…,"details":{…},"timestamp":…}` plus fnshield's
/// fields (`request_id`, `function_name`, `action`, `syscall`, `pid`, `count`, `how_to_allow`).
pub fn json_line(e: &Event) -> String {
    let mut m = Map::new();
    m.insert("function_shield".into(), json!(true));
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

/// One CloudWatch Embedded Metric Format line with counts per policy and action, e.g. metric
/// `outbound_connectivity_blocked`, dimension `function_name`.
pub fn emf_line(
    namespace: &str,
    function_name: &str,
    request_id: &str,
    events: &[Event],
    now: SystemTime,
) -> String {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for e in events {
        let name = match (&e.details, e.action) {
            (Details::EventsLost { lost }, _) => {
                *counts.entry("events_lost".into()).or_default() += lost;
                continue;
            }
            (_, Action::Blocked) => format!("{}_blocked", e.policy.as_str()),
            (_, Action::Alerted) => format!("{}_alerted", e.policy.as_str()),
        };
        *counts.entry(name).or_default() += e.count;
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
                "Dimensions": [["function_name"]],
                "Metrics": counts.keys().map(|k| json!({"Name": k, "Unit": "Count"})).collect::<Vec<_>>(),
            }]
        }),
    );
    root.insert("function_name".into(), json!(function_name));
    root.insert("request_id".into(), json!(request_id));
    for (k, v) in counts {
        root.insert(k, json!(v));
    }
    Value::Object(root).to_string()
}

/// Emit one event as a `tracing` event: target `fnshield`, WARN for alerts, ERROR for blocks.
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
    match e.action {
        Action::Blocked => emit!(tracing::Level::ERROR),
        Action::Alerted => emit!(tracing::Level::WARN),
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
            r#"{"function_shield":true,"policy":"outbound_connectivity","mode":"block","action":"blocked","details":{"host":"evil.test","ip":"127.0.0.2","port":8080},"timestamp":"2026-11-18T11:06:40.123Z","request_id":"req-1","function_name":"fn","syscall":"connect","pid":7,"count":3,"how_to_allow":"add \"evil.test:8080\" to outbound_connectivity.allow (builder: .allow_destination(\"evil.test:8080\"))"}"#
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
            r#"{"function_shield":true,"policy":"read_write_tmp","mode":"alert","action":"alerted","details":{"path":"/tmp/x","access":"write"},"timestamp":"2026-11-18T11:06:40.123Z","request_id":"req-1","function_name":"fn","syscall":"connect","pid":7,"count":3,"how_to_allow":"add \"/tmp/x\" or a parent directory to read_write_tmp.allow_write (builder: .allow_tmp_write(\"/tmp/x\"))"}"#
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
            emf_line("fnshield", "fn", "req-1", &events, at(1000)),
            r#"{"_aws":{"Timestamp":1000,"CloudWatchMetrics":[{"Namespace":"fnshield","Dimensions":[["function_name"]],"Metrics":[{"Name":"create_child_process_blocked","Unit":"Count"},{"Name":"events_lost","Unit":"Count"},{"Name":"read_write_tmp_alerted","Unit":"Count"}]}]},"function_name":"fn","request_id":"req-1","create_child_process_blocked":3,"events_lost":5,"read_write_tmp_alerted":3}"#
        );
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
