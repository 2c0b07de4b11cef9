//! Envelopes: which part of a Lambda event is validated against the schema.
//!
//! Most triggers wrap the payload the function actually cares about inside a larger event — an
//! HTTP body inside an API Gateway request, a message inside an SQS record. An [`Envelope`] names
//! that wrapping, and fnshield unwraps it before validating, with the same semantics as
//! [AWS Lambda Powertools' envelopes](https://docs.powertools.aws.dev/lambda/python/latest/utilities/parser/#envelopes):
//!
//! | envelope (config name)          | validated document(s)                                 | path prefix in violations      |
//! |---------------------------------|-------------------------------------------------------|--------------------------------|
//! | `none` ([`Envelope::Whole`])     | the whole event                                       | (none)                         |
//! | `api_gateway_v1`                | `body`, parsed as JSON (base64-decoded first when `isBase64Encoded` is true) | `/body`    |
//! | `api_gateway_v2`                | `body`, as above (HTTP API, payload format 2.0)       | `/body`                        |
//! | `alb`                           | `body`, as above                                      | `/body`                        |
//! | `function_url`                  | `body`, as above                                      | `/body`                        |
//! | `sqs`                           | each `Records[i].body`, parsed as JSON                | `/Records/{i}/body`            |
//! | `sns`                           | each `Records[i].Sns.Message`, parsed as JSON         | `/Records/{i}/Sns/Message`     |
//! | `eventbridge`                   | `detail` (already an object)                          | `/detail`                      |
//! | `kinesis`                       | each `Records[i].kinesis.data`, base64-decoded then parsed as JSON | `/Records/{i}/kinesis/data` |
//! | `cloudwatch_logs`               | `awslogs.data`, base64-decoded, gunzipped, parsed as JSON (the whole `{messageType, logGroup, logEvents, ...}` document) | `/awslogs/data` |
//! | `/a/json/pointer`               | the value at that RFC 6901 pointer, as is (no string decoding) | the pointer             |
//!
//! The HTTP envelopes require a body: a request without one (`body` missing or `null`, as
//! for a `GET`) is malformed, so put them only on routes that take a JSON body.
//!
//! Per-record envelopes (SQS, SNS, Kinesis) validate every record with the same schema; the
//! violations of record 3 carry paths starting with `/Records/3/...`.
//!
//! Every decoded payload (a body string, a base64 blob, a gunzipped batch) goes through the same
//! limits ([`super::limits`]) as the raw event before it is parsed; gzip output is capped at
//! `max_bytes` while it is being inflated, so a decompression bomb stops at the cap.
//!
//! Anything an envelope cannot unwrap — the field is missing or has the wrong type, bad base64,
//! bad gzip, a body that is not JSON — is reported as a [`ViolationKind::Malformed`]
//! violation, never a panic.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::limits::{self, Limits};
use super::{ValidationError, Violation, ViolationKind};

/// Which part of the event is validated. See the [module documentation](self) for the exact
/// semantics of each variant. Parse one from its configuration name with [`str::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Envelope {
    /// The whole event (`"none"`).
    #[default]
    Whole,
    /// API Gateway REST API (payload v1) request: `body` (`"api_gateway_v1"`).
    ApiGatewayV1,
    /// API Gateway HTTP API (payload v2) request: `body` (`"api_gateway_v2"`).
    ApiGatewayV2,
    /// Application Load Balancer request: `body` (`"alb"`).
    Alb,
    /// Lambda Function URL request: `body` (`"function_url"`).
    FunctionUrl,
    /// SQS batch: each `Records[i].body` (`"sqs"`).
    Sqs,
    /// SNS notification: each `Records[i].Sns.Message` (`"sns"`).
    Sns,
    /// EventBridge event: `detail` (`"eventbridge"`).
    EventBridge,
    /// Kinesis Data Streams batch: each `Records[i].kinesis.data`, base64 (`"kinesis"`).
    Kinesis,
    /// CloudWatch Logs subscription: `awslogs.data`, base64 + gzip (`"cloudwatch_logs"`).
    CloudWatchLogs,
    /// The value at an RFC 6901 JSON Pointer (any configuration value starting with `/`).
    /// `~1` stands for `/` and `~0` for `~` inside a reference token.
    Pointer(String),
}

