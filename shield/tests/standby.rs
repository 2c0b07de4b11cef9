//! The stand-by supervisor (issue 13, kind 11): under the notify interceptor, a process that
//! `execve`s itself (or another program) stays supervised — the new image's blocked calls are
//! refused and reported, its allowed calls work, nothing gets ENOSYS — and the stand-by
//! process never outlives the function. One process per case, each with the watchdog.
#![allow(missing_docs)]
// The cases call execve and kill directly.
#![allow(unsafe_code)]

mod common;
use common::{raw_fork, raw_syscall};

use fnshield::{Mechanism, Mode};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Output};

const STAGE: &str = "FNSHIELD_STANDBY_STAGE";

/// The case's directories (the same in the image after the exec: same pid).
fn base() -> PathBuf {
    std::env::temp_dir().join(format!(
        "fnshield-standby-{}-{}",
        nix::unistd::geteuid(),
        std::process::id()
    ))
}

/// Task root with its code, tmp root with a secret and an allowed `cache/`, and a file
/// outside both.
fn layout() -> (PathBuf, PathBuf) {
    let b = base();
    let (task, tmp) = (b.join("task"), b.join("tmp"));
    std::fs::create_dir_all(&task).unwrap();
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    std::fs::write(task.join("bootstrap"), b"secret code").unwrap();
    std::fs::write(tmp.join("secret"), b"other invocation's data").unwrap();
    std::fs::write(tmp.join("cache/mine"), b"cached").unwrap();
    std::fs::write(b.join("public"), b"public data\n").unwrap();
    (task, tmp)
}

/// Install the notify interceptor with every policy blocking; `exec` is the one executable
/// allowed. Prints the stand-by's pid and start time for the outer test.
fn install(exec: &str) -> fnshield::Shield {
    install_with(exec, |b| b)
}

/// [`install`], with `f` applied on top of the block-mode settings.
fn install_with(
    exec: &str,
    f: impl FnOnce(fnshield::ShieldBuilder) -> fnshield::ShieldBuilder,
) -> fnshield::Shield {
    let (task, tmp) = layout();
    let s = common::install_shield(&task, &tmp, Mechanism::SeccompNotify, |b| {
        f(b.mode(Mode::Block)
            .allow_tmp(tmp.join("cache").to_str().unwrap())
            .allow_exec(exec))
    });
    let pid = fnshield::internals::standby_pid();
    assert!(pid > 0, "a stand-by supervisor is running");
    println!(
        "STANDBY {pid} {}",
        start_time(pid).expect("the stand-by is alive")
    );
    s
}

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks), and whether it is a zombie.
fn stat(pid: i32) -> Option<(u64, bool)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some((f[19].parse().ok()?, f[0] == "Z"))
}

fn start_time(pid: i32) -> Option<u64> {
    stat(pid).map(|s| s.0)
}

