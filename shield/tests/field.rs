//! Field reports (issue 15): what a real function does on its way to an allowed path or an
//! allowed program must not look like an attack, while what the policies refuse stays refused.
//!
//! - the tmp root and the directories leading to an allowed sub-path can be looked up and
//!   traversed (`is_dir`, `metadata`, `O_PATH`, `create_dir_all` gets the OS's `EEXIST`), but
//!   not listed, and their other entries stay refused;
//! - names from `/etc/hosts` match allowlist entries by name;
//! - an exec of a file that does not exist fails with `ENOENT`, as the OS would, and is no
//!   violation (a `PATH` search tries every directory in turn).
//!
//! Every case installs a seccomp filter, so every case runs in its own process.
#![allow(missing_docs)]
// Attack code has to make raw syscalls; the library itself keeps `unsafe` in `sys`.
#![allow(unsafe_code)]

mod common;
use common::{case, errno, events};

use fnshield::{Action, Details, Event, Mechanism, PolicyKind};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

fn dirs(tag: &str) -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("fnshield-field-{tag}-{}", std::process::id()));
    let task = base.join("task");
    let tmp = base.join("tmp");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&task).unwrap();
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    std::fs::create_dir_all(tmp.join("deep/a/b")).unwrap();
    std::fs::write(tmp.join("secret"), b"other invocation's data").unwrap();
    std::fs::write(task.join("bootstrap"), b"secret code").unwrap();
    (task, tmp)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn raw_mkdir(p: &Path) -> i32 {
    let c = CString::new(s(p)).unwrap();
    // SAFETY: raw syscall with a valid NUL-terminated path.
    let r = unsafe { libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, c.as_ptr(), 0o755) };
    if r < 0 {
        errno()
    } else {
        0
    }
}

fn raw_open(p: &Path, flags: i32) -> i32 {
    let c = CString::new(s(p)).unwrap();
    // SAFETY: raw syscall with a valid NUL-terminated path.
    let r = unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, c.as_ptr(), flags, 0) };
    if r < 0 {
        return errno();
    }
    // SAFETY: we own the fd just opened.
    unsafe { libc::close(r as i32) };
    0
}

fn path_events<'a>(evs: &'a [Event], p: &Path) -> Vec<&'a Event> {
    evs.iter()
        .filter(|e| matches!(&e.details, Details::Path { path, .. } if path == s(p)))
        .collect()
}

/// With `tmp/cache` and `tmp/deep/a/b` allowed, the root and `deep`, `deep/a` are passages.
fn passages_case(interceptor: Mechanism) {
    let (task, tmp) = dirs(if interceptor == Mechanism::SeccompTrap {
        "trap"
    } else {
        "notify"
    });
    let cache = tmp.join("cache");
    let leaf = tmp.join("deep/a/b");
    let shield = common::install_shield(&task, &tmp, interceptor, |b| {
        let b = b.allow_tmp(s(&cache)).allow_tmp(s(&leaf));
        if interceptor == Mechanism::SeccompNotify {
            b.allow_exec("/usr/bin/true")
        } else {
            b
        }
    });
    // Looked up and traversed, as the OS answers.
    for p in [&tmp, &tmp.join("deep"), &tmp.join("deep/a")] {
        assert!(p.is_dir(), "{} is a directory", p.display());
        let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(m.is_dir());
        assert_eq!(
            raw_open(p, libc::O_PATH | libc::O_DIRECTORY),
            0,
            "{}",
            p.display()
        );
        assert_eq!(raw_mkdir(p), libc::EEXIST, "mkdir {}", p.display());
    }
    std::fs::create_dir_all(cache.join("x/y")).expect("create_dir_all under an allowed path");
    std::fs::create_dir_all(leaf.join("c")).expect("create_dir_all under a deep allowed path");
    assert!(cache.join("x/y").is_dir());
    // Still refused: listing the passages, other entries, creating beside the allowed paths.
    for p in [&tmp, &tmp.join("deep")] {
        assert_eq!(
            std::fs::read_dir(p).map(drop).unwrap_err().raw_os_error(),
            Some(libc::EACCES),
            "listing {}",
            p.display()
        );
    }
    assert_eq!(
        std::fs::read(tmp.join("secret"))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EACCES)
    );
    assert_eq!(
        std::fs::metadata(tmp.join("secret"))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EACCES)
    );
    assert_eq!(raw_mkdir(&tmp.join("new")), libc::EACCES);
    assert_eq!(raw_mkdir(&tmp.join("deep/other")), libc::EACCES);
    assert_eq!(
        std::fs::write(tmp.join("deep/f"), b"x")
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EACCES)
    );
    let evs = events(&shield);
    for p in [&tmp, &tmp.join("deep"), &tmp.join("deep/a")] {
        let about: Vec<_> = path_events(&evs, p)
            .into_iter()
            .filter(|e| !matches!(&e.details, Details::Path { access: "read", .. }))
            .collect();
        assert!(
            about.is_empty(),
            "lookups of {} reported: {about:#?}",
            p.display()
        );
    }
    // The listing is reported, and the hint does not suggest allowing the whole root.
    let listing = path_events(&evs, &tmp);
    assert!(
        listing.iter().any(|e| e.action == Action::Blocked),
        "{evs:#?}"
    );
    for e in &listing {
        let hint = e.how_to_allow();
        assert!(
            hint.contains("not listed") && !hint.contains(&format!("add \"{}\"", s(&tmp))),
            "the hint for listing the tmp root: {hint}"
        );
    }
    // A listing of another passage keeps the ordinary hint (that path or a parent).
    for e in path_events(&evs, &tmp.join("deep")) {
        assert!(
            e.how_to_allow().contains("allow_read"),
            "{}",
            e.how_to_allow()
        );
    }
    for p in ["secret", "new", "deep/other", "deep/f"] {
        assert!(
            path_events(&evs, &tmp.join(p))
                .iter()
                .any(|e| e.policy == PolicyKind::ReadWriteTmp && e.action == Action::Blocked),
            "{p} reported: {evs:#?}"
        );
    }
}

