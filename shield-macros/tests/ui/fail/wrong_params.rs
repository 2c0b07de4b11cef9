use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[fnshield::handler]
async fn handler(event: LambdaEvent<Value>, extra: u32) -> Result<Value, Error> {
    let _ = extra;
    Ok(event.payload)
}

