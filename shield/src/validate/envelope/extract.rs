//! Unwrapping an event: from the parsed event to the document(s) the schema validates.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::super::limits::{Keep, Limits};
use super::super::Violation;
use super::decode::{
    base64_json, decode_base64, escape_token, field, gunzip_limited, malformed, parse_limited,
    resolve_pointer, string_field,
};
use super::{dynamodb, Envelope};

/// How a path inside a document maps to the original event, after the document's location.
#[derive(Clone, Copy)]
pub(crate) enum PathMap<'a> {
    /// The document is the value at its location (possibly decoded): paths append as they are.
    Same,
    /// The document was unmarshalled from this DynamoDB image.
    DynamoDb(&'a Value),
}

impl PathMap<'_> {
    /// The path in the event of `pointer` (a JSON Pointer inside the document).
    pub(crate) fn map(&self, location: &str, pointer: &str) -> String {
        match self {
            Self::Same => format!("{location}{pointer}"),
            Self::DynamoDb(image) => {
                format!("{location}{}", dynamodb::original_path(image, pointer))
            }
        }
    }
}

/// One document to validate.
pub(crate) struct Doc<'a> {
    /// Where the document lives in the event, as a JSON pointer ("" for the whole event).
    pub(crate) location: String,
    /// For batch envelopes, the index of its record in [`batch_records`] order.
    pub(crate) record: Option<usize>,
    /// How paths inside the document map back to the event.
    pub(crate) map: PathMap<'a>,
    /// The document, or why it could not be unwrapped.
    pub(crate) content: Result<Cow<'a, Value>, Violation>,
}

impl<'a> Doc<'a> {
    fn at(location: String, record: Option<usize>, content: Result<Value, Violation>) -> Self {
        Self {
            location,
            record,
            map: PathMap::Same,
            content: content.map(Cow::Owned),
        }
    }
}

/// One record of a batch event.
pub(crate) struct BatchRecord<'a> {
    /// The record.
    pub(crate) value: &'a Value,
    /// Its path in the event (`/Records/3`, `/records/orders-0/2`).
    pub(crate) location: String,
    /// For Kafka, the `records` key (topic-partition) it sits under.
    pub(crate) key: Option<&'a str>,
}

/// The records of a batch event, in delivery order: `Records` (SQS, Kinesis, DynamoDB Streams,
/// SNS), `records` (Firehose) or every `records[key][j]` (Kafka, keys in event order).
pub(crate) fn batch_records<'a>(
    envelope: &Envelope,
    event: &'a Value,
) -> Result<Vec<BatchRecord<'a>>, Violation> {
    let array = |key: &str| -> Result<Vec<BatchRecord<'a>>, Violation> {
        let records = field(event, key, "")?
            .as_array()
            .ok_or_else(|| malformed(&format!("/{key}"), format!("`{key}` must be an array")))?;
        Ok(records
            .iter()
            .enumerate()
            .map(|(i, value)| BatchRecord {
                value,
                location: format!("/{key}/{i}"),
                key: None,
            })
            .collect())
    };
    match envelope {
        Envelope::KinesisFirehose | Envelope::S3Firehose => array("records"),
        Envelope::Kafka => {
            let map = field(event, "records", "")?.as_object().ok_or_else(|| {
                malformed(
                    "/records",
                    "`records` must be an object of topic-partition arrays",
                )
            })?;
            let mut out = Vec::new();
            for (key, list) in map {
                let base = format!("/records/{}", escape_token(key));
                let list = list
                    .as_array()
                    .ok_or_else(|| malformed(&base, "each `records` entry must be an array"))?;
                out.extend(list.iter().enumerate().map(|(j, value)| BatchRecord {
                    value,
                    location: format!("{base}/{j}"),
                    key: Some(key.as_str()),
                }));
            }
            Ok(out)
        }
        _ => array("Records"),
    }
}

/// The fields of an HTTP trigger event (API Gateway, ALB, Function URL, VPC Lattice) that
/// validation reads. The event is deserialized straight into this struct: headers, request
/// context and the rest are skipped by the parser without being built, which makes the HTTP
/// envelopes several times cheaper than parsing the whole event into a `Value`.
#[derive(Deserialize)]
pub(crate) struct HttpEvent {
    #[serde(default)]
    body: Option<Value>,
    #[serde(default, rename = "isBase64Encoded", alias = "is_base64_encoded")]
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
        if base64_encoded {
            let bytes = decode_base64(body, location)?;
            parse_limited(&bytes, location, "request body", limits)
        } else {
            parse_limited(body.as_bytes(), location, "request body", limits)
        }
    })();
    Doc::at(location.to_owned(), None, content)
}

/// A JSON string field of `record`, parsed: `(location of the field, parsed value)`.
fn json_string_field(
    record: &Value,
    key: &str,
    base: &str,
    what: &str,
    limits: &Limits,
) -> (String, Result<Value, Violation>) {
    let location = format!("{base}/{key}");
    let content = string_field(record, key, base)
        .and_then(|s| parse_limited(s.as_bytes(), &location, what, limits));
    (location, content)
}

