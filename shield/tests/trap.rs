//! Kernel enforcement with the SIGSYS trap interceptor: the attack corpus.
//!
//! Every case installs a seccomp filter, so every case runs in its own process: the test
//! re-executes this binary with `FNSHIELD_CASE=<name>` and checks what the child printed and
//! how it exited.
#![allow(missing_docs)]
// Attack code has to make raw syscalls; the library itself keeps `unsafe` in `sys`.
#![allow(unsafe_code)]

mod common;
use common::{case, errno, events};

use fnshield::{Action, Details, Event, Mode, PolicyKind, Shield};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CString;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---- counting allocator (per thread) ----
struct Counting;
thread_local! { static ALLOCS: Cell<u64> = const { Cell::new(0) }; }
// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn dirs() -> (PathBuf, PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!(
        // The uid too: a directory a root run left with this pid is not writable by the
        // launcher's unprivileged profiles.
        "fnshield-trap-{}-{}",
        nix::unistd::geteuid(),
        std::process::id()
    ));
    let task = base.join("task");
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    std::fs::write(task.join("bootstrap"), b"secret code").unwrap();
    (base, task, tmp)
}

fn shield(
    task: &Path,
    tmp: &Path,
    f: impl FnOnce(fnshield::ShieldBuilder) -> fnshield::ShieldBuilder,
) -> Shield {
    common::install_shield(task, tmp, fnshield::Mechanism::SeccompTrap, f)
}

fn open_raw(path: &str, flags: i32) -> (i64, i32) {
    let c = CString::new(path).unwrap();
    // SAFETY: raw syscall with a valid NUL-terminated path.
    let r = unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c.as_ptr(), flags, 0o644) };
    (r, if r < 0 { errno() } else { 0 })
}

fn has(evs: &[Event], policy: PolicyKind, action: Action, pred: impl Fn(&Details) -> bool) -> bool {
    evs.iter()
        .any(|e| e.policy == policy && e.action == action && pred(&e.details))
}

fn connect_raw(addr: std::net::SocketAddr) -> i32 {
    let std::net::SocketAddr::V4(v4) = addr else {
        panic!()
    };
    // SAFETY: plain socket calls with a stack sockaddr_in.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(v4.ip().octets()),
            },
            sin_zero: [0; 8],
        };
        let r = libc::syscall(
            libc::SYS_connect,
            fd,
            &sa as *const _,
            std::mem::size_of_val(&sa) as u32,
        );
        let e = if r < 0 { errno() } else { 0 };
        libc::close(fd);
        e
    }
}

#[test]
fn outbound_connect_blocked_and_loopback_allowed() {
    case("outbound_connect_blocked_and_loopback_allowed", || {
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        let local = TcpListener::bind("127.0.0.1:0").unwrap();
        let (_b, task, tmp) = dirs();
        let s = shield(&task, &tmp, |b| b);
        let err = std::net::TcpStream::connect(forbidden.local_addr().unwrap()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        // A raw syscall is stopped too.
        assert_eq!(connect_raw(forbidden.local_addr().unwrap()), libc::EPERM);
        std::net::TcpStream::connect(local.local_addr().unwrap())
            .expect("127.0.0.1 is always reachable");
        let port = forbidden.local_addr().unwrap().port();
        let evs = events(&s);
        let e = evs
            .iter()
            .find(|e| matches!(&e.details, Details::Connect { port: p, .. } if *p == port))
            .expect("connect event");
        assert_eq!(
            (e.policy, e.action, e.count, e.syscall),
            (
                PolicyKind::OutboundConnectivity,
                Action::Blocked,
                2,
                Some("connect")
            )
        );
        assert!(!has(
            &evs,
            PolicyKind::OutboundConnectivity,
            Action::Blocked,
            |d| matches!(d, Details::Connect { ip, .. } if ip.to_string() == "127.0.0.1")
        ));
    });
}

#[test]
fn outbound_allowlist_by_cidr_and_port() {
    case("outbound_allowlist_by_cidr_and_port", || {
        let ok = TcpListener::bind("127.0.0.3:0").unwrap();
        let port = ok.local_addr().unwrap().port();
        let other = TcpListener::bind("127.0.0.3:0").unwrap();
        let (_b, task, tmp) = dirs();
        let _s = shield(&task, &tmp, |b| {
            b.allow_destination(format!("127.0.0.3/32:{port}"))
        });
        std::net::TcpStream::connect(ok.local_addr().unwrap()).expect("allowed");
        assert_eq!(connect_raw(other.local_addr().unwrap()), libc::EPERM);
    });
}

#[test]
fn udp_sendto_and_sendmsg_blocked() {
    case("udp_sendto_and_sendmsg_blocked", || {
        let target = UdpSocket::bind("127.0.0.2:0").unwrap();
        let to = target.local_addr().unwrap();
        let (_b, task, tmp) = dirs();
        let s = shield(&task, &tmp, |b| b);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            sock.send_to(b"x", to).unwrap_err().raw_os_error(),
            Some(libc::EPERM)
        );
        // sendmsg with msg_name
        let std::net::SocketAddr::V4(v4) = to else {
            panic!()
        };
        // SAFETY: sendmsg with stack buffers that outlive the call.
        let r = unsafe {
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as u16;
            sa.sin_port = v4.port().to_be();
            sa.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            let mut buf = *b"data";
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: 4,
            };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = (&mut sa as *mut libc::sockaddr_in).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            use std::os::fd::AsRawFd;
            libc::sendmsg(sock.as_raw_fd(), &msg, 0)
        };
        assert_eq!((r, errno()), (-1, libc::EPERM));
        // Connected UDP to an allowed peer still works (send without an address).
        let local = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(local.local_addr().unwrap()).unwrap();
        sock.send(b"ok").unwrap();
        let evs = events(&s);
        assert!(has(
            &evs,
            PolicyKind::OutboundConnectivity,
            Action::Blocked,
            |d| matches!(d, Details::Connect { port, .. } if *port == to.port())
        ));
    });
}

