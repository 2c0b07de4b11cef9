//! The notify interceptor (seccomp user notification and a supervisor thread) against the same
//! calls without a shield, in the same run (issue 5). `cargo bench -p benches --bench notify`
//!
//! # Design: bare first, then install in the same process
//!
//! Built like the `syscalls` bench (the trap interceptor). `Shield::install()` is
//! irreversible and a seccomp filter is inherited by every process started after it, so this
//! binary has its own `main` and runs in this order:
//!
//! 1. every **bare** benchmark (`<group>/bare`), in a process without any seccomp filter, and
//!    the bare costs of the supervisor's own syscalls (`notify_handler_parts/*`);
//! 2. `notify_spawn_true*/shielded_alert`: criterion in a **shielded child process**
//!    (`FNSHIELD_BENCH_PHASE=alert-criterion`, same fixtures and criterion arguments, shield
//!    installed with `child_process = alert`), writing its results next to ours;
//! 3. **paired rounds** (only under `cargo bench`): shielded child processes
//!    (`FNSHIELD_BENCH_PHASE=paired`, one with children `allow` running every call, one with
//!    children `alert` running the spawns) and this still-bare process take turns running the
//!    same burst of calls (a few ms each, alternating who goes first), 61 rounds per call.
//!    On a shared machine the load changes within seconds, so two criterion benchmarks a
//!    minute apart can disagree by ±30 %; back-to-back bursts see the same load. The summary
//!    gives the medians of the per-round figures next to criterion's — prefer the paired ones
//!    when they disagree;
//! 4. `Shield::install()` **in this process**: the notify interceptor forced
//!    (`interceptor = "notify"`), `create_child_process = allow`, every other policy `block`
//!    (the defaults), no event sinks. The report must say
//!    [`Mechanism::SeccompNotify`], and a write outside the allowed tmp sub-path must fail
//!    with EACCES;
//! 5. every **shielded** benchmark under the same group names (`<group>/shielded`, and
//!    `notify_spawn_true*/shielded_allow`);
//! 6. a summary table of medians, ratios and goals read back from criterion's results, then
//!    the paired figures.
//!
//! # Benchmarks
//!
//! * `notify_round_trip`: the bare cost of one notification answered with CONTINUE.
//!   `sendmsg` of one byte on a bound but unconnected UDP socket, with a `msghdr` whose
//!   `msg_name` is NULL. The filter cannot look inside the `msghdr`, so it sends every
//!   `sendmsg` to the supervisor; the supervisor copies the 56-byte `msghdr` with one
//!   `process_vm_readv`, sees no destination address and answers CONTINUE at once (no
//!   decision, no event, no emulation). The kernel then runs the call and fails it early with
//!   `EDESTADDRREQ`: no packet, no queue that fills up, nothing to clean up. So
//!   `shielded − bare` is the round trip: the caller blocks in seccomp, the supervisor thread
//!   wakes in `SECCOMP_IOCTL_NOTIF_RECV`, one 56-byte copy, `SECCOMP_IOCTL_NOTIF_SEND`, the
//!   caller wakes and runs the syscall. This is the closest call to "round trip only": a
//!   `recvfrom` without a source address is not notified at all (the filter checks its
//!   argument 4), one with an address is emulated (socket duplicated, received in the
//!   supervisor, copied back), and a `newfstatat` outside the tmp root copies the path,
//!   resolves it against the caller's cwd and classifies it before it is continued. The copy
//!   is also measured bare (`notify_handler_parts/process_vm_readv_msghdr`) so that the
//!   summary can give the goal against the round trip with and without it.
//! * `notify_openat_close`: `File::open` + drop of a file under the tmp root's allowed
//!   sub-path (`allow_tmp`). Shielded, `openat` is notified; the supervisor copies the path,
//!   checks that the notification is still pending, resolves and decides it, then carries the
//!   ALLOW out by emulation (it opens the file itself, verifies what it opened, injects the
//!   descriptor into the caller with `SECCOMP_IOCTL_NOTIF_ADDFD` and closes its own copy) so
//!   that the path cannot be swapped after the decision. `close` is not filtered. Goal
//!   (issue 5): `openat_close/shielded ≤ 1.2 × (round trip + openat_close/bare)`.
//! * `notify_handler_parts/*` (bare only): the supervisor's own syscalls for the calls above
//!   (see [`handler_parts`]), to show where the openat+close excess goes.
//! * `notify_spawn_true`: `std::process::Command::new("/bin/true").status()`, with
//!   `LD_LIBRARY_PATH` removed from the child's environment. The dynamic loader then makes 5
//!   path syscalls, each notified under the shield (strace on this machine: `access
//!   /etc/ld.so.preload`, `openat` of `ld.so.cache` and `libc.so.6`, two `newfstatat` of the
//!   opened files).
//! * `notify_spawn_true_ld_path`: the same with `LD_LIBRARY_PATH` = an empty directory, then
//!   the directory that holds `libc.so.6`, as on Lambda (its documented `LD_LIBRARY_PATH` is
//!   `/var/lang/lib:/lib64:/usr/lib64:…`: `libc.so.6` is found in the second directory). Before it finds `libc.so.6` the loader probes every
//!   `glibc-hwcaps`/`tls`/platform subdirectory of each directory: 77 path syscalls on this
//!   machine, each notified. The environment is set explicitly in both benchmarks because it
//!   decides the figure: `cargo bench` itself puts 5 directories into `LD_LIBRARY_PATH` (196
//!   path syscalls per spawn), which made an uncontrolled spawn 5–9× slower shielded than
//!   bare under `cargo bench` and about 1× when the same binary ran directly.
//!
//!   Variants of both spawn benchmarks:
//!   - `bare`: no filter.
//!   - `shielded_allow`: this process, children `allow`. Neither `clone` nor `execve` is
//!     notified, but the child inherits the filter, so its dynamic loader's opens
//!     (`ld.so.cache`, `libc.so.6`, …) are notified to and emulated by this process's
//!     supervisor; `clone3` gets ENOSYS from the filter and glibc falls back to `clone`.
//!     Spawns are slow, so these groups use flat sampling (about `measurement_time` each).
//!   - `shielded_alert`: a shielded child process, children `alert`: the realistic staging
//!     configuration. In addition, every `execve` is notified, decided against the
//!     executable allowlist (empty: an alert) and continued; the alert is reported once per
//!     distinct executable and later ones only counted. Measured in another process because
//!     a process can install only one shield, and criterion's figure for it comes from a
//!     different moment than `bare`: the paired rounds compare it with bare back to back.
//!
//! # Reading the figures: the round trip depends on how idle the machine is
//!
//! A notified call is two cross-thread wake-ups (caller → supervisor → caller). On this
//! machine (a Firecracker VM, like Lambda, with `cpuidle_haltpoll` and no guest halt polling)
//! an idle vCPU halts at once, and waking the other vCPU goes through the host: the round trip
//! measured about 80 µs with the machine idle (load average below 1) and about 3 µs with both
//! vCPUs busy with other work (load average near 3), where no vCPU is halted. The summary
//! prints the load average; compare figures from runs at similar load only. A throwaway C
//! program (one `getppid` filter, a supervisor thread answering CONTINUE) showed the same
//! 30–100 µs idle round trip, and about 3 µs with `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`
//! (`SECCOMP_IOCTL_NOTIF_SET_FLAGS`, Linux 6.6+), which runs the supervisor on the caller's
//! CPU instead of waking another one.