/// The configuration names, in the order they are listed in error messages.
const NAMES: &[(&str, Envelope)] = &[
    ("none", Envelope::Whole),
    ("api_gateway_v1", Envelope::ApiGatewayV1),
    ("api_gateway_v2", Envelope::ApiGatewayV2),
    ("alb", Envelope::Alb),
    ("function_url", Envelope::FunctionUrl),
    ("sqs", Envelope::Sqs),
    ("sns", Envelope::Sns),
    ("eventbridge", Envelope::EventBridge),
    ("kinesis", Envelope::Kinesis),
    ("cloudwatch_logs", Envelope::CloudWatchLogs),
];

impl Envelope {
    /// The configuration name (`"sqs"`, `"/detail/order"`, ...).
    pub fn name(&self) -> &str {
        match self {
            Self::Pointer(p) => p,
            other => NAMES
                .iter()
                .find(|(_, e)| e == other)
                .map_or("none", |(n, _)| n),
        }
    }

    /// Whether the trigger is HTTP (API Gateway v1/v2, ALB, Function URL): a rejected event gets
    /// a 400 response instead of an invocation error.
    pub fn is_http(&self) -> bool {
        matches!(
            self,
            Self::ApiGatewayV1 | Self::ApiGatewayV2 | Self::Alb | Self::FunctionUrl
        )
    }

    /// Builds a pointer envelope, checking RFC 6901 syntax: the pointer starts with `/` and every
    /// `~` is followed by `0` or `1`.
    pub fn pointer(pointer: impl Into<String>) -> Result<Self, ValidationError> {
        let pointer = pointer.into();
        let bad = |problem: &str| ValidationError::InvalidPointer {
            pointer: pointer.clone(),
            problem: problem.to_owned(),
        };
        if !pointer.starts_with('/') {
            return Err(bad("a JSON Pointer starts with `/`"));
        }
        let bytes = pointer.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'~' && !matches!(bytes.get(i + 1), Some(b'0' | b'1')) {
                return Err(bad(
                    "`~` must be followed by `0` (for `~`) or `1` (for `/`)",
                ));
            }
        }
        Ok(Self::Pointer(pointer))
    }
}

impl fmt::Display for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Envelope {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with('/') {
            return Self::pointer(s);
        }
        NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, e)| e.clone())
            .ok_or_else(|| ValidationError::UnknownEnvelope {
                name: s.to_owned(),
                expected: NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            })
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One document to validate.
pub(crate) struct Doc<'a> {
    /// Where the document lives in the event, as a JSON pointer ("" for the whole event).
    pub(crate) location: String,
    /// For per-record envelopes, the index in `Records`.
    pub(crate) record: Option<usize>,
    /// The document, or why it could not be unwrapped.
    pub(crate) content: Result<Cow<'a, Value>, Violation>,
}

fn malformed(location: &str, message: impl Into<String>) -> Violation {
    Violation::new(
        location.to_owned(),
        message.into(),
        ViolationKind::Malformed,
    )
}

/// Parses JSON bytes after checking them against the limits.
pub(crate) fn parse_limited(
    bytes: &[u8],
    location: &str,
    what: &str,
    limits: &Limits,
) -> Result<Value, Violation> {
    limits::scan(bytes, limits)
        .map_err(|e| Violation::new(location.to_owned(), e.to_string(), ViolationKind::Limit))?;
    serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's messages name the position and category, never the input text.
        malformed(
            location,
            format!(
                "{what} is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

fn field<'a>(v: &'a Value, key: &str, location: &str) -> Result<&'a Value, Violation> {
    match v.get(key) {
        Some(Value::Null) | None => Err(malformed(
            location,
            format!("missing `{key}`: the event does not have the shape this envelope expects"),
        )),
        Some(x) => Ok(x),
    }
}

fn string_field<'a>(v: &'a Value, key: &str, location: &str) -> Result<&'a str, Violation> {
    field(v, key, location)?.as_str().ok_or_else(|| {
        malformed(
            &format!("{location}/{key}"),
            format!("`{key}` must be a string"),
        )
    })
}