#[test]
fn read_handler_blocks_secrets_and_code_by_every_route() {
    case(
        "read_handler_blocks_secrets_and_code_by_every_route",
        || {
            let (_b, task, tmp) = dirs();
            let boot = task.join("bootstrap");
            std::os::unix::fs::symlink(&boot, tmp.join("link")).unwrap();
            let s = shield(&task, &tmp, |b| {
                b.allow_tmp("/".to_owned() + tmp.strip_prefix("/").unwrap().to_str().unwrap())
            });
            let tmp_s = tmp.to_str().unwrap();
            for p in [
                "/proc/self/environ".to_owned(),
                "/proc/self/root/proc/self/environ".to_owned(),
                format!("/proc/{}/environ", std::process::id()),
                boot.to_str().unwrap().to_owned(),
                format!("{tmp_s}/../task/bootstrap"),
                format!("{tmp_s}/link"),
                "/proc/self/exe".to_owned(),
            ] {
                let (r, e) = open_raw(&p, libc::O_RDONLY);
                assert_eq!((r, e), (-1, libc::EACCES), "{p}");
            }
            // std::fs goes the same way.
            assert_eq!(
                std::fs::read("/proc/self/environ")
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::EACCES)
            );
            // openat2
            let c = CString::new("/proc/self/environ").unwrap();
            let how = [0u64, 0, 0]; // flags O_RDONLY, mode, resolve
                                    // SAFETY: raw openat2 with valid pointers.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    libc::AT_FDCWD,
                    c.as_ptr(),
                    how.as_ptr(),
                    24usize,
                )
            };
            assert_eq!((r, errno()), (-1, libc::EACCES));
            // Relative to a dirfd.
            let dir = CString::new(task.to_str().unwrap()).unwrap();
            // SAFETY: plain open of a directory, then openat relative to it.
            let r = unsafe {
                let d = libc::open(dir.as_ptr(), libc::O_PATH | libc::O_DIRECTORY);
                assert!(d >= 0);
                libc::openat(d, c"bootstrap".as_ptr(), libc::O_RDONLY)
            };
            assert_eq!((r, errno()), (-1, libc::EACCES));
            let evs = events(&s);
            assert!(has(
                &evs,
                PolicyKind::ReadHandler,
                Action::Blocked,
                |d| matches!(d, Details::Path { path, .. } if path.ends_with("/environ"))
            ));
            assert!(has(
                &evs,
                PolicyKind::ReadHandler,
                Action::Blocked,
                |d| matches!(d, Details::Path { path, .. } if path.ends_with("task/bootstrap"))
            ));
        },
    );
}

