//! The sandbox launcher refuses what each imitated environment refuses, the way it refuses it:
//! `sandbox-selftest` (raw kernel calls) runs under every profile and its answers are compared
//! with the imitated kernel's. Needs root (as CI runs); skipped with a message otherwise.

use fnshield_tests::watchdog;
use std::collections::BTreeMap;
use std::process::Command;

const LAUNCHER: &str = env!("CARGO_BIN_EXE_fnshield-sandbox");
const SELFTEST: &str = env!("CARGO_BIN_EXE_sandbox-selftest");

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `sandbox-selftest`'s answers under `profile` (or bare).
fn answers(profile: Option<&str>) -> BTreeMap<String, String> {
    let mut cmd = match profile {
        Some(p) => {
            let mut c = Command::new(LAUNCHER);
            c.args(["--profile", p, "--", SELFTEST]);
            c
        }
        None => Command::new(SELFTEST),
    };
    cmd.current_dir("/");
    let out = watchdog::output(cmd, &format!("selftest under {profile:?}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "selftest under {profile:?} failed: {:?}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `got` has every `(key, value)` of `want`; the message shows the whole table.
fn check(profile: Option<&str>, want: &[(&str, &str)]) {
    let got = answers(profile);
    let table: String = got.iter().map(|(k, v)| format!("  {k}={v}\n")).collect();
    for (k, v) in want {
        assert_eq!(
            got.get(*k).map(String::as_str),
            Some(*v),
            "under {profile:?}, `{k}`; all answers:\n{table}"
        );
    }
}

macro_rules! root_only {
    () => {
        if !is_root() {
            eprintln!("skipped: the sandbox launcher needs root (CI runs as root)");
            return;
        }
    };
}

#[test]
fn bare_this_kernel_offers_everything() {
    root_only!();
    check(
        None,
        &[
            ("prctl", "ok:1"),
            ("filter.wait_killable_recv", "ok:listener"),
            ("filter.listener_tsync_esrch", "ok:listener"),
            ("ioctl.addfd-send", "errno:ENOENT"),
            ("ioctl.set-flags", "ok:0"),
            ("pidfd_getfd", "ok"),
            ("openat2", "ok"),
        ],
    );
}

#[test]
fn k5_10_refuses_what_5_10_lacks() {
    root_only!();
    check(
        Some("k5.10"),
        &[
            ("uid", "0"),
            ("filter.plain", "ok:0"),
            ("filter.tsync_esrch", "ok:0"),
            ("filter.listener_tsync_esrch", "ok:listener"),
            // WAIT_KILLABLE_RECV is 6.0.
            ("filter.wait_killable_recv", "errno:EINVAL"),
            // ADDFD is 5.9, its SEND flag 5.14, SET_FLAGS 6.6.
            ("ioctl.addfd", "errno:ENOENT"),
            ("ioctl.addfd-send", "errno:EINVAL"),
            ("ioctl.set-flags", "errno:EINVAL"),
            ("ioctl.id-valid", "errno:ENOENT"),
            ("pidfd_getfd", "ok"),
            ("openat2", "ok"),
            // Landlock is 5.13.
            ("landlock", "errno:ENOSYS"),
            ("int80", "ok"),
        ],
    );
}

#[test]
fn k5_4_refuses_what_5_4_lacks() {
    root_only!();
    check(
        Some("k5.4"),
        &[
            ("filter.new_listener", "ok:listener"),
            // TSYNC_ESRCH is 5.7; before it TSYNC | NEW_LISTENER is refused.
            ("filter.tsync_esrch", "errno:EINVAL"),
            ("filter.listener_tsync", "errno:EINVAL"),
            ("filter.listener_tsync_esrch", "errno:EINVAL"),
            ("ioctl.addfd", "errno:EINVAL"),
            ("ioctl.addfd-send", "errno:EINVAL"),
            ("ioctl.id-valid", "errno:ENOENT"),
            ("pidfd_open", "ok"),
            // pidfd_getfd and openat2 are 5.6.
            ("pidfd_getfd", "errno:ENOSYS"),
            ("openat2", "errno:ENOSYS"),
        ],
    );
}

#[test]
fn k4_14_has_no_user_notification() {
    root_only!();
    check(
        Some("k4.14"),
        &[
            ("action_avail.trap", "ok:0"),
            ("action_avail.user_notif", "errno:EOPNOTSUPP"),
            ("get_notif_sizes", "errno:EINVAL"),
            ("filter.tsync", "ok:0"),
            ("filter.new_listener", "errno:EINVAL"),
            ("ioctl.addfd", "no-listener:errno:EINVAL"),
            ("pidfd_open", "errno:ENOSYS"),
            ("openat2", "errno:ENOSYS"),
        ],
    );
}

#[test]
fn lambda_is_unprivileged_refuses_prctl_and_kills_int80() {
    root_only!();
    check(
        Some("lambda"),
        &[
            ("uid", "993"),
            ("NoNewPrivs", "0"),
            ("prctl", "errno:EPERM"),
            // Without NoNewPrivs and without CAP_SYS_ADMIN the kernel refuses any filter.
            ("filter.plain", "errno:EACCES"),
            ("filter.new_listener", "errno:EACCES"),
            ("ioctl.addfd", "no-listener:errno:EACCES"),
            ("int80", "killed:31"),
        ],
    );
}

#[test]
fn lambda_nnp_may_install_a_filter_as_on_5_10() {
    root_only!();
    check(
        Some("lambda-nnp"),
        &[
            ("uid", "993"),
            ("NoNewPrivs", "1"),
            ("prctl", "errno:EPERM"),
            ("filter.plain", "ok:0"),
            ("filter.listener_tsync_esrch", "ok:listener"),
            ("filter.wait_killable_recv", "errno:EINVAL"),
            ("ioctl.addfd-send", "errno:EINVAL"),
            ("landlock", "errno:ENOSYS"),
            ("int80", "killed:31"),
        ],
    );
}

#[test]
fn no_vm_readv_and_no_pidfd_getfd_refuse_with_eperm() {
    root_only!();
    check(
        Some("no-vm-readv"),
        &[("process_vm_readv", "errno:EPERM"), ("pidfd_getfd", "ok")],
    );
    check(
        Some("no-pidfd-getfd"),
        &[("process_vm_readv", "ok:8"), ("pidfd_getfd", "errno:EPERM")],
    );
}

#[test]
fn the_command_exit_status_and_a_bad_profile_are_reported() {
    root_only!();
    let st = Command::new(LAUNCHER)
        .args(["--profile", "k5.10", "--", "sh", "-c", "exit 7"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(7));
    let out = Command::new(LAUNCHER)
        .args(["--profile", "k6.1", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected one of lambda, lambda-nnp"),
        "{out:?}"
    );
}
