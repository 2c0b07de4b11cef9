//! Syscalls under the installed shield against the same calls without it, in the same run
//! (issue 4). `cargo bench -p benches --bench syscalls`
//!
//! # Design: bare first, then install in the same process
//!
//! `Shield::install()` is irreversible, so one process cannot measure "bare" after it. This
//! binary has its own `main` and runs in this order:
//!
//! 1. every **bare** benchmark (`<group>/bare`), in a process without any seccomp filter;
//! 2. `install/fresh_process`: `install()` time, one fresh process per sample (see below);
//! 3. `Shield::install()` **in this process** (all policies `block`, the SIGSYS trap
//!    interceptor, `require_enforcement`), then a check that a write outside the allowed
//!    tmp sub-path really fails with EACCES;
//! 4. every **shielded** benchmark under the same group names (`<group>/shielded`);
//! 5. a summary table of medians, ratios and goals read back from criterion's results.
//!
//! The install happens outside any `bench_function`, so it also happens when a filter skips
//! some benchmarks. Same process, same criterion settings, same fixtures: the only difference
//! between the two halves is the filter and the trap handler.
//!
//! # Benchmarks
//!
//! * `getpid`: `std::process::id()`, which is a real `getpid` syscall on every call (glibc
//!   stopped caching the pid in 2.25; this machine has 2.36). Not trapped: the filter's
//!   syscall-number dispatch lets it through (goal ≤ 1.05×).
//! * `trap_round_trip`: `recvfrom` with a source-address buffer on an empty non-blocking UDP
//!   socket (`UdpSocket::recv_from` → `EAGAIN`). The filter traps `recvfrom` whenever a source
//!   address is requested, and the handler's work for it is minimal: it re-issues the call
//!   through the trampoline first and returns at once because nothing was received (no
//!   pointer copy, no decision, no DNS parsing). So `shielded − bare` is the bare cost of a
//!   trap: SIGSYS delivery, handler entry, one trampoline syscall, `rt_sigreturn`.
//! * `openat_close`: `File::open` + drop of a file under the tmp root's allowed sub-path
//!   (`allow_tmp`). Shielded, `openat` is trapped; the handler copies the path, decides,
//!   re-issues it, and verifies the opened file (`/proc/self/fd/N`, `fstat`). Goal: within
//!   300 ns of (trap round trip + bare openat+close), i.e.
//!   `openat_close/shielded − openat_close/bare − (trap_round_trip/shielded −
//!   trap_round_trip/bare) ≤ 300 ns`.
//! * `connect_loopback`: `TcpStream::connect` to a listener on `127.0.0.1` (always allowed)
//!   and drop; a thread accepts and drops. Shielded, `connect` is trapped and decided.
//! * `install/fresh_process`: each iteration re-executes this binary with
//!   `FNSHIELD_BENCH_PHASE=install-once`; the child builds the same shield, times
//!   `install()` alone with `Instant` and prints the nanoseconds, which `iter_custom` sums.
//!   Process start-up is not included. The summary also gives the median over all child
//!   processes (goal ≤ 1 ms).

use std::fs::File;
use std::hint::black_box;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use benches::{criterion_dir, fmt_ns, Summary};
use criterion::{Criterion, SamplingMode};
use fnshield::{Mechanism, Shield};

/// Set in a child process to run one phase instead of the benchmarks.
const PHASE: &str = "FNSHIELD_BENCH_PHASE";
/// The fixture directory a child process uses.
const DIR: &str = "FNSHIELD_BENCH_DIR";
/// Prefix of the fixture directories under the system temp dir.
const PREFIX: &str = "fnshield-bench-syscalls-";

/// Install times (ns) and build times (ns) reported by the install-once children.
static INSTALL_SAMPLES: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

struct Dirs {
    base: PathBuf,
    task: PathBuf,
    tmp: PathBuf,
    allowed: PathBuf,
    file: PathBuf,
}