#[test]
fn proc_self_fd_reopen_is_verified() {
    case("proc_self_fd_reopen_is_verified", || {
        let (_b, task, tmp) = dirs();
        // An fd opened before install, then re-opened through /proc/self/fd/N.
        let f = std::fs::File::open(task.join("bootstrap")).unwrap();
        use std::os::fd::AsRawFd;
        let _s = shield(&task, &tmp, |b| b);
        let (r, e) = open_raw(&format!("/proc/self/fd/{}", f.as_raw_fd()), libc::O_RDONLY);
        assert_eq!((r, e), (-1, libc::EACCES));
    });
}

#[test]
fn tmp_writes_blocked_except_allowed_subpaths() {
    case("tmp_writes_blocked_except_allowed_subpaths", || {
        let (_b, task, tmp) = dirs();
        std::fs::write(tmp.join("old"), b"x").unwrap();
        let cache = tmp.join("cache");
        let s = shield(&task, &tmp, |b| {
            b.tmp_read(Mode::Allow)
                .allow_tmp_write(cache.to_str().unwrap())
        });
        let t = |n: &str| tmp.join(n);
        assert_eq!(
            std::fs::write(t("x"), b"1").unwrap_err().raw_os_error(),
            Some(libc::EACCES)
        );
        std::fs::write(cache.join("ok"), b"1").expect("allowed sub-path");
        // The mode of a created file survives the shield's re-issued open.
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(cache.join("m"))
                .unwrap();
            assert_eq!(
                std::fs::metadata(cache.join("m"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        assert_eq!(
            std::fs::create_dir(t("d")).unwrap_err().raw_os_error(),
            Some(libc::EACCES)
        );
        assert_eq!(
            std::fs::remove_file(t("old")).unwrap_err().raw_os_error(),
            Some(libc::EACCES)
        );
        assert_eq!(
            std::fs::rename(t("old"), cache.join("moved"))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EACCES)
        );
        assert_eq!(
            std::os::unix::fs::symlink("/etc/passwd", t("s"))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EACCES)
        );
        assert_eq!(
            std::fs::hard_link(t("old"), cache.join("hl"))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EACCES)
        );
        assert_eq!(std::fs::read(t("old")).unwrap(), b"x", "reads are allowed");
        assert!(t("old").exists());
        let evs = events(&s);
        assert!(has(
            &evs,
            PolicyKind::ReadWriteTmp,
            Action::Blocked,
            |d| matches!(d, Details::Path { path, access: "write" } if path.ends_with("/x"))
        ));
    });
}

#[test]
fn child_processes_blocked_every_way() {
    case("child_processes_blocked_every_way", || {
        let (_b, task, tmp) = dirs();
        let s = shield(&task, &tmp, |b| b);
        // posix_spawn: the libc layer refuses the executable (EACCES, as for execve) before
        // any clone; without the layer, clone3 -> ENOSYS, then clone(CLONE_VM|CLONE_VFORK)
        // -> EPERM in the kernel.
        let e = Command::new("/bin/sh")
            .arg("-c")
            .arg("id")
            .output()
            .unwrap_err();
        let expected = if cfg!(feature = "libc-layer") {
            libc::EACCES
        } else {
            libc::EPERM
        };
        assert_eq!(e.raw_os_error(), Some(expected));
        // SAFETY: raw fork-family syscalls; none succeeds, so no child runs.
        unsafe {
            assert_eq!((libc::syscall(libc::SYS_fork), errno()), (-1, libc::EPERM));
            assert_eq!((libc::syscall(libc::SYS_vfork), errno()), (-1, libc::EPERM));
            assert_eq!(
                (
                    libc::syscall(libc::SYS_clone, libc::SIGCHLD as u64, 0, 0, 0, 0),
                    errno()
                ),
                (-1, libc::EPERM)
            );
            assert_eq!(
                (libc::syscall(libc::SYS_clone3, 0usize, 0usize), errno()),
                (-1, libc::ENOSYS)
            );
            // execve from this very process: trapped, refused, reported with argv.
            let sh = c"/bin/sh";
            let argv = [
                sh.as_ptr(),
                c"-c".as_ptr(),
                c"id".as_ptr(),
                std::ptr::null(),
            ];
            let envp = [std::ptr::null::<libc::c_char>()];
            assert_eq!(
                (
                    libc::execve(sh.as_ptr(), argv.as_ptr(), envp.as_ptr()),
                    errno()
                ),
                (-1, libc::EACCES)
            );
            // fexecve of a memfd.
            let fd = libc::memfd_create(c"payload".as_ptr(), 0);
            assert!(fd >= 0);
            let r = libc::syscall(
                libc::SYS_execveat,
                fd,
                c"".as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            );
            assert_eq!((r, errno()), (-1, libc::EACCES));
        }
        let evs = events(&s);
        assert!(has(
            &evs,
            PolicyKind::CreateChildProcess,
            Action::Blocked,
            |d| matches!(d, Details::Exec { path, argv } if path == "/bin/sh" && argv == &["/bin/sh", "-c", "id"])
        ));
        assert!(has(
            &evs,
            PolicyKind::CreateChildProcess,
            Action::Blocked,
            |d| matches!(d, Details::Exec { path, .. } if path.starts_with("/memfd:payload"))
        ));
    });
}

