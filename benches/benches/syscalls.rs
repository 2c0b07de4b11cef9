//! Syscalls under the installed shield against the same calls without it, in the same run
//! (issue 4). `cargo bench -p benches --bench syscalls`
//!
//! # Design: bare first, then install in the same process
//!
//! `Shield::install()` is irreversible, so one process cannot measure "bare" after it. This
//! binary has its own `main` and runs in this order:
//!
//! 1. every **bare** benchmark (`<group>/bare`), in a process without any seccomp filter,
//!    and the bare costs of the open handler's parts (`open_handler_parts/*`);
//! 2. `install/fresh_process`: `install()` time, one fresh process per sample (see below);
//! 3. **paired rounds** (only under `cargo bench`): a shielded child process
//!    (`FNSHIELD_BENCH_PHASE=paired`, same fixtures, shield installed) and this still-bare
//!    process take turns running the same burst of calls (a few ms each, alternating who
//!    goes first), 61 rounds per call. On a shared machine the load changes within seconds,
//!    so two criterion benchmarks a minute apart can disagree by ±30 %; back-to-back bursts
//!    see the same load. The summary gives the median of the per-round ratios/differences
//!    next to criterion's figures — prefer the paired ones when they disagree;
//! 4. `Shield::install()` **in this process** (all policies `block`, the SIGSYS trap
//!    interceptor, `require_enforcement`), then a check that a write outside the allowed
//!    tmp sub-path really fails with EACCES;
//! 5. every **shielded** benchmark under the same group names (`<group>/shielded`);
//! 6. a summary table of medians, ratios and goals read back from criterion's results.
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
//! * `connect_loopback`: `TcpStream::connect` to a listener on `127.0.0.1` (always allowed),
//!   `accept` on the same thread, close both (`socket` + `connect` + `accept4` + 2 `close`).
//!   Accepting in the loop keeps the backlog from filling up, which would otherwise cost a
//!   1 s SYN retransmission now and then. Shielded, only `connect` is trapped and decided.
//! * `open_handler_parts/*` (bare only): what the trap handler adds to an allowed `openat`
//!   besides the trap itself — `process_vm_readv` of the path, `readlink` of
//!   `/proc/self/fd/N` (allocates the result, the handler does not) and `fstat` — to show
//!   where the openat+close excess goes.
//! * `install/fresh_process`: each iteration re-executes this binary with
//!   `FNSHIELD_BENCH_PHASE=install-once`; the child builds the same shield, times
//!   `install()` alone with `Instant` and prints the nanoseconds, which `iter_custom` sums.
//!   Process start-up is not included. The summary also gives the median over all child
//!   processes (goal ≤ 1 ms).

use std::fs::File;
use std::hint::black_box;
use std::io::IoSliceMut;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use benches::{criterion_dir, fmt_ns, median, verdict, Dirs, Summary};
use criterion::{Criterion, SamplingMode};
use fnshield::{Mechanism, Shield};
use nix::sys::stat::fstat;
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

/// Set in a child process to run one phase instead of the benchmarks.
const PHASE: &str = "FNSHIELD_BENCH_PHASE";
/// The fixture directory a child process uses.
const DIR: &str = "FNSHIELD_BENCH_DIR";
/// Prefix of the fixture directories under the system temp dir.
const PREFIX: &str = "fnshield-bench-syscalls-";

/// Install times (ns) and build times (ns) reported by the install-once children: the trap
/// interceptor (the defaults) and the notify interceptor (forced; its install also forks the
/// stand-by supervisor process).
static INSTALL_SAMPLES: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
static INSTALL_SAMPLES_NOTIFY: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// Set in an install-once child that forces the notify interceptor.
const NOTIFY: &str = "FNSHIELD_BENCH_NOTIFY";

/// The shield under test: every policy `block` (the defaults), the process environment
/// ignored, the tmp root in the fixture directory with one allowed sub-path.
fn shield(d: &Dirs) -> Shield {
    shield_with(d, |b| b)
}

/// [`shield`], with `f` applied to the builder last.
fn shield_with(
    d: &Dirs,
    f: impl FnOnce(fnshield::ShieldBuilder) -> fnshield::ShieldBuilder,
) -> Shield {
    let s = |p: &Path| p.to_str().expect("UTF-8 temp dir").to_owned();
    let b = Shield::builder()
        .env(fnshield::Env::from_pairs([
            ("LAMBDA_TASK_ROOT", s(&d.task)),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench-syscalls".to_owned()),
        ]))
        .resolv_conf("nameserver 127.0.0.1\n")
        .tmp_root(s(&d.tmp))
        .allow_tmp(s(&d.allowed))
        .sinks(["json"])
        .wipe_tmp(false)
        .require_enforcement(true);
    f(b).build()
        .expect("the bench shield configuration is valid")
}

