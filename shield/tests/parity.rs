//! Alert parity: the promise of staging mode (issue 5).
//!
//! Every workload runs twice, each time in a fresh re-executed test process with the same
//! environment: once with no shield and once with a shield in alert mode (`Mode::Alert` for every
//! policy, or `SHIELD_MODE=alert` read from the process environment). The two runs must be
//! indistinguishable to the function: same stdout, stderr and exit code, and the same files
//! (path, type, permission bits, content) in the run's tmp root and in an output directory
//! outside it. The shielded run must also report every violation exactly once per distinct
//! violation, with the number of occurrences in `count`.
//!
//! Each run has its own directory `<base>/run-b` (bare) or `<base>/run-s` (shielded) holding
//! `task/` (LAMBDA_TASK_ROOT, with a `bootstrap` file), `tmp/` (the tmp root) and `out/`. Both
//! names have the same length so that `/proc/self/environ` has the same size in both runs, and
//! the run directory is replaced by `$RUN` before outputs are compared.
//!
//! The shield's own sinks are off (events go to a callback and then to a side file): the json
//! and EMF lines are the shield's log, not the function's output.
#![allow(missing_docs)]
// The signal workload installs handlers with `sigaction` and sends signals with `pthread_kill`;
// the library itself keeps `unsafe` in `sys`.
#![allow(unsafe_code)]

use fnshield::Env;
use fnshield::{Details, Event, Mode, PolicyKind, Shield};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

static EVENTS: Mutex<Vec<Event>> = Mutex::new(Vec::new());

/// A known variable whose value the environ workload looks for.
const KNOWN: &str = "PARITY_KNOWN";
const KNOWN_VALUE: &str = "the-same-in-both-runs";

// ---------------------------------------------------------------------------------------------
// The child side: one workload, with or without a shield.
// ---------------------------------------------------------------------------------------------

/// Paths of one run, as the child sees them.
struct Ctx {
    run: PathBuf,
    task: PathBuf,
    tmp: PathBuf,
    out: PathBuf,
    /// Figures that may differ between runs (not output): `<base>/figures-<b|s>.txt`.
    figures: PathBuf,
}

impl Ctx {
    fn from_env() -> Ctx {
        let run = PathBuf::from(std::env::var("FNSHIELD_PARITY_RUN").expect("run dir"));
        let base = run.parent().unwrap().to_path_buf();
        let tag = if shielded() { "s" } else { "b" };
        Ctx {
            task: run.join("task"),
            tmp: run.join("tmp"),
            out: run.join("out"),
            figures: base.join(format!("figures-{tag}.txt")),
            run,
        }
    }

    fn port(&self, name: &str) -> u16 {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("{name} is passed by the parent"))
            .parse()
            .unwrap()
    }

    fn figure(&self, key: &str, value: impl std::fmt::Display) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.figures)
            .unwrap();
        writeln!(f, "{key}={value}").unwrap();
    }
}

fn shielded() -> bool {
    std::env::var("FNSHIELD_PARITY_SHIELD").as_deref() == Ok("1")
}

/// How the shielded run gets its alert mode.
#[derive(Clone, Copy)]
enum How {
    /// `Shield::builder().env(Env::from_pairs(..)).mode(Mode::Alert)`.
    Builder,
    /// The default builder reading `SHIELD_MODE=alert` and `LAMBDA_TASK_ROOT` from the process.
    EnvVar,
}

/// The shielded run's configuration (`FNSHIELD_PARITY_CONFIG`): the default, `notify` (alert
/// mode selects the notify interceptor, with the libc layer where it is built); `trap` (forced:
/// only for workloads that run no child process, which the trap would kill); `libc_only`
/// (seccomp refused as on Lambda by the `lambda` sandbox profile: the libc layer alone).
fn config() -> String {
    std::env::var("FNSHIELD_PARITY_CONFIG").unwrap_or_else(|_| "notify".to_owned())
}

fn install(c: &Ctx, how: How) -> Shield {
    let config = config();
    let b = Shield::builder();
    let b = if config == "trap" {
        b.interceptor(fnshield::InterceptorChoice::Trap)
    } else {
        b
    };
    let b = match how {
        How::Builder => b
            .env(Env::from_pairs([(
                "LAMBDA_TASK_ROOT",
                c.task.to_str().unwrap(),
            )]))
            .mode(Mode::Alert),
        How::EnvVar => b,
    };
    let s = b
        .resolv_conf("")
        .tmp_root(c.tmp.to_str().unwrap())
        .wipe_tmp(false)
        .sinks(Vec::<String>::new())
        .on_event(|e| EVENTS.lock().unwrap().push(e.clone()))
        .build()
        .expect("valid config");
    if let How::EnvVar = how {
        assert!(
            s.policy().modes().outbound() == Mode::Alert
                && s.policy().modes().child() == Mode::Alert
                && s.policy().modes().read_handler() == Mode::Alert,
            "SHIELD_MODE=alert from the environment sets every policy to alert"
        );
    }
    let report = s.install().expect("install");
    let want = match config.as_str() {
        "trap" => fnshield::Mechanism::SeccompTrap,
        "libc_only" if cfg!(feature = "libc-layer") => fnshield::Mechanism::Libc,
        "libc_only" => fnshield::Mechanism::None,
        _ => fnshield::Mechanism::SeccompNotify,
    };
    assert_eq!(
        report.interceptor, want,
        "configuration {config} (alert mode selects the notify interceptor):\n{report}"
    );
    s
}

/// One line per event: `policy \t action \t syscall \t details \t count \t child`, with the run
/// directory replaced by `$RUN`.
fn write_events(c: &Ctx, s: &Shield) {
    s.reporter().flush(None);
    let evs = EVENTS.lock().unwrap().clone();
    let me = std::process::id();
    let mut text = String::new();
    for e in &evs {
        text.push_str(&format!(
            "{:?}\t{}\t{}\t{}\t{}\t{}\n",
            e.policy,
            e.action,
            e.syscall.unwrap_or("-"),
            norm(&format!("{:?}", e.details), &c.run),
            e.count,
            e.pid != me
        ));
    }
    std::fs::write(c.figures.with_file_name("events-s.txt"), text).unwrap();
}

/// Run the workload in this (child) process and exit with its code.
fn child_main(workload: fn(&Ctx) -> i32, how: How) -> ! {
    let c = Ctx::from_env();
    if config() == "libc_only" {
        // Both runs in the same sandbox (the lambda profile refuses prctl, e.g. PR_SET_NAME):
        // only the shield differs between them.
        let prog = fnshield_tests::sandbox::Profile::Lambda.program();
        assert_eq!(fnshield_tests::sandbox::set_mode_filter(&prog, 0), 0);
    }
    let shield = shielded().then(|| install(&c, how));
    let code = workload(&c);
    std::io::stdout().flush().unwrap();
    std::io::stderr().flush().unwrap();
    if let Some(s) = &shield {
        write_events(&c, s);
    }
    std::process::exit(code)
}

fn norm(s: &str, run: &Path) -> String {
    s.replace(run.to_str().unwrap(), "$RUN")
}

/// Run `sh -c script` and print what it printed, and its status, on our own stdout/stderr.
fn sh(script: &str, envs: &[(&str, &Path)]) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("sh runs");
    println!("--- {script}");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    println!("status={:?}", out.status.code());
}

