use lambda_runtime::{Error, LambdaEvent};
use serde::Deserialize;
use serde_json::Value;

fn main() {
    #[derive(Deserialize)]
    struct Order {
        id: u64,
    }

    mod init {
        pub async fn state() -> Result<u64, std::io::Error> {
            Ok(7)
        }
    }

    #[fnshield::handler(
        mode = "alert",
        outbound = "block",
        tmp = "block",
        child_process = "allow",
        read_handler = "block",
        allow_hosts = ["10.0.0.0/8", "192.0.2.7:443", "[2001:db8::1]:443", "api.example.com:8000-8100", "*.example.com"],
        allow_tmp = ["/tmp/cache"],
        allow_exec = ["/usr/bin/convert"],
        config = "fnshield.toml",
        envelope = "sqs",
        wipe_tmp = false,
        require_enforcement,
        init = init::state,
        tracing = false,
        crate = "::fnshield",
    )]
    async fn handler(base: &u64, event: LambdaEvent<Order>) -> Result<Value, Error> {
        Ok(Value::from(base + event.payload.id))
    }
    let _generated: fn() -> std::process::ExitCode = main;
}