use std::ffi::OsStr;
use std::fs::File;
use std::hint::black_box;
use std::io::{ErrorKind, IoSlice, IoSliceMut, Read};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use benches::{
    criterion_dir, fmt_ns, interleave, median, serve_paired, verdict, Dirs, PairedChild, Summary,
};
use criterion::{Criterion, SamplingMode};
use fnshield::{InterceptorChoice, Mechanism, Mode, Shield};
use nix::errno::Errno;
use nix::sys::socket::{sendmsg, MsgFlags, SockaddrStorage};
use nix::sys::stat::fstat;
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

/// Set in a child process to run one phase instead of the benchmarks.
const PHASE: &str = "FNSHIELD_BENCH_PHASE";
/// The fixture directory a child process uses.
const DIR: &str = "FNSHIELD_BENCH_DIR";
/// `create_child_process` of a paired child: `allow` or `alert`.
const CHILD_MODE: &str = "FNSHIELD_BENCH_CHILD_MODE";
/// Prefix of the fixture directories under the system temp dir.
const PREFIX: &str = "fnshield-bench-notify-";
/// `sizeof(struct msghdr)` on 64-bit Linux: what the supervisor copies for every `sendmsg`.
const MSGHDR: usize = 56;
/// The goal of issue 5: openat+close under notify ≤ this × (round trip + bare openat+close).
const OPEN_GOAL: f64 = 1.2;
/// Rounds per call in the paired measurement.
const ROUNDS: usize = 61;