// ---------------------------------------------------------------------------------------------
// Workloads.
// ---------------------------------------------------------------------------------------------

/// 1. `sh -c` pipelines, subshells, command substitution, non-zero exits.
fn w_pipelines(_: &Ctx) -> i32 {
    sh("echo a b c | tr ' ' '\\n' | sort -r | head -2", &[]);
    sh(
        "(echo in-subshell; exit 3); echo status=$?; x=$(echo inner | tr a-z A-Z); echo \"got $x\"",
        &[],
    );
    sh(
        "printf '%s\\n' z y x | sort | head -1 >&2; false | true; echo pipe=$?; exit 7",
        &[],
    );
    sh(
        "sh -c 'exit 9'; echo nested=$?; echo $(echo $(echo deep))",
        &[],
    );
    // A child writing straight to our stdout and stderr.
    std::io::stdout().flush().unwrap();
    let st = Command::new("sh")
        .args(["-c", "echo inherited-out; echo inherited-err >&2; exit 4"])
        .status()
        .unwrap();
    println!("inherited status={:?}", st.code());
    eprintln!("the process itself writes to stderr");
    5
}

/// 2. A child that writes to and reads from the tmp root; umask honoured; files outside it.
fn w_tmp(c: &Ctx) -> i32 {
    let envs: &[(&str, &Path)] = &[("T", &c.tmp), ("O", &c.out)];
    sh("echo x > $T/f; cat $T/f; ls $T", envs);
    sh(
        "umask 077; echo secret > $T/private; mkdir $T/d; echo y > $T/d/g; ls $T/d; cat $T/d/g; rm $T/f; ls $T",
        envs,
    );
    // Outside the tmp root: allowed, so the shield emulates these opens.
    sh(
        "umask 027; echo o > $O/child; mkdir $O/sub; cp $T/d/g $O/sub/copy; cat $O/sub/copy",
        envs,
    );
    // The process itself.
    std::fs::write(c.tmp.join("self"), b"written by the process\n").unwrap();
    print!("{}", std::fs::read_to_string(c.tmp.join("self")).unwrap());
    std::fs::write(c.out.join("self-out"), b"out\n").unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&c.tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    println!("tmp holds {names:?}");
    0
}

/// 3. TCP and UDP to an allowed (127.0.0.1) and a forbidden (127.0.0.2) loopback host, from the
///    process and from a child. The parent runs echo servers that answer in upper case.
fn w_net(c: &Ctx) -> i32 {
    for (label, host, tcp, udp) in [
        ("allowed", "127.0.0.1", "P_TCP_1", "P_UDP_1"),
        ("forbidden", "127.0.0.2", "P_TCP_2", "P_UDP_2"),
    ] {
        let ip: IpAddr = host.parse().unwrap();
        let mut s = TcpStream::connect((ip, c.port(tcp))).expect("connect");
        s.write_all(format!("tcp {label}\n").as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        print!("process tcp {label}: {line}");
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.send_to(format!("udp {label}").as_bytes(), (ip, c.port(udp)))
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = u.recv_from(&mut buf).unwrap();
        println!(
            "process udp {label}: {} from the same host: {}",
            String::from_utf8_lossy(&buf[..n]),
            from.ip() == ip
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "exec 3<>/dev/tcp/{host}/${tcp} || exit 1; echo 'child tcp {label}' >&3; read -r l <&3; echo \"$l\"; \
                 exec 4<>/dev/udp/{host}/${udp} || exit 2; printf 'child udp {label}' >&4; echo sent"
            ))
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        println!("child status={:?}", out.status.code());
    }
    0
}

