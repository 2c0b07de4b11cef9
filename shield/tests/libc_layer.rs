//! The in-process libc layer, in its three configurations:
//! 1. seccomp + libc (the default): ordinary calls are decided in process, raw syscalls by the
//!    kernel filter;
//! 2. libc alone, with seccomp refused as on Lambda (`prctl` EPERM, NoNewPrivs unset: the
//!    `lambda` profile of `fnshield-sandbox`, applied to the case process itself);
//! 3. seccomp alone: the `libc-layer` feature off (`cargo test -p fnshield
//!    --no-default-features`), where these cases check that the report says so.
//!
//! Every case installs a seccomp filter (ours or the sandbox's), so every case runs in its own
//! process.
#![allow(missing_docs)]
// Attack code has to call libc directly; the library itself keeps `unsafe` in `sys`.
#![allow(unsafe_code)]

mod common;
use common::{case, errno, events};

use fnshield::{
    Action, Details, EnforcementState, Event, LibcLayer, Mechanism, PolicyKind, Shield,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CString;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::ffi::OsStrExt;
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

const LAYER: bool = cfg!(feature = "libc-layer");

fn dirs() -> (PathBuf, PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("fnshield-libc-{}", std::process::id()));
    let task = base.join("task");
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    std::fs::write(task.join("bootstrap"), b"secret code").unwrap();
    std::fs::write(tmp.join("old"), b"x").unwrap();
    (base, task, tmp)
}

/// Refuse seccomp as Lambda does: apply the `lambda` sandbox profile (prctl EPERM, NoNewPrivs
/// unset, `int 0x80` killed) to this case process. Root may install it without NoNewPrivs.
fn refuse_seccomp_like_lambda() {
    let prog = fnshield_tests::sandbox::Profile::Lambda.program();
    assert_eq!(fnshield_tests::sandbox::set_mode_filter(&prog, 0), 0);
}

fn shield_with(
    task: &Path,
    tmp: &Path,
    f: impl FnOnce(fnshield::ShieldBuilder) -> fnshield::ShieldBuilder,
) -> (Shield, fnshield::Enforcement) {
    let env = fnshield::Env::from_pairs([
        ("LAMBDA_TASK_ROOT", task.to_str().unwrap()),
        ("AWS_LAMBDA_FUNCTION_NAME", "shield-test"),
    ]);
    let b = Shield::builder()
        .env(env)
        .resolv_conf("nameserver 127.0.0.1\n")
        .tmp_root(tmp.to_str().unwrap())
        .allow_tmp(tmp.join("cache").to_str().unwrap())
        .wipe_tmp(false)
        .sinks(["json"])
        .on_event(|e| common::EVENTS.lock().unwrap().push(e.clone()));
    let s = f(b).build().expect("valid config");
    let report = s.install().expect("install");
    let report = report.clone();
    (s, report)
}

