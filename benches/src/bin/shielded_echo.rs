//! The `plain_echo` handler with fnshield around it, for the `layer` bench.
//!
//! `SHIELDED_ECHO` selects the form:
//!
//! * `run` (default): `fnshield::run` — installs the shield (the seccomp filter and trap
//!   handler), then runs the handler wrapper and outer layer on `run_concurrent`.
//! * `layer`: the layer form without `install()` — `Runtime::new(shield.wrap(handler))`
//!   with `shield.layer()` and lambda_runtime's tracing layer, so the wrapper and layer are
//!   measured without the filter.
//!
//! The shield wipes nothing (`wipe_tmp(false)`) and logs JSON events; the policy otherwise
//! comes from the environment (every policy `block`).

use lambda_runtime::{layers::TracingLayer, service_fn, Error, LambdaEvent, Runtime};
use serde_json::Value;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let shield = fnshield::Shield::builder()
        .wipe_tmp(false)
        .sinks(["json"])
        .build()?;
    match std::env::var("SHIELDED_ECHO").as_deref() {
        Ok("layer") => {
            Runtime::new(shield.wrap(service_fn(handler)))
                .layer(shield.layer())
                .layer(TracingLayer::new())
                .run_concurrent()
                .await
        }
        Ok("run") | Err(_) => fnshield::run(shield, service_fn(handler)).await,
        Ok(other) => Err(format!("SHIELDED_ECHO must be `run` or `layer`, not `{other}`").into()),
    }
}
