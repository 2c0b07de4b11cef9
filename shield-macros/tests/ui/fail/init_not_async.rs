use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

struct State;

// `init` must be async.
fn make_state() -> Result<State, Error> {
    Ok(State)
}

#[fnshield::handler(init = make_state)]
async fn handler(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let _ = state;
    Ok(event.payload)
}
