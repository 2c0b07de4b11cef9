//! The example function with a rendezvous, for the `run_concurrent` end-to-end test.
//!
//! An event with `"barrier": true` waits until [`IN_FLIGHT`] such events are being handled at
//! once, then runs the example handler's action. Run it with `AWS_LAMBDA_MAX_CONCURRENCY` set
//! to at least [`IN_FLIGHT`]: with fewer concurrent polls the barrier never opens.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use std::sync::LazyLock;

/// How many invocations must be in flight before any barrier event goes on.
const IN_FLIGHT: usize = 4;

static BARRIER: LazyLock<tokio::sync::Barrier> =
    LazyLock::new(|| tokio::sync::Barrier::new(IN_FLIGHT));

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload.get("barrier") == Some(&Value::Bool(true)) {
        BARRIER.wait().await;
    }
    examples::handler(event).await
}

fn main() -> Result<(), Error> {
    // As `examples::function_main`: build and install the shield before the tokio runtime
    // exists; `fnshield::run` uses `Runtime::run_concurrent`.
    let shield = fnshield::Shield::builder().build()?;
    shield.install()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(fnshield::run(shield, service_fn(handler)))
}
