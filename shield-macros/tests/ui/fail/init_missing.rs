use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

struct State;

// A state parameter without `init`.
#[fnshield::handler]
async fn handler(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let _ = state;
    Ok(event.payload)
}
