//! The user-notification interceptor: supervised children, alert-only mode, emulated ALLOWs.
//! One process per case (re-exec), as for the trap interceptor.
#![allow(missing_docs)]
// Attack code has to make raw syscalls; the library itself keeps `unsafe` in `sys`.
#![allow(unsafe_code)]

mod common;
use common::{case, errno, events, raw_fork, raw_syscall};

use fnshield::{Action, Details, InterceptorChoice, Mode, PolicyKind, Shield};
use std::ffi::CString;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;

fn dirs() -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!(
        // The uid too: a directory a root run left with this pid is not writable by the
        // launcher's unprivileged profiles.
        "fnshield-notify-{}-{}",
        nix::unistd::geteuid(),
        std::process::id()
    ));
    let task = base.join("task");
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    std::fs::write(task.join("bootstrap"), b"secret code").unwrap();
    (task, tmp)
}

fn shield(
    task: &Path,
    tmp: &Path,
    f: impl FnOnce(fnshield::ShieldBuilder) -> fnshield::ShieldBuilder,
) -> Shield {
    common::install_shield(task, tmp, fnshield::Mechanism::SeccompNotify, f)
}

#[test]
fn alert_mode_children_keep_working_and_are_reported() {
    case("alert_mode_children_keep_working_and_are_reported", || {
        let (task, tmp) = dirs();
        let boot = task.join("bootstrap");
        std::fs::write(task.join("other"), b"more code").unwrap();
        std::os::unix::fs::symlink(task.join("other"), tmp.join("link")).unwrap();
        let s = shield(&task, &tmp, |b| b.mode(Mode::Alert));
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "echo hi | tr a-z A-Z; cat {}; echo x > {}/w; cat {}/w",
                boot.display(),
                tmp.display(),
                tmp.display()
            ))
            .output()
            .expect("children run in alert mode");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "HI\nsecret codex\n");
        let evs = events(&s);
        assert!(evs.iter().any(|e| e.policy == PolicyKind::CreateChildProcess
            && e.action == Action::Alerted
            && matches!(&e.details, Details::Exec { path, argv } if path == "/bin/sh" && argv.first().map(String::as_str) == Some("/bin/sh"))));
        let read = evs
            .iter()
            .find(|e| e.policy == PolicyKind::ReadHandler && matches!(&e.details, Details::Path { path, .. } if path.ends_with("task/bootstrap")))
            .expect("the child's read of the code is reported");
        assert_eq!(read.action, Action::Alerted);
        assert_ne!(
            read.pid,
            std::process::id(),
            "the event carries the child's pid"
        );
        assert!(
            read.process.as_deref().is_some_and(|p| p.ends_with("/cat")),
            "{read:?}"
        );
        assert!(evs.iter().any(|e| e.policy == PolicyKind::ReadWriteTmp
            && matches!(
                &e.details,
                Details::Path {
                    access: "write",
                    ..
                }
            )));
        // A symlink in /tmp to the code is reported by its target, although alert mode lets the
        // call continue in the child.
        let link_read = Command::new("/bin/cat")
            .arg(tmp.join("link"))
            .output()
            .unwrap();
        assert_eq!(link_read.stdout, b"more code");
        let evs = events(&s);
        assert!(
            evs.iter().any(|e| e.policy == PolicyKind::ReadHandler
                && e.action == Action::Alerted
                && matches!(&e.details, Details::Path { path, .. } if path.ends_with("task/other"))),
            "{evs:#?}"
        );
        assert!(!evs.iter().any(|e| e.action == Action::Blocked));
    });
}

