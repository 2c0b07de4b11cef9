use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[fnshield::handler(outbound = "alert", tmp = "allow", outbound = "block")]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}
