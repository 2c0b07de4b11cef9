//! The libc layer (issue 14): ordinary calls decided in process against the same calls
//! without a shield, and against the seccomp path alone, in one run.
//! `cargo bench -p benches --bench libc`
//!
//! # Design
//!
//! This process stays **bare** (no filter) for the whole run. Four shielded child processes
//! (this binary again, `FNSHIELD_BENCH_PHASE=<config>`) install the bench shield (every policy
//! `block`, one allowed tmp sub-path) in one configuration each:
//!
//! | child | interceptor | libc layer |
//! |---|---|---|
//! | `trap_seccomp` | SIGSYS trap | kept off: "before", every call trapped |
//! | `trap_libc` | SIGSYS trap | active (the default configuration): "after" |
//! | `notify_seccomp` | USER_NOTIF supervisor (forced) | kept off: "before", every call notified |
//! | `notify_libc` | USER_NOTIF supervisor (forced) | active: "after" |
//! | `libc_only` | none: seccomp refused as on Lambda (the `lambda` sandbox profile, root) | active, the only mechanism |
//!
//! The layer is kept off with `fnshield::internals::keep_libc_layer_off()`, so "before" and
//! "after" are the same binary and the same policy.
//!
//! Criterion measures the bare calls in this process and, in the `trap_libc` child
//! (`FNSHIELD_BENCH_PHASE=criterion`, writing next to our results), the same calls under the
//! default configuration. Then, under `cargo bench` only, **paired rounds**: for each call and
//! each child, this process and the child take turns running the same burst (a few ms,
//! alternating who goes first), [`ROUNDS`] rounds; the summary gives the median of the
//! per-round ratios shielded / bare. Back-to-back bursts see the same load from other processes
//! on a shared machine, which criterion runs a minute apart do not: prefer the paired figures.
//!
//! # Calls
//!
//! * `open_close`: `std::fs::File::open` + drop of a file under the allowed tmp sub-path
//!   (`openat` through libc's `open64`, then `close`), with the tmp root on a file system of
//!   its own (`/dev/shm` here; on Lambda `/tmp` is another mount than the function's code).
//!   Goals: ≤ 1.15× in the default configuration (`trap_libc`), ≤ 1.2× where the notify
//!   interceptor is active (`notify_libc`).
//! * `open_close_exe_fs`: the same open of an allowed file on the executable's own file system
//!   (the temp directory here): the shield must `fstat` what it opened there (a hard link to
//!   the executable could hide at that path), so it pays the executable-identity check. No
//!   goal; compare with `open_close`.
//! * `connect`: `TcpStream::connect` to a listener on 127.0.0.1, `accept` on the same thread,
//!   both closed (`socket` + `connect` + `accept4` + 2 `close`). Goal ≤ 1.05×.
//! * `getaddrinfo`: `getaddrinfo("localhost", NULL, {AF_INET, SOCK_STREAM})` +
//!   `freeaddrinfo`, answered from `/etc/hosts` (`127.0.0.1 localhost`). Goal ≤ 1.1×.
//! * `raw_openat_close`: the same open and close as `open_close`, issued with inline assembly
//!   (as rustix's `linux_raw` backend does), so no libc hook sees it: the trap path for raw
//!   syscalls, which stays measured (no goal; compare with `open_close`).
// `getaddrinfo` through libc and a raw syscall need `unsafe`; the library keeps its own in `sys`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::hint::black_box;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use benches::{
    criterion_dir, fmt_ns, interleave, median, serve_paired, verdict, Dirs, PairedChild, Summary,
};
use criterion::Criterion;
use fnshield::{InterceptorChoice, LibcLayer, Mechanism, Shield};

/// Set in a child process to run one configuration instead of the benchmarks.
const PHASE: &str = "FNSHIELD_BENCH_PHASE";
/// The fixture directory a child process uses.
const DIR: &str = "FNSHIELD_BENCH_DIR";
/// Prefix of the fixture directories under the system temp dir.
const PREFIX: &str = "fnshield-bench-libc-";
/// Interleaved rounds per call and configuration.
const ROUNDS: usize = 41;

/// The child's copy of [`Fixture::exe_fs_file`].
const EXE_FS_FILE: &str = "FNSHIELD_BENCH_EXE_FS_FILE";