fn has(evs: &[Event], p: PolicyKind, a: Action, pred: impl Fn(&Details) -> bool) -> bool {
    evs.iter()
        .any(|e| e.policy == p && e.action == a && pred(&e.details))
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// Every route through a libc entry point that FunctionShield missed, and the ordinary ones,
/// refused by the libc layer alone.
fn libc_routes_blocked(task: &Path, tmp: &Path) {
    let boot = task.join("bootstrap");
    // Reads of the function's code and secrets: std, fopen, openat with a directory fd,
    // /proc/self/environ, a raw syscall() through libc.
    assert_eq!(
        std::fs::read(&boot).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    let cb = cpath(&boot);
    // SAFETY: valid NUL-terminated strings; fopen returns NULL or a FILE we close.
    unsafe {
        let f = libc::fopen(cb.as_ptr(), c"r".as_ptr());
        assert!(f.is_null());
        assert_eq!(errno(), libc::EACCES);
    }
    // openat relative to a directory fd (here "/"), not an absolute path.
    let root = std::fs::File::open("/").unwrap();
    let rel = cpath(boot.strip_prefix("/").unwrap());
    // SAFETY: openat with a valid directory fd and path.
    let r = unsafe {
        use std::os::fd::AsRawFd;
        libc::openat(root.as_raw_fd(), rel.as_ptr(), libc::O_RDONLY)
    };
    assert_eq!((r, errno()), (-1, libc::EACCES), "openat with a dirfd");
    assert_eq!(
        std::fs::read("/proc/self/environ").unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    // SAFETY: raw syscall() with a valid path.
    let r = unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, cb.as_ptr(), 0, 0) };
    assert_eq!((r, errno()), (-1, libc::EACCES), "syscall(SYS_openat)");

    // /tmp writes: mkdir and rename in the root, a plain write; the allowed sub-path works.
    assert_eq!(
        std::fs::create_dir(tmp.join("planted")).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        std::fs::rename(tmp.join("old"), tmp.join("new"))
            .unwrap_err()
            .kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        std::fs::write(tmp.join("x"), b"1").unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    std::fs::write(tmp.join("cache/ok"), b"1").expect("allowed sub-path");
    // Through libc's bind and inotify_add_watch: an AF_UNIX socket file in the root, a watch
    // on the root; both in the allowed sub-path work.
    assert_eq!(
        std::os::unix::net::UnixListener::bind(tmp.join("sock"))
            .unwrap_err()
            .kind(),
        ErrorKind::PermissionDenied
    );
    std::os::unix::net::UnixListener::bind(tmp.join("cache/sock")).expect("allowed bind");
    // SAFETY: inotify_init1 takes flags only; inotify_add_watch gets a NUL-terminated path.
    let ifd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    assert!(ifd >= 0);
    let root = cpath(tmp);
    // SAFETY: as above.
    let w = unsafe { libc::inotify_add_watch(ifd, root.as_ptr(), libc::IN_ALL_EVENTS) };
    assert_eq!(
        (w, errno()),
        (-1, libc::EACCES),
        "inotify_add_watch on the tmp root"
    );
    let cache = cpath(&tmp.join("cache"));
    // SAFETY: as above.
    let w = unsafe { libc::inotify_add_watch(ifd, cache.as_ptr(), libc::IN_ALL_EVENTS) };
    assert!(
        w >= 0,
        "inotify_add_watch on the allowed sub-path: errno {}",
        errno()
    );

    // Outbound: TCP connect, UDP sendto, IPv6 with a v4-mapped address.
    let far = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = far.local_addr().unwrap().port();
    assert_eq!(
        TcpStream::connect(("127.0.0.2", port))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EPERM)
    );
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(
        u.send_to(b"exfil", ("127.0.0.2", port))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EPERM)
    );
    if let Ok(u6) = UdpSocket::bind("[::]:0") {
        let mapped: std::net::SocketAddr = format!("[::ffff:127.0.0.2]:{port}").parse().unwrap();
        assert_eq!(
            u6.send_to(b"exfil", mapped).unwrap_err().raw_os_error(),
            Some(libc::EPERM),
            "v4-mapped IPv6"
        );
    }

    // Child processes: std's Command, system(), execveat().
    let e = Command::new("sh").arg("-c").arg("id").output().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    // SAFETY: system with a valid command string.
    let r = unsafe { libc::system(c"id".as_ptr()) };
    assert_eq!((r, errno()), (-1, libc::EACCES), "system()");
    let argv = [c"sh".as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let envp = [std::ptr::null_mut::<libc::c_char>()];
    // SAFETY: execveat with valid strings; it fails, so this process goes on.
    let r = unsafe {
        libc::execveat(
            libc::AT_FDCWD,
            c"/bin/sh".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            0,
        )
    };
    assert_eq!((r, errno()), (-1, libc::EACCES), "execveat");
}

/// The entry points added after the first round: name lookups under the default
/// `resolve_names = "allowed"`, the `execl` family (variadic, with arguments on the stack too),
/// `fork` and `vfork` where no child process may run.
fn more_routes_blocked(s: &Shield) {
    // getaddrinfo of a name that no allow entry covers: "name not found", before any query
    // (no resolver is asked: the refusal comes before libc's own code runs).
    let name = c"exfil-0123456789abcdef.evil.invalid";
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings and out-pointer.
    let r =
        unsafe { libc::getaddrinfo(name.as_ptr(), std::ptr::null(), std::ptr::null(), &mut res) };
    assert_eq!(
        r,
        libc::EAI_NONAME,
        "getaddrinfo of a name that is not allowed"
    );
    assert!(res.is_null());
    // Numeric addresses and names from /etc/hosts are answered without a query: allowed.
    for ok in [c"127.0.0.1", c"127.1", c"::1", c"localhost"] {
        // SAFETY: as above; the list is freed.
        unsafe {
            let r = libc::getaddrinfo(ok.as_ptr(), std::ptr::null(), std::ptr::null(), &mut res);
            assert_eq!(r, 0, "getaddrinfo({ok:?})");
            libc::freeaddrinfo(res);
        }
    }
    extern "C" {
        fn gethostbyname(name: *const libc::c_char) -> *mut libc::hostent;
        fn gethostbyname_r(
            name: *const libc::c_char,
            ret: *mut libc::hostent,
            buf: *mut libc::c_char,
            len: libc::size_t,
            result: *mut *mut libc::hostent,
            h_errnop: *mut libc::c_int,
        ) -> libc::c_int;
        fn __h_errno_location() -> *mut libc::c_int;
    }
    // SAFETY: valid C string; h_errno is this thread's.
    unsafe {
        *__h_errno_location() = 0;
        assert!(gethostbyname(c"other.evil.invalid".as_ptr()).is_null());
        assert_eq!(*__h_errno_location(), 1, "HOST_NOT_FOUND");
        let mut h: libc::hostent = std::mem::zeroed();
        let mut buf = [0 as libc::c_char; 1024];
        let mut out: *mut libc::hostent = std::ptr::dangling_mut();
        let mut herr = 0;
        let r = gethostbyname_r(
            c"third.evil.invalid".as_ptr(),
            &mut h,
            buf.as_mut_ptr(),
            buf.len(),
            &mut out,
            &mut herr,
        );
        assert_eq!((r, out.is_null(), herr), (0, true, 1), "gethostbyname_r");
    }

    // The execl family: refused with EACCES, the event names the program and every argument,
    // including the ones past the argument registers.
    extern "C" {
        fn execl(path: *const libc::c_char, arg: *const libc::c_char, ...) -> libc::c_int;
        fn execlp(file: *const libc::c_char, arg: *const libc::c_char, ...) -> libc::c_int;
        fn execle(path: *const libc::c_char, arg: *const libc::c_char, ...) -> libc::c_int;
    }
    let nul = std::ptr::null::<libc::c_char>();
    let envp = [nul];
    // SAFETY: NULL-terminated lists of valid C strings; the calls fail and return.
    unsafe {
        let r = execl(
            c"/bin/echo".as_ptr(),
            c"echo".as_ptr(),
            c"1".as_ptr(),
            c"2".as_ptr(),
            c"3".as_ptr(),
            c"4".as_ptr(),
            c"5".as_ptr(),
            c"6".as_ptr(),
            c"7".as_ptr(),
            nul,
        );
        assert_eq!((r, errno()), (-1, libc::EACCES), "execl");
        let r = execlp(
            c"sh".as_ptr(),
            c"sh".as_ptr(),
            c"-c".as_ptr(),
            c"execlp".as_ptr(),
            nul,
        );
        assert_eq!((r, errno()), (-1, libc::EACCES), "execlp");
        let r = execle(
            c"/bin/sh".as_ptr(),
            c"sh".as_ptr(),
            c"-c".as_ptr(),
            c"execle".as_ptr(),
            nul,
            envp.as_ptr(),
        );
        assert_eq!((r, errno()), (-1, libc::EACCES), "execle");
        // No child process may run: fork and vfork are refused as the kernel path refuses them.
        assert_eq!((libc::fork(), errno()), (-1, libc::EPERM), "fork");
        extern "C" {
            fn vfork() -> libc::pid_t;
        }
        assert_eq!((vfork(), errno()), (-1, libc::EPERM), "vfork");
    }

    let evs = events(s);
    let dns = |n: &str| {
        let want = format!("DNS query for {n}");
        has(
            &evs,
            PolicyKind::OutboundConnectivity,
            Action::Blocked,
            |d| matches!(d, Details::Bypass { what } if *what == want),
        )
    };
    assert!(dns("exfil-0123456789abcdef.evil.invalid"), "{evs:#?}");
    assert!(dns("other.evil.invalid"), "{evs:#?}");
    assert!(dns("third.evil.invalid"), "{evs:#?}");
    assert!(
        !evs.iter()
            .any(|e| format!("{:?}", e.details).contains("localhost")),
        "{evs:#?}"
    );
    let exec = |p: &str, args: &[&str]| {
        has(
            &evs,
            PolicyKind::CreateChildProcess,
            Action::Blocked,
            |d| matches!(d, Details::Exec { path, argv } if path.ends_with(p) && argv == args),
        )
    };
    assert!(
        exec("/echo", &["echo", "1", "2", "3", "4", "5", "6", "7"]),
        "execl: {evs:#?}"
    );
    assert!(exec("/sh", &["sh", "-c", "execlp"]), "execlp: {evs:#?}");
    assert!(exec("/sh", &["sh", "-c", "execle"]), "execle: {evs:#?}");
    assert!(
        evs.iter()
            .any(|e| e.policy == PolicyKind::CreateChildProcess
                && e.action == Action::Blocked
                && matches!(e.details, Details::Fork)),
        "fork: {evs:#?}"
    );
}

fn assert_events(s: &Shield, task: &Path) {
    let evs = events(s);
    let boot = task.join("bootstrap").to_string_lossy().into_owned();
    assert!(has(&evs, PolicyKind::ReadHandler, Action::Blocked, |d| {
        matches!(d, Details::Path { path, .. } if *path == boot)
    }));
    assert!(has(&evs, PolicyKind::ReadWriteTmp, Action::Blocked, |d| {
        matches!(d, Details::Path { path, access: "write" } if path.ends_with("/planted"))
    }));
    assert!(has(
        &evs,
        PolicyKind::OutboundConnectivity,
        Action::Blocked,
        |d| matches!(d, Details::Connect { ip, .. } if ip.to_string() == "127.0.0.2")
    ));
    // The refused spawn names the program it found on PATH and its arguments.
    assert!(
        has(&evs, PolicyKind::CreateChildProcess, Action::Blocked, |d| {
            matches!(d, Details::Exec { path, argv } if path.ends_with("/sh") && argv == &["sh", "-c", "id"])
        }),
        "{evs:#?}"
    );
}

#[test]
fn libc_alone_enforces_every_libc_route() {
    case("libc_alone_enforces_every_libc_route", || {
        refuse_seccomp_like_lambda();
        let (_b, task, tmp) = dirs();
        let (s, report) = shield_with(&task, &tmp, |b| b);
        if !LAYER {
            assert_eq!(report.libc_layer, LibcLayer::NotBuilt, "{report}");
            for p in &report.policies {
                assert_eq!(p.state, EnforcementState::NotEnforced, "{report}");
            }
            return;
        }
        assert_eq!(report.interceptor, Mechanism::Libc, "{report}");
        assert_eq!(report.libc_layer, LibcLayer::Active, "{report}");
        for p in &report.policies {
            assert_eq!(p.state, EnforcementState::PartiallyEnforced, "{report}");
            assert_eq!(p.mechanism, Mechanism::Libc, "{report}");
            assert!(p.reason.contains("prctl"), "names the refusal: {report}");
        }
        libc_routes_blocked(&task, &tmp);
        assert_events(&s, &task);
        more_routes_blocked(&s);
    });
}

#[test]
fn libc_alone_require_kernel_enforcement_fails_closed() {
    case("libc_alone_require_kernel_enforcement_fails_closed", || {
        refuse_seccomp_like_lambda();
        let (_b, task, tmp) = dirs();
        let env = fnshield::Env::from_pairs([("LAMBDA_TASK_ROOT", task.to_str().unwrap())]);
        let strict = Shield::builder()
            .env(env)
            .tmp_root(tmp.to_str().unwrap())
            .sinks(["json"])
            .require_kernel_enforcement(true)
            .build()
            .unwrap();
        let err = strict.install().unwrap_err();
        assert!(
            err.to_string().contains("require_kernel_enforcement"),
            "{err}"
        );
        // Nothing was left half-installed: the code is still readable.
        assert!(std::fs::read(task.join("bootstrap")).is_ok());
    });
}

#[test]
fn seccomp_and_libc_block_every_libc_route() {
    case("seccomp_and_libc_block_every_libc_route", || {
        let (_b, task, tmp) = dirs();
        let (s, report) = shield_with(&task, &tmp, |b| b);
        assert_eq!(report.interceptor, Mechanism::SeccompTrap, "{report}");
        let want = if LAYER {
            LibcLayer::Active
        } else {
            LibcLayer::NotBuilt
        };
        assert_eq!(report.libc_layer, want, "{report}");
        if LAYER {
            libc_routes_blocked(&task, &tmp);
            assert_events(&s, &task);
            more_routes_blocked(&s);
        }
    });
}

#[test]
fn thread_with_every_signal_blocked_is_decided_not_killed() {
    case(
        "thread_with_every_signal_blocked_is_decided_not_killed",
        || {
            let (_b, task, tmp) = dirs();
            let ok = TcpListener::bind("127.0.0.1:0").unwrap();
            let ok_port = ok.local_addr().unwrap().port();
            let (_s, _report) = shield_with(&task, &tmp, |b| b);
            if !LAYER {
                // Seccomp alone: the kernel resets a blocked SIGSYS to its default action when the
                // trap fires, so such a thread's first trapped call kills the process (the README
                // says so). That is what the layer exists to prevent; nothing to check here.
                return;
            }
            let boot = cpath(&task.join("bootstrap"));
            let t = std::thread::spawn(move || {
                // Block every signal, as librdkafka's threads do.
                // SAFETY: a full set, applied to this thread; we read back the mask.
                let mask = unsafe {
                    let mut all: libc::sigset_t = std::mem::zeroed();
                    libc::sigfillset(&mut all);
                    assert_eq!(
                        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut()),
                        0
                    );
                    let mut now: libc::sigset_t = std::mem::zeroed();
                    libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
                    now
                };
                // SAFETY: `mask` is a valid set.
                let sigsys_blocked = unsafe { libc::sigismember(&mask, libc::SIGSYS) } == 1;
                // Open, connect, spawn under the block policy.
                let host =
                    std::fs::read("/etc/hostname").is_ok() || Path::new("/etc/hostname").exists();
                let conn = TcpStream::connect(("127.0.0.1", ok_port)).is_ok();
                let spawn = Command::new("/bin/true")
                    .status()
                    .map_err(|e| e.raw_os_error());
                // A raw syscall() for the function's code: decided, refused.
                // SAFETY: raw syscall() with a valid path.
                let raw = unsafe {
                    let r = libc::syscall(libc::SYS_openat, libc::AT_FDCWD, boot.as_ptr(), 0, 0);
                    (r, errno())
                };
                (sigsys_blocked, host, conn, spawn, raw)
            });
            let (sigsys_blocked, host, conn, spawn, raw) = t.join().unwrap();
            assert!(!sigsys_blocked, "the layer keeps SIGSYS deliverable");
            assert_eq!(spawn, Err(Some(libc::EACCES)));
            assert!(host);
            assert!(conn, "connect to 127.0.0.1 is allowed");
            assert_eq!(raw, (-1, libc::EACCES));
            println!("SURVIVED");
        },
    );
}

