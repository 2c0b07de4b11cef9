//! Partial batches: invalid records of a batch event are held back from the handler and reported
//! to Lambda the way each source expects, merged with what the handler itself reports.
//!
//! | source | the handler gets | an invalid record is reported as |
//! |--------|------------------|----------------------------------|
//! | SQS (and SNS → SQS, the S3 chains through SQS) | `Records` without it | `batchItemFailures[].itemIdentifier = messageId` |
//! | Kinesis Data Streams | `Records` without it and without the records after it | `itemIdentifier = kinesis.sequenceNumber` |
//! | DynamoDB Streams | as for Kinesis | `itemIdentifier = dynamodb.SequenceNumber` |
//! | Kafka (MSK, self-managed) | `records[key]` without it and the later records of its topic-partition | `itemIdentifier = {"partition": key, "offset": offset}` |
//! | Kinesis Data Firehose | `records` without it | `records[] = {"recordId", "result": "ProcessingFailed", "data"}` (its original data) |
//!
//! Ordered sources keep their order: on a FIFO queue (`eventSourceARN` ending in `.fifo`) every
//! record after the first invalid one is withheld too ([`ViolationKind::Withheld`]); on a Kinesis or
//! DynamoDB shard Lambda retries from the lowest reported sequence number anyway, so the later
//! records are withheld rather than processed twice; on Kafka the same holds per topic-partition.
//!
//! Sources: Lambda developer guide, "Handling errors for an SQS event source"
//! (`batchItemFailures`), "Configuring partial batch response with Kinesis Data Streams / DynamoDB
//! Streams" (sequence numbers; `eventID` is not accepted), "Configuring error handling controls
//! for Kafka event sources" (ReportBatchItemFailures, provisioned mode) with the identifier shape
//! Powertools for AWS Lambda sends, checked in both its Python (`KafkaItemIdentifier`:
//! `partition: str`, `offset: int`) and TypeScript (`KafkaItemIdentifier`: `partition` the
//! `topic-partition` key such as `"my-topic-0"`, `offset` a number) batch utilities, and
//! "Amazon Data Firehose data transformation"
//! (`recordId`, `result`, `data`).

use serde_json::{json, Map, Value};

use super::envelope::{BatchRecord, BatchSource};
use super::{Violation, ViolationKind};

/// One invalid (or withheld) record of a partial batch.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedRecord {
    identifier: Value,
    data: Option<Value>,
    violations: Vec<Violation>,
}

impl FailedRecord {
    /// What the source identifies the record by: the `itemIdentifier` Lambda reads (a string,
    /// or `{"partition", "offset"}` for Kafka), or the Firehose `recordId`.
    pub fn identifier(&self) -> &Value {
        &self.identifier
    }
    /// What is wrong with it (a single [`ViolationKind::Withheld`] for a withheld record).
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }
}

/// The records a partial batch held back, and how to report them.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchFailures {
    source: BatchSource,
    records: Vec<FailedRecord>,
}

