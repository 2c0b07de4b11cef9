//! What a rejected event turns into: a 400 response in the trigger's own format, or an
//! invocation error; and the SQS partial-batch response.

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
pub(crate) fn rejection(
    envelope: &Envelope,
    multi_value_headers: bool,
    violations: &[Violation],
) -> Rejection {
    if !envelope.is_http() {
        return Rejection::InvocationError {
            error_type: INVALID_EVENT,
            message: summary("event failed input validation", violations),
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
    if matches!(envelope, Envelope::Alb) {
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

/// Merges shield's SQS batch failures with the handler's own response.
///
/// Returns `{"batchItemFailures":[{"itemIdentifier": id}, ...]}`: the handler's failures first
/// (kept as they are, including any extra fields), then each of `failures` not already listed.
/// A handler response that is absent, `null`, or not an object with a `batchItemFailures` array
/// contributes no failures (the handler processed every record it was given); other top-level
/// fields of an object response are kept.
pub fn merge_batch_failures(response: Option<Value>, failures: &[String]) -> Value {
    let mut out = match response {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut items = match out.remove("batchItemFailures") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    for id in failures {
        let already = items
            .iter()
            .any(|i| i.get("itemIdentifier").and_then(Value::as_str) == Some(id));
        if !already {
            items.push(json!({ "itemIdentifier": id }));
        }
    }
    out.insert("batchItemFailures".into(), Value::Array(items));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_with_nothing() {
        assert_eq!(
            merge_batch_failures(None, &["a".into(), "b".into()]),
            json!({"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"b"}]})
        );
        assert_eq!(
            merge_batch_failures(Some(Value::Null), &[]),
            json!({"batchItemFailures":[]})
        );
    }

    #[test]
    fn merge_keeps_handler_failures_and_dedups() {
        let handler = json!({"batchItemFailures":[{"itemIdentifier":"x"},{"itemIdentifier":"a"}]});
        assert_eq!(
            merge_batch_failures(Some(handler), &["a".into(), "b".into()]),
            json!({"batchItemFailures":[
                {"itemIdentifier":"x"},{"itemIdentifier":"a"},{"itemIdentifier":"b"}]})
        );
    }
}
