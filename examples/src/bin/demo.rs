//! The demo: a shielded function driven through a local Runtime API with benign and malicious
//! events, once with the default (block) policy and once with `SHIELD_MODE=alert`.
//!
//! `cargo run -p examples --bin demo`

use fnshield_tests::emulator::{Emulator, TimelineEvent};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;

fn main() {
    if std::env::var("FNSHIELD_DEMO_ROLE").as_deref() == Ok("function") {
        if let Err(e) = examples::function_main() {
            eprintln!("function failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(demo());
}

fn forbidden_host() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nsecret data from the forbidden host");
        }
    });
    addr
}

/// The event schema: `action`, when present, is one of the handler's verbs.
const VALIDATION: &str = r#"[validation]
envelope = "auto"
schema_json = """
{"type": "object",
 "properties": {"action": {"enum": ["echo", "write", "fetch", "exec", "read", "exists"]}}}
"""
"#;

async fn demo() {
    let host = forbidden_host();
    let base = std::env::temp_dir().join(format!("fnshield-demo-{}", std::process::id()));
    let task = base.join("task");
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    std::fs::create_dir_all(tmp.join("uploads")).unwrap();
    std::fs::write(
        task.join("bootstrap"),
        b"#!/bin/false\nthe function's code\n",
    )
    .unwrap();
    std::fs::write(
        task.join("fnshield.toml"),
        format!(
            "[read_write_tmp]\nroot = \"{t}\"\nallow = [\"{t}/cache\", \"{t}/uploads\"]\n[tmp_wipe]\nkeep = [\"{t}/cache\"]\n[events]\nsinks = [\"json\"]\n{v}",
            t = tmp.display(),
            // API Gateway requests are recognised by `envelope = "auto"` and their body
            // validated; the demo's plain events are validated whole.
            v = VALIDATION
        ),

    )
    .unwrap();
    let exe = std::env::current_exe().unwrap();
    let upload = tmp.join("uploads/planted.txt");
    let script: Vec<(&str, Value)> = vec![
        ("benign echo", json!({"action": "echo", "hello": "world"})),
        (
            "benign write to the allowed /tmp/cache",
            json!({"action": "write", "target": tmp.join("cache/ok.txt")}),
        ),
        (
            "SSRF: fetch from a forbidden host",
            json!({"action": "fetch", "target": host.to_string()}),
        ),
        (
            "command injection: sh -c id",
            json!({"action": "exec", "target": "id"}),
        ),
        (
            "credential theft: read /proc/self/environ",
            json!({"action": "read", "target": "/proc/self/environ"}),
        ),
        (
            "write outside the allowed /tmp sub-path",
            json!({"action": "write", "target": tmp.join("planted.sh")}),
        ),
        (
            "path traversal into the function code",
            json!({"action": "read", "target": format!("{}/../task/bootstrap", tmp.display())}),
        ),
        (
            "an API Gateway request whose body fails the schema (validation)",
            json!({
                "resource": "/orders", "path": "/orders", "httpMethod": "POST",
                "headers": {"content-type": "application/json"},
                "requestContext": {"requestId": "demo", "stage": "prod", "httpMethod": "POST",
                                   "resourcePath": "/orders"},
                "body": "{\"action\": 42}", "isBase64Encoded": false
            }),
        ),
        (
            "an invocation leaves a file in the allowed /tmp/uploads",
            json!({"action": "write", "target": upload}),
        ),
        (
            "the next invocation looks for it (wiped in between)",
            json!({"action": "exists", "target": upload}),
        ),
    ];
    for (title, mode) in [
        ("default policy (block)", None),
        ("staging: SHIELD_MODE=alert", Some("alert")),
    ] {
        println!("\n=== {title} ===");
        let emu = Emulator::builder()
            .function_name("fnshield-demo")
            .start()
            .await;
        let mut envs = vec![
            ("FNSHIELD_DEMO_ROLE", "function"),
            ("LAMBDA_TASK_ROOT", task.to_str().unwrap()),
        ];
        if let Some(m) = mode {
            envs.push(("SHIELD_MODE", m));
        }
        let mut proc = emu.spawn_function(&exe, &envs).await;
        let proc_pid = proc.pid();
        for (i, (what, event)) in script.iter().enumerate() {
            let id = emu.invoke(event.clone());
            let result = emu.result(&id).await;
            // Events are flushed after the response and before the next /next.
            emu.wait_timeline("the function asks for the next event", |t| {
                let posted = t.iter().position(|e| {
                    e.event().request_id() == Some(&id)
                        && matches!(
                            e.event(),
                            TimelineEvent::ResponsePosted { .. }
                                | TimelineEvent::ErrorPosted { .. }
                        )
                })?;
                t[posted..]
                    .iter()
                    .any(|e| matches!(e.event(), TimelineEvent::NextRequested))
                    .then_some(())
            })
            .await;
            println!("\n[{}] {what}", i + 1);
            match result.json() {
                Some(v) if !result.is_error() => println!("  function returned: {v}"),
                _ => println!("  function returned an error: {:?}", result),
            }
            for e in emu.timeline() {
                if let TimelineEvent::LogLine { line, .. } = e.event() {
                    if line.contains("\"function_shield\"") && line.contains(id.as_str()) {
                        let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
                        println!(
                            "  shield {}: {} ({}{}) {}  (how to allow: {})",
                            v["mode"].as_str().unwrap_or("?"),
                            v["policy"].as_str().unwrap_or("?"),
                            v["syscall"].as_str().unwrap_or("-"),
                            // A child's event carries its own pid; its executable is the
                            // function's until it execs, so say whose child it is.
                            v["process"]
                                .as_str()
                                .map(|_| format!(
                                    " in child process {} of the function (pid {})",
                                    v["pid"], proc_pid
                                ))
                                .unwrap_or_default(),
                            v["details"],
                            v["how_to_allow"].as_str().unwrap_or("")
                        );
                    }
                }
            }
        }
        let startup: Vec<String> = proc.lines_matching("\"policy\":\"shield\"");
        for l in startup {
            println!("  shield degradation at cold start: {l}");
        }
        proc.kill().await;
    }
    let _ = std::fs::remove_dir_all(&base);
}