#[test]
fn children_are_held_to_the_same_policy() {
    case("children_are_held_to_the_same_policy", || {
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        let port = forbidden.local_addr().unwrap().port();
        let (task, tmp) = dirs();
        let boot = task.join("bootstrap");
        let s = shield(&task, &tmp, |b| {
            // Only the resolved paths are listed: `/bin/bash` (a symlinked directory on a
            // merged-/usr system) must still match `/usr/bin/bash`.
            b.allow_exec(
                std::fs::canonicalize("/bin/bash")
                    .unwrap()
                    .to_str()
                    .unwrap(),
            )
            .allow_exec(std::fs::canonicalize("/bin/cat").unwrap().to_str().unwrap())
        });
        // A child `cat` of the code is refused.
        let out = Command::new("/bin/bash")
            .arg("-c")
            .arg(format!("cat {}", boot.display()))
            .output()
            .expect("bash is allowed");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "{out:?}"
        );
        assert!(out.stdout.is_empty());
        // A child's connect to a forbidden host is refused.
        let out = Command::new("/bin/bash")
            .arg("-c")
            .arg(format!(
                "exec 3<>/dev/tcp/127.0.0.2/{port} && echo connected"
            ))
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("connected"),
            "{out:?}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
            "{out:?}"
        );
        // A program that is not allowed does not run.
        let out = Command::new("/bin/bash")
            .arg("-c")
            .arg("id")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{out:?}");
        let evs = events(&s);
        let code = evs
            .iter()
            .find(|e| e.policy == PolicyKind::ReadHandler && e.action == Action::Blocked)
            .expect("blocked read event");
        assert!(
            code.process.as_deref().is_some_and(|p| p.ends_with("/cat")),
            "{code:?}"
        );
        assert!(evs
            .iter()
            .any(|e| e.policy == PolicyKind::OutboundConnectivity
                && e.action == Action::Blocked
                && matches!(&e.details, Details::Connect { port: p, .. } if *p == port)));
        assert!(evs
            .iter()
            .any(|e| e.policy == PolicyKind::CreateChildProcess
                && e.action == Action::Blocked
                && matches!(&e.details, Details::Exec { path, .. } if path.ends_with("/id"))));
    });
}

#[test]
fn emulated_opens_and_connects_behave_like_the_real_calls() {
    case(
        "emulated_opens_and_connects_behave_like_the_real_calls",
        || {
            let local = TcpListener::bind("127.0.0.1:0").unwrap();
            let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
            let (task, tmp) = dirs();
            std::fs::write(tmp.join("cache/data"), b"cached").unwrap();
            let s = shield(&task, &tmp, |b| {
                b.interceptor(InterceptorChoice::Notify)
                    .allow_tmp(tmp.join("cache").to_str().unwrap())
            });
            // Allowed open: ADDFD gives the caller a working fd with the right content.
            assert_eq!(std::fs::read(tmp.join("cache/data")).unwrap(), b"cached");
            std::fs::write(tmp.join("cache/new"), b"1").unwrap();
            // Relative open against the caller's cwd.
            std::env::set_current_dir(tmp.join("cache")).unwrap();
            assert_eq!(std::fs::read("data").unwrap(), b"cached");
            // Blocked.
            assert_eq!(
                std::fs::read("/proc/self/environ")
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::EACCES)
            );
            assert_eq!(
                std::fs::read(task.join("bootstrap"))
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::EACCES)
            );
            assert_eq!(
                std::fs::write(tmp.join("x"), b"1")
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::EACCES)
            );
            // O_CLOEXEC is honoured on the installed fd.
            let c = CString::new(tmp.join("cache/data").to_str().unwrap()).unwrap();
            // SAFETY: plain open/fcntl/close on a valid path.
            unsafe {
                let fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                assert!(fd >= 0);
                assert_eq!(
                    libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC,
                    libc::FD_CLOEXEC
                );
                libc::close(fd);
                let fd = libc::open(c.as_ptr(), libc::O_RDONLY);
                assert_eq!(libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC, 0);
                libc::close(fd);
            }
            // Connect: emulated with pidfd_getfd; the caller's socket is connected.
            let mut stream = std::net::TcpStream::connect(local.local_addr().unwrap())
                .expect("127.0.0.1 allowed");
            let (mut peer, _) = local.accept().unwrap();
            use std::io::{Read, Write};
            stream.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            peer.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ping");
            assert_eq!(
                std::net::TcpStream::connect(forbidden.local_addr().unwrap())
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::EPERM)
            );
            // UDP sendto: emulated, the datagram arrives.
            let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            tx.send_to(b"dgram", rx.local_addr().unwrap()).unwrap();
            let mut b = [0u8; 16];
            let (n, from) = rx.recv_from(&mut b).unwrap();
            assert_eq!((&b[..n], from), (&b"dgram"[..], tx.local_addr().unwrap()));
            let evs = events(&s);
            assert!(evs
                .iter()
                .any(|e| e.policy == PolicyKind::ReadHandler && e.action == Action::Blocked));
        },
    );
}

