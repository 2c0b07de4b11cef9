//! Bench support shared by the criterion benches in `benches/`.
//!
//! Criterion reports each benchmark on its own; the goals in the issues are *ratios* (or
//! differences) between a shielded benchmark and its unshielded baseline measured in the same
//! run. A bench passes [`criterion_dir`] to `Criterion::output_directory`, runs its benchmarks,
//! then builds a [`Summary`] that reads the medians criterion just wrote and prints one table
//! of figures, ratios and goals.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Lines, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, SystemTime};

/// Where criterion stores results: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else
/// the workspace's `target/criterion` (criterion's own default order). Benches set it
/// explicitly with `Criterion::output_directory` so that [`Summary`] reads the same place.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("criterion")
}

/// Whether this is a measuring run (`cargo bench` passes `--bench`), as opposed to
/// `cargo test --benches` (each benchmark once) or `--list`. The paired rounds and the summary
/// only run when measuring.
pub fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list" || a == "--test")
}

/// Formats nanoseconds with a unit that keeps three or four significant digits.
pub fn fmt_ns(ns: f64) -> String {
    let abs = ns.abs();
    if abs >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if abs >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Formats a difference in nanoseconds with its sign (`+1.20 µs`, `-35.0 ns`).
pub fn fmt_delta(ns: f64) -> String {
    if ns < 0.0 {
        fmt_ns(ns)
    } else {
        format!("+{}", fmt_ns(ns))
    }
}

/// The figures of one bench run: medians read back from criterion's results, ratios and
/// differences against baselines, and whether each goal is met.
///
/// Only results written after the summary was created count, so a benchmark skipped by a
/// filter shows as "not measured in this run" instead of a stale figure.
#[derive(Debug)]
pub struct Summary {
    title: String,
    since: SystemTime,
    load_at_start: String,
    rows: Vec<[String; 3]>,
}

/// The 1-, 5- and 15-minute load averages from `/proc/loadavg` (the machine is shared: a
/// figure measured under load is noisier).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

impl Summary {
    /// Starts a summary. Create it before the benchmarks run.
    pub fn new(title: impl Into<String>) -> Summary {
        Summary {
            title: title.into(),
            since: SystemTime::now(),
            load_at_start: load_average(),
            rows: Vec::new(),
        }
    }

    /// The median time per iteration, in ns, of `group/function` as measured in this run.
    pub fn median(&self, group: &str, function: &str) -> Option<f64> {
        let path = criterion_dir()
            .join(group)
            .join(function)
            .join("new")
            .join("estimates.json");
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        if modified < self.since {
            return None;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v["median"]["point_estimate"].as_f64()
    }

    /// Adds a free-form row: what was measured, the figure, and the goal with its verdict.
    pub fn row(
        &mut self,
        what: impl Into<String>,
        figure: impl Into<String>,
        goal: impl Into<String>,
    ) {
        self.rows.push([what.into(), figure.into(), goal.into()]);
    }

    fn missing(&mut self, what: &str) {
        self.row(what, "not measured in this run", "—");
    }

    /// Adds the median of one benchmark against an absolute goal (`goal_ns`, at most).
    pub fn value(&mut self, what: &str, group: &str, function: &str, goal_ns: Option<f64>) {
        let Some(m) = self.median(group, function) else {
            return self.missing(what);
        };
        let goal = match goal_ns {
            Some(g) => format!("≤ {} — {}", fmt_ns(g), verdict(m, g)),
            None => "—".to_owned(),
        };
        self.row(what, fmt_ns(m), goal);
    }

    /// Adds `group/shielded` against `group/bare` as a ratio (goal: at most `goal`, if any)
    /// and returns the ratio.
    pub fn ratio(
        &mut self,
        what: &str,
        group: &str,
        shielded: &str,
        bare: &str,
        goal: Option<f64>,
    ) -> Option<f64> {
        let (Some(s), Some(b)) = (self.median(group, shielded), self.median(group, bare)) else {
            self.missing(what);
            return None;
        };
        let r = s / b;
        self.row(
            what,
            format!("{} vs {} ({r:.3}×)", fmt_ns(s), fmt_ns(b)),
            goal.map_or_else(|| "—".to_owned(), |g| format!("≤ {g}× — {}", verdict(r, g))),
        );
        Some(r)
    }

    /// Adds `group/shielded` minus `group/bare` (goal: at most `goal_ns` added, if any) and
    /// returns the difference in ns.
    pub fn added(
        &mut self,
        what: &str,
        group: &str,
        shielded: &str,
        bare: &str,
        goal_ns: Option<f64>,
    ) -> Option<f64> {
        let (Some(s), Some(b)) = (self.median(group, shielded), self.median(group, bare)) else {
            self.missing(what);
            return None;
        };
        let d = s - b;
        self.row(
            what,
            format!(
                "{} vs {} ({}, {:.3}×)",
                fmt_ns(s),
                fmt_ns(b),
                fmt_delta(d),
                s / b
            ),
            goal_ns.map_or_else(
                || "—".to_owned(),
                |g| format!("≤ +{} — {}", fmt_ns(g), verdict(d, g)),
            ),
        );
        Some(d)
    }

    /// The table, as printed by [`Summary::print`].
    pub fn render(&self) -> String {
        let w0 = self
            .rows
            .iter()
            .map(|r| r[0].chars().count())
            .max()
            .unwrap_or(0);
        let w1 = self
            .rows
            .iter()
            .map(|r| r[1].chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "\n== {} (medians, this run; {} CPUs, load average {} at start, {} now) ==\n",
            self.title,
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.load_at_start,
            load_average()
        );
        for [what, figure, goal] in &self.rows {
            let _ = writeln!(
                out,
                "{what}{}  {figure}{}  {goal}",
                " ".repeat(w0 - what.chars().count()),
                " ".repeat(w1 - figure.chars().count()),
            );
        }
        out
    }

    /// Prints the table to stdout.
    pub fn print(&self) {
        println!("{}", self.render());
    }
}

/// The median of `values` (the upper one of the two middle values for an even count).
///
/// # Panics
/// If `values` is empty.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().collect();
    assert!(!v.is_empty(), "median of no values");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Pin this process (and the children it starts afterwards, which inherit it) to the CPU it
/// runs on now, so that both sides of paired rounds run on the same CPU. On this 2-CPU VM the
/// paired medians otherwise flipped between runs by up to 0.15× when one side's process sat on
/// the busier CPU for a whole configuration (a bare open + close at 2.3 µs on one, 2.9 µs on
/// the other). Returns the CPU, or `None` where the affinity cannot be set (then nothing
/// changes).
pub fn pin_to_current_cpu() -> Option<usize> {
    use nix::sched::{sched_getcpu, sched_setaffinity, CpuSet};
    let cpu = sched_getcpu().ok()?;
    let mut set = CpuSet::new();
    set.set(cpu).ok()?;
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).ok()?;
    Some(cpu)
}

/// Interleaved A/B rounds on a shared machine: `rounds` times, run `a` and `b` back to back
/// (alternating which goes first) and keep both results, typically ns per call. Load from
/// other processes then hits both sides alike, which separate criterion benchmarks run
/// seconds apart cannot promise. Compare with the median of the per-round ratios.
pub fn interleave(
    rounds: usize,
    mut a: impl FnMut() -> f64,
    mut b: impl FnMut() -> f64,
) -> Vec<(f64, f64)> {
    a();
    b();
    (0..rounds)
        .map(|i| {
            if i % 2 == 0 {
                let x = a();
                (x, b())
            } else {
                let y = b();
                (a(), y)
            }
        })
        .collect()
}

/// A copy of this bench binary, started as a child process (typically with a shield installed),
/// that runs bursts of calls on request: the other side of paired rounds (see [`interleave`]).
/// The child serves requests with [`serve_paired`].
#[derive(Debug)]
pub struct PairedChild {
    child: Child,
    to_child: ChildStdin,
    from_child: Lines<BufReader<ChildStdout>>,
}

impl PairedChild {
    /// Starts this binary again with `envs` added to its environment (which tell it to serve
    /// requests instead of benchmarking) and waits until it says it is ready.
    ///
    /// # Panics
    /// If the child cannot be started or ends before saying `ready`.
    pub fn spawn<K, V>(envs: impl IntoIterator<Item = (K, V)>) -> PairedChild
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let exe = std::env::current_exe().expect("path of this bench binary");
        let mut child = Command::new(exe)
            .envs(envs)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the paired child");
        let to_child = child.stdin.take().expect("child stdin");
        let from_child = BufReader::new(child.stdout.take().expect("child stdout")).lines();
        let mut c = PairedChild {
            child,
            to_child,
            from_child,
        };
        assert_eq!(c.line(), "ready", "the paired child did not start");
        c
    }

    fn line(&mut self) -> String {
        self.from_child
            .next()
            .expect("the paired child ended early")
            .expect("read from the paired child")
    }

    /// Asks the child to run `n` calls of `call` (a name the child knows) and returns the
    /// nanoseconds per call it measured.
    ///
    /// # Panics
    /// If the child fails or answers something other than a number.
    pub fn run(&mut self, call: &str, n: u64) -> f64 {
        writeln!(self.to_child, "{call} {n}").expect("write to the paired child");
        let ns: f64 = self.line().parse().expect("ns from the paired child");
        ns / n as f64
    }

    /// Closes the child's stdin, which ends it, and waits for it.
    ///
    /// # Panics
    /// If the child exits unsuccessfully.
    pub fn finish(self) {
        let PairedChild {
            mut child,
            to_child,
            from_child,
        } = self;
        drop(to_child);
        drop(from_child);
        let status = child.wait().expect("wait for the paired child");
        assert!(status.success(), "the paired child failed: {status:?}");
    }
}