fn decode_base64(s: &str, location: &str) -> Result<Vec<u8>, Violation> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim_end())
        .map_err(|_| malformed(location, "payload is not valid base64"))
}

/// The fields of an HTTP trigger event (API Gateway v1/v2, ALB, Function URL) that validation
/// reads. The event is deserialized straight into this struct: headers, request context and
/// the rest are skipped by the parser without being built, which makes the HTTP envelopes
/// several times cheaper than parsing the whole event into a `Value`.
#[derive(Deserialize)]
pub(crate) struct HttpEvent {
    #[serde(default)]
    body: Option<Value>,
    #[serde(default, rename = "isBase64Encoded")]
    is_base64_encoded: Option<Value>,
    #[serde(default, rename = "multiValueHeaders")]
    multi_value_headers: Option<serde::de::IgnoredAny>,
}

impl HttpEvent {
    /// Whether the request carried `multiValueHeaders` (an ALB with multi-value headers enabled
    /// must then be answered with `multiValueHeaders`).
    pub(crate) fn has_multi_value_headers(&self) -> bool {
        self.multi_value_headers.is_some()
    }

    /// Unwraps the body.
    pub(crate) fn body_doc(&self, limits: &Limits) -> Doc<'static> {
        let encoded = self.is_base64_encoded.as_ref().and_then(Value::as_bool);
        http_body(self.body.as_ref(), encoded.unwrap_or(false), limits)
    }
}

/// HTTP body: base64-decoded when `isBase64Encoded`, then parsed as JSON.
fn http_body(body: Option<&Value>, base64_encoded: bool, limits: &Limits) -> Doc<'static> {
    let location = "/body";
    let content = (|| {
        let body = match body {
            None | Some(Value::Null) => {
                return Err(malformed(
                    location,
                    "request has no body; a JSON body is required",
                ))
            }
            Some(Value::String(s)) => s,
            Some(_) => return Err(malformed(location, "`body` must be a string")),
        };
        let value = if base64_encoded {
            let bytes = decode_base64(body, location)?;
            parse_limited(&bytes, location, "request body", limits)?
        } else {
            parse_limited(body.as_bytes(), location, "request body", limits)?
        };
        Ok(Cow::Owned(value))
    })();
    Doc {
        location: location.to_owned(),
        record: None,
        content,
    }
}

/// Per-record envelopes: applies `unwrap` to every element of `Records`.
fn per_record<'a>(
    event: &'a Value,
    unwrap: impl Fn(&'a Value, &str) -> (String, Result<Value, Violation>),
) -> Result<Vec<Doc<'a>>, Violation> {
    let records = field(event, "Records", "")?
        .as_array()
        .ok_or_else(|| malformed("/Records", "`Records` must be an array"))?;
    Ok(records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let base = format!("/Records/{i}");
            let (location, content) = unwrap(record, &base);
            Doc {
                location,
                record: Some(i),
                content: content.map(Cow::Owned),
            }
        })
        .collect())
}

/// Gunzips with the output capped at `limits.max_bytes`.
fn gunzip_limited(bytes: &[u8], location: &str, limits: &Limits) -> Result<Vec<u8>, Violation> {
    let cap = limits.max_bytes as u64;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| malformed(location, "payload is not valid gzip"))?;
    if out.len() as u64 > cap {
        return Err(Violation::new(
            location.to_owned(),
            limits::LimitExceeded::Size {
                limit: limits.max_bytes,
            }
            .to_string(),
            ViolationKind::Limit,
        ));
    }
    Ok(out)
}

