//! End to end, the configuration that makes `auto` choose the notify interceptor (every policy
//! in block mode, one allowed executable): the example function serves 100 invocations, each
//! writing and reading an allowed file, connecting to an allowed host and running the allowed
//! child, with a refused read, connect and program every tenth. `.ci/kernels` runs this under
//! the launcher's `k5.10` and `lambda-nnp` profiles (Lambda's kernel lacks ADDFD_FLAG_SEND and
//! WAIT_KILLABLE_RECV); the results must be the same as on a current kernel. The emulator's
//! wait timeout fails a hung invocation with the timeline.
#![allow(missing_docs)]

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;

mod common;

/// A tiny HTTP server on `ip` that answers every request with `hello`.
fn server(ip: &str) -> std::net::SocketAddr {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut b = [0u8; 256];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello");
        }
    });
    addr
}

fn ok(r: &Value) -> &str {
    assert_eq!(r["ok"], true, "{r}");
    r["result"].as_str().unwrap()
}

fn refused(r: &Value, what: &str) {
    assert_eq!(r["ok"], false, "{r}");
    assert!(r["error"].as_str().unwrap().contains(what), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn block_mode_with_an_allowed_child_serves_100_invocations() {
    let s = common::setup("serve100", r#"["json"]"#, "");
    let allowed = server("127.0.0.2");
    let forbidden = server("127.0.0.3");
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    let ok_dir = s.tmp.join("ok");
    std::fs::create_dir_all(&ok_dir).unwrap();
    std::fs::write(s.tmp.join("secret"), b"secret").unwrap();
    // The Lambda profiles run the function as an unprivileged user.
    for d in [&s.tmp, &ok_dir] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::write(
        s.task.join("fnshield.toml"),
        format!(
            "mode = \"block\"\n\
             [outbound_connectivity]\nallow = [\"{allowed}\"]\n\
             [read_write_tmp]\nroot = \"{}\"\nallow = [\"{}\"]\n\
             [tmp_wipe]\nenabled = false\n\
             [create_child_process]\nallow = [\"{}\"]\n\
             [events]\nsinks = [\"json\"]\n",
            s.tmp.display(),
            ok_dir.display(),
            sh.display()
        ),
    )
    .unwrap();
    let (emu, p) = common::start(&s, env!("CARGO_BIN_EXE_shielded_fn"), "serve100", &[]).await;
    let file = ok_dir.join("f");
    let file = file.to_str().unwrap();
    for i in 0..100 {
        let call = |action: &str, target: String| json!({"action": action, "target": target});
        let r = emu.call(call("write", file.into())).await.expect_response();
        assert_eq!(ok(&r), "written", "invocation {i}");
        let r = emu.call(call("read", file.into())).await.expect_response();
        assert_eq!(ok(&r), "read 4 bytes", "invocation {i}");
        let r = emu
            .call(call("fetch", allowed.to_string()))
            .await
            .expect_response();
        assert_eq!(ok(&r), "hello", "invocation {i}");
        let r = emu
            .call(call("exec", format!("echo {i}")))
            .await
            .expect_response();
        assert_eq!(ok(&r), i.to_string(), "invocation {i}");
        if i % 10 == 0 {
            let secret = s.tmp.join("secret").to_str().unwrap().to_owned();
            let r = emu.call(call("read", secret)).await.expect_response();
            refused(&r, "Permission denied");
            let r = emu
                .call(call("fetch", forbidden.to_string()))
                .await
                .expect_response();
            refused(&r, "Operation not permitted");
            // The shell is allowed; the program it runs is not: no output, and the refusal
            // is the shell's (exit status), so the handler sees an empty result.
            let r = emu
                .call(call("exec", "/usr/bin/id -u".into()))
                .await
                .expect_response();
            assert_eq!(ok(&r), "", "invocation {i}: {r}");
        }
    }
    // Every refusal was reported: 10 rounds of a refused read, connect and program.
    let lines = p.stdout_lines();
    for policy in [
        "read_write_tmp",
        "outbound_connectivity",
        "create_child_process",
    ] {
        let n = lines
            .iter()
            .filter(|l| {
                l.contains("\"function_shield\":true")
                    && l.contains(&format!("\"policy\":\"{policy}\""))
                    && l.contains("\"action\":\"blocked\"")
            })
            .count();
        assert!(n >= 10, "{n} {policy} block events:\n{}", lines.join("\n"));
    }
}
