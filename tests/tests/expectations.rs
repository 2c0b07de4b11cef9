//! The expectation table: for every sandbox profile (environment) and interceptor choice, the
//! `Enforcement` report's per-policy state and the outcome of each attack, produced under the
//! launcher and compared with the committed `tests/data/expectations.md` (the README shows the
//! same table; the QEMU script compares real kernels with it).
//!
//! Each cell runs in its own process under `fnshield-sandbox` (root only, as CI runs; skipped
//! with a message otherwise), with a watchdog. `FNSHIELD_EXPECTATIONS_UPDATE=1` rewrites the
//! committed file (and the README's copy) instead of comparing.

use fnshield::{EnforcementState, InterceptorChoice, Mode, PolicyKind, Shield};
use fnshield_tests::sandbox::Profile;
use fnshield_tests::watchdog;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const LAUNCHER: &str = env!("CARGO_BIN_EXE_fnshield-sandbox");
const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/expectations.md");
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
const START: &str = "<!-- expectations:start -->";
const END: &str = "<!-- expectations:end -->";

/// The interceptor choices of each row: what `auto` picks for the configuration, and each one
/// forced.
const CHOICES: [&str; 3] = ["auto", "trap", "notify"];

/// The table's header: the report, then what a user observes (`ok` or the errno name).
const HEADER: [&str; 16] = [
    "profile",
    "interceptor",
    "installed",
    "outbound",
    "tmp",
    "child",
    "read_handler",
    "connect 127.0.0.2",
    "sendto 127.0.0.2",
    "read /tmp secret",
    "write /tmp",
    "exec false",
    "read code",
    "connect 127.0.0.1",
    "write /tmp/ok",
    "exec true",
];

fn errno_name(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
        None => format!("{:?}", e.kind()),
    }
}

fn outcome<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => errno_name(&e),
    }
}

fn state(s: EnforcementState) -> &'static str {
    match s {
        EnforcementState::FullyEnforced => "full",
        EnforcementState::PartiallyEnforced => "partial",
        EnforcementState::NotEnforced => "none",
    }
}

