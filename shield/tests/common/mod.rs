//! Shared by the test files whose cases install a seccomp filter: each case runs in its own
//! process.

use std::process::Command;

/// Run `body` in a fresh process (this test binary re-executed with `FNSHIELD_CASE=<name>`,
/// filtered to the test of the same name); return its stdout. Fails with the child's output
/// unless it exits successfully after running `body`.
pub fn case(name: &str, body: fn()) -> String {
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(name) {
        body();
        println!("CASE-OK");
        std::process::exit(0);
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("FNSHIELD_CASE", name)
        .env_remove("SHIELD_MODE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "case {name} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// The calling thread's errno.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
