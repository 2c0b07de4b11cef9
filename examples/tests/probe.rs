//! The deployable probe ("Is my Lambda protected?"): `probe --once` and an invocation through
//! the Runtime API emulator give the same report, of the shape the README documents, and it
//! agrees with what this test process sees of its own kernel.
#![allow(missing_docs)]

use fnshield_tests::emulator::Emulator;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const PROBE: &str = env!("CARGO_BIN_EXE_probe");

const FEATURES: [&str; 15] = [
    "prctl_no_new_privs",
    "seccomp_filter",
    "seccomp_trap",
    "seccomp_user_notif",
    "new_listener",
    "tsync_esrch",
    "wait_killable_recv",
    "addfd",
    "addfd_send",
    "sync_wake_up",
    "pidfd_open",
    "pidfd_getfd",
    "process_vm_readv",
    "openat2",
    "landlock",
];

const POLICIES: [&str; 4] = [
    "outbound_connectivity",
    "read_write_tmp",
    "create_child_process",
    "read_handler",
];

/// A task root (no policy file: the probe's defaults, every policy `block`) and a private tmp
/// root, under cargo's per-target temp directory.
fn dirs(name: &str) -> (PathBuf, PathBuf) {
    let base =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("probe-{name}-{}", std::process::id()));
    let (task, tmp) = (base.join("task"), base.join("tmp"));
    std::fs::create_dir_all(&task).unwrap();
    std::fs::write(task.join("bootstrap"), b"code").unwrap();
    (task, tmp)
}

fn status_field(name: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Everything the README promises about the report, checked against this machine.
fn check_report(r: &Value) {
    let ctx = || serde_json::to_string_pretty(r).unwrap();
    assert_eq!(r["fnshield_probe"], 1, "{}", ctx());
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(r["kernel"]["release"], release.trim(), "{}", ctx());
    assert_eq!(r["kernel"]["arch"], std::env::consts::ARCH);
    // The probe inherits this process's seccomp state (no filter in the test runner).
    for f in ["NoNewPrivs", "Seccomp", "Seccomp_filters"] {
        assert_eq!(r["process"][f], status_field(f), "{f}: {}", ctx());
    }

    let features = r["features"].as_array().expect("features is a list");
    let names: Vec<&str> = features
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, FEATURES, "{}", ctx());
    for f in features {
        match f["status"].as_str().unwrap() {
            "available" | "not_probed" => {}
            "refused" => {
                assert!(f["errno"].as_i64().unwrap() > 0, "{f}");
                assert!(f["error"].as_str().unwrap().contains("os error"), "{f}");
            }
            "killed" => assert!(f["signal"].as_i64().unwrap() > 0, "{f}"),
            other => panic!("unknown feature status {other}: {f}"),
        }
        assert!(f["call"].as_str().is_some_and(|c| !c.is_empty()), "{f}");
    }
    let feature = |n: &str| {
        features
            .iter()
            .find(|f| f["name"] == n)
            .unwrap()
            .get("status")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };

    let shield = &r["shield"];
    assert_eq!(shield["installed"], true, "{}", ctx());
    let e = &shield["enforcement"];
    let policies: Vec<&str> = e["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policy"].as_str().unwrap())
        .collect();
    for p in POLICIES {
        assert!(policies.contains(&p), "{p} missing: {}", ctx());
    }
    for p in e["policies"].as_array().unwrap() {
        assert!(
            ["fully_enforced", "partially_enforced", "not_enforced"]
                .contains(&p["state"].as_str().unwrap()),
            "{p}"
        );
    }
    assert_eq!(r["libc_layer"], e["libc_layer"]);
    assert_eq!(
        r["verdict"] == "protected",
        shield["fully_enforced"] == true,
        "{}",
        ctx()
    );

    // Where this machine lets a filter be installed, each forced interceptor is the one in
    // use, and the notify install probed the listener ioctls (ADDFD and its SEND flag).
    if feature("seccomp_filter") == "available" {
        assert_eq!(
            r["interceptors"]["trap"]["enforcement"]["interceptor"],
            "seccomp-trap",
            "{}",
            ctx()
        );
        if feature("seccomp_user_notif") == "available" {
            assert_eq!(
                r["interceptors"]["notify"]["enforcement"]["interceptor"],
                "seccomp-notify",
                "{}",
                ctx()
            );
            assert_ne!(feature("addfd"), "not_probed", "{}", ctx());
            assert_ne!(feature("addfd_send"), "not_probed", "{}", ctx());
            assert_ne!(feature("new_listener"), "not_probed", "{}", ctx());
        }
    }
}

#[test]
fn once_prints_the_report_and_exits() {
    let (task, tmp) = dirs("once");
    let mut cmd = std::process::Command::new(PROBE);
    cmd.arg("--once")
        .env_clear()
        .env("LAMBDA_TASK_ROOT", &task)
        .env("PROBE_TMP_ROOT", &tmp);
    // The probe installs shields (in child processes too): a hang fails with a message.
    let out = fnshield_tests::watchdog::output(cmd, "probe --once");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON report ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    check_report(&r);
    // The shield's tmp root was the private one.
    assert!(tmp.is_dir());
}

#[tokio::test(flavor = "multi_thread")]
async fn any_invocation_gets_the_report() {
    let (task, tmp) = dirs("invoke");
    let emu = Emulator::builder().function_name("probe").start().await;
    let _p = emu
        .spawn_function(
            Path::new(PROBE),
            &[
                ("LAMBDA_TASK_ROOT", task.to_str().unwrap()),
                ("PROBE_TMP_ROOT", tmp.to_str().unwrap()),
            ],
        )
        .await;
    for event in [json!({}), json!({"anything": [1, 2, 3]})] {
        let id = emu.invoke(event);
        let r = emu.result(&id).await.expect_response();
        assert_eq!(r["request_id"], id.as_str(), "{r}");
        check_report(&r);
    }
}
