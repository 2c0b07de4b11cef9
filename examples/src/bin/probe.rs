//! "Is my Lambda protected?": a Lambda function that answers any invocation with a JSON report
//! of the environment it runs in, as fnshield sees it.
//!
//! The report (see the README section "Is my Lambda protected?") holds:
//! - `kernel`: release, version string and architecture;
//! - `process`: uid and the `NoNewPrivs`, `Seccomp` and `Seccomp_filters` fields of
//!   `/proc/self/status`, read before anything is installed;
//! - `features`: every kernel feature fnshield relies on, `available`, `refused` (with the
//!   errno) or `killed` (the signal that killed the short-lived forked child that tried it), and
//!   which install probed it;
//! - `shield`: whether fnshield installs with this function's configuration (environment and
//!   `fnshield.toml`, every policy `block` by default) and its full `Enforcement` report;
//!   `interceptors.trap` and `interceptors.notify`: the same with each interceptor forced, each
//!   installed in a child process of its own (so that the listener features are probed even
//!   where the configuration picks the trap interceptor);
//! - `libc_layer`: whether fnshield's in-process libc layer is active;
//! - `verdict`: `protected`, `partially_protected` or `not_protected`, and why.
//!
//! `probe --once` prints the report to stdout and exits, without a Runtime API (what the
//! launcher and QEMU scripts run). `probe --table [FILE]` turns a report (FILE or stdin) into
//! the lines of the expectation table (see [`table`]). Otherwise the probe is a Lambda
//! function: the shield is installed at cold start and every invocation gets the report, with
//! its request id.
//!
//! The shield's tmp root is a private directory, `$PROBE_TMP_ROOT` or
//! `$TMPDIR/fnshield-probe-<uid>` (mode 0700), never `/tmp` itself: the wipe would remove
//! everything under its root.

use fnshield::{EnforcementState, FeatureStatus, InterceptorChoice, KernelProbe, PolicyKind};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The features fnshield probes, in report order, with the call (and the Linux version that
/// added it) each name stands for.
const FEATURES: [(&str, &str); 15] = [
    (
        "prctl_no_new_privs",
        "prctl(PR_SET_NO_NEW_PRIVS), tried in a forked child",
    ),
    (
        "seccomp_filter",
        "seccomp(SECCOMP_SET_MODE_FILTER), tried in a forked child",
    ),
    (
        "seccomp_trap",
        "SECCOMP_GET_ACTION_AVAIL(SECCOMP_RET_TRAP) (4.14)",
    ),
    (
        "seccomp_user_notif",
        "SECCOMP_GET_ACTION_AVAIL(SECCOMP_RET_USER_NOTIF) (5.0)",
    ),
    ("new_listener", "SECCOMP_FILTER_FLAG_NEW_LISTENER (5.0)"),
    ("tsync_esrch", "SECCOMP_FILTER_FLAG_TSYNC_ESRCH (5.7)"),
    (
        "wait_killable_recv",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (6.0)",
    ),
    ("addfd", "SECCOMP_IOCTL_NOTIF_ADDFD (5.9)"),
    ("addfd_send", "SECCOMP_ADDFD_FLAG_SEND (5.14)"),
    ("sync_wake_up", "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6)"),
    ("pidfd_open", "pidfd_open(2) (5.3)"),
    ("pidfd_getfd", "pidfd_getfd(2) (5.6)"),
    ("process_vm_readv", "process_vm_readv(2) (3.2)"),
    ("openat2", "openat2(2) (5.6)"),
    ("landlock", "landlock_create_ruleset(2) (5.13)"),
];

/// How long a forced-interceptor child may take to install and answer before it is killed
/// and reported as hung.
const CHILD_LIMIT: Duration = Duration::from_secs(20);

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let once = args.iter().any(|a| a == "--once");
    if let Some(i) = args.iter().position(|a| a == "--table") {
        // `--table [FILE]`: a report (from FILE, or stdin) as the lines of the expectation
        // table. Installs nothing.
        let text = match args.get(i + 1) {
            Some(path) => std::fs::read_to_string(path)?,
            None => std::io::read_to_string(std::io::stdin())?,
        };
        let report: Value = serde_json::from_str(&text)?;
        print!("{}", table(&report));
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Some(i) = args.iter().position(|a| a == "--install") {
        // A forced-interceptor child: install, print the outcome, exit.
        let choice = match args.get(i + 1).map(String::as_str) {
            Some("trap") => InterceptorChoice::Trap,
            Some("notify") => InterceptorChoice::Notify,
            _ => InterceptorChoice::Auto,
        };
        println!("{}", install(Some(choice), true).0);
        std::process::exit(0);
    }

    // Everything below runs before the shield (which may block process creation) and before
    // any thread exists.
    let process = process_status();
    let trap = in_child("trap");
    let notify = in_child("notify");
    let (shield_report, shield) = install(None, once);
    let report = assemble(process, shield_report, trap, notify);

    if once {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let mut r = report.clone();
        r["request_id"] = json!(event.context.request_id);
        async move { Ok::<Value, Error>(r) }
    });
    match shield {
        Some(shield) => rt.block_on(fnshield::run(shield, handler)),
        // The configuration did not build: answer anyway, unshielded (the report says why).
        None => rt.block_on(lambda_runtime::run(handler)),
    }
}

