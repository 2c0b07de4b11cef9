//! Kernel probes, run once at install (not in signal context). Every feature fnshield relies
//! on is probed here before it is relied on; each outcome goes into the report
//! ([`KernelProbe::features`]).

use super::enforcement::KernelProbe;
use crate::sys::syscall;

fn action_avail(action: u32) -> i64 {
    let a = action;
    syscall(
        libc::SYS_seccomp,
        [
            libc::SECCOMP_GET_ACTION_AVAIL as u64,
            0,
            &a as *const u32 as u64,
            0,
            0,
            0,
        ],
    )
}

fn close(fd: i64) {
    if fd >= 0 {
        syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    }
}

/// An allow-everything filter: what the forked child installs to learn whether `seccomp(2)` may
/// install one at all. (BPF_RET | BPF_K, SECCOMP_RET_ALLOW.)
static ALLOW_ALL: [libc::sock_filter; 1] = [libc::sock_filter {
    code: 0x06,
    jt: 0,
    jf: 0,
    k: libc::SECCOMP_RET_ALLOW,
}];

/// In a short-lived forked child — where a sandbox filter that *kills* instead of refusing can
/// do no harm — set NoNewPrivs (unless `nnp` says it is set) and install an allow-everything
/// filter. Records `prctl_no_new_privs` and `seccomp_filter`. The child only issues raw
/// syscalls (no allocation, no locks) and exits with the errno it got.
fn probe_install_in_child(p: &mut KernelProbe, nnp: bool) {
    let prog = libc::sock_fprog {
        len: 1,
        filter: ALLOW_ALL.as_ptr() as *mut libc::sock_filter,
    };
    // A fork: clone(SIGCHLD) with no new stack (argument order differs per arch, but every
    // other argument is 0).
    let pid = syscall(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]);
    if pid == 0 {
        // The child. Exit codes: 0 installed; errno from seccomp(2); 128 + errno from prctl.
        if !nnp {
            let r = syscall(
                libc::SYS_prctl,
                [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
            );
            if r < 0 {
                // The install does not go on without NoNewPrivs either.
                syscall(
                    libc::SYS_exit_group,
                    [128 + (-r).min(127) as u64, 0, 0, 0, 0, 0],
                );
            }
        }
        let s = syscall(libc::SYS_seccomp, [1, 0, &prog as *const _ as u64, 0, 0, 0]);
        syscall(
            libc::SYS_exit_group,
            [(-s).clamp(0, 127) as u64, 0, 0, 0, 0, 0],
        );
    }
    if pid < 0 {
        p.record("seccomp_filter", pid);
        return;
    }
    let mut status: i32 = 0;
    let r = loop {
        let r = syscall(
            libc::SYS_wait4,
            [pid as u64, &mut status as *mut i32 as u64, 0, 0, 0, 0],
        );
        if r != -(libc::EINTR as i64) {
            break r;
        }
    };
    if r < 0 {
        // SIGCHLD ignored by the application, say: no verdict; the install will tell.
        return;
    }
    let killed = |p: &mut KernelProbe, name| {
        p.features.retain(|f| f.name != name);
        p.features.push(super::enforcement::Feature {
            name,
            status: super::enforcement::FeatureStatus::Killed(libc::WTERMSIG(status)),
        });
    };
    if libc::WIFSIGNALED(status) {
        // Which call was killed is unknown when NoNewPrivs had to be set first.
        if !nnp {
            killed(p, "prctl_no_new_privs");
        }
        killed(p, "seccomp_filter");
        return;
    }
    let code = libc::WEXITSTATUS(status) as i64;
    match code {
        0 => {
            if !nnp {
                p.record("prctl_no_new_privs", 0);
            }
            p.record("seccomp_filter", 0);
        }
        129.. => p.record("prctl_no_new_privs", -(code - 128)),
        e => p.record("seccomp_filter", -e),
    }
}