#[test]
fn sigsys_handler_cannot_be_replaced_or_masked() {
    case("sigsys_handler_cannot_be_replaced_or_masked", || {
        refuse_seccomp_like_lambda();
        let (_b, task, tmp) = dirs();
        let (_s, _report) = shield_with(&task, &tmp, |b| b);
        if !LAYER {
            return;
        }
        // SAFETY: signal/sigaction calls with valid arguments; all are refused or harmless.
        unsafe {
            assert_eq!(libc::signal(libc::SIGSYS, libc::SIG_IGN), libc::SIG_ERR);
            assert_eq!(errno(), libc::EPERM);
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_IGN;
            assert_eq!(libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()), -1);
            assert_eq!(errno(), libc::EPERM);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGSYS);
            assert_eq!(
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
                0
            );
            let mut now: libc::sigset_t = std::mem::zeroed();
            libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
            assert_eq!(libc::sigismember(&now, libc::SIGSYS), 0);
        }
    });
}

/// Libraries loaded at run time with `dlopen` call through the executable's definitions: the
/// linker exports them in the executable's dynamic symbol table (libc defines the same names),
/// and the executable comes first in the global lookup scope. A tiny shared library built here
/// with the system C compiler opens the function's code; the layer refuses it.
#[test]
fn dlopen_library_calls_are_decided() {
    case("dlopen_library_calls_are_decided", || {
        let (base, task, tmp) = dirs();
        let src = base.join("probe.c");
        let lib = base.join("libprobe.so");
        std::fs::write(
            &src,
            "#include <fcntl.h>\n#include <errno.h>\n#include <unistd.h>\n\
             int probe_open(const char *p) {\n\
               int fd = open(p, O_RDONLY);\n\
               if (fd < 0) return errno;\n\
               close(fd);\n\
               return 0;\n\
             }\n",
        )
        .unwrap();
        let built = Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(&src)
            .status()
            .expect("the system C compiler (cc) links Rust binaries, so it is installed");
        assert!(built.success(), "cc failed: {built:?}");
        let allowed = tmp.join("cache/ok");
        std::fs::write(&allowed, b"ok").unwrap();
        refuse_seccomp_like_lambda();
        let (s, _report) = shield_with(&task, &tmp, |b| b);
        let lib = cpath(&lib);
        // SAFETY: dlopen of the library just built; dlsym of its one function, whose C type is
        // `int (const char *)`.
        let probe: extern "C" fn(*const libc::c_char) -> libc::c_int = unsafe {
            let h = libc::dlopen(lib.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
            assert!(!h.is_null(), "dlopen");
            let f = libc::dlsym(h, c"probe_open".as_ptr());
            assert!(!f.is_null(), "dlsym");
            std::mem::transmute::<
                *mut libc::c_void,
                extern "C" fn(*const libc::c_char) -> libc::c_int,
            >(f)
        };
        let boot = task.join("bootstrap");
        let got = probe(cpath(&boot).as_ptr());
        assert_eq!(probe(cpath(&allowed).as_ptr()), 0, "an allowed open");
        if !LAYER {
            // Nothing enforces with seccomp refused and no layer.
            assert_eq!(got, 0);
            return;
        }
        assert_eq!(got, libc::EACCES, "the library's open was decided");
        let boot = boot.to_string_lossy().into_owned();
        let evs = events(&s);
        assert!(
            has(&evs, PolicyKind::ReadHandler, Action::Blocked, |d| {
                matches!(d, Details::Path { path, .. } if *path == boot)
            }),
            "{evs:#?}"
        );
    });
}

static IN_HANDLER: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
static BOOT: std::sync::OnceLock<CString> = std::sync::OnceLock::new();

extern "C" fn on_usr1(_: libc::c_int) {
    let p = BOOT.get().unwrap();
    // SAFETY: open/close are async-signal-safe; the path is a valid C string.
    let r = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY) };
    let e = errno();
    IN_HANDLER.store(
        if r < 0 { -(e as i64) } else { r as i64 },
        std::sync::atomic::Ordering::SeqCst,
    );
}