/// Run case `name` in its own process under the watchdog; returns its output whatever its
/// exit status. The watchdog reads stdout to its end: a stand-by that lingered (it holds the
/// case's stdout) would make the case hang, and fail.
fn run(name: &str) -> Output {
    let scratch = fnshield_tests::watchdog::Scratch::new(name);
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("FNSHIELD_CASE", name)
        .env_remove(STAGE)
        .env_remove("SHIELD_MODE");
    scratch.apply(&mut cmd);
    let out = fnshield_tests::watchdog::output(cmd, &format!("case {name}"));
    drop(scratch);
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The stand-by named in the case's output has exited: its pid is gone, reused by another
/// process, or a zombie waiting for init.
///
/// The case's stdout ends when the stand-by's copy of it is closed, which happens inside its
/// exit, a moment before it becomes a zombie: a look at its state right then saw it still
/// running (once, on the real 5.10 kernel under QEMU). So the exit is waited for through a
/// pidfd, bounded by the watchdog's bound; a stand-by that really outlives the function fails
/// there.
fn assert_stand_by_gone(out: &Output) {
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        // It may follow libtest's "test … " on the same line.
        .find_map(|l| l.find("STANDBY ").map(|i| &l[i + 8..]))
        .unwrap_or_else(|| panic!("no STANDBY line:\n{stdout}\n{}", text(&out.stderr)));
    let mut it = line.split(' ');
    let pid: i32 = it.next().unwrap().parse().unwrap();
    let started: u64 = it.next().unwrap().parse().unwrap();
    let pidfd = raw_syscall(libc::SYS_pidfd_open, [pid as u64, 0, 0]);
    if pidfd < 0 {
        return; // gone already (ESRCH)
    }
    match stat(pid) {
        None => {}
        Some((t, _)) if t != started => {}
        Some((_, true)) => {}
        Some((_, false)) => {
            let bound = fnshield_tests::watchdog::bound(fnshield_tests::watchdog::DEFAULT_BOUND);
            let mut p = libc::pollfd {
                fd: pidfd as i32,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd on the stack.
            let r =
                unsafe { libc::poll(&mut p, 1, bound.as_millis().min(i32::MAX as u128) as i32) };
            assert_eq!(r, 1, "the stand-by {pid} outlived the function");
        }
    }
    // SAFETY: closing the pidfd opened above.
    unsafe { libc::close(pidfd as i32) };
}

/// The JSON event lines of the output.
fn event_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        // A line may follow other output that ended without a newline (libtest's "test … ").
        .filter_map(|l| l.find("{\"function_shield\"").map(|i| &l[i..]))
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["function_shield"] == true)
        .collect()
}

fn has_block(evs: &[serde_json::Value], policy: &str, path_end: &str, pid: u32) -> bool {
    evs.iter().any(|e| {
        e["policy"] == policy
            && e["action"] == "blocked"
            && e["pid"] == pid
            && e["details"]["path"]
                .as_str()
                .is_some_and(|p| p.ends_with(path_end))
    })
}

fn errno_of(r: std::io::Result<impl Sized>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

#[test]
fn an_image_that_execs_itself_stays_supervised() {
    const NAME: &str = "an_image_that_execs_itself_stays_supervised";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        if std::env::var(STAGE).is_err() {
            // The original image: install, then replace this image by the same program.
            let me = std::fs::canonicalize("/proc/self/exe").unwrap();
            let _s = install(me.to_str().unwrap());
            // The program itself, by its real path (the one allowed).
            let err = Command::new(&me)
                .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(STAGE, "exec'd")
                .exec();
            panic!("execve of itself refused: {err}");
        }
        // The new image: no shield of its own; the stand-by supervises it.
        let b = base();
        let (task, tmp) = (b.join("task"), b.join("tmp"));
        assert_eq!(
            errno_of(std::fs::File::open(task.join("bootstrap"))),
            Some(libc::EACCES),
            "the code stays protected"
        );
        assert_eq!(
            errno_of(std::fs::read(tmp.join("secret"))),
            Some(libc::EACCES),
            "tmp reads stay blocked"
        );
        assert_eq!(std::fs::read(tmp.join("cache/mine")).unwrap(), b"cached");
        assert_eq!(std::fs::read(b.join("public")).unwrap(), b"public data\n");
        std::fs::write(tmp.join("cache/new"), b"written").unwrap();
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        assert_eq!(
            errno_of(TcpStream::connect(forbidden.local_addr().unwrap())),
            Some(libc::EPERM),
            "outbound stays blocked"
        );
        let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(allowed.local_addr().unwrap()).expect("loopback 127.0.0.1");
        let (mut a, _) = allowed.accept().unwrap();
        std::io::Write::write_all(&mut c, b"x").unwrap();
        let mut one = [0u8; 1];
        a.read_exact(&mut one).unwrap();
        println!("NEW-IMAGE {}", std::process::id());
        println!("CASE-OK");
        std::process::exit(0);
    }
    let out = run(NAME);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    let pid: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("NEW-IMAGE "))
        .expect("the new image ran")
        .parse()
        .unwrap();
    let evs = event_lines(&out);
    assert!(
        has_block(&evs, "read_handler", "task/bootstrap", pid),
        "the new image's read of the code is reported, with its pid:\n{stdout}"
    );
    assert!(
        has_block(&evs, "read_write_tmp", "tmp/secret", pid),
        "{stdout}"
    );
    assert!(
        evs.iter()
            .any(|e| e["policy"] == "outbound_connectivity" && e["action"] == "blocked"),
        "{stdout}"
    );
    let code = evs.iter().find(|e| e["policy"] == "read_handler").unwrap();
    let me = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
    assert_eq!(
        code["process"].as_str(),
        me.to_str(),
        "the event names the new image's executable"
    );
    assert_stand_by_gone(&out);
}