/// 4. Reading the task root and `/proc/self/environ`, from the process and from children.
fn w_reads(c: &Ctx) -> i32 {
    for _ in 0..2 {
        println!(
            "bootstrap: {:?}",
            std::fs::read_to_string(c.task.join("bootstrap")).unwrap()
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(&c.task)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    println!("task root holds {names:?}");
    for i in 0..3 {
        let env = std::fs::read("/proc/self/environ").unwrap();
        let known = env
            .split(|&b| b == 0)
            .find_map(|kv| kv.strip_prefix(format!("{KNOWN}=").as_bytes()))
            .map(|v| String::from_utf8_lossy(v).into_owned());
        println!("environ read {i}: {} bytes, {KNOWN}={known:?}", env.len());
    }
    // A thread's /proc/thread-self is that thread.
    let comm = std::thread::Builder::new()
        .name("parity-worker".into())
        .spawn(|| std::fs::read_to_string("/proc/thread-self/comm").unwrap())
        .unwrap()
        .join()
        .unwrap();
    print!("thread comm: {comm}");
    let envs: &[(&str, &Path)] = &[("TASK", &c.task)];
    sh("cat $TASK/bootstrap; echo", envs);
    // A child's /proc/self is the child, not the shield's process.
    sh(
        "env -i PARITY_CHILD=1 /usr/bin/cat /proc/self/environ | tr '\\0' '\\n'",
        envs,
    );
    sh("/usr/bin/cat /proc/self/cmdline | tr '\\0' ' '; echo", envs);
    sh("/usr/bin/head -c 5 /proc/self/comm; echo", envs);
    0
}

/// libc functions that glibc carries out through its internal names (the libc layer rebuilds
/// them: red-team round 4): in the tmp root and on the code, each behaves as without a shield.
/// No child process is exec'd (a `_Fork` child only exits).
fn w_libc_internal_names(c: &Ctx) -> i32 {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    extern "C" {
        fn _Fork() -> libc::pid_t;
        fn scandir(
            path: *const libc::c_char,
            list: *mut *mut *mut libc::dirent,
            filter: Option<unsafe extern "C" fn(*const libc::dirent) -> i32>,
            compar: Option<
                unsafe extern "C" fn(*mut *const libc::dirent, *mut *const libc::dirent) -> i32,
            >,
        ) -> i32;
    }
    let cs = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
    let res = |r: i32| {
        if r < 0 {
            format!("errno {}", errno())
        } else {
            "ok".to_owned()
        }
    };
    std::fs::write(c.tmp.join("mine"), b"mine\n").unwrap();
    // SAFETY: libc calls with valid NUL-terminated paths, buffers and our own streams; the
    // forked child only calls _exit.
    unsafe {
        let fifo = cs(&c.tmp.join("fifo"));
        println!("mkfifo: {}", res(libc::mkfifo(fifo.as_ptr(), 0o600)));
        let mine = cs(&c.tmp.join("mine"));
        println!(
            "utimes: {}",
            res(libc::utimes(mine.as_ptr(), std::ptr::null()))
        );
        println!(
            "utime: {}",
            res(libc::utime(mine.as_ptr(), std::ptr::null()))
        );
        // fchmodat2 is Linux 6.6: on Lambda's 5.10 glibc falls back, and so must the layer.
        extern "C" {
            fn lchmod(path: *const libc::c_char, mode: libc::mode_t) -> i32;
        }
        println!("lchmod: {}", res(lchmod(mine.as_ptr(), 0o640)));
        let t = cs(&c.tmp.join("tmpXXXXXX")).into_raw();
        let fd = libc::mkstemp(t);
        let t = CString::from_raw(t);
        println!("mkstemp: {}", res(fd));
        if fd >= 0 {
            libc::close(fd);
            libc::unlink(t.as_ptr());
        }
        let t = cs(&c.tmp.join("dirXXXXXX")).into_raw();
        let made = !libc::mkdtemp(t).is_null();
        let t = CString::from_raw(t);
        println!("mkdtemp: {made}");
        if made {
            libc::rmdir(t.as_ptr());
        }
        let devnull = c"/dev/null";
        let f = libc::fopen(devnull.as_ptr(), c"r".as_ptr());
        let code = cs(&c.task.join("bootstrap"));
        let f = libc::freopen(code.as_ptr(), c"r".as_ptr(), f);
        let mut buf = [0u8; 64];
        if f.is_null() {
            println!("freopen: errno {}", errno());
        } else {
            let got = !libc::fgets(buf.as_mut_ptr().cast(), 64, f).is_null();
            let n = buf.iter().position(|&b| b == 0).unwrap_or(0);
            println!(
                "freopen read {got}: {:?}",
                String::from_utf8_lossy(&buf[..n])
            );
            libc::fclose(f);
        }
        let tmp = cs(&c.tmp);
        let mut list: *mut *mut libc::dirent = std::ptr::null_mut();
        let n = scandir(tmp.as_ptr(), &mut list, None, None);
        println!("scandir of the tmp root: {n} entries");
        let pat = cs(&c.tmp.join("*"));
        let mut g: libc::glob_t = std::mem::zeroed();
        let r = libc::glob(pat.as_ptr(), 0, None, &mut g);
        println!("glob of the tmp root: {r}, {} paths", g.gl_pathc);
        libc::globfree(&mut g);
        for k in 0..n.max(0) as usize {
            libc::free((*list.add(k)).cast());
        }
        if n >= 0 {
            libc::free(list.cast());
        }
        let pid = _Fork();
        if pid == 0 {
            libc::_exit(3);
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        println!("_Fork child exited with {}", libc::WEXITSTATUS(status));
        libc::unlink(fifo.as_ptr());
    }
    0
}

/// 5. A multi-threaded tokio workload: 64 tasks doing file I/O in the tmp root, blocking reads
///    on the blocking pool, async connects to 127.0.0.1.
fn w_tokio(c: &Ctx) -> i32 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let tmp = c.tmp.clone();
    let port = c.port("P_TCP_1");
    let results = rt.block_on(async move {
        let mut handles = Vec::new();
        for i in 0..64u32 {
            let tmp = tmp.clone();
            handles.push(tokio::spawn(async move {
                use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
                let p = tmp.join(format!("task-{i:02}"));
                tokio::fs::write(&p, format!("payload {i}\n"))
                    .await
                    .unwrap();
                let a = tokio::fs::read_to_string(&p).await.unwrap();
                let p2 = p.clone();
                let b = tokio::task::spawn_blocking(move || std::fs::read_to_string(p2))
                    .await
                    .unwrap()
                    .unwrap();
                let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                s.write_all(format!("task {i}\n").as_bytes()).await.unwrap();
                let mut line = String::new();
                tokio::io::BufReader::new(s)
                    .read_line(&mut line)
                    .await
                    .unwrap();
                format!("{i}: {} {} {}", a.trim(), b.trim(), line.trim())
            }));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    for r in results {
        println!("{r}");
    }
    0
}

static HANDLED: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

fn set_handler(sig: libc::c_int, restart: bool) {
    // SAFETY: a zeroed sigaction is a valid value; the handler only touches an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(sig, &sa, std::ptr::null_mut()), 0);
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

const SIG_FILES: usize = 16;
const SIG_CALLS: usize = 10_000;
/// Every this many iterations the open goes to a tmp-root file (a violation) instead of an
/// allowed file outside it, so that the event count can be checked without overflowing the
/// event ring (see `many_violations_in_one_invocation` for that).
const SIG_TMP_EVERY: usize = 100;
/// Open, read and close `path`, retrying on EINTR. Returns the EINTRs seen.
fn open_read(path: &CString, want: &[u8]) -> u64 {
    let mut eintr = 0;
    let fd = loop {
        // SAFETY: open of a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            break fd;
        }
        assert_eq!(errno(), libc::EINTR, "open failed otherwise");
        eintr += 1;
    };
    let mut buf = [0u8; 64];
    let n = loop {
        // SAFETY: read into our buffer from our fd.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            break n as usize;
        }
        assert_eq!(errno(), libc::EINTR);
        eintr += 1;
    };
    if &buf[..n] != want {
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}"));
        panic!(
            "open returned fd {fd} ({link:?}), which reads {:?} instead of {:?}",
            String::from_utf8_lossy(&buf[..n]),
            String::from_utf8_lossy(want)
        );
    }
    // SAFETY: our fd.
    unsafe { libc::close(fd) };
    eintr
}

/// Connect a fresh TCP socket to 127.0.0.1:port, retrying (with a new socket) on EINTR.
fn connect_once(port: u16) -> u64 {
    let mut eintr = 0;
    loop {
        // SAFETY: plain socket/connect/close with a valid sockaddr_in.
        unsafe {
            let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(s >= 0);
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = port.to_be();
            sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let r = libc::connect(
                s,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            );
            let e = errno();
            libc::close(s);
            if r == 0 {
                return eintr;
            }
            assert_eq!(e, libc::EINTR, "connect failed otherwise");
            eintr += 1;
        }
    }
}

fn w_signals_thread_directed(c: &Ctx) -> i32 {
    w_signals(c, false)
}

fn w_signals_process_directed(c: &Ctx) -> i32 {
    w_signals(c, true)
}

/// 6. A handler with its own signal handlers (SIGUSR1 with SA_RESTART, SIGUSR2 without) under
///    a signal storm sent to the main thread (`pthread_kill`) or to the process (`kill`, which
///    the kernel may deliver to any thread that does not block the signal), while the main
///    thread makes 10k notified opens and 1k notified connects per phase.
fn w_signals(c: &Ctx, process_directed: bool) -> i32 {
    let port = c.port("P_TCP_1");
    let mut files: Vec<(CString, Vec<u8>)> = (0..SIG_FILES)
        .map(|i| {
            let p = c.out.join(format!("sig-{i:02}"));
            let content = format!("file {i}\n").into_bytes();
            std::fs::write(&p, &content).unwrap();
            (CString::new(p.to_str().unwrap()).unwrap(), content)
        })
        .collect();
    let hot = c.tmp.join("sig-tmp");
    std::fs::write(&hot, b"in the tmp root\n").unwrap();
    files.push((
        CString::new(hot.to_str().unwrap()).unwrap(),
        b"in the tmp root\n".to_vec(),
    ));
    set_handler(libc::SIGUSR1, true);
    set_handler(libc::SIGUSR2, false);
    // SAFETY: pthread_self has no preconditions.
    let me = unsafe { libc::pthread_self() } as usize;
    for (phase, sig) in [
        ("sa_restart", libc::SIGUSR1),
        ("no_sa_restart", libc::SIGUSR2),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let storm = std::thread::spawn(move || {
            let mut sent = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                if process_directed {
                    // SAFETY: kill of our own process with a handled signal.
                    unsafe { libc::kill(libc::getpid(), sig) };
                } else {
                    // SAFETY: the main thread outlives the storm (joined below).
                    unsafe { libc::pthread_kill(me as libc::pthread_t, sig) };
                }
                sent += 1;
            }
            sent
        });
        let before = HANDLED.load(Ordering::Relaxed);
        let (mut open_eintr, mut connect_eintr, mut connects) = (0u64, 0u64, 0u64);
        let mut opens_interrupted = 0u64;
        for i in 0..SIG_CALLS {
            let (p, want) = if i % SIG_TMP_EVERY == 0 {
                &files[SIG_FILES]
            } else {
                &files[i % SIG_FILES]
            };
            let e = open_read(p, want);
            open_eintr += e;
            opens_interrupted += u64::from(e > 0);
            if i % 10 == 0 {
                connect_eintr += connect_once(port);
                connects += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let sent = storm.join().unwrap();
        let handled = HANDLED.load(Ordering::Relaxed) - before;
        // What the function observes and must be the same: all calls completed, and with
        // SA_RESTART no call saw EINTR.
        println!("{phase}: {SIG_CALLS} opens and {connects} connects completed");
        if phase == "sa_restart" {
            println!("{phase}: eintr opens={open_eintr} connects={connect_eintr}");
        }
        c.figure(&format!("{phase}.open_eintr"), open_eintr);
        c.figure(&format!("{phase}.opens_interrupted"), opens_interrupted);
        c.figure(&format!("{phase}.connect_eintr"), connect_eintr);
        c.figure(&format!("{phase}.signals_sent"), sent);
        c.figure(&format!("{phase}.signals_handled"), handled);
        assert!(handled > 0, "the storm reached a handler");
    }
    0
}

/// Many repeats of one violation within one invocation: one event, the full count.
fn w_many(c: &Ctx) -> i32 {
    let hot = c.tmp.join("hot");
    std::fs::write(&hot, b"hot\n").unwrap();
    let mut total = 0;
    for _ in 0..MANY {
        total += std::fs::File::open(&hot).unwrap().metadata().unwrap().len();
    }
    println!("read {total} bytes of metadata-reported length");
    0
}

const MANY: u64 = 5_000;

/// [`w_many`] from several threads at once, one of them crossing into a new file half-way:
/// every occurrence is counted, whichever thread made it.
fn w_many_threads(c: &Ctx) -> i32 {
    let hot = c.tmp.join("hot");
    std::fs::write(&hot, b"hot\n").unwrap();
    std::fs::write(c.tmp.join("warm"), b"warm\n").unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let hot = hot.clone();
            let warm = c.tmp.join("warm");
            std::thread::spawn(move || {
                let mut total = 0;
                for i in 0..PER_THREAD {
                    let p = if t == 0 && i % 2 == 1 { &warm } else { &hot };
                    total += std::fs::File::open(p).unwrap().metadata().unwrap().len();
                }
                total
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    println!("read {total} bytes of metadata-reported length");
    0
}

const THREADS: u64 = 4;
const PER_THREAD: u64 = 1_500;

/// 8. What the filter used to decide in the kernel (issue 13, kind 11): a process created
///    with clone3, an io_uring instance, and open_by_handle_at of the code. Each must behave
///    as with no shield (ENOSYS and EPERM before); what they could hide is reported.
fn w_kernel_decided(c: &Ctx) -> i32 {
    // clone3 creating a process, as fork does; the child exits at once.
    let mut args = [0u64; 11];
    args[4] = libc::SIGCHLD as u64; // exit_signal
                                    // SAFETY: clone3 without CLONE_VM: the child is a copy that leaves with _exit.
    let pid = unsafe { libc::syscall(libc::SYS_clone3, args.as_mut_ptr(), 88) };
    if pid == 0 {
        // SAFETY: leave the child without running destructors.
        unsafe { libc::_exit(7) };
    }
    if pid > 0 {
        let mut status = 0;
        // SAFETY: reaping our child.
        unsafe { libc::waitpid(pid as i32, &mut status, 0) };
        println!("clone3: child exited {}", libc::WEXITSTATUS(status));
    } else {
        println!("clone3: errno {}", errno());
    }
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup with a zeroed io_uring_params.
    let ring = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4, params.as_mut_ptr()) };
    if ring >= 0 {
        println!("io_uring_setup: ok");
        // SAFETY: closing our fd.
        unsafe { libc::close(ring as i32) };
    } else {
        println!("io_uring_setup: errno {}", errno());
    }
    let boot = CString::new(c.task.join("bootstrap").to_str().unwrap()).unwrap();
    // SAFETY: name_to_handle_at/open_by_handle_at with a correctly sized file_handle buffer.
    unsafe {
        let mut fh = [0u32; 2 + 32];
        fh[0] = 128;
        let mut mount_id = 0;
        let r = libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            boot.as_ptr(),
            fh.as_mut_ptr(),
            &mut mount_id,
            0,
        );
        if r != 0 {
            println!("name_to_handle_at: errno {}", errno());
            return 0;
        }
        let mnt = libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        let fd = libc::syscall(
            libc::SYS_open_by_handle_at,
            mnt,
            fh.as_mut_ptr(),
            libc::O_RDONLY,
        );
        if fd >= 0 {
            let mut b = [0u8; 64];
            let n = libc::read(fd as i32, b.as_mut_ptr().cast(), 64);
            println!(
                "open_by_handle_at: {:?}",
                String::from_utf8_lossy(&b[..n.max(0) as usize])
            );
            libc::close(fd as i32);
        } else {
            println!("open_by_handle_at: errno {}", errno());
        }
        libc::close(mnt);
    }
    0
}

/// 9. More of what the filter used to decide in the kernel (issue 13, kind 11): a syscall
///    through the 32-bit ABI (`int 0x80`, killed before), and `ptrace` of a child (EPERM
///    before). Each must behave as with no shield, and be reported.
fn w_kernel_decided_more(_: &Ctx) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        // i386 getpid (20) through int 0x80: the same pid as the native call.
        let r: i64;
        // SAFETY: a 32-bit getpid takes no arguments and touches no memory.
        unsafe {
            std::arch::asm!("int 0x80", inout("rax") 20i64 => r, options(nostack));
        }
        println!("int 0x80 getpid: {}", r == i64::from(std::process::id()));
    }
    // A child that waits on a pipe; the parent attaches to it with ptrace, then detaches.
    let mut p = [0i32; 2];
    // SAFETY: pipe, fork, and in the child only read and _exit.
    unsafe {
        assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
        let pid = libc::fork();
        if pid == 0 {
            let mut b = [0u8; 1];
            libc::read(p[0], b.as_mut_ptr().cast(), 1);
            libc::_exit(0);
        }
        let r = libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0);
        if r == 0 {
            let mut status = 0;
            libc::waitpid(pid, &mut status, libc::__WALL);
            println!("ptrace attach: stopped {}", libc::WIFSTOPPED(status));
            println!(
                "ptrace detach: {}",
                libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0)
            );
        } else {
            println!("ptrace attach: errno {}", errno());
        }
        libc::write(p[1], b"x".as_ptr().cast(), 1);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        println!("child exited {}", libc::WEXITSTATUS(status));
    }
    0
}