#[test]
fn hook_path_allocates_nothing_and_works_in_a_signal_handler() {
    case(
        "hook_path_allocates_nothing_and_works_in_a_signal_handler",
        || {
            refuse_seccomp_like_lambda();
            let (_b, task, tmp) = dirs();
            let (_s, _report) = shield_with(&task, &tmp, |b| b);
            if !LAYER {
                return;
            }
            let boot = cpath(&task.join("bootstrap"));
            let allowed = c"/etc/hostname";
            let before = ALLOCS.with(|c| c.get());
            for _ in 0..100 {
                // SAFETY: open/close with valid paths.
                unsafe {
                    let fd = libc::open(allowed.as_ptr(), libc::O_RDONLY);
                    if fd >= 0 {
                        libc::close(fd);
                    }
                    assert_eq!(libc::open(boot.as_ptr(), libc::O_RDONLY), -1);
                }
            }
            let after = ALLOCS.with(|c| c.get());
            assert_eq!(after - before, 0, "the hook path allocated");
            BOOT.set(boot).unwrap();
            // SAFETY: installs a plain handler for SIGUSR1 and raises it on this thread.
            unsafe {
                libc::signal(libc::SIGUSR1, on_usr1 as *const () as libc::sighandler_t);
                libc::raise(libc::SIGUSR1);
            }
            assert_eq!(
                IN_HANDLER.load(std::sync::atomic::Ordering::SeqCst),
                -(libc::EACCES as i64)
            );
        },
    );
}