#[test]
fn another_program_execd_in_place_stays_supervised() {
    const NAME: &str = "another_program_execd_in_place_stays_supervised";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        let cat = std::fs::canonicalize("/bin/cat").unwrap();
        let _s = install(cat.to_str().unwrap());
        let b = base();
        let err = Command::new(&cat)
            .arg(b.join("public"))
            .arg(b.join("task/bootstrap"))
            .exec();
        panic!("execve refused: {err}");
    }
    let out = run(NAME);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    // cat prints the public file, is refused the code (not ENOSYS), and exits 1.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("public data"), "{stdout}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(!stderr.contains("not implemented"), "{stderr}");
    let evs = event_lines(&out);
    assert!(
        evs.iter().any(|e| e["policy"] == "read_handler"
            && e["action"] == "blocked"
            && e["process"].as_str().is_some_and(|p| p.ends_with("/cat"))),
        "{stdout}"
    );
    assert_stand_by_gone(&out);
}

#[test]
fn a_tightened_policy_stays_tight_after_the_exec() {
    const NAME: &str = "a_tightened_policy_stays_tight_after_the_exec";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        let cat = std::fs::canonicalize("/bin/cat").unwrap();
        // read_handler starts in allow (kept intercepted) and is tightened to block after the
        // stand-by was forked: the stand-by must enforce block too.
        let s = install_with(cat.to_str().unwrap(), |b| {
            b.read_handler(Mode::Allow).allow_runtime_tightening(true)
        });
        assert_eq!(
            s.tighten(fnshield::PolicyKind::ReadHandler, Mode::Block),
            Some(Mode::Block)
        );
        let err = Command::new(&cat).arg(base().join("task/bootstrap")).exec();
        panic!("execve refused: {err}");
    }
    let out = run(NAME);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains("secret code"), "{stdout}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert_stand_by_gone(&out);
}

#[test]
fn alert_mode_exec_of_itself_behaves_as_without_a_shield() {
    const NAME: &str = "alert_mode_exec_of_itself_behaves_as_without_a_shield";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        if std::env::var(STAGE).is_err() {
            let me = std::fs::canonicalize("/proc/self/exe").unwrap();
            let _s = install_with(me.to_str().unwrap(), |b| b.mode(Mode::Alert));
            let err = Command::new(&me)
                .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(STAGE, "exec'd")
                .exec();
            panic!("execve of itself refused: {err}");
        }
        // Issue 13 kind 11: the new image used to get ENOSYS from every notified call (exit
        // 127). In alert mode it sees exactly what it would see without a shield.
        let b = base();
        assert_eq!(
            std::fs::read(b.join("task/bootstrap")).unwrap(),
            b"secret code"
        );
        assert_eq!(
            std::fs::read(b.join("tmp/secret")).unwrap(),
            b"other invocation's data"
        );
        let forbidden = TcpListener::bind("127.0.0.2:0").unwrap();
        TcpStream::connect(forbidden.local_addr().unwrap()).expect("alert mode connects");
        println!("NEW-IMAGE {}", std::process::id());
        println!("CASE-OK");
        std::process::exit(0);
    }
    let out = run(NAME);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    let pid: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("NEW-IMAGE "))
        .expect("the new image ran")
        .parse()
        .unwrap();
    let evs = event_lines(&out);
    for policy in ["read_handler", "read_write_tmp", "outbound_connectivity"] {
        assert!(
            evs.iter()
                .any(|e| e["policy"] == policy && e["action"] == "alerted" && e["pid"] == pid),
            "the new image's {policy} violation is reported as an alert:\n{stdout}"
        );
    }
    assert!(!evs.iter().any(|e| e["action"] == "blocked"), "{stdout}");
    assert_stand_by_gone(&out);
}

