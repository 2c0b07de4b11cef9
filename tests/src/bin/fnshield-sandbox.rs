//! `fnshield-sandbox --profile P -- cmd args…`: run a command under a profile that imitates
//! AWS Lambda's sandbox or an older kernel (see `fnshield_tests::sandbox`). Runs as root.
//!
//! Exit status: the command's; 128 + the signal number if a signal ended it; 125 if the
//! sandbox itself could not be set up; 127 if the command could not be executed.
//! `fnshield-sandbox --list` prints the profiles.

use fnshield_tests::sandbox::{self, Profile};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Set in the second stage (the process that installs the filter and execs), with the number
/// of the socket on which the first stage says "traced, go on".
const STAGE2: &str = "FNSHIELD_SANDBOX_STAGE2";

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("fnshield-sandbox: {msg}");
    std::process::exit(125)
}

fn usage() -> ! {
    let names: Vec<_> = Profile::ALL.iter().map(|p| p.name()).collect();
    fail(format!(
        "usage: fnshield-sandbox --profile <{}> -- <command> [args…]",
        names.join("|")
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--list") {
        for p in Profile::ALL {
            println!("{p}");
        }
        return;
    }
    let (profile, cmd) = match args.as_slice() {
        [flag, name, dashes, cmd @ ..]
            if flag == "--profile" && dashes == "--" && !cmd.is_empty() =>
        {
            (
                Profile::parse(name).unwrap_or_else(|e| fail(e)),
                cmd.to_vec(),
            )
        }
        _ => usage(),
    };
    if let Ok(fd) = std::env::var(STAGE2) {
        let fd: RawFd = fd.parse().unwrap_or_else(|_| fail("bad stage-2 socket"));
        stage2(
            profile,
            Some(UnixStream::from(sandbox::adopt_inherited(fd))),
            &cmd,
        );
    }
    if !(profile.needs_tracer() && cfg!(target_arch = "x86_64")) {
        stage2(profile, None, &cmd);
    }
    stage1(profile, &args);
}

/// Start the second stage, trace it (seccomp stops for the memory-borne refusals), and exit as
/// the command does.
#[cfg(target_arch = "x86_64")]
fn stage1(profile: Profile, args: &[String]) -> ! {
    use nix::sys::ptrace::{self, Options};
    use nix::unistd::Pid;

    let kernel = profile
        .kernel()
        .unwrap_or_else(|| fail("no kernel to imitate"));
    let (mut ours, theirs) =
        UnixStream::pair().unwrap_or_else(|e| fail(format!("socketpair: {e}")));
    // The child's end must survive exec.
    nix::fcntl::fcntl(
        &theirs,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap_or_else(|e| fail(format!("fcntl: {e}")));
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(format!("current_exe: {e}")));
    // Reaped by the waitpid loop below (with every other tracee), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(exe)
        .args(args)
        .env(STAGE2, theirs.as_raw_fd().to_string())
        .spawn()
        .unwrap_or_else(|e| fail(format!("cannot start the second stage: {e}")));
    drop(theirs);
    let child = Pid::from_raw(child.id() as i32);
    ptrace::seize(
        child,
        Options::PTRACE_O_TRACESECCOMP
            | Options::PTRACE_O_TRACECLONE
            | Options::PTRACE_O_TRACEFORK
            | Options::PTRACE_O_TRACEVFORK
            | Options::PTRACE_O_EXITKILL,
    )
    .unwrap_or_else(|e| fail(format!("ptrace(PTRACE_SEIZE): {e}")));
    ours.write_all(b"g")
        .unwrap_or_else(|e| fail(format!("cannot start the command: {e}")));
    // Restart tracee `p`, delivering signal `sig` (0: none). Raw, for real-time signals too.
    let cont = |p: i32, sig: i32| {
        sandbox::value_syscall(
            libc::SYS_ptrace,
            [libc::PTRACE_CONT as u64, p as u64, 0, sig as u64, 0, 0],
        );
    };
    loop {
        let (p, status) = match sandbox::wait_any() {
            Ok(w) => w,
            Err(e) if e == -(libc::EINTR as i64) => continue,
            Err(e) => fail(format!("waitpid: errno {}", -e)),
        };
        if libc::WIFEXITED(status) {
            if p == child.as_raw() {
                std::process::exit(libc::WEXITSTATUS(status));
            }
        } else if libc::WIFSIGNALED(status) {
            if p == child.as_raw() {
                std::process::exit(128 + libc::WTERMSIG(status));
            }
        } else if libc::WIFSTOPPED(status) {
            match status >> 16 {
                libc::PTRACE_EVENT_SECCOMP => {
                    let p = Pid::from_raw(p);
                    if let Ok(mut regs) = ptrace::getregs(p) {
                        let a = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
                        if let Some(e) =
                            sandbox::decide(kernel, p.as_raw(), regs.orig_rax as i64, a)
                        {
                            // Skip the call and return -e.
                            regs.orig_rax = u64::MAX;
                            regs.rax = (-(e as i64)) as u64;
                            let _ = ptrace::setregs(p, regs);
                        }
                    }
                    cont(p.as_raw(), 0);
                }
                // Fork/clone/stop events: the new tracee is attached; go on.
                0 => {
                    // Signal-delivery stop: pass the signal on unchanged (its siginfo is
                    // kept), real-time signals included.
                    cont(p, libc::WSTOPSIG(status));
                }
                _ => cont(p, 0),
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn stage1(profile: Profile, _args: &[String]) -> ! {
    fail(format!("{profile}: the tracer is x86_64 only"))
}

/// Wait for the tracer's go (if traced), install the profile's filter, drop privileges, exec.
fn stage2(profile: Profile, sock: Option<UnixStream>, cmd: &[String]) -> ! {
    if let Some(mut sock) = sock {
        let mut go = [0u8; 1];
        sock.read_exact(&mut go)
            .unwrap_or_else(|e| fail(format!("the tracer did not start: {e}")));
    }
    if profile.no_new_privs() {
        nix::sys::prctl::set_no_new_privs().unwrap_or_else(|e| fail(format!("NoNewPrivs: {e}")));
    }
    let r = sandbox::set_mode_filter(&profile.program(), 0);
    if r < 0 {
        fail(format!(
            "seccomp(SECCOMP_SET_MODE_FILTER) refused: {} (run as root)",
            std::io::Error::from_raw_os_error(-r as i32)
        ));
    }
    if profile.is_lambda() {
        use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
        let id = sandbox::LAMBDA_UID;
        setgroups(&[]).unwrap_or_else(|e| fail(format!("setgroups: {e}")));
        setgid(Gid::from_raw(id)).unwrap_or_else(|e| fail(format!("setgid: {e}")));
        setuid(Uid::from_raw(id)).unwrap_or_else(|e| fail(format!("setuid: {e}")));
    }
    let e = Command::new(&cmd[0]).args(&cmd[1..]).exec();
    eprintln!("fnshield-sandbox: cannot execute {}: {e}", cmd[0]);
    std::process::exit(127)
}
