//! Issue 14, the `File::open` goal: allowed opens below a held mount root outside the
//! executable's file system skip the executable-identity `fstat` (`intercept::mounts`). These
//! cases check that nothing that could be the executable gets through that way, under both
//! interceptors (libc layer active) and through raw syscalls (the trap handler), each in its own
//! process with a watchdog.
//!
//! Layout: in a private mount namespace, a fresh tmpfs on `/dev/shm` holds the tmp root (a file
//! system of its own, as `/tmp` is on Lambda), with the allowed sub-path `cache/`. The
//! executable is this test binary, on the build directory's file system.
#![allow(missing_docs)]
// Mount namespaces and raw syscalls need `unsafe`; the library keeps its own in `sys`.
#![allow(unsafe_code)]

mod common;
use common::{case, errno, events};

use fnshield::{Action, Details, Enforcement, InterceptorChoice, Mechanism, PolicyKind, Shield};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

struct Layout {
    task: PathBuf,
    tmp: PathBuf,
    /// The running executable's real path.
    exe: PathBuf,
}

impl Layout {
    fn c(&self, rel: &str) -> PathBuf {
        self.tmp.join("cache").join(rel)
    }
}

/// A private mount namespace with a fresh tmpfs on `/dev/shm`; the task root in the temp
/// directory (the executable's file system on the test machines), the tmp root on the tmpfs.
fn layout() -> Layout {
    use nix::mount::{mount, MsFlags};
    common::private_mount_namespace();
    // (The QEMU guests' devtmpfs has no /dev/shm.)
    std::fs::create_dir_all("/dev/shm").unwrap();
    mount(
        Some("tmpfs"),
        "/dev/shm",
        Some("tmpfs"),
        MsFlags::empty(),
        Some("size=16m"),
    )
    .expect("mount a tmpfs on /dev/shm");
    let task = std::env::temp_dir().join(format!("fnshield-roots-{}", std::process::id()));
    std::fs::create_dir_all(&task).unwrap();
    std::fs::write(task.join("bootstrap"), b"secret code").unwrap();
    let tmp = PathBuf::from("/dev/shm/tmp");
    std::fs::create_dir_all(tmp.join("cache/mnt")).unwrap();
    std::fs::write(tmp.join("cache/public"), b"public").unwrap();
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    Layout { task, tmp, exe }
}

fn install(l: &Layout, i: InterceptorChoice) -> (Shield, Enforcement) {
    let mechanism = match i {
        InterceptorChoice::Notify => Mechanism::SeccompNotify,
        _ => Mechanism::SeccompTrap,
    };
    let allowed = l.tmp.join("cache");
    common::install_shield_reporting(&l.task, &l.tmp, mechanism, |b| {
        b.interceptor(i).allow_tmp(allowed.to_str().unwrap())
    })
}

/// `open(path, O_RDONLY)` through libc (the layer's hook): the fd or `-errno`.
fn open_libc(p: &Path) -> i64 {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        -i64::from(errno())
    } else {
        i64::from(fd)
    }
}

