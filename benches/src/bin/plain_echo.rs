//! An unshielded Lambda function that returns its event: the baseline of the `layer` bench.
//!
//! `lambda_runtime::run_concurrent` (the same runtime loop and tracing layer that
//! `fnshield::run` uses) with a handler that does nothing but return the event.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run_concurrent(service_fn(handler)).await
}
