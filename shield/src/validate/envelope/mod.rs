//! Envelopes: which part of a Lambda event is validated against the schema.
//!
//! Most triggers wrap the payload the function actually cares about inside a larger event — an
//! HTTP body inside an API Gateway request, a message inside an SQS record. An [`Envelope`] names
//! that wrapping, and fnshield unwraps it before validating, with the names and semantics of
//! [Powertools for AWS Lambda's envelopes](https://docs.powertools.aws.dev/lambda/python/latest/utilities/parser/#envelopes)
//! (the README compares the two, envelope by envelope):
//!
//! | envelope (config name)          | validated document(s)                                 | path prefix in violations      |
//! |---------------------------------|-------------------------------------------------------|--------------------------------|
//! | `none` ([`Envelope::Whole`])     | the whole event                                       | (none)                         |
//! | `auto` ([`Envelope::Auto`])      | whatever the detected source's envelope validates ([`detect`]) | that envelope's prefix |
//! | `api_gateway_v1`                | `body`, parsed as JSON (base64-decoded first when `isBase64Encoded` is true) | `/body`    |
//! | `api_gateway_v2`                | `body`, as above (HTTP API, payload format 2.0)       | `/body`                        |
//! | `api_gateway_websocket`         | `body`, as above (WebSocket API message)              | `/body`                        |
//! | `alb`                           | `body`, as above                                      | `/body`                        |
//! | `function_url`                  | `body`, as above                                      | `/body`                        |
//! | `vpc_lattice`                   | `body`, as above (`is_base64_encoded`, payload v1)    | `/body`                        |
//! | `vpc_lattice_v2`                | `body`, as above (payload v2)                         | `/body`                        |
//! | `sqs`                           | each `Records[i].body`, parsed as JSON                | `/Records/{i}/body`            |
//! | `sns`                           | each `Records[i].Sns.Message`, parsed as JSON         | `/Records/{i}/Sns/Message`     |
//! | `sns_sqs`                       | each `Records[i].body` (an SNS notification), then its `Message`, parsed as JSON | `/Records/{i}/body/Message` |
//! | `eventbridge`                   | `detail` (already an object)                          | `/detail`                      |
//! | `cloudwatch_events_scheduled`   | `detail`, as for `eventbridge`                        | `/detail`                      |
//! | `kinesis`                       | each `Records[i].kinesis.data`: base64, decompressed when gzip or zlib, parsed as JSON | `/Records/{i}/kinesis/data` |
//! | `kinesis_firehose`              | each `records[i].data`, as for `kinesis`              | `/records/{i}/data`            |
//! | `cloudwatch_logs`               | `awslogs.data`, base64-decoded, gunzipped, parsed as JSON (the whole `{messageType, logGroup, logEvents, ...}` document) | `/awslogs/data` |
//! | `dynamodb_streams`              | each `Records[i].dynamodb.NewImage` and `OldImage` present, unmarshalled from DynamoDB's attribute-value JSON to plain JSON | `/Records/{i}/dynamodb/NewImage` (then the attribute path, type keys included) |
//! | `kafka`                         | each `records[key][j].value`: base64, decompressed when gzip or zlib, parsed as JSON (MSK and self-managed) | `/records/{key}/{j}/value` |
//! | `bedrock_agent`                 | `inputText`, parsed as JSON (as Powertools does)      | `/inputText`                   |
//! | `s3_sqs`                        | each `Records[i].body`: the S3 event notification     | `/Records/{i}/body`            |
//! | `s3_sns_sqs`                    | each `Records[i].body.Message`: the S3 event notification | `/Records/{i}/body/Message` |
//! | `s3_eventbridge_sqs`            | each `Records[i].body.detail`: the S3 EventBridge event's `detail` | `/Records/{i}/body/detail` |
//! | `s3_firehose`                   | each `records[i].data`: the S3 event notification, as for `kinesis_firehose` | `/records/{i}/data` |
//! | `/a/json/pointer`               | the value at that RFC 6901 pointer, as is (no string decoding) | the pointer             |
//!
//! The HTTP envelopes require a body: a request without one (`body` missing or `null`, as
//! for a `GET`) is malformed, so put them only on routes that take a JSON body.
//!
//! Per-record envelopes validate every record with the same schema; the violations of record 3
//! carry paths starting with `/Records/3/...`. A path always points into the original event:
//! inside a decoded payload it continues with the path inside that payload, and inside a DynamoDB
//! image it follows the attribute-value JSON (`/Records/0/dynamodb/NewImage/quantity/N`).
//!
//! Every decoded payload (a body string, a base64 blob, a decompressed batch) goes through the
//! same limits ([`super::limits`]) as the raw event before it is parsed; decompression output is
//! capped at `max_bytes` while it is being inflated, so a decompression bomb stops at the cap.
//! Compression is recognised by its magic bytes (gzip `1f 8b`, zlib `78 01|5e|9c|da`), which no
//! JSON document can start with, so an uncompressed payload is never mistaken for one.
//!
//! Anything an envelope cannot unwrap — the field is missing or has the wrong type, bad base64,
//! bad gzip, a body that is not JSON — is reported as a [`ViolationKind::Malformed`]
//! violation, never a panic.

