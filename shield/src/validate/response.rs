//! What a rejected event turns into: a 400 response in the trigger's own format, or an
//! invocation error. (Partial batch responses are in [`super::batch`].)

use serde_json::{json, Map, Value};

use super::{Envelope, Rejection, Violation};

/// `error_type` of the invocation error returned for an invalid non-HTTP event.
pub const INVALID_EVENT: &str = "Shield.InvalidEvent";
/// `error_type` the caller uses when a handler's response fails the response schema.
pub const INVALID_RESPONSE: &str = "Shield.InvalidResponse";

/// How many violations are listed in a 400 body or an error message. The verdict itself keeps
/// up to [`super::MAX_VIOLATIONS`].
const LISTED: usize = 10;

/// The JSON body of a 400: `{"message":"Invalid request","errors":[{"path","message"}...]}`.
pub(crate) fn error_body(violations: &[Violation]) -> Value {
    let errors: Vec<Value> = violations
        .iter()
        .take(LISTED)
        .map(|v| json!({"path": v.path(), "message": v.message()}))
        .collect();
    json!({"message": "Invalid request", "errors": errors})
}

/// Builds the rejection for `envelope`. `multi_value_headers`: the request had
/// `multiValueHeaders`, so an ALB response must use `multiValueHeaders` too.
///
/// `detected`: the envelope `auto` recognised, named in the message and the 400 body.
pub(crate) fn rejection(
    envelope: &Envelope,
    detected: Option<&Envelope>,
    multi_value_headers: bool,
    violations: &[Violation],
) -> Rejection {
    if !envelope.is_http() {
        return Rejection::InvocationError {
            error_type: INVALID_EVENT,
            message: match detected {
                Some(e) => summary(
                    &format!("event (detected as `{e}`) failed input validation"),
                    violations,
                ),
                None => summary("event failed input validation", violations),
            },
        };
    }
    let body = error_body(violations).to_string();
    let mut resp = Map::new();
    resp.insert("statusCode".into(), json!(400));
    let multi = matches!(envelope, Envelope::Alb) && multi_value_headers;
    if multi {
        resp.insert(
            "multiValueHeaders".into(),
            json!({"Content-Type": ["application/json"]}),
        );
    } else {
        resp.insert(
            "headers".into(),
            json!({"Content-Type": "application/json"}),
        );
    }
    if matches!(
        envelope,
        Envelope::Alb | Envelope::VpcLattice | Envelope::VpcLatticeV2
    ) {
        resp.insert("statusDescription".into(), json!("400 Bad Request"));
    }
    resp.insert("body".into(), Value::String(body));
    resp.insert("isBase64Encoded".into(), Value::Bool(false));
    Rejection::Http400(Value::Object(resp))
}

/// A one-line message: `"{what}: 2 violations: /a: must be ...; /b: ..."`. No input values.
pub(crate) fn summary(what: &str, violations: &[Violation]) -> String {
    let mut s = format!(
        "{what}: {} violation{}",
        violations.len(),
        if violations.len() == 1 { "" } else { "s" }
    );
    for (i, v) in violations.iter().take(LISTED).enumerate() {
        s.push_str(if i == 0 { ": " } else { "; " });
        let path = if v.path().is_empty() { "/" } else { v.path() };
        s.push_str(path);
        s.push_str(": ");
        s.push_str(v.message());
    }
    if violations.len() > LISTED {
        s.push_str("; ...");
    }
    s
}