/// The shield under test: the notify interceptor, `create_child_process = children`, every
/// other policy `block` (the defaults), the process environment ignored, the tmp root in the
/// fixture directory with one allowed sub-path, no event sinks.
fn shield(d: &Dirs, children: Mode) -> Shield {
    let s = |p: &Path| p.to_str().expect("UTF-8 temp dir").to_owned();
    Shield::builder()
        .env(fnshield::Env::from_pairs([
            ("LAMBDA_TASK_ROOT", s(&d.task)),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench-notify".to_owned()),
        ]))
        .resolv_conf("nameserver 127.0.0.1\n")
        .tmp_root(s(&d.tmp))
        .allow_tmp(s(&d.allowed))
        .child_process(children)
        .sinks(Vec::<String>::new())
        .wipe_tmp(false)
        .interceptor(InterceptorChoice::Notify)
        .build()
        .expect("the bench shield configuration is valid")
}

/// Installs the shield in this process and proves that it enforces: the notify interceptor
/// is active and a write outside the allowed sub-path fails with EACCES. Prints nothing (a
/// paired child's stdout is its answer channel); returns the shield (kept for the rest of the
/// process) and its enforcement report.
fn install(d: &Dirs, children: Mode) -> (Shield, String) {
    let shield = shield(d, children);
    let report = shield.install().expect("install the shield");
    assert_eq!(report.interceptor, Mechanism::SeccompNotify, "{report}");
    let report = report.to_string();
    let denied = File::create(d.tmp.join("not-allowed"));
    assert!(
        matches!(&denied, Err(e) if e.kind() == ErrorKind::PermissionDenied),
        "the shield is not enforcing: {denied:?}"
    );
    (shield, report)
}

struct Fixture {
    dirs: Dirs,
    /// Bound to 127.0.0.1 and never connected: `sendmsg` without an address fails with
    /// `EDESTADDRREQ` before anything is queued.
    udp: UdpSocket,
    /// Lambda-like: an empty directory first (Lambda's `/var/lang/lib`), then the directory
    /// that holds `libc.so.6`.
    ld_path: String,
}

impl Fixture {
    fn with(dirs: Dirs) -> Fixture {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on loopback");
        let libc_dir = LIBC_DIRS
            .into_iter()
            .find(|d| Path::new(d).join("libc.so.6").exists())
            .expect("libc.so.6 in one of LIBC_DIRS");
        let ld_path = format!("{}:{libc_dir}", dirs.lib.display());
        Fixture { dirs, udp, ld_path }
    }
}

/// Where the dynamic loader finds `libc.so.6`: Debian/Ubuntu, then Amazon Linux (Lambda).
const LIBC_DIRS: [&str; 4] = [
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
];

/// The measured calls; the criterion benchmarks and the paired rounds run the same bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    RoundTrip,
    OpenatClose,
    SpawnTrue,
    SpawnTrueLdPath,
}

impl Call {
    const ALL: [Call; 4] = [
        Call::RoundTrip,
        Call::OpenatClose,
        Call::SpawnTrue,
        Call::SpawnTrueLdPath,
    ];
    const SPAWNS: [Call; 2] = [Call::SpawnTrue, Call::SpawnTrueLdPath];