/// The shield's tmp root: private, never `/tmp` itself.
fn tmp_root() -> PathBuf {
    let dir = std::env::var_os("PROBE_TMP_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("fnshield-probe-{}", nix::unistd::getuid()))
        });
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir);
    dir
}

/// Build and install a shield with this function's configuration (the interceptor forced to
/// `choice` if given). Returns the `shield` part of the report and the installed shield.
/// `quiet` sends events to `tracing` (stderr) only, so that stdout carries the report alone.
fn install(choice: Option<InterceptorChoice>, quiet: bool) -> (Value, Option<fnshield::Shield>) {
    let mut b = fnshield::Shield::builder().tmp_root(tmp_root().display().to_string());
    if let Some(c) = choice {
        b = b.interceptor(c);
    }
    if quiet {
        b = b.sinks(["tracing"]);
    }
    let shield = match b.build() {
        Ok(s) => s,
        Err(e) => {
            return (
                json!({"installed": false, "error": format!("configuration: {e}")}),
                None,
            )
        }
    };
    let report = match shield.install() {
        Ok(e) => json!({
            "installed": true,
            "fully_enforced": e.is_fully_enforced(),
            "enforcement": e,
        }),
        Err(fnshield::InstallError::NotEnforced(e)) => json!({
            "installed": false,
            "error": "require_enforcement: a policy cannot be enforced (see enforcement)",
            "fully_enforced": false,
            "enforcement": e,
        }),
        Err(e) => json!({"installed": false, "error": e.to_string()}),
    };
    (report, Some(shield))
}

/// Install with `interceptor` forced, in a child process of this binary: its `shield` report,
/// or how the child ended (killed by a signal, hung, failed).
fn in_child(interceptor: &str) -> Value {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return json!({"installed": false, "error": format!("current_exe: {e}")}),
    };
    let child = Command::new(exe)
        .args(["--install", interceptor])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return json!({"installed": false, "error": format!("spawn: {e}")}),
    };
    // A child that hangs (a kernel or sandbox fnshield does not handle yet) must not hang the
    // probe: poll its exit for CHILD_LIMIT, then kill it.
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() < CHILD_LIMIT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut out);
    }
    match status {
        None => json!({"installed": false, "error": format!(
            "the {interceptor} install did not finish within {} s (killed)", CHILD_LIMIT.as_secs()
        )}),
        Some(s) if s.signal().is_some() => json!({
            "installed": false,
            "killed_by_signal": s.signal(),
            "error": format!("the child installing the {interceptor} interceptor was killed by signal {}",
                s.signal().unwrap_or(0)),
        }),
        Some(s) => serde_json::from_str(out.trim()).unwrap_or_else(|_| {
            json!({"installed": false, "error": format!(
                "the {interceptor} child exited with {s} and printed no report"
            )})
        }),
    }
}

/// Uid and the seccomp fields of `/proc/self/status`, before anything is installed.
fn process_status() -> Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    json!({
        "uid": nix::unistd::getuid().as_raw(),
        "euid": nix::unistd::geteuid().as_raw(),
        "NoNewPrivs": field("NoNewPrivs"),
        "Seccomp": field("Seccomp"),
        "Seccomp_filters": field("Seccomp_filters"),
    })
}

fn read_trimmed(path: &str) -> Value {
    std::fs::read_to_string(path)
        .map(|s| json!(s.trim()))
        .unwrap_or(Value::Null)
}

/// The kernel probe of a `shield` report, if it has an `Enforcement`.
fn kernel_of(shield: &Value) -> Option<KernelProbe> {
    let k = shield.get("enforcement")?.get("kernel")?;
    let mut probe = KernelProbe::default();
    for f in k.get("features")?.as_array()? {
        let name = f.get("name")?.as_str()?;
        let Some(&(name, _)) = FEATURES.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let status = match f.get("status")?.as_str()? {
            "available" => FeatureStatus::Available,
            "refused" => FeatureStatus::Refused(f.get("errno")?.as_i64()? as i32),
            "killed" => FeatureStatus::Killed(f.get("signal")?.as_i64()? as i32),
            _ => FeatureStatus::NotProbed,
        };
        probe.features.push(fnshield::Feature { name, status });
    }
    Some(probe)
}

