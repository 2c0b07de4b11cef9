// The pass cases put the handler inside the test's own `main`, so that the generated `main`
// is type-checked (and its signature pinned below) without starting a Lambda runtime.
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

fn main() {
    #[fnshield::handler]
    async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
        Ok(event.payload)
    }
    let _generated: fn() -> std::process::ExitCode = main;
}
