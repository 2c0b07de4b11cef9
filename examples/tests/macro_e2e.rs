//! End to end: the `#[fnshield::handler]` example (`macro_fn`) and the `fnshield::run` example
//! (`shielded_fn`), driven through the local Runtime API emulator on loopback, behave alike.
#![allow(missing_docs)]

use fnshield_tests::emulator::{Emulator, FunctionProcess};
use serde_json::{json, Value};

mod common;
use common::Setup;

fn setup(name: &str) -> Setup {
    common::setup(&format!("macro-e2e-{name}"), r#"["json"]"#, "")
}

async fn start(bin: &str, s: &Setup, envs: &[(&str, &str)]) -> (Emulator, FunctionProcess) {
    common::start(s, bin, "macro-e2e", envs).await
}

const MACRO_FN: &str = env!("CARGO_BIN_EXE_macro_fn");
const RUN_FN: &str = env!("CARGO_BIN_EXE_shielded_fn");

/// What a user sees of one shield event, without what differs from run to run.
fn observable(line: &Value) -> Value {
    json!({
        "policy": line["policy"],
        "mode": line["mode"],
        "details": line["details"],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn benign_echo_and_handler_error_as_with_run() {
    let mut seen = Vec::new();
    for bin in [MACRO_FN, RUN_FN] {
        let s = setup("benign");
        let (emu, _p) = start(bin, &s, &[]).await;
        let echo = emu
            .call(json!({"action": "echo", "n": 42}))
            .await
            .expect_response();
        assert_eq!(echo["n"], 42, "{bin}");
        let id = emu.invoke(json!({"action": "fail"}));
        let r = emu.result(&id).await;
        let e = r.expect_error();
        assert!(
            e.error_message().contains("failed on purpose"),
            "{bin}: {r:?}"
        );
        emu.wait_next_after(&id).await;
        assert!(emu.shield_events().is_empty(), "{}", emu.render_timeline());
        seen.push((
            echo,
            e.error_type().to_owned(),
            e.error_message().to_owned(),
        ));
    }
    assert_eq!(seen[0], seen[1], "macro_fn and shielded_fn differ");
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_read_of_environ_as_with_run() {
    let mut seen = Vec::new();
    for bin in [MACRO_FN, RUN_FN] {
        let s = setup("environ");
        let (emu, _p) = start(bin, &s, &[]).await;
        let id = emu.invoke(json!({"action": "read", "target": "/proc/self/environ"}));
        let r = emu.result(&id).await.expect_response();
        assert_eq!(r["ok"], false, "{bin}");
        assert!(
            r["error"].as_str().unwrap().contains("Permission denied"),
            "{bin}: {r}"
        );
        emu.wait_next_after(&id).await;
        let lines = emu.shield_events_for(&id);
        assert_eq!(lines.len(), 1, "{bin}: {}", emu.render_timeline());
        assert_eq!(lines[0]["policy"], "read_handler");
        assert_eq!(lines[0]["mode"], "block");
        assert_eq!(lines[0]["details"]["path"], "/proc/self/environ");
        seen.push((r, observable(&lines[0])));
    }
    assert_eq!(seen[0], seen[1], "macro_fn and shielded_fn differ");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_runs_once_after_the_install_and_is_shielded() {
    let s = setup("init");
    let (emu, _p) = start(
        MACRO_FN,
        &s,
        &[("MACRO_FN_INIT_READ", "/proc/self/environ")],
    )
    .await;
    for _ in 0..2 {
        let st = emu.call(json!({"action": "state"})).await.expect_response();
        assert_eq!(st["inits"], 1, "{st}");
        assert_eq!(st["inits_now"], 1, "init ran again: {st}");
        // init read the secret after the install: the shield refused it.
        assert!(
            st["init_read"]
                .as_str()
                .unwrap()
                .contains("Permission denied"),
            "{st}"
        );
    }
    // The handler's own actions are those of `examples::handler`.
    let id = emu.invoke(json!({"action": "read", "target": "/proc/self/environ"}));
    assert_eq!(emu.result(&id).await.expect_response()["ok"], false);
    emu.wait_next_after(&id).await;
    let all = emu.shield_events();
    let at_init: Vec<_> = all
        .iter()
        .filter(|v| v["request_id"] != id.as_str())
        .collect();
    assert_eq!(at_init.len(), 1, "{}", emu.render_timeline());
    assert_eq!(at_init[0]["policy"], "read_handler");
    assert_eq!(at_init[0]["details"]["path"], "/proc/self/environ");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_configuration_is_an_init_error() {
    let s = setup("config");
    let (emu, p) = start(MACRO_FN, &s, &[("SHIELD_MODE", "blok")]).await;
    let e = emu.wait_init_error().await;
    assert_eq!(e.error_type(), "Shield.ConfigError", "{e:?}");
    assert!(e.error_message().contains("blok"), "{e:?}");
    assert!(!p.exit_status().await.success());
    assert!(
        p.stderr_lines().iter().any(|l| l.contains("blok")),
        "{:?}",
        p.stderr_lines()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_init_failure_is_an_init_error() {
    let s = setup("initfail");
    let (emu, p) = start(MACRO_FN, &s, &[("MACRO_FN_INIT_FAIL", "1")]).await;
    let e = emu.wait_init_error().await;
    assert_eq!(e.error_type(), "Runtime.InitError", "{e:?}");
    assert!(
        e.error_message().contains("init failed on purpose"),
        "{e:?}"
    );
    assert!(!p.exit_status().await.success());
}