#[test]
fn bypass_routes_are_closed() {
    case("bypass_routes_are_closed", || {
        let (_b, task, tmp) = dirs();
        let _s = shield(&task, &tmp, |b| b);
        // SAFETY: raw syscalls with valid (or null) arguments.
        unsafe {
            let mut params = [0u8; 120];
            assert_eq!(
                (
                    libc::syscall(libc::SYS_io_uring_setup, 8, params.as_mut_ptr()),
                    errno()
                ),
                (-1, libc::ENOSYS)
            );
            // Unhooking the shield is refused.
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_IGN;
            assert_eq!(
                (
                    libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()),
                    errno()
                ),
                (-1, libc::EPERM)
            );
            // Reading the current handler is fine.
            let mut old: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(libc::SIGSYS, std::ptr::null(), &mut old), 0);
            assert_eq!(
                (
                    libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0),
                    errno()
                ),
                (-1, libc::EPERM)
            );
        }
        // Code inside the function cannot loosen the shield through the environment.
        std::env::set_var("SHIELD_MODE", "allow");
        assert_eq!(
            open_raw("/proc/self/environ", libc::O_RDONLY).1,
            libc::EACCES
        );
    });
}

#[test]
fn threads_before_and_after_install_are_covered() {
    case("threads_before_and_after_install_are_covered", || {
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        let addr = forbidden.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let before = std::thread::spawn(move || {
            rx.recv().unwrap();
            connect_raw(addr)
        });
        let (_b, task, tmp) = dirs();
        let _s = shield(&task, &tmp, |b| b);
        tx.send(()).unwrap();
        assert_eq!(
            before.join().unwrap(),
            libc::EPERM,
            "thread created before install"
        );
        assert_eq!(
            std::thread::spawn(move || connect_raw(addr))
                .join()
                .unwrap(),
            libc::EPERM,
            "thread created after install"
        );
    });
}

#[test]
fn alert_mode_lets_everything_through_and_reports() {
    case("alert_mode_lets_everything_through_and_reports", || {
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        let (_b, task, tmp) = dirs();
        // Children stay blocked so the trap interceptor is usable.
        let s = shield(&task, &tmp, |b| {
            b.mode(Mode::Alert).child_process(Mode::Block)
        });
        std::net::TcpStream::connect(forbidden.local_addr().unwrap())
            .expect("alert lets it through");
        assert_eq!(
            std::fs::read(task.join("bootstrap")).unwrap(),
            b"secret code"
        );
        std::fs::write(tmp.join("w"), b"1").unwrap();
        let evs = events(&s);
        assert!(has(
            &evs,
            PolicyKind::OutboundConnectivity,
            Action::Alerted,
            |_| true
        ));
        assert!(has(&evs, PolicyKind::ReadHandler, Action::Alerted, |_| {
            true
        }));
        assert!(has(
            &evs,
            PolicyKind::ReadWriteTmp,
            Action::Alerted,
            |d| matches!(
                d,
                Details::Path {
                    access: "write",
                    ..
                }
            )
        ));
        assert!(!evs.iter().any(|e| e.action == Action::Blocked));
    });
}

