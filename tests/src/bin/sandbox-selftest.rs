//! `sandbox-selftest`: print, one `name=outcome` line each, what this environment answers to
//! the raw kernel calls fnshield depends on. The launcher's tests run it under every profile
//! and compare with what the imitated kernel does. Outcomes: `ok` (or `ok:<value>`),
//! `errno:<NAME>`, `killed:<signal>` (seen from a re-executed copy of this program, because a
//! filter may kill rather than refuse), `exit:<code>`.

use fnshield_tests::sandbox;
use std::ffi::CString;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

fn outcome(r: i64) -> String {
    if r >= 0 {
        format!("ok:{r}")
    } else {
        format!("errno:{}", errno_name(-r as i32))
    }
}

fn errno_name(e: i32) -> String {
    match e {
        libc::EPERM => "EPERM".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EACCES => "EACCES".into(),
        libc::EFAULT => "EFAULT".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::EOPNOTSUPP => "EOPNOTSUPP".into(),
        libc::EBADF => "EBADF".into(),
        libc::ENOTTY => "ENOTTY".into(),
        e => e.to_string(),
    }
}

fn allow_all() -> Vec<sandbox::Insn> {
    sandbox::compile(&[], false)
}

/// Set NoNewPrivs if it is not set (a refusal is fine: seccomp then says EACCES).
fn nnp() {
    let _ = sandbox::value_syscall(
        libc::SYS_prctl,
        [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
    );
}

/// One check in this (re-executed) process; prints its outcome.
fn one(what: &str) -> String {
    if let Some(flags) = what.strip_prefix("flags:") {
        nnp();
        let flags: u64 = flags.parse().unwrap();
        let r = sandbox::set_mode_filter(&allow_all(), flags);
        return if r > 0 && flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
            "ok:listener".into()
        } else {
            outcome(r)
        };
    }
    if let Some(req) = what.strip_prefix("listener:") {
        nnp();
        let l = sandbox::set_mode_filter(&allow_all(), libc::SECCOMP_FILTER_FLAG_NEW_LISTENER);
        if l < 0 {
            return format!("no-listener:{}", outcome(l));
        }
        let l = l as i32;
        // No notification is pending: a kernel that knows the request answers ENOENT.
        let mut addfd = libc::seccomp_notif_addfd {
            id: 0,
            flags: 0,
            srcfd: 0,
            newfd: 0,
            newfd_flags: 0,
        };
        let r = match req {
            "addfd" => sandbox::ioctl_with(l, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut addfd),
            "addfd-send" => {
                addfd.flags = libc::SECCOMP_ADDFD_FLAG_SEND as u32;
                sandbox::ioctl_with(l, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut addfd)
            }
            "set-flags" => sandbox::ioctl_value(l, libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS, 1),
            "id-valid" => {
                let mut id = 0u64;
                sandbox::ioctl_with(l, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id)
            }
            _ => panic!("unknown listener check {req}"),
        };
        return outcome(r);
    }
    match what {
        #[cfg(target_arch = "x86_64")]
        "int80" => outcome(sandbox::int80_getpid()),
        _ => panic!("unknown check {what}"),
    }
}

/// Run `one(what)` in a re-executed copy; a kill is an outcome too.
fn isolated(what: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .arg(what)
        .output()
        .expect("re-exec");
    if let Some(s) = out.status.signal() {
        return format!("killed:{s}");
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !text.is_empty() {
        text
    } else {
        format!("exit:{:?}", out.status.code())
    }
}

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "absent".into())
}

fn main() {
    if let Some(what) = std::env::args().nth(1) {
        println!("{}", one(&what));
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut lines = vec![
        ("uid".to_owned(), nix::unistd::getuid().to_string()),
        ("NoNewPrivs".into(), status_field(&status, "NoNewPrivs")),
        ("Seccomp".into(), status_field(&status, "Seccomp")),
        (
            "prctl".into(),
            outcome(sandbox::value_syscall(
                libc::SYS_prctl,
                [libc::PR_GET_DUMPABLE as u64, 0, 0, 0, 0, 0],
            )),
        ),
        (
            "action_avail.trap".into(),
            outcome(sandbox::action_avail(libc::SECCOMP_RET_TRAP)),
        ),
        (
            "action_avail.user_notif".into(),
            outcome(sandbox::action_avail(libc::SECCOMP_RET_USER_NOTIF)),
        ),
        (
            "get_notif_sizes".into(),
            outcome(sandbox::seccomp_get_notif_sizes(&mut [0u16; 3])),
        ),
    ];
    for (name, flags) in [
        ("filter.plain", 0u64),
        ("filter.tsync", libc::SECCOMP_FILTER_FLAG_TSYNC),
        (
            "filter.new_listener",
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        ),
        ("filter.tsync_esrch", libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH),
        (
            "filter.wait_killable_recv",
            (libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV),
        ),
        (
            "filter.listener_tsync",
            (libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_TSYNC),
        ),
        (
            "filter.listener_tsync_esrch",
            (libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                | libc::SECCOMP_FILTER_FLAG_TSYNC
                | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH),
        ),
    ] {
        lines.push((name.into(), isolated(&format!("flags:{flags}"))));
    }
    for req in ["addfd", "addfd-send", "set-flags", "id-valid"] {
        lines.push((format!("ioctl.{req}"), isolated(&format!("listener:{req}"))));
    }
    let pidfd = sandbox::value_syscall(
        libc::SYS_pidfd_open,
        [std::process::id() as u64, 0, 0, 0, 0, 0],
    );
    lines.push((
        "pidfd_open".into(),
        if pidfd >= 0 {
            "ok".into()
        } else {
            outcome(pidfd)
        },
    ));
    let getfd = if pidfd >= 0 {
        sandbox::value_syscall(libc::SYS_pidfd_getfd, [pidfd as u64, 0, 0, 0, 0, 0])
    } else {
        sandbox::value_syscall(libc::SYS_pidfd_getfd, [u32::MAX as u64, 0, 0, 0, 0, 0])
    };
    lines.push((
        "pidfd_getfd".into(),
        if getfd >= 0 {
            "ok".into()
        } else {
            outcome(getfd)
        },
    ));
    let probe = [7u8; 8];
    let mut buf = [0u8; 8];
    let r = sandbox::vm_read(std::process::id() as i32, probe.as_ptr() as u64, &mut buf);
    lines.push(("process_vm_readv".into(), outcome(r)));
    let root = CString::new("/").unwrap();
    let r = sandbox::openat2(&root, libc::O_RDONLY as u64);
    lines.push((
        "openat2".into(),
        if r >= 0 { "ok".into() } else { outcome(r) },
    ));
    // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    let r = sandbox::value_syscall(444, [0, 0, 1, 0, 0, 0]);
    lines.push(("landlock".into(), outcome(r)));
    #[cfg(target_arch = "x86_64")]
    lines.push(("int80".into(), {
        let o = isolated("int80");
        if o.starts_with("ok:") {
            "ok".into()
        } else {
            o
        }
    }));
    for (k, v) in lines {
        println!("{k}={v}");
    }
}