/// The child side of [`PairedChild`]: prints `ready`, then answers each `"<call> <n>"` line on
/// stdin with the nanoseconds that `run(call, n)` returned, until stdin closes.
///
/// # Panics
/// On a malformed request or when stdout is gone.
pub fn serve_paired(mut run: impl FnMut(&str, u64) -> Duration) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .expect("stdout");
    for line in std::io::stdin().lines() {
        let line = line.expect("read a request");
        let (call, n) = line.split_once(' ').expect("a `<call> <n>` request");
        let n: u64 = n.parse().expect("a count");
        let ns = run(call, n).as_nanos();
        writeln!(out, "{ns}")
            .and_then(|()| out.flush())
            .expect("stdout");
    }
}

/// `"met"` if `value ≤ goal`, else `"NOT met"`; `" (borderline)"` is added when the value is
/// within 1 % of a positive goal, where this machine's noise can decide either way.
pub fn verdict(value: f64, goal: f64) -> String {
    let word = if value <= goal { "met" } else { "NOT met" };
    if goal > 0.0 && (value / goal - 1.0).abs() < 0.01 {
        format!("{word} (borderline)")
    } else {
        word.to_owned()
    }
}

/// The fixture directories of a shielded bench: a task root, an empty library directory (the
/// first entry of a Lambda-like `LD_LIBRARY_PATH`), and a tmp root with an allowed
/// sub-directory holding one file.
pub struct Dirs {
    /// The directory holding everything.
    pub base: PathBuf,
    /// `$LAMBDA_TASK_ROOT`.
    pub task: PathBuf,
    /// An empty library directory.
    pub lib: PathBuf,
    /// The tmp root.
    pub tmp: PathBuf,
    /// The allowed sub-directory of the tmp root.
    pub allowed: PathBuf,
    /// A file in it.
    pub file: PathBuf,
}

