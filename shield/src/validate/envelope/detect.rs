//! `envelope = "auto"`: recognising the event source from the event's own shape.
//!
//! [`detect`] looks only at fields the AWS service writes (the event source name, the request
//! context, the top-level keys), never inside a payload: a message body is written by whoever
//! sends the message, and letting it choose what gets validated would let a sender pick the
//! weakest check. So a chain (SNS → SQS, the S3 chains) is detected as its outer source (`sqs`,
//! `kinesis_firehose`); name the chain's envelope explicitly to validate what is inside.
//!
//! Checked in this order; the first match wins:
//!
//! | source | recognised by |
//! |--------|---------------|
//! | `sqs` | `Records[0].eventSource == "aws:sqs"` |
//! | `sns` | `Records[0].EventSource == "aws:sns"` |
//! | `kinesis` | `Records[0].eventSource == "aws:kinesis"` |
//! | `dynamodb_streams` | `Records[0].eventSource == "aws:dynamodb"` |
//! | `kafka` | `eventSource` is `"aws:kafka"` or `"SelfManagedKafka"` and `records` is an object |
//! | `kinesis_firehose` | `deliveryStreamArn` and a `records` array |
//! | `cloudwatch_logs` | `awslogs.data` |
//! | `bedrock_agent` | `messageVersion`, `agent` and `actionGroup` |
//! | `alb` | `requestContext.elb` |
//! | `api_gateway_websocket` | `requestContext.connectionId` and `requestContext.eventType` |
//! | `vpc_lattice_v2` | `version == "2.0"` and `requestContext.serviceNetworkArn` or `serviceArn` |
//! | `function_url` | `version == "2.0"` and `requestContext.domainName` ends in `.on.aws` and contains `.lambda-url.` |
//! | `api_gateway_v2` | `version == "2.0"`, `routeKey` and `requestContext.http` |
//! | `api_gateway_v1` | `httpMethod`, `resource` and `requestContext.resourceId` or `requestContext.stage` |
//! | `vpc_lattice` | `raw_path`, `method` and `is_base64_encoded` |
//! | `cloudwatch_events_scheduled` | `source == "aws.events"` and `detail-type == "Scheduled Event"` |
//! | `eventbridge` | `detail-type`, `source` and `detail` |
//! | (none: whole event) | anything else |

use serde_json::Value;

use super::Envelope;

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The envelope for `event`, recognised from its shape ([module documentation](self)); an
/// unrecognised event gets [`Envelope::Whole`].
pub fn detect(event: &Value) -> Envelope {
    let Some(obj) = event.as_object() else {
        return Envelope::Whole;
    };
    if let Some(first) = obj
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
    {
        match str_at(first, "eventSource").or_else(|| str_at(first, "EventSource")) {
            Some("aws:sqs") => return Envelope::Sqs,
            Some("aws:sns") => return Envelope::Sns,
            Some("aws:kinesis") => return Envelope::Kinesis,
            Some("aws:dynamodb") => return Envelope::DynamoDbStreams,
            _ => {}
        }
    }
    if matches!(
        str_at(event, "eventSource"),
        Some("aws:kafka" | "SelfManagedKafka")
    ) && obj.get("records").is_some_and(Value::is_object)
    {
        return Envelope::Kafka;
    }
    if obj.contains_key("deliveryStreamArn") && obj.get("records").is_some_and(Value::is_array) {
        return Envelope::KinesisFirehose;
    }
    if obj.get("awslogs").and_then(|a| a.get("data")).is_some() {
        return Envelope::CloudWatchLogs;
    }
    if ["messageVersion", "agent", "actionGroup"]
        .iter()
        .all(|k| obj.contains_key(*k))
    {
        return Envelope::BedrockAgent;
    }
    if let Some(ctx) = obj.get("requestContext").filter(|c| c.is_object()) {
        if ctx.get("elb").is_some() {
            return Envelope::Alb;
        }
        if ctx.get("connectionId").is_some() && ctx.get("eventType").is_some() {
            return Envelope::ApiGatewayWebSocket;
        }
        if str_at(event, "version") == Some("2.0") {
            if ctx.get("serviceNetworkArn").is_some() || ctx.get("serviceArn").is_some() {
                return Envelope::VpcLatticeV2;
            }
            if str_at(ctx, "domainName")
                .is_some_and(|d| d.contains(".lambda-url.") && d.ends_with(".on.aws"))
            {
                return Envelope::FunctionUrl;
            }
            if obj.contains_key("routeKey") && ctx.get("http").is_some() {
                return Envelope::ApiGatewayV2;
            }
        }
        if obj.contains_key("httpMethod")
            && obj.contains_key("resource")
            && (ctx.get("resourceId").is_some() || ctx.get("stage").is_some())
        {
            return Envelope::ApiGatewayV1;
        }
    }
    if ["raw_path", "method", "is_base64_encoded"]
        .iter()
        .all(|k| obj.contains_key(*k))
    {
        return Envelope::VpcLattice;
    }
    if obj.contains_key("detail-type") && obj.contains_key("source") && obj.contains_key("detail") {
        if str_at(event, "source") == Some("aws.events")
            && str_at(event, "detail-type") == Some("Scheduled Event")
        {
            return Envelope::CloudWatchEventsScheduled;
        }
        return Envelope::EventBridge;
    }
    Envelope::Whole
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_shapes_are_whole() {
        for v in [
            json!(null),
            json!([1]),
            json!({"orderId": 1}),
            json!({"Records": []}),
            json!({"Records": [{"eventSource": "aws:s3"}]}),
            json!({"requestContext": 1, "httpMethod": "GET"}),
        ] {
            assert_eq!(detect(&v), Envelope::Whole, "{v}");
        }
    }

    #[test]
    fn payload_content_never_chooses() {
        // An SQS message whose body looks like an SNS notification is still plain SQS.
        let ev = json!({"Records": [{"eventSource": "aws:sqs", "messageId": "1",
            "body": "{\"Type\":\"Notification\",\"TopicArn\":\"arn\",\"Message\":\"{}\"}"}]});
        assert_eq!(detect(&ev), Envelope::Sqs);
    }
}