#[test]
fn forced_trap_says_that_children_it_lets_run_are_killed() {
    case(
        "forced_trap_says_that_children_it_lets_run_are_killed",
        || {
            use std::os::unix::process::ExitStatusExt;
            let (_b, task, tmp) = dirs();
            let (_s, report) = common::install_shield_reporting(
                &task,
                &tmp,
                fnshield::Mechanism::SeccompTrap,
                |b| {
                    b.interceptor(fnshield::InterceptorChoice::Trap)
                        .child_process(Mode::Alert)
                },
            );
            let child = report
                .policy(PolicyKind::CreateChildProcess)
                .expect("child line");
            // What the user observes: the allowed child dies at its first intercepted call ...
            let status = Command::new("/bin/true").status().expect("spawned");
            assert_eq!(status.signal(), Some(libc::SIGSYS), "{status:?}");
            // ... and the report says so, instead of only "fully enforced".
            assert!(
                child.reason.contains("killed by SIGSYS"),
                "{}",
                child.reason
            );
        },
    );
}

#[test]
fn runtime_tightening_takes_effect_and_cannot_loosen() {
    case("runtime_tightening_takes_effect_and_cannot_loosen", || {
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        let (_b, task, tmp) = dirs();
        let s = shield(&task, &tmp, |b| b.outbound(Mode::Alert));
        assert_eq!(connect_raw(forbidden.local_addr().unwrap()), 0);
        assert_eq!(
            s.tighten(PolicyKind::OutboundConnectivity, Mode::Block),
            Some(Mode::Block)
        );
        assert_eq!(connect_raw(forbidden.local_addr().unwrap()), libc::EPERM);
        assert_eq!(
            s.tighten(PolicyKind::OutboundConnectivity, Mode::Allow),
            Some(Mode::Block)
        );
        assert_eq!(connect_raw(forbidden.local_addr().unwrap()), libc::EPERM);
    });
}

#[test]
fn trap_path_does_not_allocate() {
    case("trap_path_does_not_allocate", || {
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        let addr = forbidden.local_addr().unwrap();
        let (_b, task, tmp) = dirs();
        let _s = shield(&task, &tmp, |b| b.allow_tmp(tmp.to_str().unwrap()));
        let ok = CString::new(tmp.join("cache").to_str().unwrap()).unwrap();
        let before = ALLOCS.with(|c| c.get());
        for _ in 0..100 {
            // SAFETY: raw opens of valid C strings.
            unsafe {
                let fd = libc::open(ok.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
                assert!(fd >= 0);
                libc::close(fd);
                assert_eq!(
                    libc::open(c"/proc/self/environ".as_ptr(), libc::O_RDONLY),
                    -1
                );
            }
            assert_eq!(connect_raw(addr), libc::EPERM);
        }
        assert_eq!(
            ALLOCS.with(|c| c.get()) - before,
            0,
            "the trap path allocated"
        );
    });
}

#[test]
fn kernel_refuses_seccomp() {
    case("kernel_refuses_seccomp", || {
        // Make seccomp(2) and prctl(2) fail with EPERM, much as Lambda is reported to.
        use fnshield::internals::filter::{Filter, FilterSpec, ReturnAction as Ret, SyscallPlan};
        let spec = FilterSpec {
            arch: fnshield::internals::arch::AUDIT_ARCH,
            foreign_arch: Ret::KillProcess,
            syscalls: vec![
                SyscallPlan {
                    nr: libc::SYS_seccomp,
                    branches: vec![],
                    default: Ret::Errno(libc::EPERM as u16),
                },
                SyscallPlan {
                    nr: libc::SYS_prctl,
                    branches: vec![],
                    default: Ret::Errno(libc::EPERM as u16),
                },
            ],
            exempt_ip: None,
            exempt_actions: vec![],
            otherwise: Ret::Allow,
        };
        let f = Filter::try_from(&spec).unwrap();
        // SAFETY: installs a filter built from valid instructions in this (test-only) process.
        unsafe {
            // Under the launcher's lambda-nnp profile prctl is refused and NoNewPrivs is set.
            let nnp = std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .contains("NoNewPrivs:\t1");
            assert!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 || nnp);
            let prog = libc::sock_fprog {
                len: f.len() as u16,
                filter: f.insns().as_ptr() as *mut libc::sock_filter,
            };
            assert_eq!(libc::syscall(libc::SYS_seccomp, 1, 0, &prog as *const _), 0);
        }
        let (_b, task, tmp) = dirs();
        let env = fnshield::Env::from_pairs([("LAMBDA_TASK_ROOT", task.to_str().unwrap())]);
        let strict = Shield::builder()
            .env(env.clone())
            .tmp_root(tmp.to_str().unwrap())
            .sinks(["json"])
            .require_enforcement(true)
            .require_kernel_enforcement(true)
            .build()
            .unwrap();
        let err = strict.install().unwrap_err();
        assert!(
            err.to_string().contains("require_kernel_enforcement"),
            "{err}"
        );
        let lax = Shield::builder()
            .env(env)
            .tmp_root(tmp.to_str().unwrap())
            .sinks(["json"])
            .build()
            .unwrap();
        let report = lax.install().expect("best effort");
        assert!(!report.is_fully_enforced());
        for p in &report.policies {
            if cfg!(feature = "libc-layer") {
                // The libc layer enforces in process, partially, and says what it misses.
                assert_eq!(
                    p.state,
                    fnshield::EnforcementState::PartiallyEnforced,
                    "{report}"
                );
                assert_eq!(p.mechanism, fnshield::Mechanism::Libc, "{report}");
                assert!(p.reason.contains("seccomp refused"), "{report}");
                assert!(p.reason.contains("not covered: raw syscalls"), "{report}");
            } else {
                assert_eq!(p.state, fnshield::EnforcementState::NotEnforced, "{report}");
            }
        }
        println!("REPORT {report}");
    });
}