/// Child mode: build and install the shield once, print the times.
fn install_once(dir: PathBuf) {
    let d = Dirs::at(dir);
    let notify = std::env::var_os(NOTIFY).is_some();
    let t = Instant::now();
    let s = if notify {
        shield_with(&d, |b| b.interceptor(fnshield::InterceptorChoice::Notify))
    } else {
        shield(&d)
    };
    let build = t.elapsed();
    let t = Instant::now();
    let report = s.install().expect("install the shield");
    let install = t.elapsed();
    let expected = if notify {
        Mechanism::SeccompNotify
    } else {
        Mechanism::SeccompTrap
    };
    assert_eq!(report.interceptor, expected, "{report}");
    println!(
        "install_ns={} build_ns={}",
        install.as_nanos(),
        build.as_nanos()
    );
}

/// Runs one install-once child; returns (install, build).
fn install_in_child(d: &Dirs, notify: bool) -> (Duration, Duration) {
    let exe = std::env::current_exe().expect("path of this bench binary");
    let mut cmd = Command::new(exe);
    cmd.env(PHASE, "install-once").env(DIR, &d.base);
    if notify {
        cmd.env(NOTIFY, "1");
    }
    let out = cmd.output().expect("spawn the install-once child");
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
    if notify {
        &INSTALL_SAMPLES_NOTIFY
    } else {
        &INSTALL_SAMPLES
    }
    .lock()
    .unwrap_or_else(|p| p.into_inner())
    .push((install, build));
    (Duration::from_nanos(install), Duration::from_nanos(build))
}

struct Fixture {
    dirs: Dirs,
    udp: UdpSocket,
    listener: TcpListener,
    listen: SocketAddr,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(Dirs::create(PREFIX))
    }

    fn with(dirs: Dirs) -> Fixture {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on loopback");
        udp.set_nonblocking(true).expect("non-blocking UDP socket");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a TCP listener on loopback");
        let listen = listener.local_addr().expect("listener address");
        Fixture {
            dirs,
            udp,
            listener,
            listen,
        }
    }
}

/// The measured calls; the criterion benchmarks and the paired rounds run the same bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Getpid,
    TrapRoundTrip,
    OpenatClose,
    ConnectLoopback,
}

impl Call {
    const ALL: [Call; 4] = [
        Call::Getpid,
        Call::TrapRoundTrip,
        Call::OpenatClose,
        Call::ConnectLoopback,
    ];

    /// The criterion group name.
    fn group(self) -> &'static str {
        match self {
            Call::Getpid => "getpid",
            Call::TrapRoundTrip => "trap_round_trip",
            Call::OpenatClose => "openat_close",
            Call::ConnectLoopback => "connect_loopback",
        }
    }

    fn from_group(name: &str) -> Option<Call> {
        Call::ALL.into_iter().find(|c| c.group() == name)
    }

    /// Calls per paired round: a few milliseconds each.
    fn round_len(self) -> u64 {
        match self {
            Call::Getpid => 10_000,
            Call::TrapRoundTrip => 1_000,
            Call::OpenatClose => 400,
            Call::ConnectLoopback => 100,
        }
    }

    /// One call.
    #[inline(always)]
    fn once(self, fx: &Fixture) {
        match self {
            Call::Getpid => {
                black_box(std::process::id());
            }
            Call::TrapRoundTrip => {
                let mut buf = [0u8; 16];
                let r = fx.udp.recv_from(black_box(&mut buf));
                assert!(
                    matches!(&r, Err(e) if e.kind() == ErrorKind::WouldBlock),
                    "{r:?}"
                );
            }
            Call::OpenatClose => {
                drop(File::open(black_box(&fx.dirs.file)).expect("open the bench file"));
            }
            Call::ConnectLoopback => {
                let client =
                    TcpStream::connect(black_box(fx.listen)).expect("connect to 127.0.0.1");
                let (server, _) = fx.listener.accept().expect("accept on 127.0.0.1");
                drop(client);
                drop(server);
            }
        }
    }

    /// `n` calls; the elapsed time.
    fn run(self, fx: &Fixture, n: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            self.once(fx);
        }
        start.elapsed()
    }
}

/// The syscall benchmarks, registered as `<group>/<variant>`.
fn calls(c: &mut Criterion, variant: &str, fx: &Fixture) {
    for call in Call::ALL {
        let mut g = c.benchmark_group(call.group());
        g.bench_function(variant, |b| b.iter(|| call.once(fx)));
        g.finish();
    }
}

