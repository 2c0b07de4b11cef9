//! From staging to production, end to end (issue 17).
//!
//! 1. `staging_fn` runs under the Runtime API emulator with `SHIELD_MODE=alert` and a workload
//!    that touches two hosts (one by name, resolved through a loopback DNS responder, one by
//!    address; both are listeners on 127.0.17.x), one tmp sub-path under the function's own
//!    tmp root, one executable, and `/proc/self/environ`.
//! 2. `fnshield suggest` turns its log into a configuration.
//! 3. The same function, in block mode with that configuration, serves the workload with no
//!    block except the environ read.
//! 4. `fnshield check` with that configuration reports exactly that one block and exits 1.
//!
//! The resolver must answer from port 53 of an address in the shield's resolver list (the only
//! answers it learns names from): this test binds UDP 127.0.17.53:53, which needs root (CI runs
//! as root). The function processes install their own filters; this test process installs
//! none.
#![allow(missing_docs)]

use fnshield_tests::dns::{DnsRecords, DnsResponder};
use fnshield_tests::emulator::Emulator;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

const RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 0, 17, 53);
const API: Ipv4Addr = Ipv4Addr::new(127, 0, 17, 10);
const DB: Ipv4Addr = Ipv4Addr::new(127, 0, 17, 11);
const API_HOST: &str = "api.staging.test";
const EXEC: &str = "/usr/bin/true";
/// The watchdog: the whole scenario, both function runs included.
const WATCHDOG: Duration = Duration::from_secs(300);

/// A UDP resolver on `RESOLVER:53` relaying every query to `responder`, answering from 53.
async fn resolver(responder: &DnsResponder) {
    let upstream = responder.addr();
    let sock = Arc::new(
        tokio::net::UdpSocket::bind((RESOLVER, 53))
            .await
            .unwrap_or_else(|e| {
                panic!("bind UDP {RESOLVER}:53 (needs root, as CI has, and a free port): {e}")
            }),
    );
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            let Ok((n, client)) = sock.recv_from(&mut buf).await else {
                continue;
            };
            let query = buf[..n].to_vec();
            let sock = sock.clone();
            tokio::spawn(async move {
                let up = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
                up.connect(upstream).await?;
                up.send(&query).await?;
                let mut answer = [0u8; 4096];
                let n = up.recv(&mut answer).await?;
                sock.send_to(&answer[..n], client).await?;
                Ok::<_, std::io::Error>(())
            });
        }
    });
}

/// A TCP listener on `ip` that accepts and drains connections; returns its port.
async fn listener(ip: Ipv4Addr) -> u16 {
    let l = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    port
}

struct Run {
    response: Value,
    events: Vec<Value>,
    stdout: Vec<String>,
}

/// Start `staging_fn` under a fresh emulator with `envs`, invoke it once, and collect what it
/// answered and logged by the time it asks for the next event.
async fn run_function(envs: &[(&str, &str)]) -> Run {
    let emu = Emulator::start().await;
    let mut f = emu
        .spawn_function(Path::new(env!("CARGO_BIN_EXE_staging_fn")), envs)
        .await;
    let id = emu.invoke(json!({"orders": 3}));
    let result = emu.result(&id).await;
    // Events are flushed after the response and before the next /next.
    emu.wait_next_after(&id).await;
    let run = Run {
        response: result.expect_response(),
        events: emu.shield_events(),
        stdout: f.stdout_lines(),
    };
    f.kill().await;
    run
}