/// The whole report.
fn assemble(process: Value, shield: Value, trap: Value, notify: Value) -> Value {
    // Each feature as the first install that probed it found it: this function's own, then
    // the forced notify and trap installs.
    let sources = [
        ("shield", kernel_of(&shield)),
        ("notify", kernel_of(&notify)),
        ("trap", kernel_of(&trap)),
    ];
    let features: Vec<Value> = FEATURES
        .iter()
        .map(|&(name, call)| {
            let found = sources.iter().find_map(|(src, k)| {
                let s = k.as_ref()?.feature(name);
                (s != FeatureStatus::NotProbed).then_some((*src, s))
            });
            let (probed_by, status) = found.unwrap_or(("none", FeatureStatus::NotProbed));
            let mut v =
                serde_json::to_value(fnshield::Feature { name, status }).unwrap_or(Value::Null);
            v["call"] = json!(call);
            v["probed_by"] = json!(probed_by);
            v
        })
        .collect();
    let (verdict, why) = verdict(&shield);
    json!({
        "fnshield_probe": 1,
        "verdict": verdict,
        "verdict_reason": why,
        "kernel": {
            "release": read_trimmed("/proc/sys/kernel/osrelease"),
            "version": read_trimmed("/proc/sys/kernel/version"),
            "arch": std::env::consts::ARCH,
        },
        "process": process,
        "features": features,
        "libc_layer": shield.pointer("/enforcement/libc_layer").cloned().unwrap_or(json!("inactive")),
        "shield": shield,
        "interceptors": {"trap": trap, "notify": notify},
    })
}

/// `protected` when every policy that is not `allow` is fully enforced; `partially_protected`
/// when at least one is enforced at least in part; `not_protected` otherwise. With the reason:
/// each policy that is not fully enforced, by what, and the first clause of why.
fn verdict(shield: &Value) -> (&'static str, String) {
    let Some(e) = shield.get("enforcement") else {
        let err = shield["error"].as_str().unwrap_or("no report");
        return ("not_protected", format!("fnshield did not install: {err}"));
    };
    let name = |s: EnforcementState| serde_json::to_value(s).unwrap_or(Value::Null);
    let fully = name(EnforcementState::FullyEnforced);
    let not = name(EnforcementState::NotEnforced);
    let runtime: Vec<&str> = PolicyKind::RUNTIME.iter().map(|p| p.as_str()).collect();
    let policies: Vec<&Value> = e["policies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| runtime.contains(&p["policy"].as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let gaps: Vec<String> = policies
        .iter()
        .filter(|p| p["state"] != fully && p["reason"] != "mode is allow")
        .map(|p| {
            // The reason's first clause; the whole of it is in the enforcement report.
            let reason = p["reason"].as_str().unwrap_or("");
            format!(
                "{} {} via {}: {}",
                p["policy"].as_str().unwrap_or("?"),
                p["state"].as_str().unwrap_or("?"),
                p["mechanism"].as_str().unwrap_or("?"),
                reason.split("; ").next().unwrap_or(reason)
            )
        })
        .collect();
    if shield["fully_enforced"] == true {
        (
            "protected",
            "every policy that is not allow is fully enforced".into(),
        )
    } else if policies.iter().any(|p| p["state"] != not) {
        ("partially_protected", gaps.join("; "))
    } else {
        ("not_protected", gaps.join("; "))
    }
}

/// The facts of a report that an environment determines, one per line, for comparison with
/// the committed expectation table (`diff`): each feature's status (errno and signal by name),
/// and per install (`auto`: the function's configuration; `trap`, `notify`: forced) the
/// interceptor, the libc layer and each runtime policy's state and mechanism. Lines starting
/// with `#` (the kernel release, the verdict) are informational.
fn table(r: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    out.push_str(&format!(
        "# kernel {} {}\n# verdict {}\n",
        s(&r["kernel"]["release"]),
        s(&r["kernel"]["arch"]),
        s(&r["verdict"])
    ));
    for f in r["features"].as_array().into_iter().flatten() {
        let status = match f["status"].as_str() {
            Some("refused") => format!("refused {}", errno_name(f["errno"].as_i64().unwrap_or(0))),
            Some("killed") => format!("killed {}", signal_name(f["signal"].as_i64().unwrap_or(0))),
            Some(other) => other.to_owned(),
            None => "?".to_owned(),
        };
        out.push_str(&format!("feature {} {status}\n", s(&f["name"])));
    }
    for (name, install) in [
        ("auto", &r["shield"]),
        ("trap", &r["interceptors"]["trap"]),
        ("notify", &r["interceptors"]["notify"]),
    ] {
        let e = &install["enforcement"];
        if e.is_null() {
            let how = match install["killed_by_signal"].as_i64() {
                Some(sig) => format!("killed {}", signal_name(sig)),
                None => "failed".to_owned(),
            };
            out.push_str(&format!("install {name} {how}\n"));
            continue;
        }
        out.push_str(&format!(
            "install {name} {} libc_layer={}\n",
            s(&e["interceptor"]),
            s(&e["libc_layer"])
        ));
        for p in e["policies"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "policy {name} {} {} {}\n",
                s(&p["policy"]),
                s(&p["state"]),
                s(&p["mechanism"])
            ));
        }
    }
    out
}

fn errno_name(e: i64) -> String {
    match nix::errno::Errno::from_raw(e as i32) {
        nix::errno::Errno::UnknownErrno => format!("errno{e}"),
        known => format!("{known:?}"),
    }
}

fn signal_name(sig: i64) -> String {
    nix::sys::signal::Signal::try_from(sig as i32)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal{sig}"))
}
