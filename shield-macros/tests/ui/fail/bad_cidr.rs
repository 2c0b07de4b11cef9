use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[fnshield::handler(allow_hosts = ["api.example.com:443", "10.0.0.0/33"])]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}