/// A thread keeps flipping a path buffer between an allowed and a protected file while the
/// main thread opens it; every fd that comes back must be the allowed file.
fn race_opens(interceptor: InterceptorChoice, attempts: usize) {
    let (task, tmp) = dirs();
    let allowed = tmp.join("cache/ok");
    std::fs::write(&allowed, b"ok").unwrap();
    let protected = task.join("bootstrap");
    let mut a = allowed.to_str().unwrap().as_bytes().to_vec();
    let mut p = protected.to_str().unwrap().as_bytes().to_vec();
    let len = a.len().max(p.len()) + 1;
    a.resize(len, 0);
    p.resize(len, 0);
    let _s = shield_any(&task, &tmp, interceptor, |b| {
        b.allow_tmp(tmp.join("cache").to_str().unwrap())
    });
    use std::os::unix::fs::MetadataExt;
    let protected_ino = std::fs::metadata(&protected).map(|m| m.ino()).unwrap_or(0);
    let buf: &'static mut [u8] = Box::leak(a.clone().into_boxed_slice());
    let addr = buf.as_mut_ptr() as usize;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let flipper = std::thread::spawn(move || {
        let mut i = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let src = if i.is_multiple_of(2) { &p } else { &a };
            for (k, &byte) in src.iter().enumerate() {
                // SAFETY: the leaked buffer lives forever; racing writes are the point of the test
                // (volatile so they are not optimised away).
                unsafe { std::ptr::write_volatile((addr as *mut u8).add(k), byte) };
            }
            i += 1;
        }
    });
    let mut bypass = 0;
    let mut opened = 0;
    for _ in 0..attempts {
        // SAFETY: raw open of a NUL-terminated buffer that another thread rewrites.
        let fd = unsafe { libc::open(addr as *const libc::c_char, libc::O_RDONLY) };
        if fd >= 0 {
            opened += 1;
            // SAFETY: fstat into a zeroed stat.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: fd is ours.
            unsafe {
                libc::fstat(fd, &mut st);
                libc::close(fd);
            }
            if st.st_ino == protected_ino {
                bypass += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    println!("RACE attempts={attempts} opened={opened} bypasses={bypass}");
    assert_eq!(
        bypass, 0,
        "{bypass} opens of the protected file got through"
    );
    assert!(
        opened > 0,
        "the allowed file was never opened: the race did not run"
    );
}

fn shield_any(
    task: &Path,
    tmp: &Path,
    i: InterceptorChoice,
    f: impl FnOnce(fnshield::ShieldBuilder) -> fnshield::ShieldBuilder,
) -> Shield {
    let env = fnshield::Env::from_pairs([("LAMBDA_TASK_ROOT", task.to_str().unwrap())]);
    let s = f(Shield::builder()
        .env(env)
        .resolv_conf("")
        .tmp_root(tmp.to_str().unwrap())
        .wipe_tmp(false)
        .sinks(Vec::<String>::new())
        .interceptor(i))
    .build()
    .unwrap();
    s.install().unwrap();
    s
}

#[test]
fn toctou_race_on_open_path_notify() {
    case("toctou_race_on_open_path_notify", || {
        race_opens(InterceptorChoice::Notify, 100_000)
    });
}

#[test]
fn toctou_race_on_open_path_trap() {
    case("toctou_race_on_open_path_trap", || {
        race_opens(InterceptorChoice::Trap, 100_000)
    });
}

#[test]
fn supervisor_survives_bad_pointers() {
    case("supervisor_survives_bad_pointers", || {
        let (task, tmp) = dirs();
        let _s = shield(&task, &tmp, |b| b.interceptor(InterceptorChoice::Notify));
        // SAFETY: deliberately bad pointers; the kernel and the shield must answer EFAULT.
        unsafe {
            assert_eq!(
                (
                    libc::syscall(libc::SYS_openat, libc::AT_FDCWD, 8usize, 0),
                    errno()
                ),
                (-1, libc::EFAULT)
            );
            assert_eq!(
                (libc::syscall(libc::SYS_connect, 0, 16usize, 16), errno()),
                (-1, libc::EFAULT)
            );
        }
        // Still serving.
        assert_eq!(
            std::fs::read("/proc/self/environ")
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EACCES)
        );
        assert!(std::fs::read("/etc/hostname").is_ok() || std::fs::read("/etc/passwd").is_ok());
    });
}

#[test]
fn require_enforcement_accepts_partial_and_says_why() {
    case("require_enforcement_accepts_partial_and_says_why", || {
        let (task, tmp) = dirs();
        let s = shield(&task, &tmp, |b| {
            b.require_enforcement(true).allow_exec("/usr/bin/true")
        });
        let report = s.enforcement().expect("installed");
        let child = report.policy(PolicyKind::CreateChildProcess).unwrap();
        assert_eq!(
            child.state,
            fnshield::EnforcementState::PartiallyEnforced,
            "{report}"
        );
        assert!(child.reason.contains("racing thread"), "{report}");
        let out = Command::new("/usr/bin/true")
            .status()
            .expect("an allowed child runs");
        assert!(out.success());
    });
}

/// A thread keeps flipping a sockaddr between an allowed (127.0.0.1) and a forbidden
/// (127.0.0.2) destination while the main thread sends datagrams to it: nothing may arrive at
/// the forbidden socket.
fn race_sendto(interceptor: InterceptorChoice, attempts: usize) {
    let allowed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let forbidden = UdpSocket::bind("127.0.0.2:0").unwrap();
    forbidden.set_nonblocking(true).unwrap();
    allowed.set_nonblocking(true).unwrap();
    let (task, tmp) = dirs();
    let _s = shield_any(&task, &tmp, interceptor, |b| b.outbound(Mode::Block));
    let sa = |ip: [u8; 4], port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    };
    let good = sa([127, 0, 0, 1], allowed.local_addr().unwrap().port());
    let bad = sa([127, 0, 0, 2], forbidden.local_addr().unwrap().port());
    let buf: &'static mut libc::sockaddr_in = Box::leak(Box::new(good));
    let addr = buf as *mut libc::sockaddr_in as usize;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let flipper = std::thread::spawn(move || {
        let mut i = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let v = if i.is_multiple_of(2) { bad } else { good };
            // SAFETY: the leaked sockaddr lives forever; racing writes are the point of the test.
            unsafe { std::ptr::write_volatile(addr as *mut libc::sockaddr_in, v) };
            i += 1;
        }
    });
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    use std::os::fd::AsRawFd;
    let (mut sent, mut refused) = (0, 0);
    for _ in 0..attempts {
        // SAFETY: sendto with a 1-byte buffer and the racing sockaddr.
        let r = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                b"x".as_ptr().cast(),
                1,
                0,
                addr as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            )
        };
        if r == 1 {
            sent += 1;
        } else {
            refused += 1;
        }
        // Keep the receive buffers from filling up.
        let mut b = [0u8; 8];
        while allowed.recv(&mut b).is_ok() {}
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    let mut leaked = 0;
    let mut b = [0u8; 8];
    while forbidden.recv(&mut b).is_ok() {
        leaked += 1;
    }
    println!("RACE sendto attempts={attempts} sent={sent} refused={refused} leaked={leaked}");
    assert_eq!(leaked, 0, "{leaked} datagrams reached the forbidden host");
    assert!(sent > 0 && refused > 0, "the race did not run both ways");
}