/// 7. The staging switch itself: SHIELD_MODE=alert from the process environment.
fn w_env_switch(c: &Ctx) -> i32 {
    let envs: &[(&str, &Path)] = &[("T", &c.tmp), ("TASK", &c.task)];
    sh(
        "echo a b c | tr ' ' '\\n' | sort -r | head -2; echo x > $T/f; cat $T/f $TASK/bootstrap; echo; exit 3",
        envs,
    );
    let env = std::fs::read("/proc/self/environ").unwrap();
    println!("environ {} bytes", env.len());
    let mut s = TcpStream::connect(("127.0.0.2", c.port("P_TCP_2"))).unwrap();
    s.write_all(b"switch\n").unwrap();
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    print!("{line}");
    2
}

// ---------------------------------------------------------------------------------------------
// The parent side: servers, runs, comparison.
// ---------------------------------------------------------------------------------------------

/// Echo servers on 127.0.0.1 and 127.0.0.2 (TCP: one line, upper-cased; UDP: one datagram,
/// upper-cased), started before any run. Returns the ports as env pairs.
fn servers() -> Vec<(String, String)> {
    let mut ports = Vec::new();
    for (n, host) in [(1, "127.0.0.1"), (2, "127.0.0.2")] {
        let l = TcpListener::bind((host, 0)).unwrap();
        ports.push((
            format!("P_TCP_{n}"),
            l.local_addr().unwrap().port().to_string(),
        ));
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                std::thread::spawn(move || {
                    let mut line = String::new();
                    let mut r = BufReader::new(&s);
                    if r.read_line(&mut line).is_ok() && !line.is_empty() {
                        let _ = (&s).write_all(line.to_uppercase().as_bytes());
                    }
                });
            }
        });
        let u = UdpSocket::bind((host, 0)).unwrap();
        ports.push((
            format!("P_UDP_{n}"),
            u.local_addr().unwrap().port().to_string(),
        ));
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = u.recv_from(&mut buf) {
                let reply = String::from_utf8_lossy(&buf[..n]).to_uppercase();
                let _ = u.send_to(reply.as_bytes(), from);
            }
        });
    }
    ports
}