/// SQS record whose body is an SNS notification: the notification's `Message`, parsed.
fn sns_in_sqs(record: &Value, base: &str, limits: &Limits) -> (String, Result<Value, Violation>) {
    let (body_loc, body) = json_string_field(record, "body", base, "message body", limits);
    let location = format!("{body_loc}/Message");
    let content = body.and_then(|notification| {
        string_field(&notification, "Message", &body_loc)
            .and_then(|m| parse_limited(m.as_bytes(), &location, "SNS message", limits))
    });
    (location, content)
}

/// What [`extract`] reads from an event with `envelope`: the event can be parsed with this
/// projection ([`Keep`]) instead of whole, and [`extract`] then sees exactly the fields it
/// reads, with their real values (a field of an unexpected type is built whole). Only
/// [`extract`]'s own reads are covered: detection (`auto`) and partial batch responses read
/// more of the event and need it whole ([`Keep::All`]).
pub(crate) fn projection(envelope: &Envelope) -> Keep {
    // Nested `&` in constants are promoted to statics.
    const BODY: Keep = Keep::Fields(&[("body", Keep::All)]);
    const SQS: Keep = Keep::Fields(&[("Records", Keep::Each(&BODY))]);
    const SNS: Keep = Keep::Fields(&[(
        "Records",
        Keep::Each(&Keep::Fields(&[(
            "Sns",
            Keep::Fields(&[("Message", Keep::All)]),
        )])),
    )]);
    const KINESIS: Keep = Keep::Fields(&[(
        "Records",
        Keep::Each(&Keep::Fields(&[(
            "kinesis",
            Keep::Fields(&[("data", Keep::All)]),
        )])),
    )]);
    const DATA: Keep = Keep::Fields(&[("data", Keep::All)]);
    const FIREHOSE: Keep = Keep::Fields(&[("records", Keep::Each(&DATA))]);
    const KAFKA: Keep = Keep::Fields(&[(
        "records",
        Keep::Values(&Keep::Each(&Keep::Fields(&[("value", Keep::All)]))),
    )]);
    const DYNAMODB: Keep = Keep::Fields(&[(
        "Records",
        Keep::Each(&Keep::Fields(&[(
            "dynamodb",
            Keep::Fields(&[("NewImage", Keep::All), ("OldImage", Keep::All)]),
        )])),
    )]);
    const DETAIL: Keep = Keep::Fields(&[("detail", Keep::All)]);
    const BEDROCK: Keep = Keep::Fields(&[("inputText", Keep::All)]);
    const AWSLOGS: Keep = Keep::Fields(&[("awslogs", DATA)]);
    match envelope {
        Envelope::Sqs
        | Envelope::S3Sqs
        | Envelope::SnsSqs
        | Envelope::S3SnsSqs
        | Envelope::S3EventBridgeSqs => SQS,
        Envelope::Sns => SNS,
        Envelope::Kinesis => KINESIS,
        Envelope::KinesisFirehose | Envelope::S3Firehose => FIREHOSE,
        Envelope::Kafka => KAFKA,
        Envelope::DynamoDbStreams => DYNAMODB,
        Envelope::EventBridge | Envelope::CloudWatchEventsScheduled => DETAIL,
        Envelope::BedrockAgent => BEDROCK,
        Envelope::CloudWatchLogs => AWSLOGS,
        // Whole and pointer envelopes read anything; the HTTP envelopes deserialize their own
        // fields (`HttpEvent`); `auto` detects first.
        Envelope::Whole
        | Envelope::Auto
        | Envelope::Pointer(_)
        | Envelope::ApiGatewayV1
        | Envelope::ApiGatewayV2
        | Envelope::ApiGatewayWebSocket
        | Envelope::Alb
        | Envelope::FunctionUrl
        | Envelope::VpcLattice
        | Envelope::VpcLatticeV2 => Keep::All,
    }
}

