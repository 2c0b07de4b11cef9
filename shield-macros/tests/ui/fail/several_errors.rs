// Every bad option is reported in one build, together with a bad handler shape.
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

#[fnshield::handler(
    mode = "blok",
    allow_hosts = ["10.0.0.0/33", "api.example.com:443"],
    colour = "red",
    allow_tmp = ["cache"],
    mode = "alert"
)]
fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}