    /// The criterion group name (distinct from the `syscalls` bench's, which shares the
    /// results directory).
    fn group(self) -> &'static str {
        match self {
            Call::RoundTrip => "notify_round_trip",
            Call::OpenatClose => "notify_openat_close",
            Call::SpawnTrue => "notify_spawn_true",
            Call::SpawnTrueLdPath => "notify_spawn_true_ld_path",
        }
    }

    /// What the summary calls it.
    fn what(self) -> &'static str {
        match self {
            Call::RoundTrip => "notify round trip",
            Call::OpenatClose => "openat+close",
            Call::SpawnTrue => "spawn /bin/true",
            Call::SpawnTrueLdPath => "spawn /bin/true, 2-dir LD_LIBRARY_PATH",
        }
    }

    fn from_group(name: &str) -> Option<Call> {
        Call::ALL.into_iter().find(|c| c.group() == name)
    }

    /// Calls per paired round: a few milliseconds each.
    fn round_len(self) -> u64 {
        match self {
            Call::RoundTrip => 200,
            Call::OpenatClose => 100,
            Call::SpawnTrue => 4,
            Call::SpawnTrueLdPath => 2,
        }
    }

    /// One call.
    #[inline(always)]
    fn once(self, fx: &Fixture) {
        match self {
            Call::RoundTrip => {
                let r = sendmsg::<SockaddrStorage>(
                    fx.udp.as_raw_fd(),
                    &[IoSlice::new(black_box(b"x"))],
                    &[],
                    MsgFlags::empty(),
                    None,
                );
                assert_eq!(r, Err(Errno::EDESTADDRREQ));
            }
            Call::OpenatClose => {
                drop(File::open(black_box(&fx.dirs.file)).expect("open the bench file"));
            }
            Call::SpawnTrue => {
                let status = Command::new("/bin/true")
                    .env_remove("LD_LIBRARY_PATH")
                    .status()
                    .expect("spawn /bin/true");
                assert!(status.success(), "/bin/true failed: {status:?}");
            }
            Call::SpawnTrueLdPath => {
                let status = Command::new("/bin/true")
                    .env("LD_LIBRARY_PATH", &fx.ld_path)
                    .status()
                    .expect("spawn /bin/true");
                assert!(status.success(), "/bin/true failed: {status:?}");
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

fn criterion() -> Criterion {
    Criterion::default()
        .output_directory(&criterion_dir())
        .without_plots()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

/// `calls` as criterion benchmarks `<group>/<variant(call)>`.
fn calls(c: &mut Criterion, fx: &Fixture, calls: &[Call], variant: impl Fn(Call) -> &'static str) {
    for &call in calls {
        let mut g = c.benchmark_group(call.group());
        if Call::SPAWNS.contains(&call) {
            // Milliseconds per call: the same iteration count per sample keeps the time
            // near `measurement_time` (linear sampling would run 465 iterations).
            g.sampling_mode(SamplingMode::Flat);
        }
        g.bench_function(variant(call), |b| b.iter(|| call.once(fx)));
        g.finish();
    }
}

/// Bare costs of the supervisor's own syscalls, to show where the notified calls' time goes
/// (measured once, without the shield): copying the caller's `msghdr` (the round trip's only
/// work) and, for an allowed `openat`, copying the path, reading `/proc/<tid>/status` (the
/// caller's thread-group id: open, one 1 KiB read, close), and the verification of the opened
/// file (`readlink("/proc/self/fd/N")` and `fstat`). The supervisor's own `openat`+`close`
/// costs what `notify_openat_close/bare` costs; the `ID_VALID` and `ADDFD` ioctls need a
/// listener and are not measured here.
fn handler_parts(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group("notify_handler_parts");
    g.measurement_time(Duration::from_secs(1));
    let copy_of = |g: &mut criterion::BenchmarkGroup<'_, _>, name: &str, src: &[u8]| {
        let mut copy = vec![0u8; src.len()];
        let remote = [RemoteIoVec {
            base: src.as_ptr() as usize,
            len: src.len(),
        }];
        g.bench_function(name, |b| {
            b.iter(|| {
                let n = process_vm_readv(
                    Pid::this(),
                    &mut [IoSliceMut::new(&mut copy)],
                    black_box(&remote),
                )
                .expect("process_vm_readv of our own memory");
                assert_eq!(n, src.len());
            })
        });
    };
    copy_of(&mut g, "process_vm_readv_msghdr", &[0u8; MSGHDR]);
    copy_of(
        &mut g,
        "process_vm_readv_path",
        fx.dirs.file.as_os_str().as_encoded_bytes(),
    );
    let status = PathBuf::from(format!("/proc/{}/status", std::process::id()));
    g.bench_function("proc_status_read", |b| {
        let mut buf = [0u8; 1024];
        b.iter(|| {
            let mut f = File::open(black_box(&status)).expect("open /proc/<pid>/status");
            let n = f.read(&mut buf).expect("read /proc/<pid>/status");
            assert!(n > 0);
        })
    });
    let file = File::open(&fx.dirs.file).expect("open the bench file");
    let fd_link = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    g.bench_function("readlink_proc_self_fd", |b| {
        b.iter(|| std::fs::read_link(black_box(&fd_link)).expect("readlink /proc/self/fd/N"))
    });
    g.bench_function("fstat", |b| {
        b.iter(|| fstat(black_box(&file)).expect("fstat the bench file"))
    });
    g.finish();
}

/// Child mode: install the shield with children `alert` (unless only listing) and run the
/// spawn benchmark as `notify_spawn_true/shielded_alert` with this run's criterion arguments.
fn alert_criterion(dir: PathBuf) {
    let fx = Fixture::with(Dirs::at(dir));
    if !std::env::args().any(|a| a == "--list") {
        let (_shield, report) = install(&fx.dirs, Mode::Alert);
        println!("\nshield installed in the alert child process: {report}\n");
    }
    let mut c = criterion();
    calls(&mut c, &fx, &Call::SPAWNS, |_| "shielded_alert");
}

/// Runs [`alert_criterion`] in a child process (which must start before this process
/// installs its own shield: it would inherit the filter).
fn alert_in_child(fx: &Fixture) {
    let exe = std::env::current_exe().expect("path of this bench binary");
    let status = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(PHASE, "alert-criterion")
        .env(DIR, &fx.dirs.base)
        .status()
        .expect("spawn the alert child");
    assert!(status.success(), "the alert child failed: {status:?}");
}

/// Child mode: install the shield (children from `FNSHIELD_BENCH_CHILD_MODE`), then run
/// bursts of calls on request.
fn paired_child(dir: PathBuf) {
    let children = match std::env::var(CHILD_MODE).as_deref() {
        Ok("allow") => Mode::Allow,
        Ok("alert") => Mode::Alert,
        other => panic!("{CHILD_MODE} must be allow or alert, not {other:?}"),
    };
    let fx = Fixture::with(Dirs::at(dir));
    let _shield = install(&fx.dirs, children);
    serve_paired(|group, n| {
        Call::from_group(group)
            .unwrap_or_else(|| panic!("unknown call {group}"))
            .run(&fx, n)
    });
}

/// The paired rounds of one call against one shielded child.
struct Pair {
    /// `create_child_process` of the shielded side.
    children: Mode,
    call: Call,
    /// (bare ns per call, shielded ns per call), one per round.
    rounds: Vec<(f64, f64)>,
}

/// Interleaved A/B rounds: this (bare) process and a shielded child take turns running the
/// same `n` calls, so that load from other processes on this shared machine hits both sides
/// alike. Children `allow` for every call, children `alert` for the spawn.
fn paired(fx: &Fixture) -> Vec<Pair> {
    let mut pairs = Vec::new();
    for (children, mode, list) in [
        (Mode::Allow, "allow", &Call::ALL[..]),
        (Mode::Alert, "alert", &Call::SPAWNS[..]),
    ] {
        let mut child = PairedChild::spawn([
            (PHASE, OsStr::new("paired")),
            (DIR, fx.dirs.base.as_os_str()),
            (CHILD_MODE, OsStr::new(mode)),
        ]);
        for &call in list {
            let n = call.round_len();
            let rounds = interleave(
                ROUNDS,
                || call.run(fx, n).as_nanos() as f64 / n as f64,
                || child.run(call.group(), n),
            );
            pairs.push(Pair {
                children,
                call,
                rounds,
            });
        }
        child.finish();
    }
    pairs
}

fn paired_summary(s: &mut Summary, pairs: &[Pair]) {
    let get = |children: Mode, call: Call| {
        &pairs
            .iter()
            .find(|p| p.children == children && p.call == call)
            .expect("every paired call measured")
            .rounds
    };
    let bare = |r: &[(f64, f64)]| median(r.iter().map(|(b, _)| *b));
    let shielded = |r: &[(f64, f64)]| median(r.iter().map(|(_, s)| *s));
    let added = |r: &[(f64, f64)]| median(r.iter().map(|(b, s)| s - b));
    let ratio = |r: &[(f64, f64)]| median(r.iter().map(|(b, s)| s / b));

    let rt = get(Mode::Allow, Call::RoundTrip);
    let trip = added(rt);
    s.row(
        format!("paired: notify round trip ({ROUNDS} interleaved rounds, medians)"),
        format!("+{} (bare sendmsg {})", fmt_ns(trip), fmt_ns(bare(rt))),
        "—",
    );
    let open = get(Mode::Allow, Call::OpenatClose);
    // Per round: shielded / (round trip + that round's bare openat+close).
    let r = median(open.iter().map(|(b, s)| s / (trip + b)));
    s.row(
        "paired: openat+close vs round trip + bare",
        format!(
            "{} vs {} + {} ({r:.3}×)",
            fmt_ns(shielded(open)),
            fmt_ns(trip),
            fmt_ns(bare(open)),
        ),
        format!("≤ {OPEN_GOAL}× — {}", verdict(r, OPEN_GOAL)),
    );
    for call in Call::SPAWNS {
        for children in [Mode::Allow, Mode::Alert] {
            let sp = get(children, call);
            s.row(
                format!("paired: {}, children {}", call.what(), children.as_str()),
                format!(
                    "{:.3}× ({} vs bare {})",
                    ratio(sp),
                    fmt_ns(shielded(sp)),
                    fmt_ns(bare(sp))
                ),
                "—",
            );
        }
    }
}

fn fill_summary(s: &mut Summary) {
    let rt_group = Call::RoundTrip.group();
    let open_group = Call::OpenatClose.group();
    let trip = s.added(
        "notify round trip (sendmsg, no address → CONTINUE)",
        rt_group,
        "shielded",
        "bare",
        None,
    );
    let copy = s.median("notify_handler_parts", "process_vm_readv_msghdr");
    if let Some(copy) = copy {
        s.row(
            "  of which, bare: the supervisor's msghdr copy",
            format!("{} (process_vm_readv, {MSGHDR} bytes)", fmt_ns(copy)),
            "—",
        );
    }
    let open = s.added(
        "openat+close (allowed tmp file)",
        open_group,
        "shielded",
        "bare",
        None,
    );
    if let (Some(trip), Some(open_added), Some(open_bare)) =
        (trip, open, s.median(open_group, "bare"))
    {
        let shielded = open_bare + open_added;
        let r = shielded / (trip + open_bare);
        s.row(
            "openat+close vs notify round trip + bare openat+close",
            format!(
                "{} vs {} + {} ({r:.3}×)",
                fmt_ns(shielded),
                fmt_ns(trip),
                fmt_ns(open_bare)
            ),
            format!("≤ {OPEN_GOAL}× — {}", verdict(r, OPEN_GOAL)),
        );
        if let Some(copy) = copy {
            let pure = trip - copy;
            let r = shielded / (pure + open_bare);
            s.row(
                "  same, round trip without the msghdr copy",
                format!(
                    "{} vs {} + {} ({r:.3}×)",
                    fmt_ns(shielded),
                    fmt_ns(pure),
                    fmt_ns(open_bare)
                ),
                format!("≤ {OPEN_GOAL}× — {}", verdict(r, OPEN_GOAL)),
            );
        }
    }
    let parts = [
        "process_vm_readv_path",
        "proc_status_read",
        "readlink_proc_self_fd",
        "fstat",
    ]
    .map(|p| s.median("notify_handler_parts", p));
    if let [Some(copy), Some(status), Some(link), Some(stat)] = parts {
        s.row(
            "  bare: path copy + /proc/<tid>/status + readlink fd + fstat",
            format!(
                "{} + {} + {} + {} = {}",
                fmt_ns(copy),
                fmt_ns(status),
                fmt_ns(link),
                fmt_ns(stat),
                fmt_ns(copy + status + link + stat)
            ),
            "—",
        );
    }
    for call in Call::SPAWNS {
        for (variant, whose) in [
            ("shielded_allow", "children allow, this process"),
            ("shielded_alert", "children alert, child process"),
        ] {
            s.ratio(
                &format!("{} ({whose})", call.what()),
                call.group(),
                variant,
                "bare",
                None,
            );
        }
    }
}

fn main() {
    if let Ok(phase) = std::env::var(PHASE) {
        let dir = PathBuf::from(std::env::var_os(DIR).expect("FNSHIELD_BENCH_DIR is set"));
        return match phase.as_str() {
            "alert-criterion" => alert_criterion(dir),
            "paired" => paired_child(dir),
            other => panic!("unknown {PHASE}={other}"),
        };
    }
    let listing = std::env::args().any(|a| a == "--list");
    let measuring = benches::measuring();
    let mut summary = Summary::new("notify: shielded vs bare");
    let mut c = criterion();
    let fx = Fixture::with(Dirs::create(PREFIX));

    calls(&mut c, &fx, &Call::ALL, |_| "bare");
    handler_parts(&mut c, &fx);
    // Every child process starts before this process installs its shield.
    alert_in_child(&fx);
    let pairs = measuring.then(|| paired(&fx));
    let _shield = (!listing).then(|| {
        let (shield, report) = install(&fx.dirs, Mode::Allow);
        println!("\nshield installed in the bench process: {report}\n");
        shield
    });
    calls(&mut c, &fx, &Call::ALL, |call| match call {
        Call::SpawnTrue | Call::SpawnTrueLdPath => "shielded_allow",
        Call::RoundTrip | Call::OpenatClose => "shielded",
    });

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