/// The shielded configurations, each in its own child process.
const CONFIGS: [Config; 5] = [
    Config::TrapSeccomp,
    Config::TrapLibc,
    Config::NotifySeccomp,
    Config::NotifyLibc,
    Config::LibcOnly,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Config {
    TrapSeccomp,
    TrapLibc,
    NotifySeccomp,
    NotifyLibc,
    LibcOnly,
}

impl Config {
    fn name(self) -> &'static str {
        match self {
            Config::TrapSeccomp => "trap_seccomp",
            Config::TrapLibc => "trap_libc",
            Config::NotifySeccomp => "notify_seccomp",
            Config::NotifyLibc => "notify_libc",
            Config::LibcOnly => "libc_only",
        }
    }

    fn from_name(s: &str) -> Option<Config> {
        CONFIGS.into_iter().find(|c| c.name() == s)
    }

    fn notify(self) -> bool {
        matches!(self, Config::NotifySeccomp | Config::NotifyLibc)
    }

    fn layer(self) -> bool {
        matches!(
            self,
            Config::TrapLibc | Config::NotifyLibc | Config::LibcOnly
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Config::TrapSeccomp => "trap, layer off (before)",
            Config::TrapLibc => "trap + libc layer (default, after)",
            Config::NotifySeccomp => "notify, layer off (before)",
            Config::NotifyLibc => "notify + libc layer (after)",
            Config::LibcOnly => "libc layer alone, seccomp refused (lambda profile)",
        }
    }
}

/// The bench shield: every policy `block`, the process environment ignored, the tmp root in
/// the fixture directory with one allowed sub-path, no event sinks.
fn install(d: &Dirs, config: Config) -> Shield {
    let s = |p: &Path| p.to_str().expect("UTF-8 temp dir").to_owned();
    if !config.layer() {
        fnshield::internals::keep_libc_layer_off();
    }
    if config == Config::LibcOnly {
        // Refuse seccomp as Lambda does (prctl EPERM, NoNewPrivs unset); root may install the
        // sandbox's filter without NoNewPrivs.
        let prog = fnshield_tests::sandbox::Profile::Lambda.program();
        assert_eq!(
            fnshield_tests::sandbox::set_mode_filter(&prog, 0),
            0,
            "the lambda sandbox profile needs root"
        );
    }
    let mut b = Shield::builder()
        .env(fnshield::Env::from_pairs([
            ("LAMBDA_TASK_ROOT", s(&d.task)),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench-libc".to_owned()),
        ]))
        .resolv_conf("nameserver 127.0.0.1\n")
        .tmp_root(s(&d.tmp))
        .allow_tmp(s(&d.allowed))
        .sinks(Vec::<String>::new())
        .wipe_tmp(false)
        .require_enforcement(true);
    if config.notify() {
        b = b.interceptor(InterceptorChoice::Notify);
    }
    let shield = b.build().expect("the bench shield configuration is valid");
    let report = shield.install().expect("install the shield");
    let mechanism = match config {
        Config::LibcOnly => Mechanism::Libc,
        c if c.notify() => Mechanism::SeccompNotify,
        _ => Mechanism::SeccompTrap,
    };
    assert_eq!(report.interceptor, mechanism, "{report}");
    let want = if config.layer() {
        LibcLayer::Active
    } else {
        LibcLayer::Inactive
    };
    assert_eq!(report.libc_layer, want, "{report}");
    // The child enforces: a write outside the allowed sub-path fails.
    let denied = File::create(d.tmp.join("not-allowed"));
    assert!(
        matches!(&denied, Err(e) if e.kind() == ErrorKind::PermissionDenied),
        "the shield is not enforcing: {denied:?}"
    );
    shield
}

struct Fixture {
    dirs: Dirs,
    file: CString,
    /// An allowed file on the executable's file system (outside the tmp root).
    exe_fs_file: PathBuf,
    listener: TcpListener,
    listen: SocketAddr,
}

impl Fixture {
    fn with(dirs: Dirs, exe_fs_file: PathBuf) -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a TCP listener on loopback");
        let listen = listener.local_addr().expect("listener address");
        let file = CString::new(dirs.file.as_os_str().as_bytes()).expect("no NUL in the path");
        Fixture {
            dirs,
            file,
            exe_fs_file,
            listener,
            listen,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    OpenClose,
    OpenCloseExeFs,
    Connect,
    Getaddrinfo,
    RawOpenatClose,
}

impl Call {
    const ALL: [Call; 5] = [
        Call::OpenClose,
        Call::OpenCloseExeFs,
        Call::Connect,
        Call::Getaddrinfo,
        Call::RawOpenatClose,
    ];

    fn group(self) -> &'static str {
        match self {
            Call::OpenClose => "libc_open_close",
            Call::OpenCloseExeFs => "libc_open_close_exe_fs",
            Call::Connect => "libc_connect",
            Call::Getaddrinfo => "libc_getaddrinfo_hosts",
            Call::RawOpenatClose => "libc_raw_openat_close",
        }
    }

    fn from_group(s: &str) -> Option<Call> {
        Call::ALL.into_iter().find(|c| c.group() == s)
    }