// ---- getaddrinfo answered from /etc/hosts ----

/// What a `getaddrinfo` call returned: its result code and, per list node, the flags, family,
/// socket type, protocol, address bytes and canonical name.
type GaiOut = (i32, Vec<(i32, i32, i32, i32, Vec<u8>, Option<String>)>);

fn gai(name: &str, service: Option<&str>, family: i32, socktype: i32, flags: i32) -> GaiOut {
    let node = CString::new(name).unwrap();
    let service = service.map(|s| CString::new(s).unwrap());
    // SAFETY: a zeroed addrinfo is valid hints; the strings are valid C strings; the list is
    // read, then freed once.
    unsafe {
        let mut hints: libc::addrinfo = std::mem::zeroed();
        hints.ai_family = family;
        hints.ai_socktype = socktype;
        hints.ai_flags = flags;
        let mut res = std::ptr::null_mut();
        let r = libc::getaddrinfo(
            node.as_ptr(),
            service.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        );
        let mut out = Vec::new();
        let mut ai = res;
        while !ai.is_null() {
            let a = &*ai;
            let addr = std::slice::from_raw_parts(a.ai_addr.cast::<u8>(), a.ai_addrlen as usize);
            let canon = (!a.ai_canonname.is_null()).then(|| {
                std::ffi::CStr::from_ptr(a.ai_canonname)
                    .to_string_lossy()
                    .into_owned()
            });
            out.push((
                a.ai_flags,
                a.ai_family,
                a.ai_socktype,
                a.ai_protocol,
                addr.to_vec(),
                canon,
            ));
            ai = a.ai_next;
        }
        if !res.is_null() {
            libc::freeaddrinfo(res);
        }
        (r, out)
    }
}