#[test]
fn the_stand_by_exits_when_the_function_exits() {
    const NAME: &str = "the_stand_by_exits_when_the_function_exits";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        let _s = install(
            std::fs::canonicalize("/bin/true")
                .unwrap()
                .to_str()
                .unwrap(),
        );
        // An ordinary exit: the stand-by must notice and go.
        println!("CASE-OK");
        std::process::exit(0);
    }
    let out = run(NAME);
    assert!(out.status.success(), "{out:?}");
    assert_stand_by_gone(&out);
}

#[test]
fn the_stand_by_exits_when_the_function_is_killed() {
    const NAME: &str = "the_stand_by_exits_when_the_function_is_killed";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        let _s = install(
            std::fs::canonicalize("/bin/true")
                .unwrap()
                .to_str()
                .unwrap(),
        );
        // A process killed outright (a Lambda timeout): no exit path of ours runs.
        nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL)
            .unwrap();
        unreachable!();
    }
    let out = run(NAME);
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{out:?}");
    assert_stand_by_gone(&out);
}

/// A lock another thread of the function holds at the stand-by's fork is never released in
/// the stand-by. Here the `on_event` callback's, held by another thread during the install
/// (as a callback or a tracing subscriber busy in another thread would hold it). The stand-by
/// must still write the new image's events (the flushed lines, not only the early
/// first-occurrence ones, which are written without a lock), and exit when it ends.
#[test]
fn a_lock_held_at_the_fork_does_not_stall_the_stand_by() {
    const NAME: &str = "a_lock_held_at_the_fork_does_not_stall_the_stand_by";
    static HELD: std::sync::Mutex<u64> = std::sync::Mutex::new(0);
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        if std::env::var(STAGE).is_err() {
            let me = std::fs::canonicalize("/proc/self/exe").unwrap();
            let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
            let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
            let holder = std::thread::spawn(move || {
                let guard = HELD.lock().unwrap();
                locked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                drop(guard);
            });
            locked_rx.recv().unwrap();
            // The install forks the stand-by while the other thread holds the callback's lock.
            // In this process the callback must not wait for the holder (the install emits
            // an event while the lock is held); in a forked process it would wait forever.
            let origin = std::process::id();
            let s = install_with(me.to_str().unwrap(), move |b| {
                b.on_event(move |_| {
                    if std::process::id() == origin {
                        if let Ok(mut n) = HELD.try_lock() {
                            *n += 1;
                        }
                    } else {
                        *HELD.lock().unwrap() += 1;
                    }
                })
            });
            release_tx.send(()).unwrap();
            holder.join().unwrap();
            drop(s);
            let err = Command::new(&me)
                .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(STAGE, "exec'd")
                .exec();
            panic!("execve of itself refused: {err}");
        }
        let task = base().join("task");
        // Twice: a first occurrence is written early, without the reporter; the second
        // reaches stdout only through the stand-by's reporter.
        for _ in 0..2 {
            assert_eq!(
                errno_of(std::fs::File::open(task.join("bootstrap"))),
                Some(libc::EACCES)
            );
        }
        println!("NEW-IMAGE {}", std::process::id());
        println!("CASE-OK");
        std::process::exit(0);
    }
    let out = run(NAME);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    let pid: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("NEW-IMAGE "))
        .unwrap_or_else(|| panic!("the new image ran:\n{stdout}"))
        .parse()
        .unwrap();
    let flushed: Vec<_> = event_lines(&out)
        .into_iter()
        .filter(|e| e.get("early").is_none())
        .collect();
    assert!(
        has_block(&flushed, "read_handler", "task/bootstrap", pid),
        "the stand-by flushed the new image's event:\n{stdout}"
    );
    assert_stand_by_gone(&out);
}