#[test]
fn toctou_race_on_sendto_address_trap() {
    case("toctou_race_on_sendto_address_trap", || {
        race_sendto(InterceptorChoice::Trap, 100_000)
    });
}

#[test]
fn toctou_race_on_sendto_address_notify() {
    case("toctou_race_on_sendto_address_notify", || {
        race_sendto(InterceptorChoice::Notify, 100_000)
    });
}

/// How many seccomp listener fds the process's threads' tables show, and every one this
/// process can reach: its own fd table, and (Linux 6.9+, thread pidfds) the fd table of each of
/// its threads, through `pidfd_getfd`.
fn reachable_listeners() -> (usize, Vec<i32>) {
    let is_listener = |p: &Path| {
        std::fs::read_link(p).is_ok_and(|l| l.as_os_str() == "anon_inode:seccomp notify")
    };
    let mut found = Vec::new();
    let mut seen = 0;
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if is_listener(&e.path()) {
            if let Some(fd) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                found.push(fd);
            }
        }
    }
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(t.path().join("fd")) else {
            continue;
        };
        for e in fds.flatten() {
            if !is_listener(&e.path()) {
                continue;
            }
            seen += 1;
            let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            // SAFETY: raw syscalls on integers; PIDFD_THREAD is O_EXCL.
            unsafe {
                let pidfd = libc::syscall(libc::SYS_pidfd_open, tid, libc::O_EXCL);
                if pidfd >= 0 {
                    let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd, n, 0);
                    if fd >= 0 {
                        found.push(fd as i32);
                    }
                    libc::close(pidfd as i32);
                }
            }
        }
    }
    (seen, found)
}