/// The same open as a raw syscall (no hook: the trap handler, or the notify supervisor).
fn open_raw(p: &Path) -> i64 {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    common::raw_syscall(
        libc::SYS_openat,
        [
            libc::AT_FDCWD as i64 as u64,
            c.as_ptr() as u64,
            (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
        ],
    )
}

fn close(fd: i64) {
    // SAFETY: closing a descriptor this case opened.
    unsafe { libc::close(fd as i32) };
}

fn code_refused(s: &Shield) -> bool {
    events(s).iter().any(|e| {
        e.policy == PolicyKind::ReadHandler
            && e.action == Action::Blocked
            && matches!(&e.details, Details::Path { path, .. } if path == "/proc/self/exe")
    })
}

fn roots_case(i: InterceptorChoice) {
    let l = layout();
    let exe_dir = l.exe.parent().unwrap().to_owned();
    let exe_name = l.exe.file_name().unwrap().to_owned();
    // A bind mount of the executable's directory below the allowed sub-path, and a symlink
    // to the executable there.
    nix::mount::mount(
        Some(&exe_dir),
        &l.c("mnt"),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind-mount the executable's directory");
    std::os::unix::fs::symlink(&l.exe, l.c("link")).unwrap();
    let (s, report) = install(&l, i);
    // The fast path is in use for the tmp root's file system (otherwise this case would
    // prove nothing about it).
    assert!(
        report
            .interceptor_reason
            .contains("allowed opens below /dev/shm"),
        "{report}"
    );
    for open in [open_libc, open_raw] {
        // An allowed file on the tmpfs opens, and reads what it holds.
        let fd = open(&l.c("public"));
        assert!(fd >= 0, "open cache/public: {fd}");
        let mut buf = [0u8; 16];
        // SAFETY: read into a stack buffer from the fd just opened.
        let n = unsafe { libc::read(fd as i32, buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(&buf[..n.max(0) as usize], b"public");
        close(fd);
        // The executable through the bind mount (a mount below the root: the open may not
        // stay on the tmpfs), through a symlink, and through `..` out of the root.
        let through_mount = l.c("mnt").join(&exe_name);
        let dotdot = PathBuf::from(format!("/dev/shm/../..{}", l.exe.to_str().unwrap()));
        for p in [through_mount, l.c("link"), dotdot] {
            let fd = open(&p);
            assert_eq!(fd, -i64::from(libc::EACCES), "{}", p.display());
        }
    }
    assert!(code_refused(&s), "{:#?}", events(&s));
}

#[test]
fn mount_roots_never_open_the_executable_trap() {
    case("mount_roots_never_open_the_executable_trap", || {
        roots_case(InterceptorChoice::Trap)
    });
}

#[test]
fn mount_roots_never_open_the_executable_notify() {
    case("mount_roots_never_open_the_executable_notify", || {
        roots_case(InterceptorChoice::Notify)
    });
}

/// A held root is in the guarded descriptor range: another thread cannot `dup2` a directory
/// of the executable's file system over it (which would let a tmp path open the executable
/// without the identity check).
fn swap_case(i: InterceptorChoice) {
    let l = layout();
    let exe_dir = l.exe.parent().unwrap().to_owned();
    let (s, _) = install(&l, i);
    let dir = CString::new(exe_dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: open a directory to dup2 from.
    let src = unsafe { libc::open(dir.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    assert!(src >= 0);
    // The held roots: descriptors naming a mount point.
    let mut roots = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(n) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_link(e.path()).is_ok_and(|t| t == Path::new("/dev/shm")) {
            roots.push(n);
        }
    }
    assert!(!roots.is_empty(), "no held root for /dev/shm");
    for n in roots {
        // SAFETY: dup2 onto a descriptor the shield holds: refused as if it lay beyond the
        // descriptor limit.
        let r = unsafe { libc::dup2(src, n) };
        assert_eq!((r, errno()), (-1, libc::EBADF), "dup2 onto held root {n}");
    }
    // A symlink to the executable under the tmp root's mount stays refused.
    std::os::unix::fs::symlink(&l.exe, l.c("x")).unwrap();
    assert_eq!(open_libc(&l.c("x")), -i64::from(libc::EACCES));
    assert!(code_refused(&s), "{:#?}", events(&s));
}

#[test]
fn held_roots_cannot_be_replaced_trap() {
    case("held_roots_cannot_be_replaced_trap", || {
        swap_case(InterceptorChoice::Trap)
    });
}

#[test]
fn held_roots_cannot_be_replaced_notify() {
    case("held_roots_cannot_be_replaced_notify", || {
        swap_case(InterceptorChoice::Notify)
    });
}

/// On the executable's own file system every allowed open is still checked: a hard link to
/// the executable at an allowed tmp path is refused and reported.
fn hard_link_case(i: InterceptorChoice) {
    let l = layout();
    // The tmp root next to the executable, on its file system.
    let tmp = l
        .exe
        .parent()
        .unwrap()
        .join(format!("fnshield-roots-tmp-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    let link = tmp.join("cache/code");
    std::fs::hard_link(&l.exe, &link).expect("hard-link the executable (same file system)");
    let l2 = Layout {
        task: l.task.clone(),
        tmp: tmp.clone(),
        exe: l.exe.clone(),
    };
    let (s, _) = install(&l2, i);
    assert_eq!(open_libc(&link), -i64::from(libc::EACCES));
    assert_eq!(open_raw(&link), -i64::from(libc::EACCES));
    assert!(code_refused(&s), "{:#?}", events(&s));
    // The case process is shielded: the test's own process removes the link afterwards.
}

#[test]
fn a_hard_link_to_the_executable_is_refused_trap() {
    case("a_hard_link_to_the_executable_is_refused_trap", || {
        hard_link_case(InterceptorChoice::Trap)
    });
    cleanup_hard_link_dirs();
}

#[test]
fn a_hard_link_to_the_executable_is_refused_notify() {
    case("a_hard_link_to_the_executable_is_refused_notify", || {
        hard_link_case(InterceptorChoice::Notify)
    });
    cleanup_hard_link_dirs();
}

/// Remove the tmp roots the hard-link cases made next to this binary (their processes are gone).
fn cleanup_hard_link_dirs() {
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    let Ok(entries) = std::fs::read_dir(exe.parent().unwrap()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("fnshield-roots-tmp-"))
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