/// Bare costs of the syscalls the trap handler adds to an allowed `openat`: copying the path
/// (`process_vm_readv`), confirming the opened file (`readlink("/proc/self/fd/N")`) and
/// comparing it with the executable (`fstat`). Measured once, without the shield.
fn handler_parts(c: &mut Criterion, fx: &Fixture) {
    let path = fx.dirs.file.as_os_str().as_encoded_bytes();
    let file = File::open(&fx.dirs.file).expect("open the bench file");
    let fd_link = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let mut g = c.benchmark_group("open_handler_parts");
    g.bench_function("process_vm_readv_path", |b| {
        let mut copy = vec![0u8; path.len()];
        let remote = [RemoteIoVec {
            base: path.as_ptr() as usize,
            len: path.len(),
        }];
        b.iter(|| {
            let n = process_vm_readv(
                Pid::this(),
                &mut [IoSliceMut::new(&mut copy)],
                black_box(&remote),
            )
            .expect("process_vm_readv of our own memory");
            assert_eq!(n, path.len());
        })
    });
    g.bench_function("readlink_proc_self_fd", |b| {
        b.iter(|| std::fs::read_link(black_box(&fd_link)).expect("readlink /proc/self/fd/N"))
    });
    g.bench_function("fstat", |b| {
        b.iter(|| fstat(black_box(&file)).expect("fstat the bench file"))
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
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| install_in_child(&fx.dirs, false).0)
                .sum()
        })
    });
    g.bench_function("fresh_process_notify", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| install_in_child(&fx.dirs, true).0).sum())
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

/// Rounds per call in the paired measurement.
const ROUNDS: usize = 61;

/// Per call kind: (bare ns per call, shielded ns per call) for every paired round.
type Paired = Vec<(Call, Vec<(f64, f64)>)>;

/// Child mode: install the shield, then answer `"<group> <n>"` lines on stdin with the
/// nanoseconds that `n` shielded calls took.
fn paired_child(dir: PathBuf) {
    let fx = Fixture::with(Dirs::at(dir));
    let s = shield(&fx.dirs);
    let report = s.install().expect("install the shield");
    assert_eq!(report.interceptor, Mechanism::SeccompTrap, "{report}");
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .expect("stdout");
    for line in std::io::stdin().lines() {
        let line = line.expect("read a command");
        let (group, n) = line.split_once(' ').expect("`<group> <n>`");
        let call = Call::from_group(group).expect("a known call");
        let n: u64 = n.parse().expect("a count");
        let ns = call.run(&fx, n).as_nanos();
        writeln!(out, "{ns}")
            .and_then(|()| out.flush())
            .expect("stdout");
    }
}

