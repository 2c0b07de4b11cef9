use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};

fn main() {
    struct Clients {
        table: String,
    }

    async fn make_clients() -> Result<Clients, Error> {
        Ok(Clients {
            table: "orders".to_owned(),
        })
    }

    #[fnshield::handler(init = make_clients)]
    async fn handler(clients: &Clients, event: LambdaEvent<Value>) -> Result<Value, Error> {
        Ok(json!({ "table": clients.table, "event": event.payload }))
    }
    let _generated: fn() -> std::process::ExitCode = main;
}
