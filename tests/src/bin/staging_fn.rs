//! A shielded function with a fixed workload, for the staging-to-production test
//! (`tests/tests/staging_to_production.rs`): `fnshield suggest` learns a configuration from
//! its alert-mode log, and the same function runs in block mode with it.
//!
//! Every invocation, whatever the event:
//! 1. asks the resolver `STAGING_RESOLVER` (port 53) for `STAGING_API_HOST` with a plain UDP
//!    query, and connects over TCP to the answer, port `STAGING_API_PORT`;
//! 2. connects to `STAGING_DB` (`ip:port`) by address;
//! 3. writes and reads back `$STAGING_TMP/cache/data.json` (the function's own tmp root);
//! 4. runs `STAGING_EXEC` (an absolute path);
//! 5. reads `/proc/self/environ`.
//!
//! The response has one member per step: `"ok"` or the error, e.g.
//! `{"api":"ok","db":"ok","tmp":"ok","exec":"ok","environ":"Permission denied (os error 13)"}`.
//!
//! The shield reads its configuration as any function does (`SHIELD_CONFIG`, `SHIELD_MODE`);
//! only the resolver list comes from `STAGING_RESOLVER`, since the test's resolver is not in
//! this machine's `/etc/resolv.conf`.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// A DNS query for the A record of `name` (RFC 1035, one question, recursion desired).
fn a_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Resolve `name` through `resolver:53`; the answer's last A record.
fn resolve(resolver: Ipv4Addr, name: &str) -> Result<IpAddr, String> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    sock.send_to(&a_query(name), (resolver, 53))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    // recv_from asks for the source address: this is what the shield learns names from.
    let (n, _from) = sock.recv_from(&mut buf).map_err(|e| e.to_string())?;
    let answers = u16::from_be_bytes([buf[6], buf[7]]);
    if answers == 0 || n < 16 {
        return Err(format!("no answer for {name}"));
    }
    let a = &buf[n - 4..n];
    Ok(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
}

fn step(r: Result<(), String>) -> Value {
    match r {
        Ok(()) => json!("ok"),
        Err(e) => json!(e),
    }
}

fn connect(addr: SocketAddr) -> Result<(), String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    s.write_all(b"ping").map_err(|e| e.to_string())
}

fn workload() -> Value {
    let api = (|| {
        let resolver: Ipv4Addr = var("STAGING_RESOLVER").parse().map_err(|_| "resolver")?;
        let ip = resolve(resolver, &var("STAGING_API_HOST"))?;
        let port: u16 = var("STAGING_API_PORT").parse().map_err(|_| "port")?;
        connect(SocketAddr::new(ip, port))
    })();
    let db = (|| connect(var("STAGING_DB").parse().map_err(|_| "STAGING_DB")?))();
    let tmp = (|| {
        let dir = std::path::Path::new(&var("STAGING_TMP")).join("cache");
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e.to_string()),
            _ => {}
        }
        let file = dir.join("data.json");
        std::fs::write(&file, b"{\"orders\":3}").map_err(|e| e.to_string())?;
        let mut back = String::new();
        std::fs::File::open(&file)
            .and_then(|mut f| f.read_to_string(&mut back))
            .map_err(|e| e.to_string())?;
        if back == "{\"orders\":3}" {
            Ok(())
        } else {
            Err(format!("read back {back:?}"))
        }
    })();
    let exec = (|| {
        let status = std::process::Command::new(var("STAGING_EXEC"))
            .status()
            .map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("exited with {status}"))
        }
    })();
    let environ = std::fs::read("/proc/self/environ")
        .map(|_| ())
        .map_err(|e| e.to_string());
    json!({
        "api": step(api),
        "db": step(db),
        "tmp": step(tmp),
        "exec": step(exec),
        "environ": step(environ),
    })
}

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    // The workload blocks (sockets, files, a child process): keep it off the runtime's threads.
    Ok(tokio::task::spawn_blocking(workload).await?)
}

fn main() -> Result<(), Error> {
    let built = fnshield::Shield::builder()
        .resolv_conf(format!("nameserver {}\n", var("STAGING_RESOLVER")))
        .build();
    let shield = match built {
        Ok(s) => s,
        Err(e) => {
            let _ = fnshield::report_init_error(fnshield::error_type::CONFIG, &e.to_string());
            return Err(e.into());
        }
    };
    if let Err(e) = shield.install() {
        let _ = fnshield::report_init_error(fnshield::error_type::INSTALL, &e.to_string());
        return Err(e.into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(fnshield::run(shield, service_fn(handler)))
}