/// Send this process's stderr to a new file at `log` (outside the tmp root); returns the
/// descriptor to give [`stderr_back`].
fn stderr_to(log: &Path) -> i32 {
    let f = std::fs::File::create(log).unwrap();
    // SAFETY: dup/dup2 on descriptors this process owns; `stderr_back` restores fd 2.
    unsafe {
        let saved = libc::dup(2);
        libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&f), 2);
        saved
    }
}

/// Put back the stderr [`stderr_to`] saved.
fn stderr_back(saved: i32) {
    // SAFETY: dup2 of the descriptor stderr_to saved, then its close.
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
}

#[test]
fn tmp_root_and_passages_are_traversable_trap() {
    case("tmp_root_and_passages_are_traversable_trap", || {
        passages_case(Mechanism::SeccompTrap)
    });
}

#[test]
fn tmp_root_and_passages_are_traversable_notify() {
    case("tmp_root_and_passages_are_traversable_notify", || {
        passages_case(Mechanism::SeccompNotify)
    });
}

fn raw_path_call(nr: libc::c_long, p: &Path, extra: i64) -> i32 {
    let c = CString::new(s(p)).unwrap();
    let mut buf = [0u8; 512];
    // SAFETY: raw syscalls (statx, faccessat2, newfstatat) with a valid path and a buffer
    // larger than any of their structures.
    let r = unsafe {
        match nr {
            libc::SYS_statx => libc::syscall(
                nr,
                libc::AT_FDCWD,
                c.as_ptr(),
                extra,
                libc::STATX_BASIC_STATS,
                buf.as_mut_ptr(),
            ),
            libc::SYS_newfstatat => {
                libc::syscall(nr, libc::AT_FDCWD, c.as_ptr(), buf.as_mut_ptr(), extra)
            }
            _ => libc::syscall(nr, libc::AT_FDCWD, c.as_ptr(), libc::F_OK, extra),
        }
    };
    if r < 0 {
        errno()
    } else {
        0
    }
}

/// More ways to reach the passages (issue 15 item 8's variants): other spellings of the same
/// path, other lookup calls, relative lookups after `chdir`, and a passage that does not
/// exist yet (Lambda's `/tmp` starts empty) which `create_dir_all` must be able to make.
fn passages_more_case(interceptor: Mechanism) {
    let (task, tmp) = dirs(if interceptor == Mechanism::SeccompTrap {
        "more-trap"
    } else {
        "more-notify"
    });
    let cache = tmp.join("cache");
    let fresh = tmp.join("fresh/a/b");
    let shield = common::install_shield(&task, &tmp, interceptor, |b| {
        let b = b.allow_tmp(s(&cache)).allow_tmp(s(&fresh));
        if interceptor == Mechanism::SeccompNotify {
            b.allow_exec("/usr/bin/true")
        } else {
            b
        }
    });
    let root = s(&tmp).to_owned();
    for spelling in [
        format!("{root}/"),
        format!("{root}/."),
        format!("{root}//"),
        format!("{root}/cache/.."),
        format!("{root}/./cache/../"),
        format!("/{root}"),
        format!("/proc/self/root{root}"),
    ] {
        let p = Path::new(&spelling);
        assert!(p.is_dir(), "{spelling} is a directory");
        for (name, nr, extra) in [
            ("newfstatat", libc::SYS_newfstatat, 0),
            (
                "lstat",
                libc::SYS_newfstatat,
                libc::AT_SYMLINK_NOFOLLOW as i64,
            ),
            ("statx", libc::SYS_statx, 0),
            ("faccessat2", libc::SYS_faccessat2, 0),
        ] {
            assert_eq!(raw_path_call(nr, p, extra), 0, "{name} {spelling}");
        }
    }
    // Relative lookups from inside the root.
    let back = std::env::current_dir().unwrap();
    std::env::set_current_dir(&tmp).expect("chdir into the tmp root");
    assert!(Path::new("cache").is_dir());
    assert!(Path::new(".").is_dir());
    assert_eq!(
        std::fs::read("secret").unwrap_err().raw_os_error(),
        Some(libc::EACCES),
        "a relative read of another entry"
    );
    assert_eq!(
        std::fs::read_dir(".").map(drop).unwrap_err().raw_os_error(),
        Some(libc::EACCES),
        "a relative listing of the root"
    );
    std::fs::write("cache/rel", b"x").expect("a relative write under the allowed path");
    std::env::set_current_dir(back).unwrap();
    // A deep allowed path that does not exist yet.
    std::fs::create_dir_all(fresh.join("c")).expect("create_dir_all of a new deep allowed path");
    assert!(fresh.join("c").is_dir());
    // Still refused: a file or a symlink in the place of a passage, removing a passage,
    // another directory beside the passage.
    assert_eq!(
        raw_open(&tmp.join("fresh2"), libc::O_CREAT | libc::O_WRONLY),
        libc::EACCES
    );
    assert_eq!(raw_mkdir(&tmp.join("fresh/other")), libc::EACCES);
    assert_eq!(
        std::fs::remove_dir(tmp.join("fresh/a"))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EACCES)
    );
    let evs = events(&shield);
    let refused: Vec<_> = evs
        .iter()
        .filter(|e| e.action == Action::Blocked)
        .filter(|e| {
            matches!(&e.details, Details::Path { path, .. }
                if path.ends_with("/fresh") || path.ends_with("/fresh/a") || *path == root)
        })
        // Listing one and removing one are refused and reported, rightly.
        .filter(|e| !matches!(&e.details, Details::Path { access: "read", .. }))
        .filter(|e| !matches!(e.syscall, Some("unlinkat" | "rmdir")))
        .collect();
    assert!(refused.is_empty(), "passages reported: {refused:#?}");
}

#[test]
fn more_ways_to_the_passages_trap() {
    case("more_ways_to_the_passages_trap", || {
        passages_more_case(Mechanism::SeccompTrap)
    });
}

