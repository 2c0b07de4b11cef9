//! A watchdog for per-case test runners: run a child process to completion, and if it has not
//! finished after a generous bound, kill it (and everything it started) and fail with a
//! message that names the case and shows what it printed.
//!
//! The bound is a safety net against hangs (a supervisor that waits on itself, a notification
//! left unanswered), never a timing assertion: a healthy case takes seconds, and the bound is
//! minutes, because the machines that run these tests are loaded (2 CPUs shared by several
//! builds, or software emulation under QEMU). `FNSHIELD_WATCHDOG_SECS` raises or lowers it.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The default bound: two minutes.
pub const DEFAULT_BOUND: Duration = Duration::from_secs(120);

/// The bound in use: `FNSHIELD_WATCHDOG_SECS` (whole seconds) if it is set and valid, else
/// `default`.
pub fn bound(default: Duration) -> Duration {
    std::env::var("FNSHIELD_WATCHDOG_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
        .unwrap_or(default)
}

/// How a watched run ended.
#[derive(Debug)]
pub enum Watched {
    /// The child finished (successfully or not) within the bound.
    Finished(Output),
    /// The child was still running after the bound and was killed with its process group;
    /// this is what it had printed.
    Hung(Output),
}

/// Run `cmd` with piped stdout and stderr in a process group of its own. After `bound`
/// (see [`bound`]) the whole group is killed with SIGKILL.
///
/// # Panics
/// If the command cannot be spawned (with `what` in the message).
pub fn watch(mut cmd: Command, what: &str, bound: Duration) -> Watched {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so that grandchildren (shells, helpers) die with it and no
        // orphan keeps the pipes open after a kill.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot spawn {cmd:?}: {e}"));
    let pgid = Pid::from_raw(child.id() as i32);
    let (done, wait) = mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        if wait.recv_timeout(bound).is_err() {
            // The group leader has not been reaped yet (the main thread reaps it only after
            // the pipes close, and signals `done` right after), so the group id is still ours.
            let _ = killpg(pgid, Signal::SIGKILL);
            return true;
        }
        false
    });
    let out = child.wait_with_output();
    let _ = done.send(());
    let hung = dog.join().unwrap_or(false);
    let out = out.unwrap_or_else(|e| panic!("{what}: waiting for the child failed: {e}"));
    if hung {
        Watched::Hung(out)
    } else {
        Watched::Finished(out)
    }
}

/// Run `cmd` under the watchdog (bound [`DEFAULT_BOUND`], or `FNSHIELD_WATCHDOG_SECS`) and
/// return its output.
///
/// # Panics
/// If the child hung: the message names `what`, the bound, and shows the child's stdout and
/// stderr up to the kill.
pub fn output(cmd: Command, what: &str) -> Output {
    output_within(cmd, what, bound(DEFAULT_BOUND))
}

/// [`output`] with an explicit bound.
///
/// # Panics
/// As [`output`].
pub fn output_within(cmd: Command, what: &str, bound: Duration) -> Output {
    match watch(cmd, what, bound) {
        Watched::Finished(out) => out,
        Watched::Hung(out) => panic!(
            "{what} HUNG: still running after {bound:?}, killed (with its process group) by the \
             watchdog.\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_child_is_returned_with_its_output() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = output(cmd, "case finished");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    }

    #[test]
    fn a_hung_child_and_its_grandchildren_are_killed_and_reported() {
        // The grandchild (`sleep`) holds the pipes open: only killing the group ends the run.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; sleep 1000 & wait"]);
        match watch(cmd, "case hung", Duration::from_secs(2)) {
            Watched::Hung(out) => {
                assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(out.status.signal(), Some(libc::SIGKILL));
            }
            Watched::Finished(out) => panic!("not killed: {out:?}"),
        }
    }

    #[test]
    fn the_panic_message_names_the_case_and_shows_its_output() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo partial; exec sleep 1000"]);
        let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            output_within(cmd, "case `x`", Duration::from_secs(2));
        }))
        .expect_err("a hang panics");
        let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("case `x` HUNG"), "{msg}");
        assert!(msg.contains("partial"), "{msg}");
    }
}

/// A per-case scratch directory, given to the case's child as `TMPDIR` (so
/// `std::env::temp_dir()` there points into it) and removed with everything in it when
/// dropped, after the child is gone: no case leaves its directories behind. The name is short
/// (the runner's pid and a hash of the case name), because AF_UNIX socket paths under it must
/// fit in 108 bytes.
#[derive(Debug)]
pub struct Scratch(std::path::PathBuf);

impl Scratch {
    /// Create the directory for case `name`.
    ///
    /// # Panics
    ///
    /// When the directory cannot be created (the temporary directory is not writable).
    pub fn new(name: &str) -> Scratch {
        let tag = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let dir =
            std::env::temp_dir().join(format!("fnc-{}-{:08x}", std::process::id(), tag as u32));
        std::fs::create_dir_all(&dir).expect("the case's scratch directory");
        Scratch(dir)
    }

    /// Give the directory to `cmd` as its `TMPDIR`.
    pub fn apply(&self, cmd: &mut std::process::Command) {
        cmd.env("TMPDIR", &self.0);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
