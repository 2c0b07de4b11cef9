//! A plain, unshielded Lambda function that tests the Runtime API emulator.
//!
//! It prints `echo_fn: handling <request id>` to stdout, then looks at the event:
//!
//! - `{"wait_for": N}`: waits until N invocations (all carrying `"wait_for": N`) are
//!   in flight at once, on a shared barrier. Only meaningful in concurrent mode.
//! - `{"fail": "message"}`: returns an error with `errorType` `EchoFn.Failed`.
//! - `{"panic": true}`: panics (lambda_runtime reports it as an error).
//! - anything else: returns the event unchanged.
//!
//! Before returning it prints `echo_fn: done <request id>`.
//!
//! With `ECHO_FN_CONCURRENT=1` it runs `Runtime::run_concurrent`, which keeps
//! `AWS_LAMBDA_MAX_CONCURRENCY` polls of `/next` open; otherwise `Runtime::run`.
//!
//! With `ECHO_FN_INIT_FAIL=<message>` and `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`
//! it fails during init: lambda_runtime itself posts the failure to
//! `/2018-06-01/runtime/init/error` and the process exits.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent, Runtime, SnapStartResource};
use serde_json::Value;
use tokio::sync::Barrier;

/// The handler's error, reported with a stable `errorType`.
#[derive(Debug)]
struct EchoError(String);

impl From<EchoError> for Diagnostic {
    fn from(error: EchoError) -> Diagnostic {
        Diagnostic {
            error_type: "EchoFn.Failed".to_owned(),
            error_message: error.0,
        }
    }
}

/// A SnapStart resource whose `before_snapshot` hook fails with this message.
struct FailingInit(String);

impl SnapStartResource for FailingInit {
    fn before_snapshot(&self) -> lambda_runtime::BoxFuture<'_, Result<(), lambda_runtime::Error>> {
        Box::pin(async move { Err(self.0.clone().into()) })
    }
}

/// One barrier per party count, shared by all invocations that name it.
static BARRIERS: LazyLock<Mutex<HashMap<usize, Arc<Barrier>>>> = LazyLock::new(Default::default);

fn barrier(parties: usize) -> Arc<Barrier> {
    let mut barriers = BARRIERS.lock().unwrap_or_else(|p| p.into_inner());
    barriers
        .entry(parties)
        .or_insert_with(|| Arc::new(Barrier::new(parties)))
        .clone()
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, EchoError> {
    let id = event.context.request_id;
    let payload = event.payload;
    println!("echo_fn: handling {id}");
    if let Some(parties) = payload.get("wait_for").and_then(Value::as_u64) {
        barrier(parties as usize).wait().await;
        println!("echo_fn: {id} passed the barrier of {parties}");
    }
    if let Some(message) = payload.get("fail").and_then(Value::as_str) {
        println!("echo_fn: failing {id}");
        return Err(EchoError(message.to_owned()));
    }
    if payload.get("panic") == Some(&Value::Bool(true)) {
        panic!("echo_fn was asked to panic");
    }
    println!("echo_fn: done {id}");
    Ok(payload)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let mut runtime = Runtime::new(service_fn(handler));
    if let Ok(message) = std::env::var("ECHO_FN_INIT_FAIL") {
        runtime = runtime.register_snapstart_resource(Arc::new(FailingInit(message)));
    }
    if std::env::var_os("ECHO_FN_CONCURRENT").is_some() {
        runtime.run_concurrent().await
    } else {
        runtime.run().await
    }
}