/// Probe `/proc/self/status`, whether a filter may be installed at all (in a forked child),
/// `SECCOMP_GET_ACTION_AVAIL`, the syscalls the interceptors use
/// (`pidfd_open`, `pidfd_getfd`, `process_vm_readv`, `openat2`) and the Landlock ABI.
///
/// A failed `SECCOMP_GET_ACTION_AVAIL` says "TRAP unavailable" only with EOPNOTSUPP (the
/// kernel knows the operation and not the action). Any other failure — EINVAL before 4.14,
/// which has no such operation, or a sandbox filter refusing `seccomp(2)` — leaves TRAP
/// (Linux 3.5) to be tried, and the install reports the real refusal if there is one.
/// USER_NOTIF (5.0) is only used when the operation itself says it is available.
pub(crate) fn probe() -> KernelProbe {
    let mut p = KernelProbe::default();
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            let mut it = line.split(':');
            let (k, v) = (it.next().unwrap_or(""), it.next().unwrap_or("").trim());
            match k {
                "NoNewPrivs" => p.no_new_privs = v == "1",
                "Seccomp" => p.seccomp_mode = v.parse().unwrap_or(0),
                "Seccomp_filters" => p.seccomp_filters = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let nnp = p.no_new_privs;
    probe_install_in_child(&mut p, nnp);
    let trap = action_avail(libc::SECCOMP_RET_TRAP);
    p.record("seccomp_trap", trap);
    p.trap_available = trap == 0 || trap != -(libc::EOPNOTSUPP as i64);
    let notify = action_avail(libc::SECCOMP_RET_USER_NOTIF);
    p.record("seccomp_user_notif", notify);
    p.notify_available = notify == 0;

    let me = syscall(libc::SYS_getpid, [0; 6]);
    let pidfd = syscall(libc::SYS_pidfd_open, [me as u64, 0, 0, 0, 0, 0]);
    p.record("pidfd_open", pidfd);
    // Duplicate the pidfd itself through itself: the same call the supervisor makes on a
    // caller's socket.
    let dup = if pidfd >= 0 {
        syscall(
            libc::SYS_pidfd_getfd,
            [pidfd as u64, pidfd as u64, 0, 0, 0, 0],
        )
    } else {
        -(libc::EBADF as i64)
    };
    if pidfd >= 0 {
        p.record("pidfd_getfd", dup);
    }
    close(dup);
    close(pidfd);

    let probe = [0x5au8; 8];
    let mut got = [0u8; 8];
    let local = libc::iovec {
        iov_base: got.as_mut_ptr().cast(),
        iov_len: got.len(),
    };
    let remote = libc::iovec {
        iov_base: probe.as_ptr() as *mut libc::c_void,
        iov_len: probe.len(),
    };
    let r = syscall(
        libc::SYS_process_vm_readv,
        [
            me as u64,
            &local as *const _ as u64,
            1,
            &remote as *const _ as u64,
            1,
            0,
        ],
    );
    p.record(
        "process_vm_readv",
        if r == 8 && got == probe {
            0
        } else if r < 0 {
            r
        } else {
            -(libc::EFAULT as i64)
        },
    );

    // openat2("/", {O_PATH | O_CLOEXEC}).
    let how: [u64; 3] = [(libc::O_PATH | libc::O_CLOEXEC) as u64, 0, 0];
    let fd = syscall(
        libc::SYS_openat2,
        [
            libc::AT_FDCWD as u64,
            c"/".as_ptr() as u64,
            how.as_ptr() as u64,
            24,
            0,
            0,
        ],
    );
    p.record("openat2", fd);
    close(fd);

    // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    let abi = syscall(444, [0, 0, 1, 0, 0, 0]);
    p.record("landlock", abi);
    p.landlock_abi = (abi > 0).then_some(abi as u32);
    p
}

/// Probe the kernel without installing anything: what [`Shield::install`](crate::Shield::install)
/// would find.
pub fn probe_kernel() -> KernelProbe {
    probe()
}

/// Probe the listener ioctls on a freshly installed `listener`, with no notification pending:
/// `SECCOMP_IOCTL_NOTIF_ADDFD` with and without `SECCOMP_ADDFD_FLAG_SEND`, and
/// `SECCOMP_IOCTL_NOTIF_SET_FLAGS(SYNC_WAKE_UP)` (which it also turns on where available).
///
/// ADDFD checks its flags before the source fd, and the source fd before the notification id:
/// with an invalid source fd, a kernel that knows the flags answers EBADF and one that does not
/// (5.9–5.13 for SEND; before 5.9 the request itself) answers EINVAL. Nothing is installed.
pub(crate) fn probe_listener(p: &mut KernelProbe, listener: i32) {
    let addfd = |flags: u32| {
        let add = libc::seccomp_notif_addfd {
            id: 0,
            flags,
            srcfd: u32::MAX,
            newfd: 0,
            newfd_flags: 0,
        };
        let r = syscall(
            libc::SYS_ioctl,
            [
                listener as u64,
                libc::SECCOMP_IOCTL_NOTIF_ADDFD,
                &add as *const _ as u64,
                0,
                0,
                0,
            ],
        );
        if r == -(libc::EBADF as i64) {
            0
        } else if r >= 0 {
            // Cannot happen with an invalid source fd; count it as available.
            0
        } else {
            r
        }
    };
    p.record("addfd", addfd(0));
    p.record("addfd_send", addfd(libc::SECCOMP_ADDFD_FLAG_SEND as u32));
    // Linux 6.6+: wake the supervisor and the caller synchronously (the woken thread runs on
    // the waker's CPU). On an idle Firecracker VM, as on Lambda, this takes a notified call
    // from 30-100 µs to about 3 µs.
    const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
    let r = syscall(
        libc::SYS_ioctl,
        [
            listener as u64,
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
            0,
            0,
            0,
        ],
    );
    p.record("sync_wake_up", r);
}