mod decode;
pub mod detect;
mod dynamodb;
mod extract;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

pub(crate) use extract::{
    batch_records, extract, projection, BatchRecord, Doc, HttpEvent, PathMap,
};

use super::ValidationError;
#[cfg(doc)]
use super::ViolationKind;

/// Which part of the event is validated. See the [module documentation](self) for the exact
/// semantics of each variant. Parse one from its configuration name with [`str::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Envelope {
    /// The whole event (`"none"`).
    #[default]
    Whole,
    /// Recognise the source from the event's shape ([`detect`]) and use its envelope; an
    /// unrecognised event is validated whole (`"auto"`).
    Auto,
    /// API Gateway REST API (payload v1) request: `body` (`"api_gateway_v1"`).
    ApiGatewayV1,
    /// API Gateway HTTP API (payload v2) request: `body` (`"api_gateway_v2"`).
    ApiGatewayV2,
    /// API Gateway WebSocket API message: `body` (`"api_gateway_websocket"`).
    ApiGatewayWebSocket,
    /// Application Load Balancer request: `body` (`"alb"`).
    Alb,
    /// Lambda Function URL request: `body` (`"function_url"`).
    FunctionUrl,
    /// VPC Lattice request, payload v1: `body` (`"vpc_lattice"`).
    VpcLattice,
    /// VPC Lattice request, payload v2: `body` (`"vpc_lattice_v2"`).
    VpcLatticeV2,
    /// SQS batch: each `Records[i].body` (`"sqs"`).
    Sqs,
    /// SNS notification: each `Records[i].Sns.Message` (`"sns"`).
    Sns,
    /// SNS delivered through SQS: each `Records[i].body.Message` (`"sns_sqs"`).
    SnsSqs,
    /// EventBridge event: `detail` (`"eventbridge"`).
    EventBridge,
    /// CloudWatch (EventBridge) scheduled event: `detail` (`"cloudwatch_events_scheduled"`).
    CloudWatchEventsScheduled,
    /// Kinesis Data Streams batch: each `Records[i].kinesis.data`, base64 (`"kinesis"`).
    Kinesis,
    /// Kinesis Data Firehose transformation batch: each `records[i].data`, base64
    /// (`"kinesis_firehose"`).
    KinesisFirehose,
    /// CloudWatch Logs subscription: `awslogs.data`, base64 + gzip (`"cloudwatch_logs"`).
    CloudWatchLogs,
    /// DynamoDB Streams batch: each record's `NewImage` and `OldImage`, unmarshalled
    /// (`"dynamodb_streams"`).
    DynamoDbStreams,
    /// Kafka batch (Amazon MSK or self-managed): each `records[key][j].value`, base64 (`"kafka"`).
    Kafka,
    /// Bedrock Agent action group request: `inputText` parsed as JSON (`"bedrock_agent"`).
    BedrockAgent,
    /// S3 event notifications delivered through SQS: each `Records[i].body` (`"s3_sqs"`).
    S3Sqs,
    /// S3 → SNS → SQS: each `Records[i].body.Message` (`"s3_sns_sqs"`).
    S3SnsSqs,
    /// S3 → EventBridge → SQS: each `Records[i].body.detail` (`"s3_eventbridge_sqs"`).
    S3EventBridgeSqs,
    /// S3 event notifications delivered through Kinesis Data Firehose: each `records[i].data`
    /// (`"s3_firehose"`).
    S3Firehose,
    /// The value at an RFC 6901 JSON Pointer (any configuration value starting with `/`).
    /// `~1` stands for `/` and `~0` for `~` inside a reference token.
    Pointer(String),
}

