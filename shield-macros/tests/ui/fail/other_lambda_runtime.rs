// A `LambdaEvent` from another lambda_runtime version (as with `lambda_runtime = "0.14"` in the
// user's crate) is named as such, at the event type.
mod lambda_runtime_0_14 {
    pub struct LambdaEvent<T> {
        pub payload: T,
    }
}

use lambda_runtime_0_14::LambdaEvent;
use serde_json::Value;

#[fnshield::handler]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    Ok(event.payload)
}
