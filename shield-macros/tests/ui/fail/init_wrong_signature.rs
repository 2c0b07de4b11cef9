use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

struct State;

// `init` takes no arguments.
async fn make_state(region: &str) -> Result<State, Error> {
    let _ = region;
    Ok(State)
}

#[fnshield::handler(init = make_state)]
async fn handler(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let _ = state;
    Ok(event.payload)
}