#[test]
fn more_ways_to_the_passages_notify() {
    case("more_ways_to_the_passages_notify", || {
        passages_more_case(Mechanism::SeccompNotify)
    });
}

fn exec_events(evs: &[Event]) -> Vec<&Event> {
    evs.iter()
        .filter(|e| e.policy == PolicyKind::CreateChildProcess)
        .collect()
}

#[test]
fn path_search_reports_no_missing_candidates() {
    case("path_search_reports_no_missing_candidates", || {
        let (task, tmp) = dirs("path");
        let shield = common::install_shield(&task, &tmp, Mechanism::SeccompNotify, |b| {
            b.allow_exec("/usr/bin/sh").allow_exec("/usr/bin/id")
        });
        // Several PATH entries without `sh` or `id`, as on any machine.
        let path = "/nonexistent/bin:/nonexistent/sbin:/usr/local/sbin:/usr/local/bin:/usr/bin";
        let out = Command::new("sh")
            .args(["-c", "id"])
            .env("PATH", path)
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("uid="));
        let evs = events(&shield);
        assert!(exec_events(&evs).is_empty(), "{:#?}", exec_events(&evs));

        // A program that is on none of them: ENOENT, as without a shield, and no event.
        let e = Command::new("fnshield-no-such-program")
            .env("PATH", path)
            .output()
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        // An existing program that is not allowed: refused and reported, with a hint that
        // names it.
        let out = Command::new("sh")
            .args(["-c", "env"])
            .env("PATH", path)
            .output()
            .expect("sh runs");
        assert!(!out.status.success(), "env is not allowed: {out:?}");
        let evs = events(&shield);
        let ex = exec_events(&evs);
        assert!(
            ex.iter().all(|e| matches!(&e.details, Details::Exec { path, .. } if std::path::Path::new(path).exists())),
            "only existing files are reported: {ex:#?}"
        );
        assert!(
            ex.iter().any(|e| e.action == Action::Blocked
                && matches!(&e.details, Details::Exec { path, .. } if path == "/usr/bin/env")),
            "{ex:#?}"
        );
        for e in &ex {
            let hint = e.how_to_allow();
            assert!(
                !hint.contains("nonexistent") && !hint.contains("/usr/local/"),
                "{hint}"
            );
        }
    });
}

/// Issue 15 item 7's variants: `PATH` with an empty entry (the cwd), a relative entry, a
/// duplicate, a file where a directory should be (ENOTDIR) and a dangling symlink named like
/// the program (the OS answers ENOENT, exec follows symlinks): none is a violation.
#[test]
fn path_search_variants_report_nothing() {
    case("path_search_variants_report_nothing", || {
        let (task, tmp) = dirs("path-more");
        let shield = common::install_shield(&task, &tmp, Mechanism::SeccompNotify, |b| {
            b.allow_exec("/usr/bin/sh").allow_exec("/usr/bin/id")
        });
        let odd = task.parent().unwrap().join("odd");
        std::fs::create_dir_all(odd.join("rel")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/sh", odd.join("sh")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/id", odd.join("id")).unwrap();
        std::fs::write(odd.join("file"), b"not a directory").unwrap();
        let path = format!(
            ":rel:{0}/file:{0}:/nonexistent/bin:/nonexistent/bin:/usr/bin",
            odd.display()
        );
        let out = Command::new("sh")
            .args(["-c", "id"])
            .env("PATH", &path)
            .current_dir(&odd)
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("uid="));
        let evs = events(&shield);
        assert!(exec_events(&evs).is_empty(), "{:#?}", exec_events(&evs));
    });
}

/// Issue 15 item 7: a long `PATH` (many layers' `bin` directories; 2,500 bytes here) is
/// searched whole, as libc searches it. The libc layer copied `PATH` into 1 KiB and, when it
/// did not fit, searched only the current directory: `Command::new("true")` failed with
/// `ENOENT` (execvp in the forked child and posix_spawnp alike).
#[test]
fn a_long_path_is_searched_whole() {
    case("a_long_path_is_searched_whole", || {
        let (task, tmp) = dirs("long-path");
        let shield = common::install_shield(&task, &tmp, Mechanism::SeccompNotify, |b| {
            b.allow_exec("/usr/bin/true")
        });
        let long = (0..120)
            .map(|i| format!("/nonexistent/layer{i:03}/bin"))
            .chain(["/usr/bin".to_owned()])
            .collect::<Vec<_>>()
            .join(":");
        assert!(long.len() > 2400, "{}", long.len());
        // Command with its own PATH: fork, then execvp in the child.
        let st = Command::new("true")
            .env("PATH", &long)
            .status()
            .expect("true runs through a long PATH");
        assert!(st.success(), "{st:?}");
        // The process's own PATH: posix_spawnp.
        std::env::set_var("PATH", &long);
        let st = Command::new("true")
            .status()
            .expect("true runs through a long PATH (posix_spawnp)");
        assert!(st.success(), "{st:?}");
        // The same search for a program on none of the directories: ENOENT, no event.
        let e = Command::new("fnshield-no-such-program")
            .status()
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let evs = events(&shield);
        assert!(exec_events(&evs).is_empty(), "{:#?}", exec_events(&evs));
    });
}