impl Dirs {
    fn at(base: PathBuf) -> Dirs {
        let tmp = base.join("tmp");
        let allowed = tmp.join("data");
        Dirs {
            task: base.join("task"),
            file: allowed.join("file"),
            base,
            tmp,
            allowed,
        }
    }

    fn create() -> Dirs {
        remove_stale();
        let d = Dirs::at(std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id())));
        std::fs::create_dir_all(&d.task).expect("create the bench task root");
        std::fs::create_dir_all(&d.allowed).expect("create the bench tmp root");
        std::fs::write(&d.file, b"bench").expect("write the bench file");
        d
    }
}

/// Fixture directories of earlier runs whose process is gone (a shielded run cannot remove
/// its own tmp root).
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The shield under test: every policy `block` (the defaults), the process environment
/// ignored, the tmp root in the fixture directory with one allowed sub-path.
fn shield(d: &Dirs) -> Shield {
    let s = |p: &Path| p.to_str().expect("UTF-8 temp dir").to_owned();
    Shield::builder()
        .env(fnshield::policy::Env::from_pairs([
            ("LAMBDA_TASK_ROOT", s(&d.task)),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench-syscalls".to_owned()),
        ]))
        .resolv_conf("nameserver 127.0.0.1\n")
        .tmp_root(s(&d.tmp))
        .allow_tmp(s(&d.allowed))
        .sinks(["json"])
        .wipe_tmp(false)
        .require_enforcement(true)
        .build()
        .expect("the bench shield configuration is valid")
}

/// Child mode: build and install the shield once, print the times.
fn install_once(dir: PathBuf) {
    let d = Dirs::at(dir);
    let t = Instant::now();
    let s = shield(&d);
    let build = t.elapsed();
    let t = Instant::now();
    let report = s.install().expect("install the shield");
    let install = t.elapsed();
    assert_eq!(report.interceptor, Mechanism::SeccompTrap, "{report}");
    println!(
        "install_ns={} build_ns={}",
        install.as_nanos(),
        build.as_nanos()
    );
}

/// Runs one install-once child; returns (install, build).
fn install_in_child(d: &Dirs) -> (Duration, Duration) {
    let exe = std::env::current_exe().expect("path of this bench binary");
    let out = Command::new(exe)
        .env(PHASE, "install-once")
        .env(DIR, &d.base)
        .output()
        .expect("spawn the install-once child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "install-once child failed: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |key: &str| -> u64 {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in the child's output:\n{stdout}"))
    };
    let (install, build) = (field("install_ns="), field("build_ns="));
    INSTALL_SAMPLES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((install, build));
    (Duration::from_nanos(install), Duration::from_nanos(build))
}

struct Fixture {
    dirs: Dirs,
    udp: UdpSocket,
    listen: SocketAddr,
}

impl Fixture {
    fn new() -> Fixture {
        let dirs = Dirs::create();
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on loopback");
        udp.set_nonblocking(true).expect("non-blocking UDP socket");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a TCP listener on loopback");
        let listen = listener.local_addr().expect("listener address");
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                drop(conn);
            }
        });
        Fixture { dirs, udp, listen }
    }
}

/// The syscall benchmarks, registered as `<group>/<variant>`.
fn calls(c: &mut Criterion, variant: &str, fx: &Fixture) {
    let mut g = c.benchmark_group("getpid");
    g.bench_function(variant, |b| b.iter(|| black_box(std::process::id())));
    g.finish();

    let mut g = c.benchmark_group("trap_round_trip");
    g.bench_function(variant, |b| {
        let mut buf = [0u8; 16];
        b.iter(|| {
            let r = fx.udp.recv_from(black_box(&mut buf));
            assert!(
                matches!(&r, Err(e) if e.kind() == ErrorKind::WouldBlock),
                "{r:?}"
            );
        })
    });
    g.finish();

    let mut g = c.benchmark_group("openat_close");
    g.bench_function(variant, |b| {
        b.iter(|| drop(File::open(black_box(&fx.dirs.file)).expect("open the bench file")))
    });
    g.finish();

    let mut g = c.benchmark_group("connect_loopback");
    g.bench_function(variant, |b| {
        b.iter(|| drop(TcpStream::connect(black_box(fx.listen)).expect("connect to 127.0.0.1")))
    });
    g.finish();
}

