//! Shared by the test files whose cases install a seccomp filter: each case runs in its own
//! process.
// Each test binary uses a different subset.
#![allow(dead_code)]

use fnshield::{Event, Mechanism, Shield, ShieldBuilder};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// Every event the shield of this (case) process emitted.
pub static EVENTS: Mutex<Vec<Event>> = Mutex::new(Vec::new());

/// Build a shield for a test: the given task root and tmp root, resolver 127.0.0.1, no /tmp
/// wipe, events to [`EVENTS`] (and the JSON line), plus what `f` adds; install it and check
/// that `interceptor` is the one in use.
pub fn install_shield(
    task: &Path,
    tmp: &Path,
    interceptor: Mechanism,
    f: impl FnOnce(ShieldBuilder) -> ShieldBuilder,
) -> Shield {
    install_shield_reporting(task, tmp, interceptor, f).0
}

/// [`install_shield`], also returning the install report.
pub fn install_shield_reporting(
    task: &Path,
    tmp: &Path,
    interceptor: Mechanism,
    f: impl FnOnce(ShieldBuilder) -> ShieldBuilder,
) -> (Shield, fnshield::Enforcement) {
    let env = fnshield::Env::from_pairs([
        ("LAMBDA_TASK_ROOT", task.to_str().unwrap()),
        ("AWS_LAMBDA_FUNCTION_NAME", "shield-test"),
    ]);
    let b = Shield::builder()
        .env(env)
        .resolv_conf("nameserver 127.0.0.1\n")
        .tmp_root(tmp.to_str().unwrap())
        .wipe_tmp(false)
        .sinks(["json"])
        .on_event(|e| EVENTS.lock().unwrap().push(e.clone()));
    let s = f(b).build().expect("valid config");
    let report = s.install().expect("install").clone();
    assert_eq!(report.interceptor, interceptor, "{report}");
    (s, report)
}

/// Flush and return every event so far.
pub fn events(s: &Shield) -> Vec<Event> {
    s.reporter().flush(None);
    EVENTS.lock().unwrap().clone()
}

/// Run `body` in a fresh process (this test binary re-executed with `FNSHIELD_CASE=<name>`,
/// filtered to the test of the same name); return its stdout. Fails with the child's output
/// unless it exits successfully after running `body`, and fails as a hang (naming the case,
/// with its output) if it has not finished within the watchdog's bound.
pub fn case(name: &str, body: fn()) -> String {
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(name) {
        body();
        println!("CASE-OK");
        std::process::exit(0);
    }
    // Each case gets its own TMPDIR, removed once the child is gone.
    let scratch = fnshield_tests::watchdog::Scratch::new(name);
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("FNSHIELD_CASE", name)
        .env_remove("SHIELD_MODE");
    scratch.apply(&mut cmd);
    let out = fnshield_tests::watchdog::output(cmd, &format!("case {name}"));
    drop(scratch);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "case {name} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// Move this thread into a private mount namespace (root only, as CI runs): what it mounts
/// afterwards is seen by this process alone, and nothing propagates back.
pub fn private_mount_namespace() {
    use nix::mount::{mount, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .expect("unshare(CLONE_NEWNS) needs root (CI runs as root)");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make / private in the new mount namespace");
}

/// The calling thread's errno.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A system call made with the `syscall` instruction itself (no libc entry point, so that the
/// libc layer does not decide it first, and no atfork handler runs): the raw result, `-errno`
/// on failure.
pub fn raw_syscall(nr: i64, a: [u64; 3]) -> i64 {
    let r: i64;
    // SAFETY: a system call with integer and pointer arguments the caller made valid.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("syscall", inlateout("rax") nr => r, in("rdi") a[0], in("rsi") a[1],
            in("rdx") a[2], out("rcx") _, out("r11") _, options(nostack));
    }
    // SAFETY: as above.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("svc 0", in("x8") nr, inlateout("x0") a[0] as i64 => r, in("x1") a[1],
            in("x2") a[2], options(nostack));
    }
    r
}

/// `fork` as a raw system call (`clone(SIGCHLD)` where there is no `fork`).
pub fn raw_fork() -> i64 {
    #[cfg(target_arch = "x86_64")]
    return raw_syscall(libc::SYS_fork, [0; 3]);
    #[cfg(target_arch = "aarch64")]
    return raw_syscall(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0]);
}
