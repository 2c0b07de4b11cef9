use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

async fn make_state() -> Result<u32, Error> {
    Ok(1)
}

// The state comes first, by reference.
#[fnshield::handler(init = make_state)]
async fn handler(event: LambdaEvent<Value>, state: u32) -> Result<Value, Error> {
    let _ = state;
    Ok(event.payload)
}