fn install_time(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group("install");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(Duration::from_millis(300));
    g.bench_function("fresh_process", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| install_in_child(&fx.dirs).0).sum())
    });
    g.finish();
}

fn install_here(fx: &Fixture) {
    let s = shield(&fx.dirs);
    let report = s
        .install()
        .expect("install the shield in the bench process");
    assert_eq!(report.interceptor, Mechanism::SeccompTrap, "{report}");
    // Prove that the second half runs shielded: a write outside the allowed sub-path fails.
    let denied = File::create(fx.dirs.tmp.join("not-allowed"));
    assert!(
        matches!(&denied, Err(e) if e.kind() == ErrorKind::PermissionDenied),
        "the shield is not enforcing: {denied:?}"
    );
    println!("\nshield installed in the bench process: {report}\n");
}

fn fill_summary(s: &mut Summary) {
    s.ratio("getpid", "getpid", "shielded", "bare", Some(1.05));
    let trap = s.added(
        "trap round trip (recvfrom → EAGAIN)",
        "trap_round_trip",
        "shielded",
        "bare",
        None,
    );
    let open = s.added(
        "openat+close (allowed tmp file)",
        "openat_close",
        "shielded",
        "bare",
        None,
    );
    if let (Some(trap), Some(open_added), Some(open_bare)) =
        (trap, open, s.median("openat_close", "bare"))
    {
        let excess = open_added - trap;
        s.row(
            "openat+close vs trap round trip + bare openat+close",
            format!(
                "{} vs {} + {} (excess {})",
                fmt_ns(open_bare + open_added),
                fmt_ns(trap),
                fmt_ns(open_bare),
                fmt_ns(excess)
            ),
            format!(
                "excess ≤ 300 ns — {}",
                if excess <= 300.0 { "met" } else { "NOT met" }
            ),
        );
    }
    s.ratio(
        "connect to 127.0.0.1 (+ socket, close)",
        "connect_loopback",
        "shielded",
        "bare",
        None,
    );
    s.value(
        "install() (criterion, fresh process per sample)",
        "install",
        "fresh_process",
        Some(1e6),
    );
    let mut samples = INSTALL_SAMPLES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if !samples.is_empty() {
        let median = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v[v.len() / 2] as f64
        };
        let mut install: Vec<u64> = samples.iter().map(|s| s.0).collect();
        let mut build: Vec<u64> = samples.iter_mut().map(|s| s.1).collect();
        let (mi, mb) = (median(&mut install), median(&mut build));
        s.row(
            format!("install() over {} processes", install.len()),
            format!(
                "median {} (min {}, max {}); build() median {}",
                fmt_ns(mi),
                fmt_ns(install[0] as f64),
                fmt_ns(install[install.len() - 1] as f64),
                fmt_ns(mb)
            ),
            format!("≤ 1 ms — {}", if mi <= 1e6 { "met" } else { "NOT met" }),
        );
    }
}

fn main() {
    if std::env::var(PHASE).as_deref() == Ok("install-once") {
        let dir = std::env::var_os(DIR).expect("FNSHIELD_BENCH_DIR is set for the child");
        return install_once(PathBuf::from(dir));
    }
    let listing = std::env::args().any(|a| a == "--list");
    let mut summary = Summary::new("syscalls: shielded vs bare");
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .without_plots()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let fx = Fixture::new();

    calls(&mut c, "bare", &fx);
    install_time(&mut c, &fx);
    if !listing {
        install_here(&fx);
    }
    calls(&mut c, "shielded", &fx);

    c.final_summary();
    if !listing {
        fill_summary(&mut summary);
        summary.print();
    }
    // Best effort: the shield forbids removing the tmp root itself; the next run removes
    // what is left.
    let _ = std::fs::remove_dir_all(&fx.dirs.base);
}