/// One lookup: name, service, family, socket type, flags, and whether the layer may answer it
/// from `/etc/hosts` itself.
type GaiCase = (&'static str, Option<&'static str>, i32, i32, i32, bool);

/// The lookups compared.
const GAI_CASES: [GaiCase; 9] = [
    (
        "one.test.internal",
        None,
        libc::AF_INET,
        libc::SOCK_STREAM,
        0,
        true,
    ),
    // An alias, in another case, every socket type, any family.
    ("ONE-alias", None, libc::AF_UNSPEC, 0, 0, true),
    (
        "one.test.internal",
        Some("8080"),
        libc::AF_UNSPEC,
        libc::SOCK_DGRAM,
        0,
        true,
    ),
    (
        "six.test.internal",
        None,
        libc::AF_INET6,
        libc::SOCK_STREAM,
        0,
        true,
    ),
    // Two lines for the name: glibc's list (two addresses, sorted) is left to glibc.
    (
        "two.test.internal",
        None,
        libc::AF_INET,
        libc::SOCK_STREAM,
        0,
        false,
    ),
    // No IPv4 address: glibc's error.
    (
        "six.test.internal",
        None,
        libc::AF_INET,
        libc::SOCK_STREAM,
        0,
        false,
    ),
    // Flags (a canonical name) and a trailing dot: glibc.
    (
        "one.test.internal",
        None,
        libc::AF_INET,
        libc::SOCK_STREAM,
        libc::AI_CANONNAME,
        false,
    ),
    (
        "one.test.internal.",
        None,
        libc::AF_INET,
        libc::SOCK_STREAM,
        0,
        false,
    ),
    // Both families listed: two addresses under AF_UNSPEC.
    (
        "dual.test.internal",
        None,
        libc::AF_UNSPEC,
        libc::SOCK_STREAM,
        0,
        false,
    ),
];