/// `struct seccomp_notif` and `struct seccomp_notif_resp`, as the kernel lays them out.
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

/// Issue 13, kind 3 (a window where the policies are off) through the shield's own listener: a
/// thread of the function receives notifications with `SECCOMP_IOCTL_NOTIF_RECV` on the
/// shield's listener fd, racing the supervisor, and answers each with
/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`: the call it stole runs undecided. Each ioctl of the
/// seccomp notification API must fail (ENOTTY, as on an fd that is no listener), and every read
/// of the code stays refused.
fn listener_ioctls_are_refused(mechanism: fnshield::Mechanism) {
    use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
    static REFUSED: AtomicI32 = AtomicI32::new(0);
    static STOLEN: AtomicU32 = AtomicU32::new(0);
    let (task, tmp) = dirs();
    let boot = task.join("bootstrap");
    // Child block with no allowed program: the trap interceptor refuses forks through its
    // listener, which is then the one to steal.
    let choice = if mechanism == fnshield::Mechanism::SeccompTrap {
        InterceptorChoice::Trap
    } else {
        InterceptorChoice::Notify
    };
    let _s = common::install_shield(&task, &tmp, mechanism, |b| {
        b.mode(Mode::Block).interceptor(choice)
    });
    let (seen, listeners) = reachable_listeners();
    assert!(seen > 0, "the shield has a listener");
    if listeners.is_empty() {
        // Before Linux 6.9 (no thread pidfds) the supervisor's own file table is out of reach
        // altogether: there is nothing to drive (the real 5.10 kernel under .ci/qemu).
        println!("no copy of the shield's listener is reachable on this kernel");
        return;
    }
    for fd in listeners {
        std::thread::spawn(move || loop {
            let mut n = Notif::default();
            // SAFETY: ioctls with pointers to locals of the kernel's layout.
            let r = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut n) };
            if r < 0 {
                let e = errno();
                if e == libc::EINTR || e == libc::ENOENT {
                    continue;
                }
                REFUSED.store(e, Ordering::SeqCst);
                return;
            }
            let mut resp = NotifResp {
                id: n.id,
                flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
                ..NotifResp::default()
            };
            // SAFETY: as above.
            if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut resp) } == 0 {
                STOLEN.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let path = CString::new(boot.as_os_str().as_encoded_bytes()).unwrap();
    for _ in 0..200 {
        let fd = raw_syscall(
            libc::SYS_openat,
            [
                libc::AT_FDCWD as u64,
                path.as_ptr() as u64,
                (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
            ],
        );
        assert!(
            fd < 0,
            "the code was opened ({} calls stolen)",
            STOLEN.load(Ordering::SeqCst)
        );
        let pid = raw_fork();
        if pid == 0 {
            // SAFETY: the forked child leaves at once.
            unsafe { libc::_exit(0) };
        }
        assert!(pid < 0, "a fork ran while process creation blocks");
        if REFUSED.load(Ordering::SeqCst) != 0 {
            break;
        }
    }
    assert_eq!(STOLEN.load(Ordering::SeqCst), 0, "calls were stolen");
    assert_eq!(
        REFUSED.load(Ordering::SeqCst),
        libc::ENOTTY,
        "SECCOMP_IOCTL_NOTIF_RECV on the shield's listener is refused"
    );
}

#[test]
fn the_listener_cannot_be_driven_by_the_function_notify() {
    case(
        "the_listener_cannot_be_driven_by_the_function_notify",
        || listener_ioctls_are_refused(fnshield::Mechanism::SeccompNotify),
    );
}

#[test]
fn the_listener_cannot_be_driven_by_the_function_trap() {
    case("the_listener_cannot_be_driven_by_the_function_trap", || {
        listener_ioctls_are_refused(fnshield::Mechanism::SeccompTrap)
    });
}

/// Issue 13, kind 10: an emulated open of a FIFO waits for the other end in the supervisor, and
/// every notified call of every thread and child waits with it: a reader that opens first and
/// the writer that would complete it deadlocked for ever (a `mkfifo` pipeline in a child
/// shell, or two threads). The open must wait in the caller alone, and the pair must meet.
fn fifo_pair(i: InterceptorChoice) {
    let (task, tmp) = dirs();
    let fifo = tmp.join("cache/p");
    let c = CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a valid path, before the shield.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mech = if i == InterceptorChoice::Trap {
        fnshield::Mechanism::SeccompTrap
    } else {
        fnshield::Mechanism::SeccompNotify
    };
    let _s = common::install_shield(&task, &tmp, mech, |b| {
        b.mode(Mode::Block)
            .interceptor(i)
            .allow_tmp(tmp.join("cache").to_str().unwrap())
    });
    let path = c.clone();
    let reader = std::thread::spawn(move || {
        // Raw: the libc layer would decide it in this thread.
        let fd = raw_syscall(
            libc::SYS_openat,
            [
                libc::AT_FDCWD as u64,
                path.as_ptr() as u64,
                libc::O_RDONLY as u64,
            ],
        );
        assert!(fd >= 0, "the reader opens: {fd}");
        let mut b = [0u8; 8];
        // SAFETY: reads into a local buffer from the fd just opened.
        let n = unsafe { libc::read(fd as i32, b.as_mut_ptr().cast(), b.len()) };
        b[..n.max(0) as usize].to_vec()
    });
    // The reader is waiting in its open (in the kernel, or in the supervisor's emulation):
    // wait until its thread is blocked there, so that the writer really comes second.
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() }.to_string();
    let (openat, openat2) = (libc::SYS_openat.to_string(), libc::SYS_openat2.to_string());
    'wait: loop {
        for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            if t.file_name().to_str() == Some(me.as_str()) {
                continue;
            }
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.starts_with("fnshield") {
                continue;
            }
            // openat, or openat2 (the trap handler's own call on its copy).
            let syscall = std::fs::read_to_string(t.path().join("syscall")).unwrap_or_default();
            let nr = syscall.split(' ').next().unwrap_or("");
            if nr == openat || nr == openat2 {
                break 'wait;
            }
        }
        std::thread::yield_now();
    }
    let fd = raw_syscall(
        libc::SYS_openat,
        [
            libc::AT_FDCWD as u64,
            c.as_ptr() as u64,
            libc::O_WRONLY as u64,
        ],
    );
    assert!(fd >= 0, "the writer opens: {fd}");
    // SAFETY: writes a local buffer to the fd just opened, then closes it.
    unsafe {
        assert_eq!(libc::write(fd as i32, b"hi".as_ptr().cast(), 2), 2);
        libc::close(fd as i32);
    }
    assert_eq!(reader.join().unwrap(), b"hi");
}

#[test]
fn a_fifo_opened_by_two_threads_meets_notify() {
    case("a_fifo_opened_by_two_threads_meets_notify", || {
        fifo_pair(InterceptorChoice::Notify)
    });
}

#[test]
fn a_fifo_opened_by_two_threads_meets_trap() {
    case("a_fifo_opened_by_two_threads_meets_trap", || {
        fifo_pair(InterceptorChoice::Trap)
    });
}

/// A four-argument system call made with the `syscall` instruction itself.
fn raw_syscall4(nr: i64, a: [u64; 4]) -> i64 {
    let r: i64;
    // SAFETY: a system call with integer and pointer arguments the caller made valid.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("syscall", inlateout("rax") nr => r, in("rdi") a[0], in("rsi") a[1],
            in("rdx") a[2], in("r10") a[3], out("rcx") _, out("r11") _, options(nostack));
    }
    // SAFETY: as above.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("svc 0", in("x8") nr, inlateout("x0") a[0] as i64 => r, in("x1") a[1],
            in("x2") a[2], in("x3") a[3], options(nostack));
    }
    r
}

/// Issue 13, kind 4: a path write the supervisor decided and then *continued* (`utimensat`,
/// the xattr calls) is carried out by the kernel on the path as the caller's memory holds it
/// then: a thread flipping the buffer between an allowed file and another invocation's file
/// gets the second one changed. The call must act on what was decided. Here `utimensat` with
/// both times 0 (the epoch): the other file's modification time must not change.
fn race_utimes(i: InterceptorChoice, attempts: u32) {
    let (task, tmp) = dirs();
    std::fs::write(tmp.join("cache/mine"), b"m").unwrap();
    std::fs::write(tmp.join("victim"), b"v").unwrap();
    // Opened before the shield: a raw fstat on it is not a path call (glibc's fstat is
    // newfstatat with AT_EMPTY_PATH, decided like one).
    let victim = std::fs::File::open(tmp.join("victim")).unwrap();
    let mtime = || {
        use std::os::fd::AsRawFd;
        // SAFETY: an all-zero stat is valid; fstat fills it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let fd = victim.as_raw_fd() as u64;
        assert_eq!(
            raw_syscall(libc::SYS_fstat, [fd, &mut st as *mut _ as u64, 0]),
            0
        );
        (st.st_mtime, st.st_mtime_nsec)
    };
    let before = mtime();
    let _s = shield_any(&task, &tmp, i, |b| {
        b.mode(Mode::Block)
            .allow_tmp(tmp.join("cache").to_str().unwrap())
    });
    // Same length: "cache/mine" and "cache/../victim" would differ; pad the allowed one.
    let allowed = format!("{}/cache/./mine\0", tmp.display());
    let other = format!("{}/cache/../victim\0", tmp.display());
    let (a, p) = (allowed.into_bytes(), other.into_bytes());
    let len = a.len().max(p.len());
    let buf: &'static mut [u8] = Box::leak(vec![0u8; len + 1].into_boxed_slice());
    buf[..a.len()].copy_from_slice(&a);
    let addr = buf.as_mut_ptr() as usize;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let flipper = std::thread::spawn(move || {
        let mut k = 0u64;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let src = if k.is_multiple_of(2) { &p } else { &a };
            for (j, &byte) in src.iter().enumerate() {
                // SAFETY: the leaked buffer lives forever; racing writes are the point.
                unsafe { std::ptr::write_volatile((addr as *mut u8).add(j), byte) };
            }
            k += 1;
        }
    });
    let times = [libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    }; 2];
    let mut done = 0;
    for _ in 0..attempts {
        let r = raw_syscall4(
            libc::SYS_utimensat,
            [libc::AT_FDCWD as u64, addr as u64, times.as_ptr() as u64, 0],
        );
        if r == 0 {
            done += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    let after = mtime();
    println!("RACE attempts={attempts} done={done}");
    assert_eq!(after, before, "the other invocation's file was changed");
    assert!(
        done > 0,
        "the allowed file was never touched: the race did not run"
    );
    // What was allowed was done, to the allowed file.
    let mine = tmp.join("cache/mine");
    assert_eq!(
        std::fs::metadata(&mine).unwrap().modified().unwrap(),
        std::time::UNIX_EPOCH
    );
    let c = CString::new(mine.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: xattr calls with valid NUL-terminated strings and buffers.
    unsafe {
        let r = libc::setxattr(c.as_ptr(), c"user.k".as_ptr(), b"val".as_ptr().cast(), 3, 0);
        if r == 0 {
            let mut v = [0u8; 8];
            let n = libc::getxattr(c.as_ptr(), c"user.k".as_ptr(), v.as_mut_ptr().cast(), 8);
            assert_eq!(&v[..n.max(0) as usize], b"val");
            assert_eq!(libc::removexattr(c.as_ptr(), c"user.k".as_ptr()), 0);
        } else {
            // A file system without user xattrs answers the same with no shield.
            assert_eq!(errno(), libc::EOPNOTSUPP);
        }
    }
}

#[test]
fn toctou_race_on_utimensat_path_notify() {
    case("toctou_race_on_utimensat_path_notify", || {
        race_utimes(InterceptorChoice::Notify, 20_000)
    });
}

#[test]
fn toctou_race_on_utimensat_path_trap() {
    case("toctou_race_on_utimensat_path_trap", || {
        race_utimes(InterceptorChoice::Trap, 20_000)
    });
}

/// Issue 13, kind 11: a child that execs a file it may execute but not read (mode 0111) is not
/// dumpable, and an unprivileged supervisor (Lambda's) cannot read its memory: every notified
/// path call of it failed with EFAULT, in alert mode too. In alert mode it must behave as with
/// no shield (and be reported); in block mode its calls are refused and reported. (As root the
/// supervisor reads any memory: this case bites under the unprivileged sandbox profiles.)
#[test]
fn an_unreadable_child_runs_in_alert_mode() {
    case("an_unreadable_child_runs_in_alert_mode", || {
        let (task, tmp) = dirs();
        let bin = tmp.parent().unwrap().join("xcat");
        std::fs::copy(std::fs::canonicalize("/bin/cat").unwrap(), &bin).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o111)).unwrap();
        std::fs::write(tmp.join("cache/data"), b"data").unwrap();
        let s = shield(&task, &tmp, |b| {
            b.mode(Mode::Alert).interceptor(InterceptorChoice::Notify)
        });
        let out = Command::new(&bin)
            .arg(tmp.join("cache/data"))
            .arg(task.join("bootstrap"))
            .output()
            .expect("an execute-only program runs");
        assert!(out.status.success(), "{out:?}");
        assert_eq!(out.stdout, b"datasecret code");
        let evs = events(&s);
        // Its executable's name may be unreadable too (/proc/<pid>/exe needs the same access).
        assert!(
            evs.iter()
                .any(|e| e.action == Action::Alerted && e.pid != std::process::id()),
            "the child's calls are reported: {evs:#?}"
        );
    });
}

/// [`an_unreadable_child_runs_in_alert_mode`] in block mode: the execute-only child is
/// allowed to run, but where its arguments cannot be read its calls are refused (EACCES, not
/// EFAULT) and reported as blocked. As root they are read and decided: the allowed file reads.
#[test]
fn an_unreadable_child_is_refused_and_reported_in_block_mode() {
    case(
        "an_unreadable_child_is_refused_and_reported_in_block_mode",
        || {
            let (task, tmp) = dirs();
            let bin = tmp.parent().unwrap().join("xcat");
            std::fs::copy(std::fs::canonicalize("/bin/cat").unwrap(), &bin).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o111)).unwrap();
            std::fs::write(tmp.join("cache/data"), b"data").unwrap();
            let s = shield(&task, &tmp, |b| {
                b.mode(Mode::Block)
                    .interceptor(InterceptorChoice::Notify)
                    .allow_tmp(tmp.join("cache").to_str().unwrap())
                    .allow_exec(bin.to_str().unwrap())
            });
            let out = Command::new(&bin)
                .arg(tmp.join("cache/data"))
                .output()
                .expect("the allowed program starts");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("Error 14") && !stderr.contains("Bad address"),
                "{out:?}"
            );
            if out.status.success() {
                assert_eq!(out.stdout, b"data");
            } else {
                let evs = events(&s);
                assert!(
                    evs.iter()
                        .any(|e| e.action == Action::Blocked && e.pid != std::process::id()),
                    "the refusal is reported: {evs:#?}"
                );
            }
        },
    );
}
