//! The example function written with `#[fnshield::handler]`: the same actions as
//! [`examples::handler`] and the same policy as [`examples::function_main`]'s defaults (the
//! builder's defaults, then `$LAMBDA_TASK_ROOT/fnshield.toml`, then `SHIELD_*`), plus a state
//! built once by `init`.
//!
//! `init` runs after the shield is installed, so it is shielded too: set
//! `MACRO_FN_INIT_READ=/some/path` and it tries to read that file at cold start, as an SDK
//! client reading a credentials file would; the outcome is kept in the state.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

/// How many times `init` ran in this process.
static INITS: AtomicU32 = AtomicU32::new(0);

/// Built once at cold start.
struct State {
    inits: u32,
    init_read: Option<String>,
}

async fn init() -> Result<State, Error> {
    let inits = INITS.fetch_add(1, Ordering::SeqCst) + 1;
    let init_read =
        std::env::var("MACRO_FN_INIT_READ")
            .ok()
            .map(|path| match std::fs::read(&path) {
                Ok(b) => format!("read {} bytes", b.len()),
                Err(e) => e.to_string(),
            });
    if std::env::var_os("MACRO_FN_INIT_FAIL").is_some() {
        return Err("init failed on purpose".into());
    }
    Ok(State { inits, init_read })
}

#[fnshield::handler(init = init)]
async fn handler(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload.get("action").and_then(Value::as_str) == Some("state") {
        return Ok(json!({
            "inits": state.inits,
            "init_read": state.init_read,
            "inits_now": INITS.load(Ordering::SeqCst),
        }));
    }
    examples::handler(event).await
}