impl Dirs {
    /// The layout under `base` (nothing is created).
    pub fn at(base: PathBuf) -> Dirs {
        let tmp = base.join("tmp");
        let allowed = tmp.join("data");
        Dirs {
            task: base.join("task"),
            lib: base.join("lib"),
            file: allowed.join("file"),
            base,
            tmp,
            allowed,
        }
    }

    /// Create the layout under the temp directory, named `<prefix><pid>`, after removing the
    /// stale ones of earlier runs.
    pub fn create(prefix: &str) -> Dirs {
        Dirs::create_in(&std::env::temp_dir(), prefix)
    }

    /// [`Dirs::create`] under `parent` instead of the temp directory.
    pub fn create_in(parent: &Path, prefix: &str) -> Dirs {
        remove_stale_in(parent, prefix);
        let d = Dirs::at(parent.join(format!("{prefix}{}", std::process::id())));
        std::fs::create_dir_all(&d.task).expect("create the bench task root");
        std::fs::create_dir_all(&d.lib).expect("create the bench library directory");
        std::fs::create_dir_all(&d.allowed).expect("create the bench tmp root");
        std::fs::write(&d.file, b"bench").expect("write the bench file");
        d
    }
}

/// Fixture directories `<prefix><pid>` of earlier runs whose process is gone (a shielded run
/// cannot remove its own tmp root).
pub fn remove_stale(prefix: &str) {
    remove_stale_in(&std::env::temp_dir(), prefix);
}

/// [`remove_stale`] under `parent`.
pub fn remove_stale_in(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A directory on a file system of its own, as `/tmp` is on Lambda (another mount than the
/// function's code): `/dev/shm` where it is a directory on another device than this bench's
/// executable and the temp directory. `None` where there is none.
pub fn own_mount_dir() -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dev = |p: &Path| std::fs::metadata(p).ok().map(|m| m.dev());
    let shm = PathBuf::from("/dev/shm");
    let exe = std::env::current_exe().ok()?;
    let d = dev(&shm)?;
    (shm.is_dir() && Some(d) != dev(&exe) && Some(d) != dev(&std::env::temp_dir())).then_some(shm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(fmt_ns(12.34), "12.3 ns");
        assert_eq!(fmt_ns(4_560.0), "4.56 µs");
        assert_eq!(fmt_ns(7_890_000.0), "7.890 ms");
    }

    #[test]
    fn medians_and_rounds() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        let mut calls = Vec::new();
        let calls = std::cell::RefCell::new(&mut calls);
        let r = interleave(
            2,
            || {
                calls.borrow_mut().push('a');
                1.0
            },
            || {
                calls.borrow_mut().push('b');
                2.0
            },
        );
        assert_eq!(r, vec![(1.0, 2.0), (1.0, 2.0)]);
        assert_eq!(calls.borrow().iter().collect::<String>(), "ababba");
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(1.0, 1.1), "met");
        assert_eq!(verdict(1.2, 1.1), "NOT met");
        assert_eq!(verdict(1.1004, 1.1), "NOT met (borderline)");
        assert_eq!(verdict(1.099, 1.1), "met (borderline)");
    }

    #[test]
    fn missing_results_are_reported_as_such() {
        let mut s = Summary::new("t");
        assert_eq!(s.ratio("x", "no-such-group", "a", "b", Some(1.0)), None);
        assert!(
            s.render().contains("not measured in this run"),
            "{}",
            s.render()
        );
    }
}