/// Unwraps one record: `(location of the document, the document or why not)`.
type Unwrap<'a, 'b> = dyn Fn(&'a Value, &str) -> (String, Result<Value, Violation>) + 'b;

/// Unwraps `event` according to `envelope` (never [`Envelope::Auto`]: resolve it with
/// [`super::detect::detect`] first). An `Err` means the event as a whole does not have the
/// envelope's shape; per-record problems are reported in each [`Doc`].
pub(crate) fn extract<'a>(
    envelope: &Envelope,
    event: &'a Value,
    limits: &Limits,
) -> Result<Vec<Doc<'a>>, Violation> {
    let per_record = |unwrap: &Unwrap<'a, '_>| {
        batch_records(envelope, event).map(|records| {
            records
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let (location, content) = unwrap(r.value, &r.location);
                    Doc::at(location, Some(i), content)
                })
                .collect::<Vec<_>>()
        })
    };
    Ok(match envelope {
        Envelope::Whole | Envelope::Auto => vec![Doc {
            location: String::new(),
            record: None,
            map: PathMap::Same,
            content: Ok(Cow::Borrowed(event)),
        }],
        Envelope::ApiGatewayV1
        | Envelope::ApiGatewayV2
        | Envelope::ApiGatewayWebSocket
        | Envelope::Alb
        | Envelope::FunctionUrl
        | Envelope::VpcLattice
        | Envelope::VpcLatticeV2 => {
            let encoded = event
                .get("isBase64Encoded")
                .or_else(|| event.get("is_base64_encoded"))
                .and_then(Value::as_bool);
            vec![http_body(
                event.get("body"),
                encoded.unwrap_or(false),
                limits,
            )]
        }
        Envelope::Sqs | Envelope::S3Sqs => per_record(&|record, base| {
            json_string_field(record, "body", base, "message body", limits)
        })?,
        Envelope::SnsSqs | Envelope::S3SnsSqs => {
            per_record(&|record, base| sns_in_sqs(record, base, limits))?
        }
        Envelope::S3EventBridgeSqs => per_record(&|record, base| {
            let (body_loc, body) = json_string_field(record, "body", base, "message body", limits);
            let location = format!("{body_loc}/detail");
            let content = body.and_then(|mut b| {
                field(&b, "detail", &body_loc)?;
                Ok(b.get_mut("detail").map(Value::take).unwrap_or_default())
            });
            (location, content)
        })?,
        Envelope::Sns => per_record(&|record, base| {
            let location = format!("{base}/Sns/Message");
            let content = field(record, "Sns", base)
                .and_then(|sns| string_field(sns, "Message", &format!("{base}/Sns")))
                .and_then(|m| parse_limited(m.as_bytes(), &location, "SNS message", limits));
            (location, content)
        })?,
        Envelope::Kinesis => per_record(&|record, base| {
            let location = format!("{base}/kinesis/data");
            let content = field(record, "kinesis", base)
                .and_then(|k| string_field(k, "data", &format!("{base}/kinesis")))
                .and_then(|d| base64_json(d, &location, "Kinesis data", limits));
            (location, content)
        })?,
        Envelope::KinesisFirehose | Envelope::S3Firehose => per_record(&|record, base| {
            let location = format!("{base}/data");
            let content = string_field(record, "data", base)
                .and_then(|d| base64_json(d, &location, "Firehose record data", limits));
            (location, content)
        })?,
        Envelope::Kafka => per_record(&|record, base| {
            let location = format!("{base}/value");
            let content = match record.get("value") {
                None | Some(Value::Null) => Err(malformed(
                    &location,
                    "record has no value (a tombstone); a JSON value is required",
                )),
                Some(Value::String(v)) => base64_json(v, &location, "Kafka record value", limits),
                Some(_) => Err(malformed(&location, "`value` must be a base64 string")),
            };
            (location, content)
        })?,
        Envelope::DynamoDbStreams => {
            let records = batch_records(envelope, event)?;
            let mut docs = Vec::with_capacity(records.len());
            for (i, r) in records.iter().enumerate() {
                let ddb = match field(r.value, "dynamodb", &r.location) {
                    Ok(d) => d,
                    Err(v) => {
                        docs.push(Doc::at(format!("{}/dynamodb", r.location), Some(i), Err(v)));
                        continue;
                    }
                };
                // A record without images (KEYS_ONLY streams, or REMOVE under NEW_IMAGE) has
                // nothing to validate.
                for key in ["NewImage", "OldImage"] {
                    let Some(image) = ddb.get(key).filter(|v| !v.is_null()) else {
                        continue;
                    };
                    let location = format!("{}/dynamodb/{key}", r.location);
                    let content = dynamodb::unmarshal_image(image, &location);
                    docs.push(Doc {
                        location,
                        record: Some(i),
                        map: PathMap::DynamoDb(image),
                        content: content.map(Cow::Owned),
                    });
                }
            }
            docs
        }
        Envelope::EventBridge | Envelope::CloudWatchEventsScheduled => {
            let detail = field(event, "detail", "")?;
            vec![Doc {
                location: "/detail".to_owned(),
                record: None,
                map: PathMap::Same,
                content: Ok(Cow::Borrowed(detail)),
            }]
        }
        Envelope::BedrockAgent => {
            let (location, content) =
                json_string_field(event, "inputText", "", "agent input text", limits);
            vec![Doc::at(location, None, content)]
        }
        Envelope::CloudWatchLogs => {
            let location = "/awslogs/data";
            let content = field(event, "awslogs", "")
                .and_then(|a| string_field(a, "data", "/awslogs"))
                .and_then(|d| decode_base64(d, location))
                .and_then(|gz| gunzip_limited(&gz, location, limits))
                .and_then(|json| parse_limited(&json, location, "log data", limits));
            vec![Doc::at(location.to_owned(), None, content)]
        }
        Envelope::Pointer(pointer) => {
            let target = resolve_pointer(event, pointer).ok_or_else(|| {
                malformed(pointer, "the event has no value at the configured pointer")
            })?;
            vec![Doc {
                location: pointer.clone(),
                record: None,
                map: PathMap::Same,
                content: Ok(Cow::Borrowed(target)),
            }]
        }
    })
}