fn cli(args: &[&str]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut argv = vec!["fnshield"];
    argv.extend_from_slice(args);
    let code = fnshield_cli::cmd::run(argv, &mut std::io::empty(), &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn scratch() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("staging-to-production");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("fn-tmp")).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_alerts_become_a_production_policy() {
    tokio::time::timeout(WATCHDOG, scenario())
        .await
        .expect("watchdog: the scenario did not finish in time");
}

async fn scenario() {
    let dir = scratch();
    // The function's own tmp root: never this machine's /tmp.
    let tmp_root = dir.join("fn-tmp");
    let tmp_root = tmp_root.to_str().unwrap();
    let responder = DnsResponder::start(
        DnsRecords::new()
            .host(API_HOST, [IpAddr::V4(API)], 300)
            .unwrap(),
    )
    .await;
    resolver(&responder).await;
    let api_port = listener(API).await.to_string();
    let db = SocketAddr::from((DB, listener(DB).await)).to_string();
    let resolver_ip = RESOLVER.to_string();
    let workload = |config: &str| -> Vec<(String, String)> {
        [
            ("SHIELD_CONFIG", config),
            ("STAGING_RESOLVER", &resolver_ip),
            ("STAGING_API_HOST", API_HOST),
            ("STAGING_API_PORT", &api_port),
            ("STAGING_DB", &db),
            ("STAGING_TMP", tmp_root),
            ("STAGING_EXEC", EXEC),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    };

    // 1. Staging: alert mode. Only the tmp root is configured.
    let base = dir.join("staging.toml");
    std::fs::write(&base, format!("[read_write_tmp]\nroot = \"{tmp_root}\"\n")).unwrap();
    let mut envs = workload(base.to_str().unwrap());
    envs.push(("SHIELD_MODE".into(), "alert".into()));
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (&**k, &**v)).collect();
    let staging = run_function(&envs).await;
    let all_ok = json!({"api": "ok", "db": "ok", "tmp": "ok", "exec": "ok", "environ": "ok"});
    assert_eq!(staging.response, all_ok, "alert mode changes nothing");
    let policies: std::collections::BTreeSet<&str> = staging
        .events
        .iter()
        .filter(|e| e["action"] == "alerted")
        .filter_map(|e| e["policy"].as_str())
        .collect();
    assert_eq!(
        policies.into_iter().collect::<Vec<_>>(),
        [
            "create_child_process",
            "outbound_connectivity",
            "read_handler",
            "read_write_tmp"
        ],
        "{:#?}",
        staging.events
    );
    assert!(
        staging.events.iter().all(|e| e["action"] == "alerted"),
        "{:#?}",
        staging.events
    );
    let log = dir.join("staging.log");
    std::fs::write(&log, staging.stdout.join("\n") + "\n").unwrap();
    let log = log.to_str().unwrap();

    // 2. fnshield suggest.
    let (code, suggested, err) = cli(&["suggest", "--tmp-root", tmp_root, log]);
    assert_eq!(code, 0, "{err}");
    assert!(
        suggested.contains(&format!("\"{API_HOST}:{api_port}\",")),
        "the API by its learnt name:\n{suggested}"
    );
    assert!(suggested.contains(&format!("\"{db}\",")), "{suggested}");
    assert!(
        suggested.contains(&format!("\"{tmp_root}/cache\",")),
        "{suggested}"
    );
    assert!(suggested.contains(&format!("\"{EXEC}\",")), "{suggested}");
    assert!(
        suggested.contains("# WARNING: read_handler fired on /proc/"),
        "{suggested}"
    );
    let config = dir.join("fnshield.toml");
    std::fs::write(&config, &suggested).unwrap();
    let config = config.to_str().unwrap();

    // 3. Production: block mode with the suggestion. Only the environ read is blocked.
    let envs = workload(config);
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (&**k, &**v)).collect();
    let production = run_function(&envs).await;
    let r = &production.response;
    assert_eq!(
        (&r["api"], &r["db"], &r["tmp"], &r["exec"]),
        (&json!("ok"), &json!("ok"), &json!("ok"), &json!("ok")),
        "{r}\nconfiguration:\n{suggested}\nevents: {:#?}",
        production.events
    );
    assert_eq!(
        r["environ"],
        json!("Permission denied (os error 13)"),
        "{r}"
    );
    // Besides the block, only the shield's own cold-start reports (partial enforcement, the
    // documented residual races): no alert, no other block.
    let (shield, ops): (Vec<&Value>, Vec<&Value>) = production
        .events
        .iter()
        .partition(|e| e["policy"] == "shield");
    assert!(
        shield.iter().all(|e| e["details"]["reason"].is_string()),
        "{shield:#?}"
    );
    assert_eq!(ops.len(), 1, "exactly one event: {ops:#?}");
    let e = ops[0];
    assert_eq!(
        (&e["policy"], &e["action"]),
        (&json!("read_handler"), &json!("blocked"))
    );
    assert!(
        e["details"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/proc/") && p.ends_with("/environ")),
        "{e}"
    );

    // 4. fnshield check: exactly that one block, exit status 1.
    let (code, report, err) = cli(&["check", "--config", config, log]);
    assert_eq!(code, 1, "{report}{err}");
    assert!(
        report.contains("would block: 1 operations, 1 occurrences"),
        "{report}"
    );
    assert!(report.contains("  read_handler read /proc/"), "{report}");
    assert!(report.contains("would alert: 0 operations"), "{report}");
}