impl BatchFailures {
    /// The batch source, which decides the response shape.
    pub fn source(&self) -> BatchSource {
        self.source
    }
    /// The failed records, in batch order.
    pub fn records(&self) -> &[FailedRecord] {
        &self.records
    }
    /// How many records failed.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    /// Whether no record failed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    pub(crate) fn set_envelope(&mut self, name: &'static str) {
        for v in self
            .records
            .iter_mut()
            .flat_map(|r| r.violations.iter_mut())
        {
            v.set_envelope(name);
        }
    }
    /// Every violation of every failed record.
    pub fn violations(&self) -> impl Iterator<Item = &Violation> {
        self.records.iter().flat_map(|r| r.violations.iter())
    }

    /// Merges these failures with the handler's response, in the shape the source expects.
    ///
    /// * Batch item failures (SQS, Kinesis, DynamoDB Streams, Kafka):
    ///   `{"batchItemFailures":[{"itemIdentifier": id}, ...]}`, the handler's failures first
    ///   (kept as they are), then each of these not already listed. A response that is absent,
    ///   `null`, or has no `batchItemFailures` array contributes no failures; other fields of an
    ///   object response are kept.
    /// * Firehose: `{"records":[...]}`, the handler's records first, then
    ///   `{"recordId", "result": "ProcessingFailed", "data"}` for each of these the handler did
    ///   not answer. Firehose needs an answer for every record it sent.
    pub fn merge(&self, response: Option<Value>) -> Value {
        let mut out = match response {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let (key, id_key) = match self.source {
            BatchSource::Firehose => ("records", "recordId"),
            _ => ("batchItemFailures", "itemIdentifier"),
        };
        let mut items = match out.remove(key) {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        for r in &self.records {
            if items.iter().any(|i| i.get(id_key) == Some(&r.identifier)) {
                continue;
            }
            items.push(match self.source {
                BatchSource::Firehose => json!({
                    "recordId": r.identifier,
                    "result": "ProcessingFailed",
                    "data": r.data.clone().unwrap_or(Value::Null),
                }),
                _ => json!({ "itemIdentifier": r.identifier }),
            });
        }
        out.insert(key.into(), Value::Array(items));
        Value::Object(out)
    }
}

/// Merges SQS-style batch failures (string identifiers) with the handler's own response:
/// `{"batchItemFailures":[{"itemIdentifier": id}, ...]}`, as [`BatchFailures::merge`] does.
pub fn merge_batch_failures(response: Option<Value>, failures: &[String]) -> Value {
    BatchFailures {
        source: BatchSource::Sqs,
        records: failures
            .iter()
            .map(|id| FailedRecord {
                identifier: Value::String(id.clone()),
                data: None,
                violations: Vec::new(),
            })
            .collect(),
    }
    .merge(response)
}

/// The identifier of `record` for `source`, or a violation saying why it cannot be reported.
fn identifier(source: BatchSource, record: &BatchRecord<'_>) -> Result<Value, Violation> {
    let string_at = |path: &[&str]| -> Option<Value> {
        let mut v = record.value;
        for k in path {
            v = v.get(*k)?;
        }
        v.as_str().filter(|s| !s.is_empty()).map(|s| json!(s))
    };
    let (found, path) = match source {
        BatchSource::Sqs => (string_at(&["messageId"]), "messageId"),
        BatchSource::Kinesis => (
            string_at(&["kinesis", "sequenceNumber"]),
            "kinesis/sequenceNumber",
        ),
        BatchSource::DynamoDbStreams => (
            string_at(&["dynamodb", "SequenceNumber"]),
            "dynamodb/SequenceNumber",
        ),
        BatchSource::Firehose => (string_at(&["recordId"]), "recordId"),
        BatchSource::Kafka => (
            record
                .value
                .get("offset")
                .filter(|o| o.is_u64())
                .zip(record.key)
                .map(|(offset, key)| json!({"partition": key, "offset": offset})),
            "offset",
        ),
    };
    found.ok_or_else(|| {
        Violation::new(
            format!("{}/{path}", record.location),
            format!("missing `{path}`: the record cannot be reported as a partial batch failure"),
            ViolationKind::Malformed,
        )
    })
}

/// What [`partition`] decided.
pub(crate) enum Partition {
    /// Every record is valid.
    AllValid,
    /// Some records failed: the indexes to keep, and the failures.
    Partial(Vec<usize>, BatchFailures),
    /// A record cannot be identified: the batch cannot be answered partially.
    Unreportable(Violation),
}

/// Splits a batch into records to keep and failures. `violations[i]` are record `i`'s problems.
/// `fifo`: the SQS queue is FIFO.
pub(crate) fn partition(
    source: BatchSource,
    records: &[BatchRecord<'_>],
    violations: Vec<Vec<Violation>>,
    fifo: bool,
) -> Partition {
    let ordered = match source {
        BatchSource::Sqs => fifo,
        BatchSource::Kinesis | BatchSource::DynamoDbStreams | BatchSource::Kafka => true,
        BatchSource::Firehose => false,
    };
    let mut keep = Vec::with_capacity(records.len());
    let mut failed: Vec<FailedRecord> = Vec::new();
    // The ordering groups that already had a failure (Kafka: per topic-partition key).
    let mut stopped: Vec<Option<&str>> = Vec::new();
    for (i, (record, problems)) in records.iter().zip(violations).enumerate() {
        let id = match identifier(source, record) {
            Ok(id) => id,
            Err(v) => return Partition::Unreportable(v),
        };
        let data = (source == BatchSource::Firehose)
            .then(|| record.value.get("data").cloned())
            .flatten();
        let group = record.key;
        if ordered && stopped.contains(&group) {
            failed.push(FailedRecord {
                identifier: id,
                data,
                violations: vec![Violation::new(
                    record.location.clone(),
                    "withheld: an earlier record of this ordered batch failed validation"
                        .to_owned(),
                    ViolationKind::Withheld,
                )],
            });
        } else if problems.is_empty() {
            keep.push(i);
        } else {
            stopped.push(group);
            failed.push(FailedRecord {
                identifier: id,
                data,
                violations: problems,
            });
        }
    }
    if failed.is_empty() {
        Partition::AllValid
    } else {
        Partition::Partial(
            keep,
            BatchFailures {
                source,
                records: failed,
            },
        )
    }
}

/// The event with only the records at `keep` (indexes in batch order).
pub(crate) fn keep_records(
    source: BatchSource,
    event: &Value,
    records: &[BatchRecord<'_>],
    keep: &[usize],
) -> Value {
    let mut out = event.as_object().cloned().unwrap_or_default();
    match source {
        BatchSource::Kafka => {
            let mut map = Map::new();
            for &i in keep {
                let r = &records[i];
                let key = r.key.unwrap_or_default();
                if let Value::Array(list) = map
                    .entry(key.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    list.push(r.value.clone());
                }
            }
            out.insert("records".into(), Value::Object(map));
        }
        _ => {
            let key = if source == BatchSource::Firehose {
                "records"
            } else {
                "Records"
            };
            let kept = keep.iter().map(|&i| records[i].value.clone()).collect();
            out.insert(key.into(), Value::Array(kept));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(source: BatchSource, ids: &[Value]) -> BatchFailures {
        BatchFailures {
            source,
            records: ids
                .iter()
                .map(|id| FailedRecord {
                    identifier: id.clone(),
                    data: Some(json!("ZGF0YQ==")),
                    violations: Vec::new(),
                })
                .collect(),
        }
    }

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

    #[test]
    fn kafka_identifiers_are_objects() {
        let id = json!({"partition": "orders-0", "offset": 15});
        let handler = json!({"batchItemFailures":[{"itemIdentifier": id.clone()}]});
        let f = failures(
            BatchSource::Kafka,
            &[id.clone(), json!({"partition": "orders-0", "offset": 16})],
        );
        assert_eq!(
            f.merge(Some(handler)),
            json!({"batchItemFailures":[{"itemIdentifier": id},
                {"itemIdentifier": {"partition": "orders-0", "offset": 16}}]})
        );
    }

    #[test]
    fn firehose_answers_every_failed_record() {
        let handler = json!({"records":[{"recordId":"1","result":"Ok","data":"eyJ9"}]});
        let f = failures(BatchSource::Firehose, &[json!("2")]);
        assert_eq!(
            f.merge(Some(handler)),
            json!({"records":[{"recordId":"1","result":"Ok","data":"eyJ9"},
                {"recordId":"2","result":"ProcessingFailed","data":"ZGF0YQ=="}]})
        );
    }
}