fn canonical(p: &str) -> String {
    std::fs::canonicalize(p)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// One cell, in the child under the launcher: install block mode with an allowed tmp
/// directory and one allowed executable, try each attack and each allowed call, print the row.
fn cell(choice: &str, dir: &Path) -> Vec<String> {
    let mut b = Shield::builder()
        .tmp_root(dir.join("tmp").to_str().unwrap())
        .wipe_tmp(false)
        .resolv_conf("nameserver 127.0.0.1\n")
        .sinks(["json"])
        .mode(Mode::Block)
        .allow_exec(canonical("/usr/bin/true"))
        .allow_tmp(dir.join("tmp/ok").to_str().unwrap());
    b = match choice {
        "trap" => b.interceptor(InterceptorChoice::Trap),
        "notify" => b.interceptor(InterceptorChoice::Notify),
        _ => b,
    };
    let shield = b.build().unwrap();
    let mut row = Vec::new();
    match shield.install() {
        Ok(r) => {
            row.push(format!("{:?}", r.interceptor));
            for p in [
                PolicyKind::OutboundConnectivity,
                PolicyKind::ReadWriteTmp,
                PolicyKind::CreateChildProcess,
                PolicyKind::ReadHandler,
            ] {
                row.push(state(r.policy(p).unwrap().state).into());
            }
        }
        Err(e) => {
            row.push(format!("install failed: {e}").replace('|', "/"));
            row.extend(std::iter::repeat_n("-".to_owned(), 4));
        }
    }
    let far = TcpListener::bind("127.0.0.2:0").unwrap();
    let near = TcpListener::bind("127.0.0.1:0").unwrap();
    let far_udp = UdpSocket::bind("127.0.0.2:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    row.push(outcome(TcpStream::connect(far.local_addr().unwrap())));
    row.push(outcome(tx.send_to(b"x", far_udp.local_addr().unwrap())));
    row.push(outcome(std::fs::read(dir.join("tmp/secret"))));
    row.push(outcome(std::fs::write(dir.join("tmp/x"), b"x")));
    row.push(outcome(Command::new(canonical("/usr/bin/false")).status()));
    row.push(outcome(std::fs::read(dir.join("task/bootstrap"))));
    row.push(outcome(TcpStream::connect(near.local_addr().unwrap())));
    row.push(outcome(std::fs::write(dir.join("tmp/ok/y"), b"y")));
    row.push(match Command::new(canonical("/usr/bin/true")).status() {
        Ok(s) if s.success() => "ok".into(),
        // The child ran and failed: how (a trapped call after exec is fatal, for one).
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (_, Some(sig)) => nix::sys::signal::Signal::try_from(sig)
                .map(|s| format!("killed {}", s.as_str()))
                .unwrap_or_else(|_| format!("killed {sig}")),
            _ => format!("{s}"),
        },
        Err(e) => errno_name(&e),
    });
    row
}

/// Run one cell under `profile` in a fresh copy of this test binary; its row.
fn run_cell(profile: Profile, choice: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "fnshield-expect-{}-{}-{choice}",
        std::process::id(),
        profile.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["task", "tmp/ok"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("task/bootstrap"), b"code").unwrap();
    std::fs::write(dir.join("tmp/secret"), b"secret").unwrap();
    // The Lambda profiles run the cell as an unprivileged user.
    for d in [
        dir.clone(),
        dir.join("tmp"),
        dir.join("tmp/ok"),
        dir.join("task"),
    ] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let name = "expectation_table_matches_the_committed_one";
    let mut cmd = Command::new(LAUNCHER);
    cmd.args(["--profile", profile.name(), "--"])
        .arg(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("FNSHIELD_CELL", choice)
        .env("FNSHIELD_CASE_DIR", &dir)
        .env("LAMBDA_TASK_ROOT", dir.join("task"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "expectations")
        .env_remove("SHIELD_MODE")
        .current_dir("/");
    let what = format!("cell {} {choice}", profile.name());
    let out = watchdog::output(cmd, &what);
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = stdout
        .lines()
        .find_map(|l| l.find("ROW|").map(|i| l[i + 4..].to_owned()));
    match row {
        Some(row) if out.status.success() => {
            format!(
                "| {} | {choice} | {} |",
                profile.name(),
                row.replace('|', " | ")
            )
        }
        _ => panic!(
            "{what} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn table() -> String {
    let mut t = format!("| {} |\n", HEADER.join(" | "));
    t.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
    for p in Profile::ALL {
        for c in CHOICES {
            t.push_str(&run_cell(p, c));
            t.push('\n');
        }
    }
    t
}

/// The text between the markers of `doc`, or `None`.
fn between(doc: &str) -> Option<(usize, usize)> {
    let s = doc.find(START)? + START.len();
    let e = s + doc[s..].find(END)?;
    Some((s, e))
}

#[test]
fn expectation_table_matches_the_committed_one() {
    if let Ok(choice) = std::env::var("FNSHIELD_CELL") {
        let dir = PathBuf::from(std::env::var("FNSHIELD_CASE_DIR").unwrap());
        println!("ROW|{}", cell(&choice, &dir).join("|"));
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the sandbox launcher needs root (CI runs as root)");
        return;
    }
    let got = format!("\n{}", table());
    let update = std::env::var("FNSHIELD_EXPECTATIONS_UPDATE").as_deref() == Ok("1");
    for path in [TABLE, README] {
        let doc = std::fs::read_to_string(path).unwrap();
        let (s, e) = between(&doc).unwrap_or_else(|| panic!("{path} lacks {START} … {END}"));
        if update {
            std::fs::write(path, format!("{}{got}{}", &doc[..s], &doc[e..])).unwrap();
        } else {
            assert_eq!(
                &doc[s..e],
                got,
                "{path}: the expectation table differs from what the launcher produced \
                 (left: committed, right: now); if the change is intended, rerun with \
                 FNSHIELD_EXPECTATIONS_UPDATE=1 and review the diff"
            );
        }
    }
}