/// Interleaved A/B rounds: this (bare) process and a shielded child take turns running the
/// same `n` calls, so that load from other processes on this shared machine hits both
/// sides alike. Even rounds run bare first, odd rounds shielded first.
fn paired(fx: &Fixture) -> Paired {
    let exe = std::env::current_exe().expect("path of this bench binary");
    let mut child = Command::new(exe)
        .env(PHASE, "paired")
        .env(DIR, &fx.dirs.base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the shielded child");
    let mut to_child = child.stdin.take().expect("child stdin");
    let mut from_child = BufReader::new(child.stdout.take().expect("child stdout")).lines();
    let mut next_line = || {
        from_child
            .next()
            .expect("the shielded child ended early")
            .expect("read from the shielded child")
    };
    assert_eq!(next_line(), "ready");
    let mut result = Vec::new();
    for call in Call::ALL {
        let n = call.round_len();
        let mut shielded = |to_child: &mut std::process::ChildStdin| -> f64 {
            writeln!(to_child, "{} {n}", call.group()).expect("write to the shielded child");
            next_line()
                .parse::<f64>()
                .expect("ns from the shielded child")
                / n as f64
        };
        // Warm both sides up once.
        call.run(fx, n);
        shielded(&mut to_child);
        let mut rounds = Vec::with_capacity(ROUNDS);
        for i in 0..ROUNDS {
            let bare = |fx: &Fixture| call.run(fx, n).as_nanos() as f64 / n as f64;
            let pair = if i % 2 == 0 {
                let b = bare(fx);
                (b, shielded(&mut to_child))
            } else {
                let s = shielded(&mut to_child);
                (bare(fx), s)
            };
            rounds.push(pair);
        }
        result.push((call, rounds));
    }
    drop(to_child);
    let status = child.wait().expect("wait for the shielded child");
    assert!(status.success(), "the shielded child failed: {status:?}");
    result
}

fn paired_summary(s: &mut Summary, p: &Paired) {
    let get = |c: Call| {
        &p.iter()
            .find(|(k, _)| *k == c)
            .expect("every call measured")
            .1
    };
    let ratio = |c: Call| median(get(c).iter().map(|(b, s)| s / b));
    let added = |c: Call| median(get(c).iter().map(|(b, s)| s - b));
    let bare = |c: Call| median(get(c).iter().map(|(b, _)| *b));
    let r = ratio(Call::Getpid);
    s.row(
        format!("paired: getpid ({ROUNDS} interleaved rounds, median of ratios)"),
        format!("{r:.3}× (bare {})", fmt_ns(bare(Call::Getpid))),
        format!("≤ 1.05× — {}", verdict(r, 1.05)),
    );
    let trap = added(Call::TrapRoundTrip);
    s.row(
        "paired: trap round trip",
        format!(
            "+{} (bare recvfrom {})",
            fmt_ns(trap),
            fmt_ns(bare(Call::TrapRoundTrip))
        ),
        "—",
    );
    let open = added(Call::OpenatClose);
    let excess = open - trap;
    s.row(
        "paired: openat+close vs trap round trip + bare",
        format!(
            "+{} over bare {} (excess {})",
            fmt_ns(open),
            fmt_ns(bare(Call::OpenatClose)),
            fmt_ns(excess)
        ),
        format!("excess ≤ 300 ns — {}", verdict(excess, 300.0)),
    );
    s.row(
        "paired: connect to 127.0.0.1",
        format!(
            "{:.3}× (+{} over bare {})",
            ratio(Call::ConnectLoopback),
            fmt_ns(added(Call::ConnectLoopback)),
            fmt_ns(bare(Call::ConnectLoopback))
        ),
        "—",
    );
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
            format!("excess ≤ 300 ns — {}", verdict(excess, 300.0)),
        );
    }
    let parts = ["process_vm_readv_path", "readlink_proc_self_fd", "fstat"]
        .map(|p| s.median("open_handler_parts", p));
    if let [Some(copy), Some(link), Some(stat)] = parts {
        s.row(
            "  of which, bare: process_vm_readv + readlink fd + fstat",
            format!(
                "{} + {} + {} = {}",
                fmt_ns(copy),
                fmt_ns(link),
                fmt_ns(stat),
                fmt_ns(copy + link + stat)
            ),
            "—",
        );
    }
    s.ratio(
        "connect to 127.0.0.1 (+ socket, accept, 2 close)",
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
    for (label, samples) in [
        ("install() (trap) over", &INSTALL_SAMPLES),
        (
            "install() (notify, with the stand-by supervisor's fork) over",
            &INSTALL_SAMPLES_NOTIFY,
        ),
    ] {
        let mut samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if samples.is_empty() {
            continue;
        }
        let median = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v[v.len() / 2] as f64
        };
        let mut install: Vec<u64> = samples.iter().map(|s| s.0).collect();
        let mut build: Vec<u64> = samples.iter_mut().map(|s| s.1).collect();
        let (mi, mb) = (median(&mut install), median(&mut build));
        s.row(
            format!("{label} {} processes", install.len()),
            format!(
                "median {} (min {}, max {}); build() median {}",
                fmt_ns(mi),
                fmt_ns(install[0] as f64),
                fmt_ns(install[install.len() - 1] as f64),
                fmt_ns(mb)
            ),
            format!("≤ 1 ms — {}", verdict(mi, 1e6)),
        );
    }
}

fn main() {
    if let Ok(phase) = std::env::var(PHASE) {
        let dir = PathBuf::from(std::env::var_os(DIR).expect("FNSHIELD_BENCH_DIR is set"));
        return match phase.as_str() {
            "install-once" => install_once(dir),
            "paired" => paired_child(dir),
            other => panic!("unknown {PHASE}={other}"),
        };
    }
    let listing = std::env::args().any(|a| a == "--list");
    let measuring = benches::measuring();
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
    handler_parts(&mut c, &fx);
    install_time(&mut c, &fx);
    let pairs = measuring.then(|| paired(&fx));
    if !listing {
        install_here(&fx);
    }
    calls(&mut c, "shielded", &fx);

    c.final_summary();
    if measuring {
        fill_summary(&mut summary);
        if let Some(p) = &pairs {
            paired_summary(&mut summary, p);
        }
        summary.print();
    }
    // Best effort: the shield forbids removing the tmp root itself; the next run removes
    // what is left.
    let _ = std::fs::remove_dir_all(&fx.dirs.base);
}