/// The configuration names, in the order they are listed in error messages.
pub(crate) const NAMES: &[(&str, Envelope)] = &[
    ("none", Envelope::Whole),
    ("auto", Envelope::Auto),
    ("api_gateway_v1", Envelope::ApiGatewayV1),
    ("api_gateway_v2", Envelope::ApiGatewayV2),
    ("api_gateway_websocket", Envelope::ApiGatewayWebSocket),
    ("alb", Envelope::Alb),
    ("function_url", Envelope::FunctionUrl),
    ("vpc_lattice", Envelope::VpcLattice),
    ("vpc_lattice_v2", Envelope::VpcLatticeV2),
    ("sqs", Envelope::Sqs),
    ("sns", Envelope::Sns),
    ("sns_sqs", Envelope::SnsSqs),
    ("eventbridge", Envelope::EventBridge),
    (
        "cloudwatch_events_scheduled",
        Envelope::CloudWatchEventsScheduled,
    ),
    ("kinesis", Envelope::Kinesis),
    ("kinesis_firehose", Envelope::KinesisFirehose),
    ("cloudwatch_logs", Envelope::CloudWatchLogs),
    ("dynamodb_streams", Envelope::DynamoDbStreams),
    ("kafka", Envelope::Kafka),
    ("bedrock_agent", Envelope::BedrockAgent),
    ("s3_sqs", Envelope::S3Sqs),
    ("s3_sns_sqs", Envelope::S3SnsSqs),
    ("s3_eventbridge_sqs", Envelope::S3EventBridgeSqs),
    ("s3_firehose", Envelope::S3Firehose),
];

/// How a batch source identifies the records it retries: what goes into a partial-batch
/// response for an invalid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BatchSource {
    /// SQS (and the chains delivered through SQS): `batchItemFailures[].itemIdentifier` is the
    /// record's `messageId`.
    Sqs,
    /// Kinesis Data Streams: `itemIdentifier` is `kinesis.sequenceNumber`.
    Kinesis,
    /// DynamoDB Streams: `itemIdentifier` is `dynamodb.SequenceNumber` (what Lambda's
    /// ReportBatchItemFailures reads; `eventID` is not accepted).
    DynamoDbStreams,
    /// Kafka (MSK, self-managed): `itemIdentifier` is `{"partition": "<topic-partition key>",
    /// "offset": <offset>}`.
    Kafka,
    /// Kinesis Data Firehose transformation: every record is answered in `records[]`; an invalid
    /// one as `{"recordId", "result": "ProcessingFailed", "data"}` with its original data.
    Firehose,
}

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

    /// Every configuration name, in documentation order (`"none"`, `"auto"`, `"api_gateway_v1"`,
    /// ...); pointers aside.
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().map(|(n, _)| *n)
    }

    /// The configuration name of a named (non-pointer) envelope.
    pub(crate) fn static_name(&self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, e)| e == self)
            .map_or("pointer", |(n, _)| n)
    }

    /// Whether the trigger is HTTP (API Gateway REST, HTTP and WebSocket, ALB, Function URL,
    /// VPC Lattice): a rejected event gets a 400 response instead of an invocation error.
    pub fn is_http(&self) -> bool {
        matches!(
            self,
            Self::ApiGatewayV1
                | Self::ApiGatewayV2
                | Self::ApiGatewayWebSocket
                | Self::Alb
                | Self::FunctionUrl
                | Self::VpcLattice
                | Self::VpcLatticeV2
        )
    }

    /// The batch source whose partial-batch response this envelope's records use, or `None`
    /// when the trigger is not a batch source with partial responses.
    pub fn batch_source(&self) -> Option<BatchSource> {
        match self {
            Self::Sqs | Self::SnsSqs | Self::S3Sqs | Self::S3SnsSqs | Self::S3EventBridgeSqs => {
                Some(BatchSource::Sqs)
            }
            Self::Kinesis => Some(BatchSource::Kinesis),
            Self::DynamoDbStreams => Some(BatchSource::DynamoDbStreams),
            Self::Kafka => Some(BatchSource::Kafka),
            Self::KinesisFirehose | Self::S3Firehose => Some(BatchSource::Firehose),
            _ => None,
        }
    }

    /// Builds a pointer envelope, checking RFC 6901 syntax: the pointer starts with `/` and every
    /// `~` is followed by `0` or `1`.
    ///
    /// # Errors
    ///
    /// [`ValidationError::InvalidPointer`] naming the pointer and what is wrong with it.
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

#[cfg(test)]
mod tests {
    use super::*;
    use decode::resolve_pointer;
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