/// What one run left behind.
#[derive(Debug, PartialEq)]
struct Observed {
    stdout: String,
    stderr: String,
    code: Option<i32>,
    /// The signal that ended the run, if one did (reported with a differing exit code).
    signal: Option<i32>,
    /// relative path → (kind, permission bits, content)
    files: BTreeMap<String, (char, u32, Vec<u8>)>,
}

fn snapshot(root: &Path, dir: &Path, out: &mut BTreeMap<String, (char, u32, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let mode = m.permissions().mode() & 0o7777;
        if m.is_dir() {
            out.insert(rel, ('d', mode, Vec::new()));
            snapshot(root, &p, out);
        } else if m.is_file() {
            out.insert(rel, ('f', mode, std::fs::read(&p).unwrap()));
        } else {
            let target = std::fs::read_link(&p).map(|t| t.to_string_lossy().into_owned());
            out.insert(rel, ('l', mode, format!("{target:?}").into_bytes()));
        }
    }
}

/// One event as written by the shielded child.
#[derive(Debug, Clone)]
struct Ev {
    policy: String,
    action: String,
    syscall: String,
    details: String,
    count: u64,
    child: bool,
}

struct Outcome {
    base: PathBuf,
    events: Vec<Ev>,
    ports: BTreeMap<String, u16>,
    figures_bare: String,
    figures_shielded: String,
}

impl Outcome {
    /// The single event for `(policy, details)`; its count must be `count`.
    fn expect(&self, policy: PolicyKind, details: &Details, count: u64) -> &Ev {
        let d = norm_details(details, &self.base);
        let p = format!("{policy:?}");
        let hits: Vec<&Ev> = self
            .events
            .iter()
            .filter(|e| e.policy == p && e.details == d)
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "exactly one {p} event for {d}; all events:\n{}",
            self.dump()
        );
        assert_eq!(
            hits[0].count,
            count,
            "count of {p} {d}; all events:\n{}",
            self.dump()
        );
        hits[0]
    }

    /// Like [`Outcome::expect`], for the event made by one syscall: the same violation by
    /// different processes (here `sh` writing, then `rm` unlinking) is a distinct event each.
    fn expect_by(&self, policy: PolicyKind, details: &Details, syscall: &str, count: u64) -> &Ev {
        let d = norm_details(details, &self.base);
        let p = format!("{policy:?}");
        let hits: Vec<&Ev> = self
            .events
            .iter()
            .filter(|e| e.policy == p && e.details == d && e.syscall == syscall)
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "exactly one {p} {syscall} event for {d}; all events:\n{}",
            self.dump()
        );
        assert_eq!(
            hits[0].count,
            count,
            "count of {p} {syscall} {d}; all events:\n{}",
            self.dump()
        );
        hits[0]
    }

    fn matching(&self, policy: PolicyKind, pred: impl Fn(&str) -> bool) -> Vec<&Ev> {
        let p = format!("{policy:?}");
        self.events
            .iter()
            .filter(|e| e.policy == p && pred(&e.details))
            .collect()
    }

    fn dump(&self) -> String {
        self.events
            .iter()
            .map(|e| {
                format!(
                    "  {} {} {} {} x{}{}\n",
                    e.policy,
                    e.action,
                    e.syscall,
                    e.details,
                    e.count,
                    if e.child { " (child)" } else { "" }
                )
            })
            .collect()
    }

    fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }
}

fn norm_details(d: &Details, base: &Path) -> String {
    // On a merged-/usr system `sh` may execute `/bin/tr` or `/usr/bin/tr` depending on its
    // PATH walk; both are the same file.
    norm(&format!("{d:?}"), &base.join("run-s")).replace("path: \"/bin/", "path: \"/usr/bin/")
}

fn path(base: &Path, rel: &str, access: &'static str) -> Details {
    Details::Path {
        path: base.join("run-s").join(rel).to_str().unwrap().to_owned(),
        access,
    }
}

fn sys_path(p: &str, access: &'static str) -> Details {
    Details::Path {
        path: p.to_owned(),
        access,
    }
}

fn exec(path: &str, argv: &[&str]) -> Details {
    Details::Exec {
        path: path.to_owned(),
        argv: argv.iter().map(|s| s.to_string()).collect(),
    }
}

fn connect(ip: &str, port: u16) -> Details {
    Details::Connect {
        ip: ip.parse().unwrap(),
        port,
        host: None,
    }
}

/// Run `name` bare and shielded; assert parity and the event invariants; return the events.
fn parity(name: &str, workload: fn(&Ctx) -> i32, how: How) -> Outcome {
    parity_in(name, name, "notify", workload, how).expect("the parent side")
}