#[test]
fn exec_of_a_missing_file_fails_as_the_os_would() {
    case("exec_of_a_missing_file_fails_as_the_os_would", || {
        let (task, tmp) = dirs("missing");
        // Children blocked: the trap interceptor decides this process's own execve.
        let shield = common::install_shield(&task, &tmp, Mechanism::SeccompTrap, |b| b);
        let argv = [c"x".as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        // SAFETY: execve with valid NUL-terminated arrays; it fails, so nothing is replaced.
        let r =
            unsafe { libc::execve(c"/nonexistent/prog".as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        assert_eq!((r, errno()), (-1, libc::ENOENT));
        // SAFETY: as above; /usr/bin/true exists and is refused.
        let r = unsafe { libc::execve(c"/usr/bin/true".as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        assert_eq!((r, errno()), (-1, libc::EACCES));
        let evs = events(&shield);
        let ex = exec_events(&evs);
        assert_eq!(ex.len(), 1, "{ex:#?}");
        assert!(matches!(&ex[0].details, Details::Exec { path, .. } if path == "/usr/bin/true"));
    });
}

/// Issue 15 item 7, the other names an exec cannot run because the OS refuses the name
/// itself: a regular file used as a directory (`ENOTDIR`), a symlink loop (`ELOOP`), a name
/// component longer than 255 bytes (`ENAMETOOLONG`), a directory or a file without any execute
/// bit (`EACCES`). Each fails with the OS's errno (glibc's
/// `execvp` goes on to the next `PATH` entry after `ENOTDIR` but stops at `ELOOP`, so the
/// errno decides what a search does) and is no violation, in block and in alert mode.
fn exec_refused_name_case(interceptor: Mechanism, mode: fnshield::Mode) {
    let tag = format!("refused-{interceptor:?}-{mode:?}");
    let (task, tmp) = dirs(&tag);
    let shield = common::install_shield(&task, &tmp, interceptor, |b| {
        let b = b.child_process(mode);
        if interceptor == Mechanism::SeccompNotify {
            b.allow_exec("/usr/bin/true")
        } else {
            b
        }
    });
    let odd = task.parent().unwrap().join("odd");
    std::fs::create_dir_all(&odd).unwrap();
    let looped = odd.join("loop");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let exec = |p: &str| {
        let c = CString::new(p).unwrap();
        let argv = [c"x".as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        // SAFETY: execve with valid NUL-terminated arrays; it fails, so nothing is replaced.
        let r = unsafe { libc::execve(c.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        assert_eq!(r, -1, "{p}");
        errno()
    };
    let long = format!("/etc/{}", "n".repeat(300));
    assert_eq!(
        exec("/etc/passwd/sh"),
        libc::ENOTDIR,
        "a file as a directory"
    );
    assert_eq!(exec(s(&looped)), libc::ELOOP, "a symlink loop");
    assert_eq!(exec(&long), libc::ENAMETOOLONG, "a 300-byte component");
    // What the kernel refuses to run for everyone, root included (a PATH search goes on to
    // the next directory after EACCES): a directory named like the program, a file with no
    // execute bit.
    std::fs::create_dir_all(odd.join("sh")).unwrap();
    std::fs::write(odd.join("id"), b"not a program").unwrap();
    assert_eq!(exec(s(&odd.join("sh"))), libc::EACCES, "a directory");
    assert_eq!(exec(s(&odd.join("id"))), libc::EACCES, "no execute bit");
    let evs = events(&shield);
    assert!(exec_events(&evs).is_empty(), "{:#?}", exec_events(&evs));
}

#[test]
fn exec_of_a_name_the_os_refuses_fails_as_the_os_would_trap() {
    case(
        "exec_of_a_name_the_os_refuses_fails_as_the_os_would_trap",
        || exec_refused_name_case(Mechanism::SeccompTrap, fnshield::Mode::Block),
    );
}

#[test]
fn exec_of_a_name_the_os_refuses_fails_as_the_os_would_notify() {
    case(
        "exec_of_a_name_the_os_refuses_fails_as_the_os_would_notify",
        || exec_refused_name_case(Mechanism::SeccompNotify, fnshield::Mode::Block),
    );
}

#[test]
fn exec_of_a_name_the_os_refuses_fails_as_the_os_would_alert() {
    case(
        "exec_of_a_name_the_os_refuses_fails_as_the_os_would_alert",
        || exec_refused_name_case(Mechanism::SeccompNotify, fnshield::Mode::Alert),
    );
}

/// An exec is no way to learn what the tmp policy hides: with reads of the tmp root refused,
/// an exec of an entry there fails the same way whether it exists or not (a `stat` does).
fn exec_probe_case(interceptor: Mechanism) {
    let (task, tmp) = dirs(if interceptor == Mechanism::SeccompTrap {
        "probe-trap"
    } else {
        "probe-notify"
    });
    let shield = common::install_shield(&task, &tmp, interceptor, |b| {
        if interceptor == Mechanism::SeccompNotify {
            b.allow_exec("/usr/bin/true")
        } else {
            b
        }
    });
    let exec = |p: &Path| {
        let c = CString::new(s(p)).unwrap();
        let argv = [c"x".as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        // SAFETY: execve with valid NUL-terminated arrays; it fails, so nothing is replaced.
        let r = unsafe { libc::execve(c.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        assert_eq!(r, -1, "{}", p.display());
        errno()
    };
    let stat = |p: &Path| std::fs::metadata(p).unwrap_err().raw_os_error();
    let (there, missing) = (tmp.join("secret"), tmp.join("no-such-file"));
    assert_eq!(stat(&there), stat(&missing), "stat tells them apart");
    assert_eq!(
        exec(&there),
        exec(&missing),
        "an exec tells an existing tmp entry from a missing one"
    );
    assert_eq!(
        exec(&tmp.join("deep/nope/x")),
        exec(&tmp.join("deep/a")),
        "an exec tells a missing tmp directory from an existing one"
    );
    // Outside the tmp root, a missing file is still the OS's ENOENT and no violation.
    assert_eq!(exec(Path::new("/nonexistent/prog")), libc::ENOENT);
    drop(shield);
}

#[test]
fn exec_does_not_probe_the_tmp_root_trap() {
    case("exec_does_not_probe_the_tmp_root_trap", || {
        exec_probe_case(Mechanism::SeccompTrap)
    });
}

#[test]
fn exec_does_not_probe_the_tmp_root_notify() {
    case("exec_does_not_probe_the_tmp_root_notify", || {
        exec_probe_case(Mechanism::SeccompNotify)
    });
}

/// A private mount namespace (root; CI runs as root) with `text` bind-mounted over
/// `/etc/hosts`, so that glibc and the shield both read it.
fn private_etc_hosts(text: &str) {
    use nix::mount::{mount, MsFlags};
    let file =
        std::env::temp_dir().join(format!("fnshield-field-etc-hosts-{}", std::process::id()));
    std::fs::write(&file, text).unwrap();
    common::private_mount_namespace();
    mount(
        Some(&file),
        Path::new("/etc/hosts"),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind-mount a hosts file over /etc/hosts");
    assert_eq!(std::fs::read_to_string("/etc/hosts").unwrap(), text);
}

#[test]
fn names_from_etc_hosts_match_allow_entries() {
    case("names_from_etc_hosts_match_allow_entries", || {
        let (task, tmp) = dirs("hosts");
        private_etc_hosts("127.0.0.1 localhost\n127.0.0.2 svc.internal\n127.0.0.3 evil.internal\n");
        let svc = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        let evil = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
        let (sp, ep) = (
            svc.local_addr().unwrap().port(),
            evil.local_addr().unwrap().port(),
        );
        // No injected text: the shield reads /etc/hosts itself, at build time.
        let shield = common::install_shield(&task, &tmp, Mechanism::SeccompTrap, |b| {
            b.allow_destination(format!("svc.internal:{sp}"))
        });
        std::net::TcpStream::connect(("svc.internal", sp)).expect("allowed by name");
        let e = std::net::TcpStream::connect(("evil.internal", ep)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        // The same address on another port is not allowed by the name.
        let e = std::net::TcpStream::connect(("svc.internal", ep)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        let evs = events(&shield);
        let net: Vec<_> = evs
            .iter()
            .filter(|e| e.policy == PolicyKind::OutboundConnectivity)
            .collect();
        assert_eq!(net.len(), 2, "{net:#?}");
        assert!(
            net.iter().any(|e| e.action == Action::Blocked
                && matches!(&e.details, Details::Connect { host: Some(h), .. } if h == "evil.internal")),
            "{net:#?}"
        );
        assert!(
            net.iter().any(|e| e
                .how_to_allow()
                .contains(&format!("\"evil.internal:{ep}\""))),
            "the hint names the host: {net:#?}"
        );
    });
}

/// Issue 15 item 9's variant: `/etc/hosts` rewritten after install (a writable container
/// image, a local run) must not give a forbidden address an allowed name, whoever resolves it
/// (glibc reads the file live; the shield's names are those read at cold start). Also
/// `LOCALDOMAIN`/`RES_OPTIONS` set by code inside the function (a search domain the attacker
/// controls): libc's answer for it is not learnt as the name's.
fn hosts_rewritten_case(interceptor: Mechanism) {
    let (task, tmp) = dirs(if interceptor == Mechanism::SeccompTrap {
        "hosts-rw-trap"
    } else {
        "hosts-rw-notify"
    });
    private_etc_hosts("127.0.0.1 localhost\n127.0.0.2 svc.internal\n");
    let evil = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
    let ep = evil.local_addr().unwrap().port();
    let svc = std::net::TcpListener::bind(("127.0.0.2", ep)).unwrap();
    drop(svc);
    let shield = common::install_shield(&task, &tmp, interceptor, |b| {
        let b = b.allow_destination(format!("svc.internal:{ep}"));
        if interceptor == Mechanism::SeccompNotify {
            b.allow_exec("/usr/bin/true")
        } else {
            b
        }
    });
    // The attacker rewrites the file behind the bind mount.
    std::fs::write(
        "/etc/hosts",
        "127.0.0.1 localhost\n127.0.0.3 svc.internal\n",
    )
    .unwrap();
    let r = std::net::TcpStream::connect(("svc.internal", ep));
    assert_eq!(
        r.map(drop).map_err(|e| e.raw_os_error()),
        Err(Some(libc::EPERM)),
        "a rewritten /etc/hosts gave 127.0.0.3 the allowed name"
    );
    drop(shield);
}

#[test]
fn a_rewritten_etc_hosts_names_nothing_trap() {
    case("a_rewritten_etc_hosts_names_nothing_trap", || {
        hosts_rewritten_case(Mechanism::SeccompTrap)
    });
}

#[test]
fn a_rewritten_etc_hosts_names_nothing_notify() {
    case("a_rewritten_etc_hosts_names_nothing_notify", || {
        hosts_rewritten_case(Mechanism::SeccompNotify)
    });
}

#[test]
fn hosts_file_text_can_be_injected() {
    let env = fnshield::Env::from_pairs([("LAMBDA_TASK_ROOT", "/var/task")]);
    let p = fnshield::Shield::builder()
        .env(env)
        .hosts_file("127.0.0.2 svc.internal SVC-alias\n")
        .build_policy()
        .unwrap();
    let ip: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    assert_eq!(
        p.hosts_file(),
        &[
            (ip, "svc.internal".to_owned()),
            (ip, "svc-alias".to_owned())
        ]
    );
}

#[inline(never)]
fn field_panicking_handler() {
    panic!("boom-from-handler");
}

#[test]
fn panic_backtrace_is_symbolized_without_a_violation() {
    case("panic_backtrace_is_symbolized_without_a_violation", || {
        let (task, tmp) = dirs("panic");
        // What std's hook reads at panic time; set while this process has its test thread only.
        std::env::set_var("RUST_BACKTRACE", "1");
        let shield = common::install_shield(&task, &tmp, Mechanism::SeccompTrap, |b| b);
        // Capture this process's stderr in a file outside the tmp root.
        let log = tmp.parent().unwrap().join("stderr.txt");
        let saved = stderr_to(&log);
        let joined = std::thread::Builder::new()
            .name("handler".into())
            .spawn(field_panicking_handler)
            .unwrap()
            .join();
        stderr_back(saved);
        assert!(joined.is_err());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("thread 'handler' panicked at"), "{text}");
        assert!(text.contains("boom-from-handler"), "{text}");
        assert!(
            text.contains("field_panicking_handler"),
            "the backtrace is symbolized:\n{text}"
        );
        let evs = events(&shield);
        assert!(
            !evs.iter().any(|e| e.policy == PolicyKind::ReadHandler),
            "a panic is not an attack: {evs:#?}"
        );
        // Handler code that opens the binary is still refused and reported.
        assert_eq!(
            std::fs::File::open("/proc/self/exe")
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EACCES)
        );
        let evs = events(&shield);
        assert!(evs.iter().any(|e| e.policy == PolicyKind::ReadHandler
            && e.action == Action::Blocked
            && matches!(&e.details, Details::Path { path, .. } if path == "/proc/self/exe")));
    });
}

/// Issue 15 item 6's variants: the notify interceptor, `RUST_BACKTRACE=full`, two panics in a
/// row; and after them the binary is still refused by every name (`/proc/<pid>/exe`, its real
/// path).
#[test]
fn panic_variants_are_symbolized_and_the_binary_stays_refused() {
    case(
        "panic_variants_are_symbolized_and_the_binary_stays_refused",
        || {
            let (task, tmp) = dirs("panic-more");
            std::env::set_var("RUST_BACKTRACE", "full");
            let shield = common::install_shield(&task, &tmp, Mechanism::SeccompNotify, |b| {
                b.allow_exec("/usr/bin/true")
            });
            let log = tmp.parent().unwrap().join("stderr.txt");
            let saved = stderr_to(&log);
            for _ in 0..2 {
                let joined = std::thread::Builder::new()
                    .name("handler".into())
                    .spawn(field_panicking_handler)
                    .unwrap()
                    .join();
                assert!(joined.is_err());
            }
            stderr_back(saved);
            let text = std::fs::read_to_string(&log).unwrap();
            assert!(
                text.matches("field_panicking_handler").count() >= 2,
                "both backtraces are symbolized:\n{text}"
            );
            let evs = events(&shield);
            assert!(
                !evs.iter().any(|e| e.policy == PolicyKind::ReadHandler),
                "a panic is not an attack: {evs:#?}"
            );
            let exe = std::fs::read_link("/proc/self/exe").unwrap();
            for p in [
                format!("/proc/{}/exe", std::process::id()),
                "/proc/thread-self/exe".to_owned(),
                exe.to_str().unwrap().to_owned(),
            ] {
                assert_eq!(
                    std::fs::File::open(&p).unwrap_err().raw_os_error(),
                    Some(libc::EACCES),
                    "{p}"
                );
            }
        },
    );
}

/// Issue 15 item 5, under the notify interceptor: the supervisor decides a call on behalf of
/// the thread that made it, and the event must name the invocation that thread was polling
/// (rule 1), as under trap, not `unknown` because two invocations are in flight. A raw
/// syscall (no libc layer on its way) from a handler future bound to one of two invocations.
fn attribution_case(interceptor: Mechanism) {
    use fnshield::internals::invocation;
    let (task, tmp) = dirs(&format!("attr-{interceptor:?}"));
    let shield = common::install_shield(&task, &tmp, interceptor, |b| {
        if interceptor == Mechanism::SeccompNotify {
            b.allow_exec("/usr/bin/true")
        } else {
            b
        }
    });
    let polled = invocation::begin("req-polled");
    let other = invocation::begin("req-other");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // open(2) with the syscall instruction itself: no libc entry point decides it first.
    let r = rt.block_on(polled.bind(async {
        common::raw_syscall(
            libc::SYS_open,
            [
                c"/proc/self/environ".as_ptr() as u64,
                libc::O_RDONLY as u64,
                0,
            ],
        )
    }));
    assert_eq!(r, -(libc::EACCES as i64));
    drop(other);
    drop(polled);
    let evs = events(&shield);
    let mine: Vec<&Event> = evs
        .iter()
        .filter(|e| e.policy == PolicyKind::ReadHandler)
        .collect();
    assert_eq!(mine.len(), 1, "{evs:#?}");
    assert_eq!(mine[0].request_id, "req-polled", "{:#?}", mine[0]);
}

#[test]
fn a_handler_threads_event_names_its_invocation_trap() {
    case("a_handler_threads_event_names_its_invocation_trap", || {
        attribution_case(Mechanism::SeccompTrap)
    });
}

#[test]
fn a_handler_threads_event_names_its_invocation_notify() {
    case(
        "a_handler_threads_event_names_its_invocation_notify",
        || attribution_case(Mechanism::SeccompNotify),
    );
}

/// Issue 15 item 9's spellings of a name in `/etc/hosts`: an alias (second name on the line),
/// a name in mixed case allowed in another case, a name written with a trailing dot, a name
/// with two addresses (a connect to the second one by address), a lookup in one thread and the
/// connect in another, and a file of more than 1,024 names with the allowed one at its end.
/// Each connect by an allowed name succeeds; a forbidden one is still refused.
fn hosts_spellings_case(interceptor: Mechanism) {
    let (task, tmp) = dirs(&format!("hosts-spell-{interceptor:?}"));
    let l = |ip: &str| std::net::TcpListener::bind((ip, 0)).unwrap();
    let (alias, upper, dotted, multi1, evil) = (
        l("127.0.0.2"),
        l("127.0.0.3"),
        l("127.0.0.4"),
        l("127.0.0.5"),
        l("127.0.0.9"),
    );
    let port = |t: &std::net::TcpListener| t.local_addr().unwrap().port();
    // The second address of multi.internal listens on the first one's port.
    let multi2 = std::net::TcpListener::bind(("127.0.0.6", port(&multi1))).unwrap();
    let mut text = String::from(
        "127.0.0.1 localhost\n\
         127.0.0.2 primary.internal alias.internal\n\
         127.0.0.3 Upper.Internal\n\
         127.0.0.4 dotted.internal.\n\
         127.0.0.5 multi.internal\n\
         127.0.0.6 multi.internal\n\
         127.0.0.9 evil.internal\n",
    );
    for i in 0..1100 {
        text.push_str(&format!(
            "10.9.{}.{} filler{i}.internal\n",
            i / 250,
            i % 250 + 1
        ));
    }
    text.push_str("127.0.0.7 last.internal\n");
    let last = l("127.0.0.7");
    private_etc_hosts(&text);
    let shield = common::install_shield(&task, &tmp, interceptor, |b| {
        let b = b
            .allow_destination(format!("alias.internal:{}", port(&alias)))
            .allow_destination(format!("UPPER.internal:{}", port(&upper)))
            .allow_destination(format!("dotted.internal:{}", port(&dotted)))
            .allow_destination(format!("multi.internal:{}", port(&multi1)))
            .allow_destination(format!("last.internal:{}", port(&last)));
        if interceptor == Mechanism::SeccompNotify {
            b.allow_exec("/usr/bin/true")
        } else {
            b
        }
    });
    let by_name = |n: &str, p: u16| std::net::TcpStream::connect((n, p)).map(|_| ());
    by_name("alias.internal", port(&alias)).expect("an alias");
    by_name("upper.internal", port(&upper)).expect("another case");
    // glibc matches the file's names exactly (case aside): the dotted spelling finds it.
    by_name("dotted.internal.", port(&dotted)).expect("a trailing dot in the file");
    std::net::TcpStream::connect(("127.0.0.6", port(&multi1))).expect("the second address");
    by_name("last.internal", port(&last)).expect("the 1,107th name");
    // Looked up in this thread, connected from another.
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&("alias.internal", port(&alias)))
        .unwrap()
        .next()
        .unwrap();
    std::thread::spawn(move || std::net::TcpStream::connect(addr).map(|_| ()))
        .join()
        .unwrap()
        .expect("connected by another thread");
    let e = by_name("evil.internal", port(&evil)).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    let evs = events(&shield);
    let net: Vec<_> = evs
        .iter()
        .filter(|e| e.policy == PolicyKind::OutboundConnectivity)
        .collect();
    assert_eq!(net.len(), 1, "{net:#?}");
    drop((alias, upper, dotted, multi1, multi2, evil, last));
}

#[test]
fn hosts_spellings_match_allow_entries_trap() {
    case("hosts_spellings_match_allow_entries_trap", || {
        hosts_spellings_case(Mechanism::SeccompTrap)
    });
}

#[test]
fn hosts_spellings_match_allow_entries_notify() {
    case("hosts_spellings_match_allow_entries_notify", || {
        hosts_spellings_case(Mechanism::SeccompNotify)
    });
}

/// Issue 15 item 8: every other lookup of the tmp root and the passages to an allowed path
/// answers as without a shield (computed before the install, compared after) and reports
/// nothing: readlink (EINVAL: not a symlink), statfs, getxattr/listxattr, access with X_OK,
/// chdir + getcwd, realpath/canonicalize of an allowed file, lookups relative to an O_PATH
/// descriptor of the root, name_to_handle_at.
fn lookups_case(interceptor: Mechanism) {
    let (task, tmp) = dirs(&format!("lookups-{interceptor:?}"));
    let cache = tmp.join("cache");
    std::fs::write(cache.join("model"), b"weights").unwrap();
    let deep = tmp.join("deep");
    let rc = |r: libc::c_long| if r < 0 { errno() } else { 0 };
    let probes = |root: &Path| -> Vec<(String, i32)> {
        let c = |p: &Path| CString::new(s(p)).unwrap();
        let mut out = Vec::new();
        for p in [root.to_path_buf(), root.join("deep"), root.join("deep/a")] {
            let cp = c(&p);
            let mut buf = [0u8; 64];
            // SAFETY: raw syscalls with valid NUL-terminated paths and buffers of the sizes given.
            unsafe {
                out.push((
                    format!("readlink {}", p.display()),
                    rc(libc::syscall(
                        libc::SYS_readlinkat,
                        libc::AT_FDCWD,
                        cp.as_ptr(),
                        buf.as_mut_ptr(),
                        64,
                    )),
                ));
                let mut st: libc::statfs = std::mem::zeroed();
                out.push((
                    format!("statfs {}", p.display()),
                    rc(libc::syscall(libc::SYS_statfs, cp.as_ptr(), &mut st)),
                ));
                out.push((
                    format!("getxattr {}", p.display()),
                    rc(libc::syscall(
                        libc::SYS_getxattr,
                        cp.as_ptr(),
                        c"user.x".as_ptr(),
                        buf.as_mut_ptr(),
                        64,
                    )),
                ));
                out.push((
                    format!("listxattr {}", p.display()),
                    rc(libc::syscall(
                        libc::SYS_listxattr,
                        cp.as_ptr(),
                        buf.as_mut_ptr(),
                        64,
                    )),
                ));
                out.push((
                    format!("access X_OK {}", p.display()),
                    rc(libc::syscall(
                        libc::SYS_faccessat,
                        libc::AT_FDCWD,
                        cp.as_ptr(),
                        libc::X_OK,
                    )),
                ));
            }
        }
        let before = std::env::current_dir().unwrap();
        out.push((
            "chdir+getcwd".into(),
            match std::env::set_current_dir(root.join("deep")) {
                Ok(()) => i32::from(std::env::current_dir().ok() != Some(root.join("deep"))),
                Err(e) => e.raw_os_error().unwrap_or(-1),
            },
        ));
        std::env::set_current_dir(before).unwrap();
        out.push((
            "canonicalize".into(),
            match std::fs::canonicalize(root.join("deep/../cache/./model")) {
                Ok(p) => i32::from(p != root.join("cache/model")),
                Err(e) => e.raw_os_error().unwrap_or(-1),
            },
        ));
        let croot = c(root);
        // SAFETY: raw syscalls with valid NUL-terminated paths; the O_PATH fd is closed.
        unsafe {
            let fd = libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                croot.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY,
                0,
            );
            out.push(("open O_PATH root".into(), rc(fd)));
            if fd >= 0 {
                let mut st: libc::stat = std::mem::zeroed();
                out.push((
                    "fstatat(rootfd, deep)".into(),
                    rc(libc::syscall(
                        libc::SYS_newfstatat,
                        fd,
                        c"deep".as_ptr(),
                        &mut st,
                        0,
                    )),
                ));
                out.push((
                    "fstatat(rootfd, \"\", AT_EMPTY_PATH)".into(),
                    rc(libc::syscall(
                        libc::SYS_newfstatat,
                        fd,
                        c"".as_ptr(),
                        &mut st,
                        libc::AT_EMPTY_PATH,
                    )),
                ));
                let sub = libc::syscall(
                    libc::SYS_openat,
                    fd,
                    c"cache".as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY,
                    0,
                );
                out.push(("openat(rootfd, cache, O_PATH)".into(), rc(sub)));
                if sub >= 0 {
                    libc::close(sub as i32);
                }
                libc::close(fd as i32);
            }
            let mut h = [0u8; 128 + 8];
            h[..4].copy_from_slice(&128u32.to_ne_bytes());
            let mut mnt = 0i32;
            out.push((
                "name_to_handle_at root".into(),
                rc(libc::syscall(
                    libc::SYS_name_to_handle_at,
                    libc::AT_FDCWD,
                    croot.as_ptr(),
                    h.as_mut_ptr(),
                    &mut mnt,
                    0,
                )),
            ));
        }
        out
    };
    let want = probes(&tmp);
    let shield = common::install_shield(&task, &tmp, interceptor, |b| {
        let b = b.allow_tmp(s(&cache)).allow_tmp(s(&tmp.join("deep/a/b")));
        if interceptor == Mechanism::SeccompNotify {
            b.allow_exec("/usr/bin/true")
        } else {
            b
        }
    });
    let got = probes(&tmp);
    let differ: Vec<_> = want.iter().zip(&got).filter(|(w, g)| w != g).collect();
    assert!(differ.is_empty(), "(without, with the shield): {differ:#?}");
    let evs = events(&shield);
    for p in [&tmp, &deep, &tmp.join("deep/a")] {
        let about = path_events(&evs, p);
        assert!(
            about.is_empty(),
            "lookups of {} reported: {about:#?}",
            p.display()
        );
    }
}

#[test]
fn every_lookup_of_the_passages_answers_as_the_os_trap() {
    case(
        "every_lookup_of_the_passages_answers_as_the_os_trap",
        || lookups_case(Mechanism::SeccompTrap),
    );
}

#[test]
fn every_lookup_of_the_passages_answers_as_the_os_notify() {
    case(
        "every_lookup_of_the_passages_answers_as_the_os_notify",
        || lookups_case(Mechanism::SeccompNotify),
    );
}

/// Issue 15 item 6 in a process forked without exec (a `pre_exec` closure, a pre-forking
/// server): it has the shield's panic hook but not its symbolizer thread. A panic there prints
/// its message at once and says the backtrace is not symbolized (it waited 10 s for a thread
/// that does not exist), and reports no violation.
#[test]
fn a_panic_in_a_forked_child_does_not_wait_for_the_symbolizer() {
    case(
        "a_panic_in_a_forked_child_does_not_wait_for_the_symbolizer",
        || {
            let (task, tmp) = dirs("panic-fork");
            std::env::set_var("RUST_BACKTRACE", "1");
            let shield = common::install_shield(&task, &tmp, Mechanism::SeccompNotify, |b| {
                b.allow_exec("/usr/bin/true")
            });
            let log = tmp.parent().unwrap().join("stderr-fork.txt");
            let saved = stderr_to(&log);
            // SAFETY: libc's fork (its atfork handlers make malloc usable in the child); the
            // child only panics, catches it and leaves with _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork: {}", errno());
            if pid == 0 {
                let r = std::panic::catch_unwind(|| panic!("boom-in-forked-child"));
                // SAFETY: leave the child without running the parent's exit handlers.
                unsafe { libc::_exit(i32::from(r.is_ok())) };
            }
            let mut st = 0;
            // SAFETY: waiting for our own child.
            assert_eq!(unsafe { libc::waitpid(pid as i32, &mut st, 0) }, pid as i32);
            stderr_back(saved);
            assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "{st:#x}");
            let text = std::fs::read_to_string(&log).unwrap();
            assert!(text.contains("boom-in-forked-child"), "{text}");
            assert!(
                text.contains("a forked child") && !text.contains("did not answer"),
                "{text}"
            );
            let evs = events(&shield);
            assert!(
                !evs.iter().any(|e| e.policy == PolicyKind::ReadHandler),
                "a panic is not an attack: {evs:#?}"
            );
        },
    );
}

/// Issue 15 item 7: glibc's `execvp` runs a file the kernel does not recognise (`ENOEXEC`: a
/// script without `#!`) with `/bin/sh`; the libc layer's `execvp` returned `ENOEXEC`, so
/// `Command` with its own `PATH` (fork, then execvp) failed where it works without a shield.
#[test]
fn execvp_runs_a_script_without_an_interpreter_line_with_sh() {
    case(
        "execvp_runs_a_script_without_an_interpreter_line_with_sh",
        || {
            let (task, tmp) = dirs("noexec-script");
            let dir = task.parent().unwrap().join("bin");
            std::fs::create_dir_all(&dir).unwrap();
            let script = dir.join("plain-script");
            std::fs::write(&script, b"exit 7\n").unwrap();
            std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let sh = std::fs::canonicalize("/bin/sh").unwrap();
            let shield = common::install_shield(&task, &tmp, Mechanism::SeccompNotify, |b| {
                b.allow_exec(s(&script))
                    .allow_exec("/bin/sh")
                    .allow_exec(s(&sh))
            });
            let st = Command::new("plain-script")
                .env("PATH", format!("/nonexistent:{}", dir.display()))
                .status()
                .expect("runs through /bin/sh, as glibc's execvp does");
            assert_eq!(st.code(), Some(7), "{st:?}");
            let evs = events(&shield);
            assert!(exec_events(&evs).is_empty(), "{:#?}", exec_events(&evs));
        },
    );
}