/// A DNS answer: `name` A `ip`, TTL 300, for a query of `name`.
fn dns_answer(name: &str, ip: [u8; 4]) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]); // root, QTYPE A, QCLASS IN
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]); // ptr, A, IN, TTL 300, len 4
    m.extend_from_slice(&ip);
    m
}

#[test]
fn dns_answers_received_with_recvmsg_teach_host_names() {
    case("dns_answers_received_with_recvmsg_teach_host_names", || {
        let target = TcpListener::bind("127.0.0.4:0").unwrap();
        let port = target.local_addr().unwrap().port();
        let resolver =
            UdpSocket::bind("127.0.0.155:53").expect("binding 127.0.0.155:53 needs root");
        let (_b, task, tmp) = dirs();
        let env = fnshield::Env::from_pairs([("LAMBDA_TASK_ROOT", task.to_str().unwrap())]);
        let s = Shield::builder()
            .env(env)
            .resolv_conf("nameserver 127.0.0.155\n")
            .tmp_root(tmp.to_str().unwrap())
            .sinks(["json"])
            .allow_destination(format!("api.test.internal:{port}"))
            .build()
            .unwrap();
        s.install().unwrap();
        assert_eq!(
            connect_raw(target.local_addr().unwrap()),
            libc::EPERM,
            "not learnt yet"
        );
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        resolver
            .send_to(
                &dns_answer("api.test.internal", [127, 0, 0, 4]),
                client.local_addr().unwrap(),
            )
            .unwrap();
        // SAFETY: recvmsg into stack buffers that outlive the call.
        let r = unsafe {
            let mut buf = [0u8; 512];
            let mut from: libc::sockaddr_in = std::mem::zeroed();
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            use std::os::fd::AsRawFd;
            libc::recvmsg(client.as_raw_fd(), &mut msg, 0)
        };
        assert!(r > 0);
        assert_eq!(
            connect_raw(target.local_addr().unwrap()),
            0,
            "api.test.internal was learnt from recvmsg"
        );
    });
}

