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

use fnshield::{
    Action, Details, Enforcement, InterceptorChoice, LibcLayer, Mechanism, PolicyKind, Shield,
};
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

// ---- Red team (redroots): ways to make a held root name something else ----

/// The soft `RLIMIT_NOFILE` of this (case) process, lowered so that filling the descriptor
/// table up to the guarded range takes a few hundred opens.
fn lower_nofile(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get then set this process's descriptor limit through valid pointers.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = soft.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

/// The descriptors of the calling thread's table that name `/dev/shm` (the held root of the
/// tmp root's mount).
fn shm_roots() -> Vec<i32> {
    let mut roots = Vec::new();
    for e in std::fs::read_dir("/proc/thread-self/fd").unwrap().flatten() {
        let Ok(n) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read_link(e.path()).is_ok_and(|t| t == Path::new("/dev/shm")) {
            roots.push(n);
        }
    }
    roots
}

/// Open `dir` until the new descriptor is `target` (the lowest free number comes
/// first, so this fills the table below it): whether it landed there. The descriptors stay
/// open (the case process ends soon).
fn plant_at(dir: &Path, target: i32) -> bool {
    let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
    loop {
        // SAFETY: a valid NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY, 0) };
        if fd == target {
            return true;
        }
        if fd < 0 || fd > target {
            return false;
        }
    }
}

/// Whether `fd` (an open's result) is a descriptor of the running executable.
fn is_exe(fd: i64) -> bool {
    use std::os::unix::fs::MetadataExt;
    if fd < 0 {
        return false;
    }
    let exe = std::fs::metadata("/proc/self/exe").unwrap();
    // SAFETY: fstat of a descriptor this case opened, into a zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::fstat(fd as i32, &mut st) }, 0);
    (st.st_dev, st.st_ino) == (exe.dev(), exe.ino())
}

/// The attack's last step, from a thread whose table may have a directory of the
/// executable's file system at the number of the tmp mount's held root: an allowed path
/// below that mount, naming the executable's file name, through libc and as a raw syscall.
/// Each result, and whether it is a descriptor of the executable (it must never be: the
/// path names no file, and were it the executable, the open would be refused).
fn alias_opens(l: &Layout) -> [(i64, bool); 2] {
    let alias = Path::new("/dev/shm").join(l.exe.file_name().unwrap());
    let a = open_libc(&alias);
    let b = open_raw(&alias);
    [(a, is_exe(a)), (b, is_exe(b))]
}

/// `close_range(.., CLOSE_RANGE_UNSHARE)` reaching the guarded range ran as asked: the
/// calling thread got a private copy of its descriptor table without the held roots, and a
/// plain `open` (lowest free number) then put a directory of the executable's file system at
/// a held root's number. An allowed path below the tmp root's mount then opened the running
/// executable through the fast path, with no identity check and no event.
fn close_range_unshare_case(i: InterceptorChoice, raw: bool) {
    const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;
    let l = layout();
    lower_nofile(256);
    let (s, _) = install(&l, i);
    let roots = shm_roots();
    assert!(!roots.is_empty(), "no held root for /dev/shm");
    let first = *roots.iter().min().unwrap() as u32;
    let r = if raw {
        common::raw_syscall(
            libc::SYS_close_range,
            [
                u64::from(first),
                u64::from(u32::MAX),
                u64::from(CLOSE_RANGE_UNSHARE),
            ],
        )
    } else {
        // SAFETY: close_range on this thread's own (unshared) table.
        i64::from(unsafe { libc::close_range(first, u32::MAX, CLOSE_RANGE_UNSHARE as i32) })
    };
    // The thread's (unshared) table kept the held root ...
    assert_eq!(shm_roots(), roots, "close_range returned {r}");
    // ... so a directory opened with every lower number taken does not land there, and the
    // path names no file.
    let planted = plant_at(l.exe.parent().unwrap(), roots[0]);
    let out = alias_opens(&l);
    assert!(
        out.iter().all(|&(_, exe)| !exe),
        "close_range returned {r}, planted: {planted}; the executable opened through a tmp path: {out:?}"
    );
    drop(s);
}

#[test]
fn close_range_unshare_keeps_the_held_roots_trap() {
    case("close_range_unshare_keeps_the_held_roots_trap", || {
        close_range_unshare_case(InterceptorChoice::Trap, false)
    });
}

#[test]
fn close_range_unshare_keeps_the_held_roots_notify() {
    case("close_range_unshare_keeps_the_held_roots_notify", || {
        close_range_unshare_case(InterceptorChoice::Notify, false)
    });
}

#[test]
fn close_range_unshare_keeps_the_held_roots_raw_trap() {
    case("close_range_unshare_keeps_the_held_roots_raw_trap", || {
        close_range_unshare_case(InterceptorChoice::Trap, true)
    });
}

#[test]
fn close_range_unshare_keeps_the_held_roots_raw_notify() {
    case(
        "close_range_unshare_keeps_the_held_roots_raw_notify",
        || close_range_unshare_case(InterceptorChoice::Notify, true),
    );
}

/// A thread that unshared its descriptor table before the install never had the held roots
/// (they were opened in the installing thread's table): their numbers were free there, and
/// a plain `open` put a directory of the executable's file system at one of them. An allowed
/// path below the tmp root's mount then opened the running executable from that thread
/// through the fast path, with no identity check and no event.
fn unshared_table_case(i: InterceptorChoice) {
    use std::sync::mpsc::channel;
    let l = layout();
    lower_nofile(256);
    let (go, target) = channel::<i32>();
    let (ready, unshared) = channel::<()>();
    let (done, result) = channel();
    let (exe_dir, l2) = (
        l.exe.parent().unwrap().to_owned(),
        Layout {
            task: l.task.clone(),
            tmp: l.tmp.clone(),
            exe: l.exe.clone(),
        },
    );
    let t = std::thread::spawn(move || {
        // SAFETY: give this thread a private copy of the descriptor table (before the install).
        assert_eq!(unsafe { libc::unshare(libc::CLONE_FILES) }, 0);
        ready.send(()).unwrap();
        let n = target.recv().unwrap();
        let planted = plant_at(&exe_dir, n);
        let out = alias_opens(&l2);
        done.send((planted, out)).unwrap();
    });
    unshared.recv().expect("the thread unshared its table");
    let (s, report) = install(&l, i);
    let roots = shm_roots();
    assert!(!roots.is_empty(), "no held root for /dev/shm");
    go.send(roots[0]).unwrap();
    let r = result.recv();
    let joined = t.join();
    let (planted, out) = r.unwrap_or_else(|_| panic!("the thread failed: {joined:?}"));
    assert!(
        out.iter().all(|&(_, exe)| !exe),
        "planted: {planted}; the executable opened through a tmp path: {out:?}"
    );
    // The report says why every open is checked.
    assert!(
        report
            .interceptor_reason
            .contains("its own descriptor table without the held mount roots"),
        "{report}"
    );
    drop(s);
}

#[test]
fn a_thread_with_its_own_table_cannot_use_held_numbers_trap() {
    case(
        "a_thread_with_its_own_table_cannot_use_held_numbers_trap",
        || unshared_table_case(InterceptorChoice::Trap),
    );
}

#[test]
fn a_thread_with_its_own_table_cannot_use_held_numbers_notify() {
    case(
        "a_thread_with_its_own_table_cannot_use_held_numbers_notify",
        || unshared_table_case(InterceptorChoice::Notify),
    );
}

/// Mount a fresh tmpfs on `at` (in this case's private mount namespace).
fn tmpfs_on(at: &str) {
    std::fs::create_dir_all(at).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        at,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap_or_else(|e| panic!("mount a tmpfs on {at}: {e}"));
}

/// [`open_libc`] and [`open_raw`] of `p`.
fn both_opens(p: &Path) -> [i64; 2] {
    [open_libc(p), open_raw(p)]
}

/// The mount table lists a mount point that the path no longer names as the top of a
/// mount: `/dev/shm/t/a/tmp` (hidden, with `/dev/shm/t/a`, under a tmpfs mounted over
/// `/dev/shm/t` afterwards), whose path now goes through a symlink `/dev/shm/t/a` ->
/// `/dev/shm`, to the tmp root. Held under that name (the install followed the symlink), it
/// made an open of `/dev/shm/t/a/tmp/secret` (decided as outside the tmp root) read the tmp
/// root's `secret` through the fast path: another invocation's data, no event. Before the
/// fast path the open met the symlink, was resolved to its real location and refused.
fn symlinked_mount_point_case(i: InterceptorChoice) {
    let l = layout();
    std::fs::write(l.tmp.join("secret"), b"another invocation's data").unwrap();
    tmpfs_on("/dev/shm/t");
    tmpfs_on("/dev/shm/t/a");
    tmpfs_on("/dev/shm/t/a/tmp");
    // Hide all three under a new tmpfs on /dev/shm/t, where `a` is a symlink.
    tmpfs_on("/dev/shm/t");
    std::os::unix::fs::symlink("/dev/shm", "/dev/shm/t/a").unwrap();
    let (s, report) = install(&l, i);
    assert!(
        !report.interceptor_reason.contains("/dev/shm/t/a/tmp"),
        "a mount point reached through a symlink is held: {report}"
    );
    let alias = Path::new("/dev/shm/t/a/tmp/secret");
    assert_eq!(both_opens(alias), [-i64::from(libc::EACCES); 2]);
    assert!(
        events(&s)
            .iter()
            .any(|e| e.policy == PolicyKind::ReadWriteTmp && e.action == Action::Blocked),
        "{:#?}",
        events(&s)
    );
}

#[test]
fn a_mount_point_behind_a_symlink_is_not_held_trap() {
    case("a_mount_point_behind_a_symlink_is_not_held_trap", || {
        symlinked_mount_point_case(InterceptorChoice::Trap)
    });
}

#[test]
fn a_mount_point_behind_a_symlink_is_not_held_notify() {
    case("a_mount_point_behind_a_symlink_is_not_held_notify", || {
        symlinked_mount_point_case(InterceptorChoice::Notify)
    });
}

/// The mount table lists `/dev/shm/d` (a tmpfs hidden under another tmpfs mounted over
/// `/dev/shm` afterwards), where the path now names a plain directory of the covering tmpfs.
/// Held under that name, that directory is not a mount's root, so `..` from it stays on the
/// mount (no `EXDEV`): once the function moved it into the allowed sub-path, an open of
/// `/dev/shm/d/../../secret` (decided lexically as `/dev/secret`) read the tmp root's
/// `secret` through the fast path. Without the fast path the path names no file (ENOENT).
fn non_root_mount_point_case(i: InterceptorChoice) {
    let l = layout();
    tmpfs_on("/dev/shm/d");
    // The covering tmpfs holds the tmp root and a plain directory `d`.
    tmpfs_on("/dev/shm");
    std::fs::create_dir_all(l.c("")).unwrap();
    std::fs::write(l.tmp.join("secret"), b"another invocation's data").unwrap();
    std::fs::create_dir("/dev/shm/d").unwrap();
    let (_s, report) = install(&l, i);
    assert!(
        !report.interceptor_reason.contains("/dev/shm/d"),
        "a directory that is not a mount's root is held: {report}"
    );
    std::fs::rename("/dev/shm/d", l.c("d")).expect("move d into the allowed sub-path");
    let alias = Path::new("/dev/shm/d/../../secret");
    assert_eq!(both_opens(alias), [-i64::from(libc::ENOENT); 2]);
}

#[test]
fn a_directory_that_is_no_mount_root_is_not_held_trap() {
    case("a_directory_that_is_no_mount_root_is_not_held_trap", || {
        non_root_mount_point_case(InterceptorChoice::Trap)
    });
}

#[test]
fn a_directory_that_is_no_mount_root_is_not_held_notify() {
    case(
        "a_directory_that_is_no_mount_root_is_not_held_notify",
        || non_root_mount_point_case(InterceptorChoice::Notify),
    );
}

/// A held root was opened by the installing process's credentials; the kernel checks search
/// permission only from the root down. With a mount point under a directory that others may
/// not search (`/dev/shm/p`, 0700), a process that dropped root after the install opened
/// `/dev/shm/p/q/f` through the fast path, where the kernel (and the shield before it)
/// answered EACCES: the held root lent root's walk to the unprivileged process.
fn privilege_drop_case(i: InterceptorChoice) {
    use std::os::unix::fs::PermissionsExt;
    let l = layout();
    tmpfs_on("/dev/shm/p");
    tmpfs_on("/dev/shm/p/q");
    std::fs::write("/dev/shm/p/q/f", b"root's").unwrap();
    std::fs::set_permissions("/dev/shm/p/q/f", std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions("/dev/shm/p", std::fs::Permissions::from_mode(0o700)).unwrap();
    let (_s, report) = install(&l, i);
    // Drop to nobody in this thread only (raw calls; glibc's setresuid would change every
    // thread's credentials, the notify supervisor's too).
    for nr in [libc::SYS_setresgid, libc::SYS_setresuid] {
        assert_eq!(common::raw_syscall(nr, [65534; 3]), 0);
    }
    let f = Path::new("/dev/shm/p/q/f");
    // Under notify, an open the libc layer does not decide in process is carried out by the
    // supervisor thread, with its own credentials (see the README's limits).
    let in_process = i == InterceptorChoice::Trap || report.libc_layer == LibcLayer::Active;
    if in_process {
        assert_eq!(open_libc(f), -i64::from(libc::EACCES));
    }
    if i == InterceptorChoice::Trap {
        assert_eq!(open_raw(f), -i64::from(libc::EACCES));
    }
}

#[test]
fn a_root_below_an_unsearchable_directory_is_not_held_trap() {
    case(
        "a_root_below_an_unsearchable_directory_is_not_held_trap",
        || privilege_drop_case(InterceptorChoice::Trap),
    );
}

#[test]
fn a_root_below_an_unsearchable_directory_is_not_held_notify() {
    case(
        "a_root_below_an_unsearchable_directory_is_not_held_notify",
        || privilege_drop_case(InterceptorChoice::Notify),
    );
}

static SIGNALS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn count_signal(_: i32) {
    SIGNALS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// The system call thread `tid` is blocked in (`/proc/self/task/<tid>/syscall`), or `None`
/// while it runs.
fn blocked_in(tid: i32) -> Option<i64> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// An open that a signal interrupts returns EINTR (a handler installed without
/// `SA_RESTART`): how a function bounds a FIFO open with `alarm`. The fast path retried every
/// failure from the lexical path, EINTR included, so the open blocked again after the
/// signal, for good when no writer came (libc layer; the trap handler runs with signals
/// blocked, and the notify supervisor carries raw opens out, so only the layer's opens are
/// interruptible).
fn fifo_eintr_case(i: InterceptorChoice) {
    use std::sync::atomic::{AtomicI32, AtomicI64, Ordering::SeqCst};
    use std::sync::Arc;
    let l = layout();
    let fifo = l.c("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (_s, report) = install(&l, i);
    if report.libc_layer != LibcLayer::Active {
        return;
    }
    // SAFETY: a handler that only counts (async-signal-safe), without SA_RESTART.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = count_signal as *const () as usize;
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    let tid = Arc::new(AtomicI32::new(0));
    let done = Arc::new(AtomicI64::new(i64::MIN));
    let (t, d, f) = (tid.clone(), done.clone(), fifo.clone());
    let opener = std::thread::spawn(move || {
        // SAFETY: gettid has no arguments.
        t.store(unsafe { libc::gettid() }, SeqCst);
        d.store(open_libc(&f), SeqCst);
    });
    let b = loop {
        let b = tid.load(SeqCst);
        if b != 0 && blocked_in(b) == Some(libc::SYS_openat2) {
            break b;
        }
        std::thread::yield_now();
    };
    use std::os::unix::thread::JoinHandleExt;
    // SAFETY: signal a thread of this process that is still running (blocked in the open).
    let sent = unsafe { libc::pthread_kill(opener.as_pthread_t(), libc::SIGUSR1) };
    assert_eq!(sent, 0);
    let r = loop {
        let r = done.load(SeqCst);
        if r != i64::MIN {
            break r;
        }
        if SIGNALS.load(SeqCst) > 0 && blocked_in(b) == Some(libc::SYS_openat2) {
            // The handler ran and the thread is blocked in an open again: release it.
            let w = CString::new(fifo.as_os_str().as_bytes()).unwrap();
            // SAFETY: open the FIFO's write end so that the blocked reader's open returns.
            unsafe { libc::open(w.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK) };
            let _ = opener.join();
            panic!("the open went on after the signal (EINTR retried)");
        }
        std::thread::yield_now();
    };
    opener.join().unwrap();
    assert_eq!(r, -i64::from(libc::EINTR));
}

#[test]
fn an_interrupted_open_returns_eintr_trap() {
    case("an_interrupted_open_returns_eintr_trap", || {
        fifo_eintr_case(InterceptorChoice::Trap)
    });
}

#[test]
fn an_interrupted_open_returns_eintr_notify() {
    case("an_interrupted_open_returns_eintr_notify", || {
        fifo_eintr_case(InterceptorChoice::Notify)
    });
}

/// Where an unprivileged case keeps its tmp root: under the host's `/dev/shm`, named after the
/// test process (the case's parent, which removes it afterwards) and the interceptor.
fn shared_shm_dir(test_pid: u32, i: InterceptorChoice) -> PathBuf {
    PathBuf::from(format!(
        "/dev/shm/fnshield-roots-{}-{test_pid}-{i:?}",
        nix::unistd::geteuid()
    ))
}

/// As Lambda runs a function: unprivileged, no mount namespace to make (the launcher's
/// `lambda-nnp` profile runs this; root runs it too). The tmp root is on the host's `/dev/shm`,
/// a file system other than the executable's: the roots are held and used, an allowed file
/// opens through them, and a symlink to the executable or `..` out of the root is still
/// refused and reported.
fn unprivileged_case(i: InterceptorChoice) {
    let base = shared_shm_dir(std::os::unix::process::parent_id(), i);
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    let task = base.join("task");
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&task).unwrap();
    std::fs::write(task.join("bootstrap"), b"secret code").unwrap();
    std::fs::create_dir_all(tmp.join("cache")).unwrap();
    std::fs::write(tmp.join("cache/public"), b"public").unwrap();
    std::os::unix::fs::symlink(&exe, tmp.join("cache/link")).unwrap();
    let l = Layout { task, tmp, exe };
    // The mount the tmp root is on (`/dev/shm` here; `/dev` in the QEMU guests, whose
    // devtmpfs holds a plain /dev/shm directory).
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| l.tmp.starts_with(m))
        .max_by_key(|m| m.len())
        .unwrap()
        .to_owned();
    let (s, report) = install(&l, i);
    let held = report
        .interceptor_reason
        .split("allowed opens below ")
        .nth(1)
        .and_then(|r| r.split(" (not the executable's").next())
        .unwrap_or("");
    assert!(
        held.split(", ").any(|m| m == mount),
        "the tmp root's mount {mount} must be held (it is not the executable's file system here): {report}"
    );
    for open in [open_libc, open_raw] {
        let fd = open(&l.c("public"));
        assert!(fd >= 0, "open cache/public: {fd}");
        close(fd);
        let dotdot = PathBuf::from(format!("/dev/shm/../..{}", l.exe.to_str().unwrap()));
        for p in [l.c("link"), dotdot] {
            assert_eq!(open(&p), -i64::from(libc::EACCES), "{}", p.display());
        }
    }
    assert!(code_refused(&s), "{:#?}", events(&s));
}

fn unprivileged(name: &str, i: InterceptorChoice) {
    let body: fn() = match i {
        InterceptorChoice::Notify => || unprivileged_case(InterceptorChoice::Notify),
        _ => || unprivileged_case(InterceptorChoice::Trap),
    };
    let dir = shared_shm_dir(std::process::id(), i);
    let _ = std::fs::remove_dir_all(&dir);
    case(name, body);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unprivileged_opens_use_the_roots_trap() {
    unprivileged(
        "unprivileged_opens_use_the_roots_trap",
        InterceptorChoice::Trap,
    );
}

#[test]
fn unprivileged_opens_use_the_roots_notify() {
    unprivileged(
        "unprivileged_opens_use_the_roots_notify",
        InterceptorChoice::Notify,
    );
}
