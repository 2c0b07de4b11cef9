//! Example shielded Lambda functions and the demo driver.
//!
//! [`function_main`] is a Lambda function that does, on request, the things an attacker
//! would: fetch from a host, run a shell command, read secrets or code, write to `/tmp`. It is
//! shielded with [`fnshield::run`]; the shield's configuration comes from the environment and
//! from `$LAMBDA_TASK_ROOT/fnshield.toml`, like a real deployment.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};
use std::io::{Read, Write};

/// The handler: `{"action": "...", "target": "..."}`.
pub async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let action = event
        .payload
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("echo")
        .to_owned();
    let target = event
        .payload
        .get("target")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let outcome = match action.as_str() {
        "echo" => return Ok(event.payload),
        "fail" => return Err("the handler failed on purpose".into()),
        "fetch" => fetch(&target),
        "exec" => std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&target)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .map_err(|e| e.to_string()),
        "read" => std::fs::read(&target)
            .map(|b| format!("read {} bytes", b.len()))
            .map_err(|e| e.to_string()),
        "write" => std::fs::write(&target, b"data")
            .map(|()| "written".to_owned())
            .map_err(|e| e.to_string()),
        "append" => std::fs::OpenOptions::new()
            .append(true)
            .open(&target)
            .and_then(|mut f| f.write_all(b"more"))
            .map(|()| "appended".to_owned())
            .map_err(|e| e.to_string()),
        "unlink" => std::fs::remove_file(&target)
            .map(|()| "removed".to_owned())
            .map_err(|e| e.to_string()),
        "flood" => {
            // `count` files in directory `target` (created), e.g. what unpacking an archive
            // does.
            let count = event
                .payload
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            std::fs::create_dir_all(&target)
                .and_then(|()| {
                    (0..count).try_for_each(|i| std::fs::write(format!("{target}/f{i}"), b"x"))
                })
                .map(|()| format!("{count} files"))
                .map_err(|e| e.to_string())
        }
        "mkdir_wait" => {
            // `count` files in directory `flood` (a journal overflow when past 1,024), then
            // `create_dir_all(target)` and `target/mine`; then it waits until another process
            // has written the FIFO `to` and closed it (that process writes into `target`
            // meanwhile).
            let count = event
                .payload
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let flood = event.payload.get("flood").and_then(Value::as_str);
            let to = event
                .payload
                .get("to")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let filled = match flood {
                Some(dir) => std::fs::create_dir_all(dir).and_then(|()| {
                    (0..count).try_for_each(|i| std::fs::write(format!("{dir}/f{i}"), b"x"))
                }),
                None => Ok(()),
            };
            filled
                .and_then(|()| std::fs::create_dir_all(&target))
                .and_then(|()| std::fs::write(format!("{target}/mine"), b"x"))
                .and_then(|()| std::fs::read(&to))
                .map(|_| "waited".to_owned())
                .map_err(|e| e.to_string())
        }
        "tmpfile" => tmpfile_linked(&target),
        "exists" => Ok(std::path::Path::new(&target).exists().to_string()),
        "mkdir" => std::fs::create_dir_all(&target)
            .map(|()| "created".to_owned())
            .map_err(|e| e.to_string()),
        "rename" | "link" => {
            let to = event
                .payload
                .get("to")
                .and_then(Value::as_str)
                .unwrap_or("");
            let done = if action == "rename" {
                std::fs::rename(&target, to)
            } else {
                std::fs::hard_link(&target, to)
            };
            done.map(|()| format!("{action}d"))
                .map_err(|e| e.to_string())
        }
        "swallow" => {
            // An attack whose failure the handler hides.
            let _ = std::fs::read("/proc/self/environ");
            Ok("all good".to_owned())
        }
        "spawn_blocking_read" => {
            let t = target.clone();
            tokio::task::spawn_blocking(move || std::fs::read(t).map(|b| b.len()))
                .await?
                .map(|n| format!("read {n} bytes"))
                .map_err(|e| e.to_string())
        }
        other => Err(format!("unknown action {other}")),
    };
    Ok(match outcome {
        Ok(v) => json!({"ok": true, "result": v}),
        Err(e) => json!({"ok": false, "error": e}),
    })
}

/// An anonymous file in `/tmp` (`O_TMPFILE`), then given the name `target` with `linkat`.
fn tmpfile_linked(target: &str) -> Result<String, String> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_TMPFILE)
        .open("/tmp")
        .map_err(|e| e.to_string())?;
    f.write_all(b"data").map_err(|e| e.to_string())?;
    let src = format!("/proc/self/fd/{}", f.as_raw_fd());
    nix::unistd::linkat(
        nix::fcntl::AT_FDCWD,
        src.as_str(),
        nix::fcntl::AT_FDCWD,
        target,
        nix::fcntl::AtFlags::AT_SYMLINK_FOLLOW,
    )
    .map(|()| "linked".to_owned())
    .map_err(|e| e.to_string())
}

fn fetch(target: &str) -> Result<String, String> {
    let mut s = std::net::TcpStream::connect(target).map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| e.to_string())?;
    Ok(body.lines().last().unwrap_or_default().to_owned())
}

/// Run the shielded example function (blocks until the Runtime API goes away).
pub fn function_main() -> Result<(), Error> {
    // Build and install the shield before the tokio runtime exists. A bad configuration or a
    // shield that cannot be installed fails at cold start, reported to the Runtime API.
    let built = fnshield::Shield::builder()
        .fail_on_block(std::env::var("EXAMPLE_FAIL_ON_BLOCK").is_ok())
        .build();
    let shield = match built {
        Ok(s) => s,
        Err(e) => {
            if let Err(r) =
                fnshield::report_init_error(fnshield::error_type::CONFIG, &e.to_string())
            {
                eprintln!("cannot report the init error: {r}");
            }
            return Err(e.into());
        }
    };
    if let Err(e) = shield.install() {
        let _ = fnshield::report_init_error(fnshield::error_type::INSTALL, &e.to_string());
        return Err(e.into());
    }
    // Cold-start work after install, as a real function does (a model or cache in /tmp).
    if let Ok(p) = std::env::var("EXAMPLE_INIT_WRITE") {
        std::fs::write(p, b"warm state")?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(fnshield::run(shield, service_fn(handler)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echo_and_unknown_actions() {
        let ev = |v: Value| LambdaEvent::new(v, lambda_runtime::Context::default());
        let out = handler(ev(json!({"action": "echo", "x": 1})))
            .await
            .unwrap();
        assert_eq!(out["x"], 1);
        let out = handler(ev(json!({"action": "nope"}))).await.unwrap();
        assert_eq!(out["ok"], false);
    }
}