const HOSTS: &str = "127.0.0.7 one.test.internal one-alias\n\
                     127.0.0.8 two.test.internal\n127.0.0.9 two.test.internal\n\
                     ::1 six.test.internal\n\
                     127.0.0.10 dual.test.internal\n::1 dual.test.internal\n";

/// A private mount namespace with our own `/etc/hosts` and `/etc/nsswitch.conf` (`files`
/// first) bind-mounted; returns the file behind `/etc/hosts`.
fn private_hosts(dir: &Path) -> PathBuf {
    use nix::mount::{mount, MsFlags};
    let hosts = dir.join("hosts");
    let nsswitch = dir.join("nsswitch.conf");
    std::fs::write(&hosts, HOSTS).unwrap();
    std::fs::write(&nsswitch, "passwd: files\ngroup: files\nhosts: files\n").unwrap();
    common::private_mount_namespace();
    for (file, over) in [(&hosts, "/etc/hosts"), (&nsswitch, "/etc/nsswitch.conf")] {
        mount(
            Some(file.as_path()),
            over,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap_or_else(|e| panic!("bind-mount over {over}: {e}"));
    }
    assert_eq!(std::fs::read_to_string("/etc/hosts").unwrap(), HOSTS);
    hosts
}

/// Every lookup answers exactly what glibc answers without the shield; the layer answers the
/// one-address names itself; and a changed `/etc/hosts` is read again, not answered stale.
fn hosts_answers_match_glibc(libc_alone: bool) {
    if libc_alone {
        refuse_seccomp_like_lambda();
    }
    let (base, task, tmp) = dirs();
    let hosts = private_hosts(&base);
    let bare: Vec<GaiOut> = GAI_CASES
        .iter()
        .map(|&(n, svc, fam, st, fl, _)| gai(n, svc, fam, st, fl))
        .collect();
    assert_eq!(
        bare[0].1.len(),
        1,
        "glibc answers one.test.internal: {bare:?}"
    );
    assert_eq!(bare[4].1.len(), 2, "glibc answers both lines: {bare:?}");
    let (_s, report) = shield_with(&task, &tmp, |b| b);
    assert_eq!(report.libc_layer, LibcLayer::Active, "{report}");
    let before = fnshield::internals::hosts_answers_given();
    for (i, &(n, svc, fam, st, fl, fast)) in GAI_CASES.iter().enumerate() {
        let given = fnshield::internals::hosts_answers_given();
        assert_eq!(
            gai(n, svc, fam, st, fl),
            bare[i],
            "{n} {svc:?} family {fam} flags {fl}"
        );
        let answered = fnshield::internals::hosts_answers_given() - given;
        assert_eq!(
            answered,
            u64::from(fast),
            "answered by the layer: {n} family {fam}"
        );
    }
    assert_eq!(fnshield::internals::hosts_answers_given() - before, 4);
    // The file changes: the new address, from glibc.
    std::fs::write(&hosts, HOSTS.replace("127.0.0.7 ", "127.0.0.77 ")).unwrap();
    let (r, list) = gai(
        "one.test.internal",
        None,
        libc::AF_INET,
        libc::SOCK_STREAM,
        0,
    );
    assert_eq!(r, 0);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(&list[0].4[2..8], &[0, 0, 127, 0, 0, 77], "{list:?}");
}

#[test]
fn hosts_answers_match_glibc_libc_alone() {
    case("hosts_answers_match_glibc_libc_alone", || {
        if LAYER {
            hosts_answers_match_glibc(true);
        }
    });
}

#[test]
fn hosts_answers_match_glibc_seccomp_and_libc() {
    case("hosts_answers_match_glibc_seccomp_and_libc", || {
        if LAYER {
            hosts_answers_match_glibc(false);
        }
    });
}

/// `posix_spawnp` runs the program libc finds; with the libc layer alone nothing else decides
/// the child's exec, so the layer must decide exactly what libc runs. A path longer than the
/// layer's old 255-byte name buffer ran undecided (the search said "not found" and libc ran
/// it); now the search reads up to PATH_MAX and libc spawns the decided copy.
#[test]
fn libc_alone_posix_spawnp_runs_only_what_was_decided() {
    case("libc_alone_posix_spawnp_runs_only_what_was_decided", || {
        refuse_seccomp_like_lambda();
        let (_b, task, tmp) = dirs();
        let (s, report) = shield_with(&task, &tmp, |b| {
            b.child_process(fnshield::Mode::Block)
                .allow_exec("/usr/bin/true")
        });
        if !LAYER {
            return;
        }
        assert_eq!(report.interceptor, Mechanism::Libc, "{report}");
        let long =
            |prog: &str| CString::new(format!("/usr/bin/{}{prog}", "./".repeat(150))).unwrap();
        let spawnp = |path: &CString| -> (i32, Option<i32>) {
            let argv = [path.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
            let mut pid: libc::pid_t = 0;
            // SAFETY: valid NUL-terminated path and argv; no file actions or attributes.
            let r = unsafe {
                libc::posix_spawnp(
                    &mut pid,
                    path.as_ptr(),
                    std::ptr::null(),
                    std::ptr::null(),
                    argv.as_ptr(),
                    std::ptr::null(),
                )
            };
            if r != 0 {
                return (r, None);
            }
            let mut status = 0;
            // SAFETY: our child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            (0, Some(status))
        };
        // The allowed program, by a long path: it runs.
        assert_eq!(spawnp(&long("true")), (0, Some(0)));
        // Another program by a long path: refused before any process exists, and reported.
        assert_eq!(spawnp(&long("false")), (libc::EACCES, None));
        // By name through PATH: the same decisions.
        assert_eq!(spawnp(&CString::new("false").unwrap()).0, libc::EACCES);
        let evs = common::events(&s);
        assert!(
            has(&evs, PolicyKind::CreateChildProcess, Action::Blocked, |d| {
                matches!(d, Details::Exec { path, .. } if path.ends_with("false"))
            }),
            "{evs:#?}"
        );
    });
}
