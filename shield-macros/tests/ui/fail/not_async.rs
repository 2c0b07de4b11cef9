use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[fnshield::handler]
fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}