/// The new image of the exec cases below: the code stays refused (EACCES, not a hang or
/// ENOSYS), an allowed file reads.
fn new_image_checks() {
    let b = base();
    assert_eq!(
        errno_of(std::fs::File::open(b.join("task/bootstrap"))),
        Some(libc::EACCES),
        "the code stays protected"
    );
    assert_eq!(std::fs::read(b.join("public")).unwrap(), b"public data\n");
}

/// Issue 13, kind 10: a child forked without libc's `fork()` (a raw `fork`, glibc's `_Fork`
/// or `clone()`) skipped the atfork handler and kept the function's end of the stand-by's
/// socket open. When the function then exec'd itself, the stand-by never saw end of file:
/// the new image's first notified call waited for ever.
#[test]
fn a_child_forked_without_libc_does_not_hold_the_stand_by_off() {
    const NAME: &str = "a_child_forked_without_libc_does_not_hold_the_stand_by_off";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        if let Ok(stage) = std::env::var(STAGE) {
            new_image_checks();
            let child: i32 = stage.parse().unwrap();
            // SAFETY: ends the paused child this case forked.
            unsafe { libc::kill(child, libc::SIGKILL) };
            println!("CASE-OK");
            std::process::exit(0);
        }
        let me = std::fs::canonicalize("/proc/self/exe").unwrap();
        let _s = install(me.to_str().unwrap());
        let child = raw_fork();
        if child == 0 {
            // Keeps every fd it inherited until the new image kills it.
            loop {
                // SAFETY: pause has no preconditions.
                unsafe { libc::pause() };
            }
        }
        assert!(child > 0, "fork: {child}");
        let err = Command::new(&me)
            .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(STAGE, child.to_string())
            .exec();
        panic!("execve of itself refused: {err}");
    }
    let out = run(NAME);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    assert_stand_by_gone(&out);
}

/// The fds of this process that are seccomp listeners.
fn own_listeners() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.as_os_str() == "anon_inode:seccomp notify")
        })
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// Issue 13, kind 10: code of the function closes the shield's listener fd (or puts another
/// file in its place with `dup2`, or runs `close_range`): the supervisor thread's receive
/// that was waiting took the next call and could not answer it, its next receive failed and
/// it ended, while the stand-by, which holds a listener of its own, kept waiting for an exec:
/// every later notified call of every thread waited for ever. Every call must keep being
/// answered: the code stays refused (EACCES), allowed files read.
fn listener_replaced(how: fn(i32)) {
    let _s = install(
        std::fs::canonicalize("/bin/true")
            .unwrap()
            .to_str()
            .unwrap(),
    );
    // The listener may not be in this process's table at all (the supervisor may hold it in
    // a table of its own): then there is nothing to close, and nothing may change either.
    for fd in own_listeners() {
        how(fd);
    }
    let b = base();
    let code = std::ffi::CString::new(
        b.join("task/bootstrap")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    let public =
        std::ffi::CString::new(b.join("public").into_os_string().into_encoded_bytes()).unwrap();
    // Several calls: the receive that was already waiting when the fd went may still take one.
    for _ in 0..4 {
        let r = raw_syscall(
            libc::SYS_openat,
            [
                libc::AT_FDCWD as u64,
                code.as_ptr() as u64,
                libc::O_RDONLY as u64,
            ],
        );
        assert_eq!(r, -(libc::EACCES as i64), "the code stays protected");
        let r = raw_syscall(
            libc::SYS_openat,
            [
                libc::AT_FDCWD as u64,
                public.as_ptr() as u64,
                libc::O_RDONLY as u64,
            ],
        );
        assert!(r >= 0, "an allowed file opens: {r}");
        // SAFETY: the fd just opened.
        unsafe { libc::close(r as i32) };
    }
}

#[test]
fn closing_listener_fds_leaves_every_call_answered() {
    const NAME: &str = "closing_listener_fds_leaves_every_call_answered";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        // SAFETY: closes an fd of this process (the attack).
        listener_replaced(|fd| unsafe {
            libc::close(fd);
        });
        println!("CASE-OK");
        std::process::exit(0);
    }
    let out = run(NAME);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    assert_stand_by_gone(&out);
}