    /// Calls per paired burst: a few milliseconds each.
    fn burst(self) -> u64 {
        match self {
            Call::OpenClose | Call::OpenCloseExeFs | Call::RawOpenatClose => 400,
            Call::Connect => 100,
            Call::Getaddrinfo => 200,
        }
    }

    #[inline(always)]
    fn once(self, fx: &Fixture) {
        match self {
            Call::OpenClose => {
                drop(File::open(black_box(&fx.dirs.file)).expect("open the bench file"));
            }
            Call::OpenCloseExeFs => {
                drop(File::open(black_box(&fx.exe_fs_file)).expect("open the exe-fs file"));
            }
            Call::Connect => {
                let client =
                    TcpStream::connect(black_box(fx.listen)).expect("connect to 127.0.0.1");
                let (server, _) = fx.listener.accept().expect("accept on 127.0.0.1");
                drop(client);
                drop(server);
            }
            Call::Getaddrinfo => {
                // SAFETY: a zeroed addrinfo is a valid hints value; the name is a valid C
                // string; the list getaddrinfo returns is freed once.
                unsafe {
                    let mut hints: libc::addrinfo = std::mem::zeroed();
                    hints.ai_family = libc::AF_INET;
                    hints.ai_socktype = libc::SOCK_STREAM;
                    let mut res = std::ptr::null_mut();
                    let r = libc::getaddrinfo(
                        black_box(c"localhost".as_ptr()),
                        std::ptr::null(),
                        &hints,
                        &mut res,
                    );
                    assert_eq!(r, 0, "getaddrinfo(localhost)");
                    libc::freeaddrinfo(res);
                }
            }
            Call::RawOpenatClose => {
                let fd = raw::syscall4(
                    libc::SYS_openat,
                    libc::AT_FDCWD as i64 as u64,
                    black_box(fx.file.as_ptr()) as u64,
                    (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
                    0,
                );
                assert!(fd >= 0, "raw openat: {fd}");
                raw::syscall4(libc::SYS_close, fd as u64, 0, 0, 0);
            }
        }
    }

    fn run(self, fx: &Fixture, n: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..n {
            self.once(fx);
        }
        start.elapsed()
    }
}

/// A system call issued with inline assembly: no libc function, so no hook, sees it.
mod raw {
    /// `syscall(nr, a0, a1, a2, a3)`; the raw result (`-errno` on failure).
    #[cfg(target_arch = "x86_64")]
    pub fn syscall4(nr: i64, a0: u64, a1: u64, a2: u64, a3: u64) -> i64 {
        let ret: i64;
        // SAFETY: the bench only issues openat (with a valid C string) and close (of the fd it
        // opened); the kernel clobbers rcx and r11, declared here.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr => ret,
                in("rdi") a0,
                in("rsi") a1,
                in("rdx") a2,
                in("r10") a3,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }

    /// `syscall(nr, a0, a1, a2, a3)`; the raw result (`-errno` on failure).
    #[cfg(target_arch = "aarch64")]
    pub fn syscall4(nr: i64, a0: u64, a1: u64, a2: u64, a3: u64) -> i64 {
        let ret: i64;
        // SAFETY: as on x86_64; `svc 0` with the number in x8.
        unsafe {
            std::arch::asm!(
                "svc 0",
                in("x8") nr,
                inlateout("x0") a0 as i64 => ret,
                in("x1") a1,
                in("x2") a2,
                in("x3") a3,
                options(nostack),
            );
        }
        ret
    }
}

fn calls(c: &mut Criterion, variant: &str, fx: &Fixture) {
    for call in Call::ALL {
        let mut g = c.benchmark_group(call.group());
        g.bench_function(variant, |b| b.iter(|| call.once(fx)));
        g.finish();
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

/// Child mode: install the shield in `config`, then serve paired bursts, or run criterion.
fn child(phase: &str, dir: PathBuf) {
    let exe_fs =
        PathBuf::from(std::env::var_os(EXE_FS_FILE).expect("FNSHIELD_BENCH_EXE_FS_FILE is set"));
    let fx = Fixture::with(Dirs::at(dir), exe_fs);
    if phase == "criterion" {
        // The default configuration; another one (for a profile of it under `perf`) with
        // FNSHIELD_BENCH_CRITERION_CONFIG=<child name from the table above>.
        let config = std::env::var("FNSHIELD_BENCH_CRITERION_CONFIG")
            .ok()
            .and_then(|c| Config::from_name(&c))
            .unwrap_or(Config::TrapLibc);
        let _shield = install(&fx.dirs, config);
        let mut c = criterion();
        calls(&mut c, "shielded", &fx);
        c.final_summary();
        return;
    }
    let config = Config::from_name(phase).unwrap_or_else(|| panic!("unknown {PHASE}={phase}"));
    let _shield = install(&fx.dirs, config);
    serve_paired(|call, n| Call::from_group(call).expect("a known call").run(&fx, n));
}

/// Per call and configuration: (bare ns per call, shielded ns per call) for each round.
type Rounds = Vec<(Call, Config, Vec<(f64, f64)>)>;

fn paired(fx: &Fixture) -> Rounds {
    // Both sides on one CPU (the children inherit it): see `benches::pin_to_current_cpu`.
    match benches::pin_to_current_cpu() {
        Some(cpu) => eprintln!("paired rounds pinned to CPU {cpu}"),
        None => eprintln!("paired rounds not pinned (sched_setaffinity refused)"),
    }
    let mut out = Vec::new();
    for config in CONFIGS {
        let mut child = PairedChild::spawn([
            (PHASE, config.name()),
            (DIR, fx.dirs.base.to_str().expect("UTF-8 temp dir")),
            (
                EXE_FS_FILE,
                fx.exe_fs_file.to_str().expect("UTF-8 temp dir"),
            ),
        ]);
        for call in Call::ALL {
            let n = call.burst();
            let rounds = interleave(
                ROUNDS,
                || call.run(fx, n).as_nanos() as f64 / n as f64,
                || child.run(call.group(), n),
            );
            out.push((call, config, rounds));
        }
        child.finish();
    }
    out
}

fn fill_summary(s: &mut Summary, rounds: &Rounds) {
    for call in Call::ALL {
        let _ = s.ratio(
            &format!("criterion: {} (trap + libc layer)", call.group()),
            call.group(),
            "shielded",
            "bare",
            None,
        );
    }
    for (call, config, r) in rounds {
        let ratio = median(r.iter().map(|(b, s)| s / b));
        let bare = median(r.iter().map(|(b, _)| *b));
        let shielded = median(r.iter().map(|(_, s)| *s));
        let goal = match (call, config) {
            (Call::OpenClose, Config::TrapLibc) => Some(1.15),
            (Call::OpenClose, Config::NotifyLibc) => Some(1.2),
            (Call::Connect, Config::TrapLibc | Config::NotifyLibc) => Some(1.05),
            (Call::OpenClose, Config::LibcOnly) => Some(1.15),
            (Call::Connect, Config::LibcOnly) => Some(1.05),
            (Call::Getaddrinfo, Config::TrapLibc | Config::NotifyLibc | Config::LibcOnly) => {
                Some(1.1)
            }
            _ => None,
        };
        s.row(
            format!(
                "paired: {} — {} ({ROUNDS} rounds)",
                call.group(),
                config.describe()
            ),
            format!(
                "{ratio:.3}× ({} vs bare {})",
                fmt_ns(shielded),
                fmt_ns(bare)
            ),
            goal.map_or_else(
                || "—".to_owned(),
                |g| format!("≤ {g}× — {}", verdict(ratio, g)),
            ),
        );
    }
}

fn main() {
    if let Ok(phase) = std::env::var(PHASE) {
        let dir = PathBuf::from(std::env::var_os(DIR).expect("FNSHIELD_BENCH_DIR is set"));
        return child(&phase, dir);
    }
    let listing = std::env::args().any(|a| a == "--list");
    let measuring = benches::measuring();
    let mut summary = Summary::new("libc layer: shielded vs bare, before (seccomp) and after");
    // The tmp root on a file system of its own, as on Lambda; the exe-fs file in the temp
    // directory (on this machine, the executable's file system).
    let own = benches::own_mount_dir();
    if own.is_none() {
        eprintln!("no directory on a file system of its own (/dev/shm): libc_open_close runs on the temp directory's");
    }
    let dirs = Dirs::create_in(&own.unwrap_or_else(std::env::temp_dir), PREFIX);
    let exe_fs = Dirs::create("fnshield-bench-libcfs-");
    let fx = Fixture::with(dirs, exe_fs.file.clone());
    let mut c = criterion();
    calls(&mut c, "bare", &fx);
    c.final_summary();
    if !listing {
        // The shielded half of the criterion benchmarks, in a child with the default
        // configuration, under the same arguments (filters, --bench / --test).
        let exe = std::env::current_exe().expect("path of this bench binary");
        let status = Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(PHASE, "criterion")
            .env(DIR, &fx.dirs.base)
            .env(EXE_FS_FILE, &fx.exe_fs_file)
            .status()
            .expect("run the shielded criterion child");
        assert!(
            status.success(),
            "the shielded criterion child failed: {status:?}"
        );
    }
    if measuring {
        let rounds = paired(&fx);
        fill_summary(&mut summary, &rounds);
        summary.print();
    }
    // Best effort: the shielded children refused writes outside the allowed sub-path only.
    let _ = std::fs::remove_dir_all(&fx.dirs.base);
    let _ = std::fs::remove_dir_all(&exe_fs.base);
}