/// Resolves an RFC 6901 pointer (already syntax-checked by [`Envelope::pointer`]).
fn resolve_pointer<'a>(event: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut cur = event;
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Object(m) => m.get(&token)?,
            Value::Array(a) => {
                // RFC 6901: decimal digits, no leading zeros (except "0" itself), no sign.
                if token.is_empty()
                    || !token.bytes().all(|b| b.is_ascii_digit())
                    || (token.len() > 1 && token.starts_with('0'))
                {
                    return None;
                }
                a.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// Unwraps `event` according to `envelope`. An `Err` means the event as a whole does not have the
/// envelope's shape; per-record problems are reported in each [`Doc`].
pub(crate) fn extract<'a>(
    envelope: &Envelope,
    event: &'a Value,
    limits: &Limits,
) -> Result<Vec<Doc<'a>>, Violation> {
    Ok(match envelope {
        Envelope::Whole => vec![Doc {
            location: String::new(),
            record: None,
            content: Ok(Cow::Borrowed(event)),
        }],
        Envelope::ApiGatewayV1 | Envelope::ApiGatewayV2 | Envelope::Alb | Envelope::FunctionUrl => {
            let encoded = event.get("isBase64Encoded").and_then(Value::as_bool);
            vec![http_body(
                event.get("body"),
                encoded.unwrap_or(false),
                limits,
            )]
        }
        Envelope::Sqs => per_record(event, |record, base| {
            let location = format!("{base}/body");
            let content = string_field(record, "body", base)
                .and_then(|b| parse_limited(b.as_bytes(), &location, "message body", limits));
            (location, content)
        })?,
        Envelope::Sns => per_record(event, |record, base| {
            let location = format!("{base}/Sns/Message");
            let content = field(record, "Sns", base)
                .and_then(|sns| string_field(sns, "Message", &format!("{base}/Sns")))
                .and_then(|m| parse_limited(m.as_bytes(), &location, "SNS message", limits));
            (location, content)
        })?,
        Envelope::Kinesis => per_record(event, |record, base| {
            let location = format!("{base}/kinesis/data");
            let content = field(record, "kinesis", base)
                .and_then(|k| string_field(k, "data", &format!("{base}/kinesis")))
                .and_then(|d| decode_base64(d, &location))
                .and_then(|bytes| parse_limited(&bytes, &location, "Kinesis data", limits));
            (location, content)
        })?,
        Envelope::EventBridge => {
            let detail = field(event, "detail", "")?;
            vec![Doc {
                location: "/detail".to_owned(),
                record: None,
                content: Ok(Cow::Borrowed(detail)),
            }]
        }
        Envelope::CloudWatchLogs => {
            let location = "/awslogs/data";
            let content = field(event, "awslogs", "")
                .and_then(|a| string_field(a, "data", "/awslogs"))
                .and_then(|d| decode_base64(d, location))
                .and_then(|gz| gunzip_limited(&gz, location, limits))
                .and_then(|json| parse_limited(&json, location, "log data", limits))
                .map(Cow::Owned);
            vec![Doc {
                location: location.to_owned(),
                record: None,
                content,
            }]
        }
        Envelope::Pointer(pointer) => {
            let target = resolve_pointer(event, pointer).ok_or_else(|| {
                malformed(pointer, "the event has no value at the configured pointer")
            })?;
            vec![Doc {
                location: pointer.clone(),
                record: None,
                content: Ok(Cow::Borrowed(target)),
            }]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip() {
        for (name, env) in NAMES {
            assert_eq!(name.parse::<Envelope>().unwrap(), *env);
            assert_eq!(env.name(), *name);
        }
        assert_eq!(
            "/a~1b/0".parse::<Envelope>().unwrap(),
            Envelope::Pointer("/a~1b/0".into())
        );
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = "sqs2".parse::<Envelope>().unwrap_err().to_string();
        assert!(err.contains("`sqs2`"), "{err}");
        assert!(
            err.contains("api_gateway_v1") && err.contains("cloudwatch_logs"),
            "{err}"
        );
    }

    #[test]
    fn bad_pointers_are_rejected() {
        assert!("/a~2".parse::<Envelope>().is_err());
        assert!("/a~".parse::<Envelope>().is_err());
        assert!(Envelope::pointer("a/b").is_err());
    }

    #[test]
    fn pointer_resolution_follows_rfc6901() {
        let doc = json!({"a/b": {"m~n": [10, 20]}, "": 1});
        assert_eq!(resolve_pointer(&doc, "/a~1b/m~0n/1"), Some(&json!(20)));
        assert_eq!(resolve_pointer(&doc, "/"), Some(&json!(1)));
        assert_eq!(resolve_pointer(&doc, "/a~1b/m~0n/01"), None);
        assert_eq!(resolve_pointer(&doc, "/a~1b/m~0n/-"), None);
        assert_eq!(resolve_pointer(&doc, "/a~1b/m~0n/+1"), None);
    }
}
