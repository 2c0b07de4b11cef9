//! Issue 15, item 2: `AWS_LAMBDA_RUNTIME_API` in URL form with a path prefix, as
//! `cargo lambda watch` sets it (`http://[::]:9125/.rt/myfn`). The emulator listens on `::1`
//! and serves under `/.rt/myfn`; connecting to `[::]` reaches the local host.
#![allow(missing_docs)]

use fnshield_tests::emulator::Emulator;
use serde_json::json;
use std::path::Path;

mod common;

/// The function answers an echo (it reached its Runtime API) and is still enforcing: a fetch
/// of `forbidden` is refused.
async fn echoes_and_refuses(emu: &Emulator, n: u64, forbidden: &str, why: &str) {
    let r = emu.call(json!({"action": "echo", "n": n})).await;
    assert_eq!(
        r.expect_response()["n"],
        n,
        "{why}\n{}",
        emu.render_timeline()
    );
    let r = emu
        .call(json!({"action": "fetch", "target": forbidden}))
        .await
        .expect_response();
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("not permitted"),
        "{why}: {r}"
    );
}

async fn emulator() -> Emulator {
    Emulator::builder()
        .function_name("myfn")
        .listen("::1".parse().unwrap())
        .base_path("/.rt/myfn")
        .url_host("[::]")
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_function_reaches_its_runtime_api_in_url_form() {
    let s = common::setup("rtapi-url", r#"["json"]"#, "");
    let emu = emulator().await;
    assert!(emu.runtime_api().starts_with("http://[::]:"));
    let _p = emu
        .spawn_function(
            Path::new(env!("CARGO_BIN_EXE_shielded_fn")),
            &[("LAMBDA_TASK_ROOT", s.task.to_str().unwrap())],
        )
        .await;
    // Still enforcing: other destinations stay blocked.
    echoes_and_refuses(&emu, 7, "127.0.0.2:9", "another host").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn init_errors_go_to_the_prefixed_path() {
    let s = common::setup("rtapi-init", r#"["json"]"#, "");
    let emu = emulator().await;
    let _p = emu
        .spawn_function(
            Path::new(env!("CARGO_BIN_EXE_shielded_fn")),
            &[
                ("LAMBDA_TASK_ROOT", s.task.to_str().unwrap()),
                ("SHIELD_MODE", "alrt"),
            ],
        )
        .await;
    let e = emu.wait_init_error().await;
    assert_eq!(e.error_type(), "Shield.ConfigError", "{e:?}");
    assert!(e.error_message().contains("SHIELD_MODE"), "{e:?}");
}

/// Other forms `lambda_runtime` accepts: an upper-case scheme, a trailing `/` after the path
/// prefix, a host that is not always reachable (the rest of 127.0.0.0/8 is an ordinary
/// destination). Exactly the endpoint becomes reachable: another port of that host does not.
#[tokio::test(flavor = "multi_thread")]
async fn other_url_forms_reach_exactly_the_endpoint() {
    let s = common::setup("rtapi-forms", r#"["json"]"#, "");
    let emu = Emulator::builder()
        .function_name("myfn")
        .listen("127.0.0.5".parse().unwrap())
        .base_path("/p")
        .url_host("127.0.0.5")
        .start()
        .await;
    let value = format!("{}/", emu.runtime_api().replacen("http://", "HTTP://", 1));
    let _p = emu
        .spawn_function(
            Path::new(env!("CARGO_BIN_EXE_shielded_fn")),
            &[
                ("LAMBDA_TASK_ROOT", s.task.to_str().unwrap()),
                ("AWS_LAMBDA_RUNTIME_API", value.as_str()),
            ],
        )
        .await;
    let why = format!("{value}: another port of the Runtime API's host");
    echoes_and_refuses(&emu, 8, "127.0.0.5:9", &why).await;
}

/// An IPv4-mapped IPv6 address (`http://[::ffff:127.0.0.5]:port/p`), which `lambda_runtime`
/// accepts: it connects an IPv6 socket there and the kernel reaches the IPv4 listener. The
/// shield decides that connection on the IPv4 address, so the endpoint must be kept reachable
/// under it (it was kept as the IPv6 spelling, matched nothing, and the function died with a
/// connect error at its first `/next`).
#[tokio::test(flavor = "multi_thread")]
async fn a_mapped_ipv6_address_reaches_the_endpoint() {
    let s = common::setup("rtapi-mapped", r#"["json"]"#, "");
    let emu = Emulator::builder()
        .function_name("myfn")
        .listen("127.0.0.5".parse().unwrap())
        .base_path("/p")
        .url_host("[::ffff:127.0.0.5]")
        .start()
        .await;
    assert!(emu.runtime_api().starts_with("http://[::ffff:127.0.0.5]:"));
    let _p = emu
        .spawn_function(
            Path::new(env!("CARGO_BIN_EXE_shielded_fn")),
            &[("LAMBDA_TASK_ROOT", s.task.to_str().unwrap())],
        )
        .await;
    echoes_and_refuses(
        &emu,
        9,
        "127.0.0.5:9",
        "another port of the Runtime API's host",
    )
    .await;
}
