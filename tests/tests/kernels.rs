//! fnshield under the sandbox launcher's profiles (older kernels, Lambda's sandbox, refused
//! syscalls): every refused feature has a tested fallback or an honest downgrade in the
//! `Enforcement` report, and nothing hangs. Each case runs in its own process under
//! `fnshield-sandbox` (which needs root, as CI runs; skipped with a message otherwise).
// Signal handlers and tgkill for the signal storm, as in shield/tests/trap.rs.
#![allow(unsafe_code)]

use fnshield::{
    EnforcementState, FeatureStatus, InterceptorChoice, Mechanism, Mode, PolicyKind, Shield,
    ShieldBuilder,
};
use fnshield_tests::watchdog;
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const LAUNCHER: &str = env!("CARGO_BIN_EXE_fnshield-sandbox");

/// Run `body` in a fresh copy of this test binary under `profile`; fail with its output (or
/// as a hang, after the watchdog's bound) unless it exits successfully after `body`.
fn under(profile: &str, name: &str, body: fn()) {
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(name) {
        body();
        println!("CASE-OK");
        std::process::exit(0);
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: the sandbox launcher needs root (CI runs as root)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("fnshield-kernels-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["task", "tmp/ok"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("task/bootstrap"), b"code").unwrap();
    std::fs::write(dir.join("tmp/secret"), b"secret").unwrap();
    // The Lambda profiles run the case as an unprivileged user.
    for d in [
        dir.clone(),
        dir.join("tmp"),
        dir.join("tmp/ok"),
        dir.join("task"),
    ] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let mut cmd = Command::new(LAUNCHER);
    cmd.args(["--profile", profile, "--"])
        .arg(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("FNSHIELD_CASE", name)
        .env("FNSHIELD_CASE_DIR", &dir)
        .env("LAMBDA_TASK_ROOT", dir.join("task"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "kernels-test")
        .env_remove("SHIELD_MODE")
        .current_dir("/");
    let out = watchdog::output(cmd, &format!("case {name} under {profile}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "case {name} under {profile} failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dir() -> PathBuf {
    PathBuf::from(std::env::var("FNSHIELD_CASE_DIR").unwrap())
}

fn builder() -> ShieldBuilder {
    Shield::builder()
        .tmp_root(dir().join("tmp").to_str().unwrap())
        .wipe_tmp(false)
        .resolv_conf("nameserver 127.0.0.1\n")
        .sinks(["json"])
}

fn errno_of<T>(r: std::io::Result<T>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

fn true_path() -> String {
    std::fs::canonicalize("/usr/bin/true")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// Block mode with one allowed executable (so `auto` chooses notify) and an allowed tmp path.
fn block_with_child() -> Shield {
    builder()
        .mode(Mode::Block)
        .allow_exec(true_path())
        .allow_tmp(dir().join("tmp/ok").to_str().unwrap())
        .build()
        .unwrap()
}

/// Open/write/read an allowed file, a blocked file, an allowed and a blocked connect, the
/// allowed child, `rounds` times; every result is what the same calls give on 6.18.
fn workload(rounds: usize) {
    let ok = TcpListener::bind("127.0.0.1:0").unwrap();
    let ok_addr = ok.local_addr().unwrap();
    let far = TcpListener::bind("127.0.0.2:0").unwrap();
    let far_addr = far.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in ok.incoming() {
            drop(s)
        }
    });
    let file = dir().join("tmp/ok/data");
    for i in 0..rounds {
        std::fs::write(&file, format!("round {i}")).expect("allowed write");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            format!("round {i}")
        );
        assert_eq!(
            errno_of(std::fs::read(dir().join("tmp/secret"))),
            Some(libc::EACCES),
            "blocked read"
        );
        TcpStream::connect(ok_addr).expect("allowed connect");
        assert_eq!(
            errno_of(TcpStream::connect(far_addr)),
            Some(libc::EPERM),
            "blocked connect"
        );
        let st = Command::new(true_path()).status().expect("allowed child");
        assert!(st.success());
    }
}

fn assert_no_fully_enforced_without(report: &fnshield::Enforcement, why: &str) {
    for p in &report.policies {
        assert_ne!(p.state, EnforcementState::FullyEnforced, "{why}: {report}");
    }
}

#[test]
fn k5_10_notify_without_addfd_send_serves_100_rounds() {
    under(
        "k5.10",
        "k5_10_notify_without_addfd_send_serves_100_rounds",
        || {
            let s = block_with_child();
            let r = s.install().expect("install");
            assert_eq!(r.interceptor, Mechanism::SeccompNotify, "{r}");
            assert_eq!(
                r.kernel.feature("addfd_send"),
                FeatureStatus::Refused(libc::EINVAL),
                "{r}"
            );
            assert_eq!(r.kernel.feature("addfd"), FeatureStatus::Available, "{r}");
            assert_eq!(
                r.kernel.feature("wait_killable_recv"),
                FeatureStatus::Refused(libc::EINVAL),
                "{r}"
            );
            assert_eq!(
                r.kernel.feature("sync_wake_up"),
                FeatureStatus::Refused(libc::EINVAL),
                "{r}"
            );
            let rh = r.policy(PolicyKind::ReadHandler).unwrap();
            assert_eq!(rh.state, EnforcementState::FullyEnforced, "{r}");
            assert!(rh.reason.contains("then NOTIF_SEND"), "{r}");
            assert!(
                r.interceptor_reason.contains("lacks WAIT_KILLABLE_RECV"),
                "{r}"
            );
            workload(100);
        },
    );
}

#[test]
fn lambda_nnp_installs_the_notify_interceptor_as_on_5_10() {
    under(
        "lambda-nnp",
        "lambda_nnp_installs_the_notify_interceptor_as_on_5_10",
        || {
            assert!(!nix::unistd::geteuid().is_root());
            let s = block_with_child();
            let r = s.install().expect("install");
            assert_eq!(r.interceptor, Mechanism::SeccompNotify, "{r}");
            assert!(r.kernel.no_new_privs, "{r}");
            assert_eq!(
                r.kernel.feature("addfd_send"),
                FeatureStatus::Refused(libc::EINVAL),
                "{r}"
            );
            workload(10);
        },
    );
}

#[test]
fn lambda_without_no_new_privs_enforces_nothing_and_says_why() {
    under(
        "lambda",
        "lambda_without_no_new_privs_enforces_nothing_and_says_why",
        || {
            // require_kernel_enforcement fails closed (require_enforcement alone accepts the
            // libc layer, where it is built).
            let strict = builder()
                .mode(Mode::Block)
                .require_enforcement(true)
                .require_kernel_enforcement(true)
                .build()
                .unwrap();
            let e = strict
                .install()
                .expect_err("require_kernel_enforcement fails closed");
            assert!(e.to_string().contains("require_kernel_enforcement"), "{e}");
            let s = builder().mode(Mode::Block).build().unwrap();
            let r = s.install().expect("best effort");
            let layer = r.libc_layer == fnshield::LibcLayer::Active;
            let want = if layer {
                Mechanism::Libc
            } else {
                Mechanism::None
            };
            assert_eq!(r.interceptor, want, "{r}");
            assert_eq!(
                r.kernel.feature("prctl_no_new_privs"),
                FeatureStatus::Refused(libc::EPERM),
                "{r}"
            );
            for p in &r.policies {
                let want = if layer {
                    EnforcementState::PartiallyEnforced
                } else {
                    EnforcementState::NotEnforced
                };
                assert_eq!(p.state, want, "{r}");
                assert!(
                    p.reason.contains("prctl(PR_SET_NO_NEW_PRIVS) refused"),
                    "{r}"
                );
            }
            if layer {
                // The libc layer enforces in process: a write under the tmp root is refused.
                assert_eq!(
                    errno_of(std::fs::write(dir().join("tmp/ok/x"), b"x")),
                    Some(libc::EACCES)
                );
            } else {
                // Nothing was installed: the function still works.
                std::fs::write(dir().join("tmp/ok/x"), b"x").unwrap();
            }
        },
    );
}

#[test]
fn no_pidfd_getfd_continues_allowed_connects_and_reports_partial() {
    under(
        "no-pidfd-getfd",
        "no_pidfd_getfd_continues_allowed_connects_and_reports_partial",
        || {
            let s = builder()
                .outbound(Mode::Block)
                .interceptor(InterceptorChoice::Notify)
                .build()
                .unwrap();
            let r = s.install().expect("install");
            assert_eq!(r.interceptor, Mechanism::SeccompNotify, "{r}");
            assert_eq!(
                r.kernel.feature("pidfd_getfd"),
                FeatureStatus::Refused(libc::EPERM),
                "{r}"
            );
            let out = r.policy(PolicyKind::OutboundConnectivity).unwrap();
            assert_eq!(out.state, EnforcementState::PartiallyEnforced, "{r}");
            assert!(out.reason.contains("pidfd_getfd"), "{r}");
            let ok = TcpListener::bind("127.0.0.1:0").unwrap();
            let far = TcpListener::bind("127.0.0.2:0").unwrap();
            TcpStream::connect(ok.local_addr().unwrap()).expect("allowed connect works");
            assert_eq!(
                errno_of(TcpStream::connect(far.local_addr().unwrap())),
                Some(libc::EPERM)
            );
            let u = UdpSocket::bind("127.0.0.1:0").unwrap();
            let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
            assert_eq!(
                u.send_to(b"hi", rx.local_addr().unwrap())
                    .expect("allowed sendto"),
                2
            );
        },
    );
}

#[test]
fn no_vm_readv_installs_nothing_rather_than_failing_every_call() {
    under(
        "no-vm-readv",
        "no_vm_readv_installs_nothing_rather_than_failing_every_call",
        || {
            let strict = builder()
                .mode(Mode::Alert)
                .require_enforcement(true)
                .build()
                .unwrap();
            assert!(strict.install().is_err());
            let s = builder().mode(Mode::Alert).build().unwrap();
            let r = s.install().expect("best effort");
            assert_eq!(
                r.kernel.feature("process_vm_readv"),
                FeatureStatus::Refused(libc::EPERM),
                "{r}"
            );
            assert_no_fully_enforced_without(r, "process_vm_readv refused");
            assert!(
                r.policies
                    .iter()
                    .all(|p| p.reason.contains("process_vm_readv")),
                "{r}"
            );
            // No EFAULT: the calls work as without a shield.
            std::fs::write(dir().join("tmp/ok/x"), b"x").unwrap();
            assert_eq!(std::fs::read(dir().join("tmp/ok/x")).unwrap(), b"x");
        },
    );
}

#[test]
fn k5_4_trap_refuses_forks_in_the_kernel_without_a_listener() {
    under(
        "k5.4",
        "k5_4_trap_refuses_forks_in_the_kernel_without_a_listener",
        || {
            let s = builder().mode(Mode::Block).build().unwrap();
            let r = s.install().expect("install");
            assert_eq!(r.interceptor, Mechanism::SeccompTrap, "{r}");
            assert_eq!(
                r.kernel.feature("new_listener"),
                FeatureStatus::Refused(libc::EINVAL),
                "{r}"
            );
            let c = r.policy(PolicyKind::CreateChildProcess).unwrap();
            assert_eq!(c.state, EnforcementState::FullyEnforced, "{r}");
            assert!(c.reason.contains("no user-notification listener"), "{r}");
            // As under k4.14: the libc layer refuses the program first (EACCES); without it the
            // kernel refuses the clone (EPERM).
            let want = if r.libc_layer == fnshield::LibcLayer::Active {
                libc::EACCES
            } else {
                libc::EPERM
            };
            assert_eq!(errno_of(Command::new(true_path()).status()), Some(want));
            // Without the layer in the way, the kernel refuses a raw fork with EPERM.
            // SAFETY: clone(SIGCHLD) as fork(2) does, integer arguments; a child that got
            // through exits at once.
            let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) };
            if pid == 0 {
                // SAFETY: _exit in the forked child.
                unsafe { libc::_exit(0) };
            }
            assert_eq!(pid, -1, "fork went through");
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EPERM)
            );
            assert_eq!(
                errno_of(std::fs::read(dir().join("tmp/secret"))),
                Some(libc::EACCES)
            );
        },
    );
}

#[test]
fn k5_4_notify_is_refused_with_the_reason() {
    under("k5.4", "k5_4_notify_is_refused_with_the_reason", || {
        let s = builder().mode(Mode::Alert).build().unwrap();
        let r = s.install().expect("best effort");
        let want = if r.libc_layer == fnshield::LibcLayer::Active {
            Mechanism::Libc
        } else {
            Mechanism::None
        };
        assert_eq!(r.interceptor, want, "{r}");
        assert_no_fully_enforced_without(r, "NEW_LISTENER with TSYNC refused");
        assert!(r.policies[0].reason.contains("TSYNC_ESRCH"), "{r}");
        assert!(Command::new(true_path()).status().unwrap().success());
    });
}

#[test]
fn k4_14_has_trap_only() {
    under("k4.14", "k4_14_has_trap_only", || {
        let s = builder().mode(Mode::Block).build().unwrap();
        let r = s.install().expect("install");
        assert_eq!(r.interceptor, Mechanism::SeccompTrap, "{r}");
        assert!(!r.kernel.notify_available, "{r}");
        assert_eq!(
            r.kernel.feature("seccomp_user_notif"),
            FeatureStatus::Refused(libc::EOPNOTSUPP),
            "{r}"
        );
        // The libc layer refuses the program before any process is created (EACCES, as for
        // execve); without it the kernel refuses the clone (EPERM).
        let want = if r.libc_layer == fnshield::LibcLayer::Active {
            libc::EACCES
        } else {
            libc::EPERM
        };
        assert_eq!(errno_of(Command::new(true_path()).status()), Some(want));
        assert_eq!(
            errno_of(std::fs::read(dir().join("tmp/secret"))),
            Some(libc::EACCES)
        );
    });
}

static STORM_HITS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    STORM_HITS.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn k5_10_signal_storm_replays_no_emulated_connect_or_datagram() {
    under(
        "k5.10",
        "k5_10_signal_storm_replays_no_emulated_connect_or_datagram",
        || {
            const N: u32 = 1500;
            let s = builder()
                .outbound(Mode::Block)
                .interceptor(InterceptorChoice::Notify)
                .build()
                .unwrap();
            let r = s.install().expect("install");
            assert_eq!(r.interceptor, Mechanism::SeccompNotify, "{r}");
            // SA_RESTART: an interrupted call is restarted by the kernel, as most runtimes do.
            // SAFETY: a handler that only bumps an atomic; the sigaction struct is fully set.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_usr1 as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
            }
            let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
            let tcp_addr = tcp.local_addr().unwrap();
            std::thread::spawn(move || {
                for s in tcp.incoming() {
                    drop(s)
                }
            });
            let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
            rx.set_read_timeout(Some(std::time::Duration::from_millis(500)))
                .unwrap();
            let rx_addr = rx.local_addr().unwrap();
            let seen: Arc<Mutex<BTreeMap<u32, u32>>> = Arc::default();
            let seen2 = seen.clone();
            let done = Arc::new(AtomicBool::new(false));
            let done2 = done.clone();
            let receiver = std::thread::spawn(move || {
                let mut buf = [0u8; 16];
                loop {
                    match rx.recv(&mut buf) {
                        Ok(4) => {
                            *seen2
                                .lock()
                                .unwrap()
                                .entry(u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]))
                                .or_default() += 1
                        }
                        Ok(_) => {}
                        Err(_) if done2.load(Ordering::Acquire) => return,
                        Err(_) => {}
                    }
                }
            });
            let (tid_tx, tid_rx) = std::sync::mpsc::channel();
            let worker = std::thread::spawn(move || {
                // SAFETY: gettid has no arguments.
                tid_tx
                    .send(unsafe { libc::syscall(libc::SYS_gettid) })
                    .unwrap();
                let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
                let mut errors = Vec::new();
                for i in 0..N {
                    if let Err(e) = TcpStream::connect(tcp_addr) {
                        errors.push(format!("connect {i}: {e}"));
                    }
                    match tx.send_to(&i.to_le_bytes(), rx_addr) {
                        Ok(4) => {}
                        r => errors.push(format!("sendto {i}: {r:?}")),
                    }
                }
                errors
            });
            let tid = tid_rx.recv().unwrap();
            let pid = std::process::id() as i64;
            let storming = Arc::new(AtomicBool::new(true));
            let storming2 = storming.clone();
            let storm = std::thread::spawn(move || {
                while storming2.load(Ordering::Acquire) {
                    // SAFETY: tgkill with integer arguments, to a thread of this process.
                    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) };
                    std::thread::yield_now();
                }
            });
            let errors = worker.join().unwrap();
            storming.store(false, Ordering::Release);
            storm.join().unwrap();
            // The receiver drains what is in flight, then stops at its next read timeout.
            done.store(true, Ordering::Release);
            receiver.join().unwrap();
            assert!(
                errors.is_empty(),
                "emulated calls failed under the storm: {errors:#?}"
            );
            let seen = seen.lock().unwrap();
            let twice: Vec<_> = seen.iter().filter(|(_, &c)| c > 1).collect();
            assert!(
                twice.is_empty(),
                "datagrams counted more than once: {twice:?}"
            );
            println!(
                "signals delivered: {}; datagrams received: {} of {N}",
                STORM_HITS.load(Ordering::Relaxed),
                seen.len()
            );
            assert!(
                STORM_HITS.load(Ordering::Relaxed) > 0,
                "the storm reached the worker"
            );
        },
    );
}