#[test]
fn replacing_listener_fds_leaves_every_call_answered() {
    const NAME: &str = "replacing_listener_fds_leaves_every_call_answered";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        // SAFETY: puts /dev/null in place of an fd of this process (the attack).
        listener_replaced(|fd| unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            libc::dup2(null, fd);
        });
        println!("CASE-OK");
        std::process::exit(0);
    }
    let out = run(NAME);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    assert_stand_by_gone(&out);
}

/// Issue 13, kind 10: a call another process of the function had in flight with the
/// supervisor thread when the function exec'd was never answered (the thread died with the
/// old image, holding the call; the stand-by never saw it): that process waited for ever. Here
/// a forked child opens a FIFO for reading (the open waits for a writer, in the supervisor's
/// hands); the function then execs itself and the new image opens the FIFO for writing. The
/// child's open must complete: the stand-by takes over the calls the old supervisor held.
#[test]
fn a_call_in_flight_at_the_exec_is_answered() {
    const NAME: &str = "a_call_in_flight_at_the_exec_is_answered";
    if std::env::var("FNSHIELD_CASE").as_deref() == Ok(NAME) {
        let fifo = base().join("tmp/cache/p");
        let c = std::ffi::CString::new(fifo.clone().into_os_string().into_encoded_bytes()).unwrap();
        if let Ok(stage) = std::env::var(STAGE) {
            let child: i32 = stage.parse().unwrap();
            // SAFETY: open, write and close of the FIFO; waitpid of this process's child.
            unsafe {
                let fd = libc::open(c.as_ptr(), libc::O_WRONLY);
                assert!(
                    fd >= 0,
                    "the writer opens: {}",
                    std::io::Error::last_os_error()
                );
                assert_eq!(libc::write(fd, b"hi".as_ptr().cast(), 2), 2);
                libc::close(fd);
                let mut status = 0;
                assert_eq!(libc::waitpid(child, &mut status, 0), child);
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "the child read the FIFO: status {status:#x}"
                );
            }
            println!("CASE-OK");
            std::process::exit(0);
        }
        let me = std::fs::canonicalize("/proc/self/exe").unwrap();
        let _s = install(me.to_str().unwrap());
        // SAFETY: mkfifo with a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let child = raw_fork();
        if child == 0 {
            // The forked child: a raw open (no libc layer), which waits for the writer.
            let fd = raw_syscall(
                libc::SYS_openat,
                [
                    libc::AT_FDCWD as u64,
                    c.as_ptr() as u64,
                    libc::O_RDONLY as u64,
                ],
            );
            let mut b = [0u8; 2];
            let ok = fd >= 0
                && raw_syscall(libc::SYS_read, [fd as u64, b.as_mut_ptr() as u64, 2]) == 2
                && &b == b"hi";
            raw_syscall(libc::SYS_exit_group, [u64::from(!ok), 0, 0]);
            unreachable!();
        }
        assert!(child > 0, "fork: {child}");
        // Wait until the child's open is with the supervisor (its thread waits in the
        // notification: the syscall it shows is openat).
        let openat = libc::SYS_openat.to_string();
        loop {
            let s = std::fs::read_to_string(format!("/proc/{child}/syscall")).unwrap_or_default();
            if s.split(' ').next() == Some(openat.as_str()) {
                break;
            }
            std::thread::yield_now();
        }
        let err = Command::new(&me)
            .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(STAGE, child.to_string())
            .exec();
        panic!("execve of itself refused: {err}");
    }
    let out = run(NAME);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CASE-OK"),
        "{:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    assert_stand_by_gone(&out);
}