#[test]
fn attack_routes_in_alert_mode_succeed_and_alert() {
    case("attack_routes_in_alert_mode_succeed_and_alert", || {
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        let udp_target = UdpSocket::bind("127.0.0.2:0").unwrap();
        let (_b, task, tmp) = dirs();
        let boot = task.join("bootstrap");
        std::os::unix::fs::symlink(&boot, tmp.join("link")).unwrap();
        let early = std::fs::File::open(&boot).unwrap();
        // Children stay blocked, so the trap interceptor is the one in use.
        let s = shield(&task, &tmp, |b| {
            b.mode(Mode::Alert).child_process(Mode::Block)
        });
        assert_eq!(
            connect_raw(forbidden.local_addr().unwrap()),
            0,
            "raw connect goes through"
        );
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.send_to(b"x", udp_target.local_addr().unwrap())
            .expect("sendto goes through");
        let tmp_s = tmp.to_str().unwrap();
        use std::os::fd::AsRawFd;
        for p in [
            "/proc/self/root/proc/self/environ".to_owned(),
            format!("{tmp_s}/../task/bootstrap"),
            format!("{tmp_s}/link"),
            format!("/proc/self/fd/{}", early.as_raw_fd()),
        ] {
            let (r, e) = open_raw(&p, libc::O_RDONLY);
            assert!(r >= 0, "{p}: errno {e}");
            // SAFETY: closing the fd we just opened.
            unsafe { libc::close(r as i32) };
        }
        let c = CString::new("/proc/self/environ").unwrap();
        let how = [0u64, 0, 0];
        // SAFETY: raw openat2 with valid pointers.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                c.as_ptr(),
                how.as_ptr(),
                24usize,
            )
        };
        assert!(r >= 0, "openat2 goes through");
        std::fs::write(tmp.join("w"), b"1").expect("tmp write goes through");
        let evs = events(&s);
        let alerted = |pol| {
            evs.iter()
                .filter(|e| e.policy == pol && e.action == Action::Alerted)
                .count()
        };
        assert!(
            alerted(PolicyKind::OutboundConnectivity) >= 2,
            "connect and sendto alerts"
        );
        assert!(
            alerted(PolicyKind::ReadHandler) >= 3,
            "read_handler alerts for each route"
        );
        assert!(has(
            &evs,
            PolicyKind::ReadWriteTmp,
            Action::Alerted,
            |d| matches!(
                d,
                Details::Path {
                    access: "write",
                    ..
                }
            )
        ));
        assert!(
            !evs.iter().any(|e| e.action == Action::Blocked),
            "nothing blocked in alert mode"
        );
    });
}

/// The SIGSYS handler runs on the trapping thread's own stack. glibc's `posix_spawn` runs its
/// child, which calls `execve`, on a stack of 32 KiB plus the argument vector's size, rounded
/// to pages (36 KiB for a short command line, as strace shows): a trapped `execve` must fit in
/// that, with a guard page below to catch an overflow. Before the emulations got their own
/// frames, the dispatcher's frame alone held every emulation's buffers (26 KiB in release) and
/// the child died with SIGSEGV; measured by painting the stack, a trapped `execve` now needs
/// 30.5 KiB in a debug build, signal frame included. Where the libc layer is built, its `execve` hook
/// handles this call in process (no trap), so the trap path itself is measured by the
/// seccomp-alone run (`--no-default-features`, in `.ci/run`); glibc's `posix_spawn` child
/// calls glibc's internal `execve`, which no hook sees, so there it is always the trap path.
#[test]
fn trapped_calls_fit_on_a_posix_spawn_sized_stack() {
    case("trapped_calls_fit_on_a_posix_spawn_sized_stack", || {
        let (_b, task, tmp) = dirs();
        let _s = shield(&task, &tmp, |b| {
            b.interceptor(fnshield::InterceptorChoice::Trap)
                .child_process(Mode::Alert)
        });
        extern "C" fn child(_: *mut libc::c_void) -> libc::c_int {
            let argv = [c"/".as_ptr(), std::ptr::null()];
            let envp = [std::ptr::null::<libc::c_char>()];
            // SAFETY: valid, NUL-terminated arguments; "/" is a directory, so the exec fails
            // (EACCES) after the handler decided and reported it (alert mode).
            let r = unsafe { libc::execve(c"/".as_ptr(), argv.as_ptr(), envp.as_ptr()) };
            let ok = r == -1 && errno() == libc::EACCES;
            // SAFETY: ends this child (it shares our memory: no unwinding, no destructors).
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        const STACK: usize = 36 * 1024;
        const GUARD: usize = 4096;
        // SAFETY: a fresh anonymous mapping; its lowest page becomes the guard.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                GUARD + STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        // SAFETY: the first page of the mapping above.
        assert_eq!(unsafe { libc::mprotect(base, GUARD, libc::PROT_NONE) }, 0);
        // SAFETY: CLONE_VM|CLONE_VFORK as posix_spawn does: this thread waits until the child
        // exits; the child runs only `child` on the mapped stack (whose top is passed).
        let pid = unsafe {
            libc::clone(
                child,
                (base as *mut u8).add(GUARD + STACK) as *mut libc::c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                std::ptr::null_mut(),
            )
        };
        assert!(pid > 0);
        let mut status = 0;
        // SAFETY: our child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child on a 36 KiB stack: status {status:#x} (11 = SIGSEGV: the handler overflowed)"
        );
    });
}