/// [`parity`] for the test `test` (re-executed for each run), in configuration `config` (see
/// [`config`]). In a child process started for another workload of the same test: `None`.
fn parity_in(
    test: &str,
    name: &str,
    config: &str,
    workload: fn(&Ctx) -> i32,
    how: How,
) -> Option<Outcome> {
    match std::env::var("FNSHIELD_PARITY_CASE") {
        Ok(case) if case == name => child_main(workload, how),
        Ok(_) => return None,
        Err(_) => {}
    }
    let base = std::env::temp_dir().join(format!(
        "fnshield-parity-{}-{name}-{config}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&base);
    let ports = servers();
    let mut observed = Vec::new();
    for tag in ["b", "s"] {
        let run = base.join(format!("run-{tag}"));
        for d in ["task", "tmp", "out"] {
            std::fs::create_dir_all(run.join(d)).unwrap();
        }
        std::fs::write(run.join("task/bootstrap"), b"#!/bin/sh\necho code\n").unwrap();
        std::fs::set_permissions(
            run.join("task/bootstrap"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .env("FNSHIELD_PARITY_CASE", name)
            .env("FNSHIELD_PARITY_CONFIG", config)
            .env("FNSHIELD_PARITY_RUN", &run)
            .env("FNSHIELD_PARITY_SHIELD", if tag == "s" { "1" } else { "0" })
            .env("LAMBDA_TASK_ROOT", run.join("task"))
            .env(KNOWN, KNOWN_VALUE)
            .envs(ports.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if let How::EnvVar = how {
            // In both runs: the bare run proves the variable alone changes nothing.
            cmd.env("SHIELD_MODE", "alert");
        }
        let out = run_with_watchdog(cmd, &base.join(format!("run-{tag}")));
        let mut files = BTreeMap::new();
        snapshot(&run, &run, &mut files);
        observed.push(Observed {
            stdout: norm(&String::from_utf8_lossy(&out.stdout), &run),
            stderr: norm(&String::from_utf8_lossy(&out.stderr), &run),
            code: out.status.code(),
            signal: std::os::unix::process::ExitStatusExt::signal(&out.status),
            files,
        });
    }
    let (bare, shielded) = (&observed[0], &observed[1]);
    assert!(
        bare.stdout.contains("running 1 test"),
        "the bare run ran the case: {bare:#?}"
    );
    let diff = diff(bare, shielded);
    assert!(
        diff.is_empty(),
        "PARITY FAILURE in `{name}`: alert mode changed what the function observes:\n{diff}"
    );
    let events_text = std::fs::read_to_string(base.join("events-s.txt"))
        .expect("the shielded run wrote its events");
    let events: Vec<Ev> = events_text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Ev {
                policy: f[0].into(),
                action: f[1].into(),
                syscall: f[2].into(),
                details: f[3].replace("path: \"/bin/", "path: \"/usr/bin/"),
                count: f[4].parse().unwrap(),
                child: f[5] == "true",
            }
        })
        .collect();
    let read = |f: &str| std::fs::read_to_string(base.join(f)).unwrap_or_default();
    let outcome = Outcome {
        events,
        ports: ports
            .iter()
            .map(|(k, v)| (k.clone(), v.parse().unwrap()))
            .collect(),
        figures_bare: read("figures-b.txt"),
        figures_shielded: read("figures-s.txt"),
        base,
    };
    // Invariants for every workload: alert mode blocks nothing, loses nothing, and folds
    // repeats of one violation into one event.
    let all = outcome.dump();
    assert!(
        outcome.events.iter().all(|e| e.action == "alerted"),
        "alert mode blocked something:\n{all}"
    );
    assert!(
        !outcome
            .events
            .iter()
            .any(|e| e.details.starts_with("EventsLost")),
        "events were lost:\n{all}"
    );
    let mut seen = BTreeMap::new();
    for e in &outcome.events {
        let key = (&e.policy, &e.action, &e.syscall, &e.details);
        assert!(
            seen.insert(key, ()).is_none(),
            "a violation was reported more than once: {key:?}\n{all}"
        );
    }
    println!("{name} ({config}): parity holds; events:\n{all}");
    Some(outcome)
}

/// Run `cmd` to completion under the shared watchdog (a supervisor that waits on itself stops
/// the whole process; the watchdog turns that into a failure with the run's output). The bound
/// is a safety net, not a timing assertion: a healthy run takes seconds.
fn run_with_watchdog(cmd: Command, run: &Path) -> std::process::Output {
    fnshield_tests::watchdog::output_within(
        cmd,
        &format!("the run in {}", run.display()),
        fnshield_tests::watchdog::bound(std::time::Duration::from_secs(300)),
    )
}

fn diff(a: &Observed, b: &Observed) -> String {
    let mut out = String::new();
    let lines = |label: &str, x: &str, y: &str, out: &mut String| {
        if x != y {
            out.push_str(&format!("{label} differs (- bare, + shielded):\n"));
            out.push_str(&line_diff(x, y));
        }
    };
    lines("stdout", &a.stdout, &b.stdout, &mut out);
    lines("stderr", &a.stderr, &b.stderr, &mut out);
    if a.code != b.code {
        out.push_str(&format!(
            "exit code differs: bare {:?}, shielded {:?} (signals: bare {:?}, shielded {:?})\n",
            a.code, b.code, a.signal, b.signal
        ));
    }
    for k in a.files.keys().chain(b.files.keys()) {
        let (x, y) = (a.files.get(k), b.files.get(k));
        if x != y {
            let show = |v: Option<&(char, u32, Vec<u8>)>| match v {
                None => "absent".to_owned(),
                Some((t, m, c)) => format!("{t} {m:04o} {:?}", String::from_utf8_lossy(c)),
            };
            let line = format!("file {k}: bare {}, shielded {}\n", show(x), show(y));
            if !out.contains(&line) {
                out.push_str(&line);
            }
        }
    }
    out
}

/// A line diff (longest common subsequence), `-` for bare only and `+` for shielded only.
fn line_diff(x: &str, y: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (x.lines().collect(), y.lines().collect());
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("  + {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("  - {}\n", a[i]));
            i += 1;
        }
    }
    out
}

fn figure(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("figure {key} missing from {text:?}"))
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The corpus.
// ---------------------------------------------------------------------------------------------

/// A workload's test name, body, how its shielded run gets alert mode, and whether it runs
/// child processes.
type Workload = (&'static str, fn(&Ctx) -> i32, How, bool);

/// Every workload.
const WORKLOADS: &[Workload] = &[
    ("pipelines", w_pipelines, How::Builder, true),
    ("tmp_writes_and_reads", w_tmp, How::Builder, true),
    ("loopback_connections", w_net, How::Builder, true),
    ("task_root_and_environ_reads", w_reads, How::Builder, true),
    ("tokio_multi_thread", w_tokio, How::Builder, true),
    (
        "signals_thread_directed",
        w_signals_thread_directed,
        How::Builder,
        true,
    ),
    ("many_violations", w_many, How::Builder, false),
    ("kernel_decided", w_kernel_decided, How::Builder, false),
    (
        "libc_internal_names",
        w_libc_internal_names,
        How::Builder,
        false,
    ),
    ("env_switch", w_env_switch, How::EnvVar, true),
];

/// The whole corpus with the libc layer alone (seccomp refused as on Lambda): the function
/// observes exactly what it observes without a shield, nothing is blocked, lost or reported
/// twice. Children are not seen there (no kernel filter), so the per-workload event lists of
/// the notify configuration do not apply; the invariants do.
#[test]
fn corpus_libc_only() {
    for &(name, w, how, _) in WORKLOADS {
        parity_in("corpus_libc_only", name, "libc_only", w, how);
    }
}

/// The workloads that run no child process under the trap interceptor (forced), with the libc
/// layer where it is built. The trap kills exec'd children by design (the README says why), so
/// the others cannot run there.
#[test]
fn corpus_trap() {
    for &(name, w, how, children) in WORKLOADS {
        if !children {
            parity_in("corpus_trap", name, "trap", w, how);
        }
    }
}

#[test]
fn pipelines() {
    let o = parity("pipelines", w_pipelines, How::Builder);
    // Every program run is reported once per distinct argv, with how often it ran.
    o.expect(
        PolicyKind::CreateChildProcess,
        &exec("/usr/bin/tr", &["tr", " ", "\\n"]),
        1,
    );
    o.expect(
        PolicyKind::CreateChildProcess,
        &exec("/usr/bin/tr", &["tr", "a-z", "A-Z"]),
        1,
    );
    o.expect(
        PolicyKind::CreateChildProcess,
        &exec("/usr/bin/sort", &["sort", "-r"]),
        1,
    );
    o.expect(
        PolicyKind::CreateChildProcess,
        &exec("/usr/bin/sort", &["sort"]),
        1,
    );
    o.expect(
        PolicyKind::CreateChildProcess,
        &exec("/usr/bin/head", &["head", "-2"]),
        1,
    );
    o.expect(
        PolicyKind::CreateChildProcess,
        &exec("/usr/bin/head", &["head", "-1"]),
        1,
    );
    o.expect(
        PolicyKind::CreateChildProcess,
        &exec("/usr/bin/sh", &["sh", "-c", "exit 9"]),
        1,
    );
    let sh_runs = o.matching(PolicyKind::CreateChildProcess, |d| {
        d.contains("path: \"/usr/bin/sh\"")
    });
    assert_eq!(sh_runs.len(), 6, "{}", o.dump());
    assert!(sh_runs.iter().all(|e| e.count == 1));
    // fork/clone are not intercepted unless create_child_process blocks with an empty allowlist
    // (fork_in_kernel), so alert mode reports the programs run, not the forks.
    // Nothing else was violated.
    assert!(o.events.iter().all(|e| e.policy == "CreateChildProcess"));
}

#[test]
fn tmp_writes_and_reads() {
    let o = parity("tmp_writes_and_reads", w_tmp, How::Builder);
    let b = &o.base;
    let tmp = PolicyKind::ReadWriteTmp;
    o.expect_by(tmp, &path(b, "tmp/f", "write"), "openat", 1); // echo x > $T/f
    o.expect_by(tmp, &path(b, "tmp/f", "write"), "unlinkat", 1); // rm $T/f
    o.expect(tmp, &path(b, "tmp/private", "write"), 1);
    o.expect(tmp, &path(b, "tmp/d/g", "write"), 1);
    o.expect(tmp, &path(b, "tmp/self", "write"), 1);
    o.expect(tmp, &path(b, "tmp/self", "read"), 1);
    // cat $T/f, cat $T/d/g, cp's source.
    o.expect(tmp, &path(b, "tmp/f", "read"), 1);
    o.expect(tmp, &path(b, "tmp/d/g", "read"), 2);
    // Nothing outside the tmp root is a tmp violation.
    assert!(
        o.matching(tmp, |d| d.contains("$RUN/out")).is_empty(),
        "{}",
        o.dump()
    );
    assert!(o
        .events
        .iter()
        .all(|e| e.policy == "ReadWriteTmp" || e.policy == "CreateChildProcess"));
}

#[test]
fn loopback_connections() {
    let o = parity("loopback_connections", w_net, How::Builder);
    let out = PolicyKind::OutboundConnectivity;
    // The forbidden host: the process and the child bash each connected once over TCP.
    let tcp = o.expect(out, &connect("127.0.0.2", o.port("P_TCP_2")), 2);
    assert_eq!(tcp.syscall, "connect");
    // UDP: the process's sendto and the child's connect on its UDP socket.
    let udp: Vec<&Ev> = o.matching(out, |d| {
        d == norm_details(&connect("127.0.0.2", o.port("P_UDP_2")), &o.base)
    });
    let mut by_syscall: Vec<(String, u64)> =
        udp.iter().map(|e| (e.syscall.clone(), e.count)).collect();
    by_syscall.sort();
    assert_eq!(
        by_syscall,
        [("connect".to_owned(), 1), ("sendto".to_owned(), 1)],
        "{}",
        o.dump()
    );
    // The allowed host is never reported.
    assert!(
        o.matching(out, |d| d.contains("127.0.0.1")).is_empty(),
        "{}",
        o.dump()
    );
    assert_eq!(o.matching(out, |_| true).len(), 3, "{}", o.dump());
}

#[test]
fn task_root_and_environ_reads() {
    let o = parity("task_root_and_environ_reads", w_reads, How::Builder);
    let b = &o.base;
    let rh = PolicyKind::ReadHandler;
    // The process read bootstrap twice, the child cat once.
    o.expect(rh, &path(b, "task/bootstrap", "read"), 3);
    // The process listed the task root once.
    o.expect(rh, &path(b, "task", "read"), 1);
    // The process read /proc/self/environ 3 times; the child cat once.
    o.expect(rh, &sys_path("/proc/self/environ", "read"), 4);
    assert_eq!(o.matching(rh, |_| true).len(), 3, "{}", o.dump());
}

#[test]
fn tokio_multi_thread() {
    let o = parity("tokio_multi_thread", w_tokio, How::Builder);
    let b = &o.base;
    for i in 0..64 {
        let f = format!("tmp/task-{i:02}");
        o.expect(PolicyKind::ReadWriteTmp, &path(b, &f, "write"), 1);
        // tokio::fs::read_to_string and the spawn_blocking read.
        o.expect(PolicyKind::ReadWriteTmp, &path(b, &f, "read"), 2);
    }
    assert!(
        o.matching(PolicyKind::OutboundConnectivity, |_| true)
            .is_empty(),
        "{}",
        o.dump()
    );
}

fn signal_storm(name: &str, workload: fn(&Ctx) -> i32) {
    let o = parity(name, workload, How::Builder);
    let (fb, fs) = (&o.figures_bare, &o.figures_shielded);
    // SA_RESTART: no EINTR anywhere (also part of the compared stdout).
    for f in [fb, fs] {
        assert_eq!(figure(f, "sa_restart.open_eintr"), 0);
        assert_eq!(figure(f, "sa_restart.connect_eintr"), 0);
    }
    // Without SA_RESTART, opens of regular files never sleep interruptibly, so the bare run sees
    // no EINTR from them (a loopback connect can, rarely, even bare). The shielded run's figures
    // are reported, not hidden: a signal that arrives before the supervisor has received the
    // call interrupts it (WAIT_KILLABLE_RECV only protects calls already received).
    let f = |t: &str, k: &str| figure(t, &format!("no_sa_restart.{k}"));
    println!(
        "SIGNAL-STORM {name} without SA_RESTART: EINTR on opens bare {} shielded {} \
         (opens interrupted at least once: bare {}, shielded {}, of {SIG_CALLS}); \
         EINTR on connects bare {} shielded {} (of {}); signals sent/handled bare {}/{}, \
         shielded {}/{}",
        f(fb, "open_eintr"),
        f(fs, "open_eintr"),
        f(fb, "opens_interrupted"),
        f(fs, "opens_interrupted"),
        f(fb, "connect_eintr"),
        f(fs, "connect_eintr"),
        SIG_CALLS / 10,
        f(fb, "signals_sent"),
        f(fb, "signals_handled"),
        f(fs, "signals_sent"),
        f(fs, "signals_handled"),
    );
    assert_eq!(f(fb, "open_eintr"), 0);
    // Every completed open of the tmp file was reported, once: an interrupted call that never
    // reached the supervisor is not counted, a restarted one is counted once.
    o.expect(
        PolicyKind::ReadWriteTmp,
        &path(&o.base, "tmp/sig-tmp", "read"),
        2 * (SIG_CALLS / SIG_TMP_EVERY) as u64,
    );
}

#[test]
fn own_signal_handlers_thread_directed_storm() {
    signal_storm(
        "own_signal_handlers_thread_directed_storm",
        w_signals_thread_directed,
    );
}

#[test]
fn own_signal_handlers_process_directed_storm() {
    signal_storm(
        "own_signal_handlers_process_directed_storm",
        w_signals_process_directed,
    );
}

#[test]
fn kernel_decided_calls() {
    let o = parity("kernel_decided_calls", w_kernel_decided, How::Builder);
    // Reading the code through a file handle is reported like any read of it. As root (as CI
    // runs): open_by_handle_at needs CAP_DAC_READ_SEARCH with or without a shield, so an
    // unprivileged run (the launcher's Lambda profiles) gets EPERM both ways and no event.
    if nix::unistd::geteuid().is_root() {
        o.expect_by(
            PolicyKind::ReadHandler,
            &path(&o.base, "task/bootstrap", "read"),
            "open_by_handle_at",
            1,
        );
    } else {
        assert!(
            o.events.iter().all(|e| e.syscall != "open_by_handle_at"),
            "{}",
            o.dump()
        );
    }
    // An io_uring instance is reported once (its operations are not seen by the shield).
    let rings = o.matching(PolicyKind::ReadHandler, |d| d.contains("io_uring"));
    assert!(rings.len() <= 1, "{}", o.dump());
    assert!(rings
        .iter()
        .all(|e| e.syscall == "io_uring_setup" && e.count == 1));
}

#[test]
fn kernel_decided_calls_more() {
    let o = parity(
        "kernel_decided_calls_more",
        w_kernel_decided_more,
        How::Builder,
    );
    // Tracing another process is reported as reading its memory; the 32-bit call is
    // reported as such (x86_64).
    let traced = o.matching(PolicyKind::ReadHandler, |d| d.contains("/mem"));
    assert!(
        traced.len() == 1 && traced[0].syscall == "ptrace",
        "{}",
        o.dump()
    );
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            o.matching(PolicyKind::ReadHandler, |d| d.contains("32-bit ABI"))
                .len(),
            1,
            "{}",
            o.dump()
        );
    }
}

#[test]
fn many_violations_in_one_invocation() {
    let o = parity("many_violations_in_one_invocation", w_many, How::Builder);
    o.expect(
        PolicyKind::ReadWriteTmp,
        &path(&o.base, "tmp/hot", "read"),
        MANY,
    );
}

/// Under each interceptor configuration (notify, trap, the libc layer alone in the Lambda
/// sandbox), every occurrence from every thread is counted.
#[test]
fn many_violations_from_many_threads() {
    many_violations_from_many_threads_in("many_violations_from_many_threads", &["notify", "trap"]);
}

/// [`many_violations_from_many_threads`] with the libc layer alone. Its own test, because it
/// makes a Lambda sandbox without NoNewPrivs, which a process that already has NoNewPrivs
/// (the `lambda-nnp` launcher profile of `.ci/kernels`) cannot have.
#[test]
fn many_violations_from_many_threads_libc_only() {
    if !cfg!(feature = "libc-layer") {
        // Compiled out (the seccomp-alone configuration): nothing decides in that sandbox, so
        // there are no occurrences to count; corpus_libc_only checks that parity holds there.
        return;
    }
    many_violations_from_many_threads_in(
        "many_violations_from_many_threads_libc_only",
        &["libc_only"],
    );
}

fn many_violations_from_many_threads_in(test: &str, configs: &[&str]) {
    const WORKLOAD: &str = "many_violations_from_many_threads";
    for &config in configs {
        let Some(o) = parity_in(test, WORKLOAD, config, w_many_threads, How::Builder) else {
            return;
        };
        o.expect(
            PolicyKind::ReadWriteTmp,
            &path(&o.base, "tmp/hot", "read"),
            THREADS * PER_THREAD - PER_THREAD / 2,
        );
        o.expect(
            PolicyKind::ReadWriteTmp,
            &path(&o.base, "tmp/warm", "read"),
            PER_THREAD / 2,
        );
    }
}

#[test]
fn shield_mode_env_var_switch() {
    let o = parity("shield_mode_env_var_switch", w_env_switch, How::EnvVar);
    let b = &o.base;
    o.expect(PolicyKind::ReadWriteTmp, &path(b, "tmp/f", "write"), 1);
    o.expect(PolicyKind::ReadWriteTmp, &path(b, "tmp/f", "read"), 1);
    o.expect(
        PolicyKind::ReadHandler,
        &path(b, "task/bootstrap", "read"),
        1,
    );
    o.expect(
        PolicyKind::ReadHandler,
        &sys_path("/proc/self/environ", "read"),
        1,
    );
    o.expect(
        PolicyKind::OutboundConnectivity,
        &connect("127.0.0.2", o.port("P_TCP_2")),
        1,
    );
    o.expect(
        PolicyKind::CreateChildProcess,
        &exec("/usr/bin/sort", &["sort", "-r"]),
        1,
    );
}

/// libc functions glibc carries out through its internal names: alert mode changes nothing,
/// and the writes in the tmp root and the read of the code are reported.
#[test]
fn libc_internal_names() {
    let o = parity("libc_internal_names", w_libc_internal_names, How::Builder);
    let b = &o.base;
    o.expect_by(
        PolicyKind::ReadWriteTmp,
        &path(b, "tmp/fifo", "write"),
        "mknodat",
        1,
    );
    assert!(
        !o.matching(PolicyKind::ReadHandler, |d| d.contains("task/bootstrap"))
            .is_empty(),
        "{}",
        o.dump()
    );
}

/// Two signals, both without `SA_RESTART`, sent to the process at once while the main thread
/// opens files. A thread returning from one handler (`rt_sigreturn`, the other signal not
/// blocked) can be interrupted by the other: where the shield notified `rt_sigreturn` (kernels
/// without `WAIT_KILLABLE_RECV`, such as Lambda's 5.10), the interrupted `rt_sigreturn`
/// returned EINTR instead of restoring the frame and the function died with SIGSEGV (every run
/// under the k5.10 profile).
fn w_two_signal_storm(c: &Ctx) -> i32 {
    let mut files: Vec<(CString, Vec<u8>)> = (0..SIG_FILES)
        .map(|i| {
            let p = c.out.join(format!("two-{i:02}"));
            let content = format!("file {i}\n").into_bytes();
            std::fs::write(&p, &content).unwrap();
            (CString::new(p.to_str().unwrap()).unwrap(), content)
        })
        .collect();
    files.truncate(SIG_FILES);
    set_handler(libc::SIGUSR1, false);
    set_handler(libc::SIGUSR2, false);
    let stop = Arc::new(AtomicBool::new(false));
    let storms: Vec<_> = [libc::SIGUSR1, libc::SIGUSR2]
        .into_iter()
        .map(|sig| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: kill of our own process with a handled signal.
                    unsafe { libc::kill(libc::getpid(), sig) };
                }
            })
        })
        .collect();
    for i in 0..SIG_CALLS {
        let (p, want) = &files[i % SIG_FILES];
        open_read(p, want);
    }
    stop.store(true, Ordering::Relaxed);
    for s in storms {
        s.join().unwrap();
    }
    println!("two signals: {SIG_CALLS} opens completed");
    0
}

#[test]
fn own_signal_handlers_two_signal_storm() {
    // `parity` asserts that the shielded run observed what the bare one did: every open
    // completed, exit status 0 (not SIGSEGV).
    parity(
        "own_signal_handlers_two_signal_storm",
        w_two_signal_storm,
        How::Builder,
    );
}
