//! Reading one fnshield event line (the `json` sink's shape, see the README's event reference)
//! back into an [`fnshield::Event`].

use fnshield::{Action, Details, Event, PolicyKind};
use serde_json::Value;

/// An event read from a log, with the fields the log carries as text.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The event, for the decision engine. Its `timestamp` is not meaningful; see `timestamp`.
    pub event: Event,
    /// The `timestamp` field as logged (RFC 3339 UTC, milliseconds), or empty.
    pub timestamp: String,
}

/// Why an event line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEvent(pub String);

fn s<'a>(v: &'a Value, key: &str) -> Result<&'a str, BadEvent> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| BadEvent(format!("`{key}` is missing or not a string")))
}

fn policy(name: &str) -> Result<PolicyKind, BadEvent> {
    Ok(match name {
        "outbound_connectivity" => PolicyKind::OutboundConnectivity,
        "read_write_tmp" => PolicyKind::ReadWriteTmp,
        "create_child_process" => PolicyKind::CreateChildProcess,
        "read_handler" => PolicyKind::ReadHandler,
        "input_validation" => PolicyKind::InputValidation,
        "shield" => PolicyKind::Shield,
        other => return Err(BadEvent(format!("unknown policy `{other}`"))),
    })
}

fn access(a: &str) -> Result<&'static str, BadEvent> {
    Ok(match a {
        "read" => "read",
        "write" => "write",
        "read_write" => "read_write",
        "metadata" => "metadata",
        other => return Err(BadEvent(format!("unknown access `{other}`"))),
    })
}

/// Read an event object (one with `"function_shield": true`).
///
/// # Errors
/// A missing or mistyped field, an unknown policy, action or access.
pub fn parse(v: &Value) -> Result<Observed, BadEvent> {
    let kind = policy(s(v, "policy")?)?;
    let action = match v.get("action").and_then(Value::as_str) {
        Some("blocked") => Action::Blocked,
        Some("alerted") => Action::Alerted,
        // FunctionShield's own field, when `action` is absent.
        _ => match s(v, "mode")? {
            "block" => Action::Blocked,
            "alert" => Action::Alerted,
            other => return Err(BadEvent(format!("unknown mode `{other}`"))),
        },
    };
    let d = v
        .get("details")
        .filter(|d| d.is_object())
        .ok_or_else(|| BadEvent("`details` is missing or not an object".into()))?;
    let details = match kind {
        // A call that bypasses what a policy decides on (a raw socket, io_uring, a DNS query
        // for a name that is not allowed): any policy, `details.what`.
        _ if d.get("what").is_some() => Details::Bypass {
            what: s(d, "what")?.to_owned(),
        },
        PolicyKind::OutboundConnectivity => Details::Connect {
            ip: s(d, "ip")?
                .parse()
                .map_err(|_| BadEvent("`details.ip` is not an IP address".into()))?,
            port: d
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| BadEvent("`details.port` is not a port number".into()))?,
            host: d.get("host").and_then(Value::as_str).map(str::to_owned),
        },
        PolicyKind::ReadWriteTmp | PolicyKind::ReadHandler => {
            let path = s(d, "path")?;
            if !path.starts_with('/') {
                return Err(BadEvent(format!("`details.path` `{path}` is not absolute")));
            }
            Details::Path {
                path: path.to_owned(),
                access: access(s(d, "access")?)?,
            }
        }
        PolicyKind::CreateChildProcess => match d.get("path") {
            None => Details::Fork,
            Some(_) => Details::Exec {
                path: s(d, "path")?.to_owned(),
                argv: d
                    .get("argv")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        },
        PolicyKind::InputValidation => Details::Validation {
            target: if s(d, "target") == Ok("response") {
                "response"
            } else {
                "event"
            },
            envelope: d
                .get("envelope")
                .and_then(Value::as_str)
                .and_then(|e| fnshield::validate::Envelope::names().find(|n| *n == e)),
            violations: Vec::new(),
        },
        _ => {
            if let Some(lost) = d.get("lost") {
                Details::EventsLost {
                    lost: lost
                        .as_u64()
                        .ok_or_else(|| BadEvent("`details.lost` is not a number".into()))?,
                }
            } else if let Some(l) = d.get("leftovers") {
                Details::TmpNotWiped {
                    leftovers: l
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            } else {
                Details::Degraded {
                    policy: s(d, "policy").unwrap_or("unknown").to_owned(),
                    reason: s(d, "reason").unwrap_or("").to_owned(),
                }
            }
        }
    };
    let request_id = v
        .get("request_id")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let mut event = Event::new(kind, action, details, request_id);
    event.count = match v.get("count") {
        None => 1,
        Some(c) => c
            .as_u64()
            .filter(|&c| c > 0)
            .ok_or_else(|| BadEvent("`count` is not a positive number".into()))?,
    };
    event.truncated = v.get("truncated") == Some(&Value::Bool(true));
    event.process = v.get("process").and_then(Value::as_str).map(str::to_owned);
    event.pid = v
        .get("pid")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(0);
    event.function_name = v
        .get("function_name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    Ok(Observed {
        event,
        timestamp: v
            .get("timestamp")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_policy() {
        let base = |policy: &str, details: Value| {
            json!({"function_shield": true, "policy": policy, "mode": "block", "action": "blocked",
                   "details": details, "timestamp": "2026-11-18T11:06:40.123Z", "request_id": "r",
                   "pid": 9, "count": 4, "truncated": true, "process": "/usr/bin/curl"})
        };
        let o = parse(&base(
            "outbound_connectivity",
            json!({"host": "h.test", "ip": "::1", "port": 443}),
        ))
        .unwrap();
        assert!(
            matches!(o.event.details, Details::Connect { port: 443, host: Some(ref h), .. } if h == "h.test")
        );
        assert_eq!(o.event.count, 4);
        assert!(o.event.truncated);
        assert_eq!(o.event.process.as_deref(), Some("/usr/bin/curl"));
        assert_eq!(o.timestamp, "2026-11-18T11:06:40.123Z");
        let o = parse(&base("create_child_process", json!({}))).unwrap();
        assert_eq!(o.event.details, Details::Fork);
        let o = parse(&base(
            "outbound_connectivity",
            json!({"what": "DNS query for h.test"}),
        ))
        .unwrap();
        assert_eq!(
            o.event.details,
            Details::Bypass {
                what: "DNS query for h.test".into()
            }
        );
        let o = parse(&base("shield", json!({"lost": 12}))).unwrap();
        assert_eq!(o.event.details, Details::EventsLost { lost: 12 });
        assert!(parse(&base(
            "read_write_tmp",
            json!({"path": "rel", "access": "read"})
        ))
        .is_err());
        assert!(parse(&base(
            "read_write_tmp",
            json!({"path": "/tmp/x", "access": "exec"})
        ))
        .is_err());
        assert!(parse(&base("nope", json!({}))).is_err());
        let mut v = base(
            "read_handler",
            json!({"path": "/proc/self/environ", "access": "read"}),
        );
        v["count"] = json!(0);
        assert!(parse(&v).is_err());
    }
}
