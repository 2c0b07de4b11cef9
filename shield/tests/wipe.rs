//! Tests of the /tmp wiper: what is gone, what survives, and what the report says.
//!
//! Scenarios that need a mount namespace, another user or a low descriptor limit run in a child
//! process: the test re-executes its own binary with `FNSHIELD_WIPE_CASE` naming the case.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use fnshield::wipe::{TmpWiper, WipeConfig, WipeError, WipeFailureReason, WipeReport};

const CASE_VAR: &str = "FNSHIELD_WIPE_CASE";

/// A fresh directory under the system temp dir, removed on drop.
struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("fnshield-wipe-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create test dir");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        // Restore modes a test may have removed, then delete.
        let _ = Command::new("chmod")
            .args(["-R", "u+rwx"])
            .arg(&self.0)
            .status();
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every path under `root` (relative), without following symlinks.
fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            out.insert(path.strip_prefix(root).expect("under root").to_path_buf());
            if entry.file_type().expect("file type").is_dir() {
                todo.push(path);
            }
        }
    }
    out
}

fn write(path: impl AsRef<Path>, len: usize) {
    let path = path.as_ref();
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent");
    }
    fs::write(path, vec![b'x'; len]).expect("write file");
}

fn wiper(root: &Path) -> TmpWiper {
    TmpWiper::new(WipeConfig::new(root).expect("valid root"))
}

fn failures(report: &WipeReport) -> Vec<(PathBuf, WipeFailureReason)> {
    report
        .failures()
        .iter()
        .map(|f| (f.path().to_path_buf(), f.reason()))
        .collect()
}

/// Runs `name` again in a child process with `CASE_VAR=case`; returns the exit status and output.
fn run_child(name: &str, case: &str, prepare: impl FnOnce(&mut Command)) -> (i32, String) {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CASE_VAR, case);
    prepare(&mut cmd);
    let out = fnshield_tests::watchdog::output(cmd, &format!("case {name} ({case})"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Exit code a child uses when the kernel refuses a privileged operation.
const EXIT_NO_PRIVILEGE: i32 = 77;

fn privileged_unavailable(why: &str) {
    if std::env::var("FNSHIELD_SKIP_PRIVILEGED").as_deref() == Ok("1") {
        eprintln!("SKIPPED (FNSHIELD_SKIP_PRIVILEGED=1): {why}");
    } else {
        panic!("{why}; run as root (CI does), or set FNSHIELD_SKIP_PRIVILEGED=1 to skip");
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn config_validates_root_and_keep_paths() {
    assert_eq!(
        WipeConfig::new("tmp").unwrap_err(),
        WipeError::RootNotAbsolute("tmp".into())
    );
    assert_eq!(
        WipeConfig::new("/").unwrap_err(),
        WipeError::RootIsFilesystemRoot
    );
    assert_eq!(
        WipeConfig::new("/./").unwrap_err(),
        WipeError::RootIsFilesystemRoot
    );
    assert!(matches!(
        WipeConfig::new("/tmp/../etc"),
        Err(WipeError::RootHasParentComponent(_))
    ));
    let c = WipeConfig::new("/tmp/./x/").unwrap();
    assert_eq!(c.root(), Path::new("/tmp/x"));

    let c = c
        .keep("cache/./models/../models")
        .unwrap()
        .keep("/tmp/x/db/")
        .unwrap()
        .keep("db")
        .unwrap();
    assert_eq!(
        c.kept_paths(),
        &[PathBuf::from("cache/models"), PathBuf::from("db")]
    );
    let outside = c.clone().keep("../y").unwrap_err();
    assert!(matches!(outside, WipeError::KeepOutsideRoot { .. }));
    assert!(outside
        .to_string()
        .contains("outside the wipe root `/tmp/x`"));
    assert!(matches!(
        c.clone().keep("/tmp/xy/z"),
        Err(WipeError::KeepOutsideRoot { .. })
    ));
    assert!(matches!(
        c.clone().keep("/etc/passwd"),
        Err(WipeError::KeepOutsideRoot { .. })
    ));
    assert!(matches!(
        c.clone().keep("a/.."),
        Err(WipeError::KeepIsRoot(_))
    ));
    assert!(matches!(c.keep("/tmp/x"), Err(WipeError::KeepIsRoot(_))));
}

// ---------------------------------------------------------------------------------------------
// Basics: empty root, missing root, root that is a symlink

#[test]
fn empty_root_is_clean_and_root_survives() {
    let dir = TestDir::new("empty");
    let report = wiper(dir.path()).wipe();
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        (
            report.files_removed(),
            report.dirs_removed(),
            report.bytes_removed()
        ),
        (0, 0, 0)
    );
    assert!(dir.path().is_dir());
}

#[test]
fn missing_root_and_symlinked_root_are_reported() {
    let dir = TestDir::new("badroot");
    let report = wiper(&dir.join("missing")).wipe();
    assert_eq!(
        failures(&report),
        vec![(PathBuf::new(), WipeFailureReason::Io(libc::ENOENT))]
    );

    write(dir.join("target/precious"), 3);
    symlink(dir.join("target"), dir.join("link")).unwrap();
    let report = wiper(&dir.join("link")).wipe();
    assert_eq!(
        failures(&report),
        vec![(PathBuf::new(), WipeFailureReason::Io(libc::ENOTDIR))]
    );
    assert!(dir.join("target/precious").exists());
}

// ---------------------------------------------------------------------------------------------
// Symlinks

#[test]
fn symlinks_are_unlinked_never_followed() {
    let root = TestDir::new("symlink-root");
    let outside = TestDir::new("symlink-outside");
    write(outside.join("secret.txt"), 10);
    write(outside.join("nested/deeper/file"), 20);

    symlink(outside.path(), root.join("to_dir")).unwrap();
    write(root.join("sub/plain"), 1);
    symlink(outside.join("secret.txt"), root.join("sub/to_file")).unwrap();
    symlink(outside.join("nested"), root.join("sub/to_nested")).unwrap();
    symlink("/nonexistent/dangling", root.join("dangling")).unwrap();
    symlink("..", root.join("sub/dotdot")).unwrap();

    let before = tree(outside.path());
    let report = wiper(root.path()).wipe();

    assert!(report.is_clean(), "{report}");
    assert_eq!(tree(root.path()), BTreeSet::new());
    assert_eq!(tree(outside.path()), before, "the link targets survive");
    assert_eq!(
        fs::read(outside.join("secret.txt")).unwrap(),
        vec![b'x'; 10]
    );
    // 5 symlinks + 1 file, 1 directory; symlinks count no bytes.
    assert_eq!(report.files_removed(), 6);
    assert_eq!(report.dirs_removed(), 1);
    assert_eq!(report.bytes_removed(), 1);
}

// ---------------------------------------------------------------------------------------------
// Mounts

#[test]
fn bind_mount_inside_root_is_not_crossed() {
    const NAME: &str = "bind_mount_inside_root_is_not_crossed";
    if let Ok(case) = std::env::var(CASE_VAR) {
        return bind_mount_child(&case == "fallback");
    }
    if !is_root() {
        return privileged_unavailable("bind-mount test needs root to unshare a mount namespace");
    }
    for case in ["openat2", "fallback"] {
        let (code, out) = run_child(NAME, case, |_| {});
        if code == EXIT_NO_PRIVILEGE {
            return privileged_unavailable(&format!("mount namespace refused: {out}"));
        }
        assert_eq!(code, 0, "child case {case} failed:\n{out}");
    }
}

fn bind_mount_child(fallback: bool) {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};

    if let Err(e) = unshare(CloneFlags::CLONE_NEWNS) {
        eprintln!("unshare(CLONE_NEWNS): {e}");
        std::process::exit(EXIT_NO_PRIVILEGE);
    }
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    if let Err(e) = mount(None::<&str>, "/", None::<&str>, private, None::<&str>) {
        eprintln!("making mounts private: {e}");
        std::process::exit(EXIT_NO_PRIVILEGE);
    }

    let root = TestDir::new("bind-root");
    let outside = TestDir::new("bind-outside");
    write(outside.join("keepme"), 5);
    write(outside.join("sub/keepme-too"), 6);
    write(root.join("doomed"), 7);
    write(root.join("deep/er/doomed"), 8);
    fs::create_dir_all(root.join("deep/er/mnt")).unwrap();
    fs::create_dir(root.join("tmpfs")).unwrap();
    mount(
        Some(outside.path()),
        &root.join("deep/er/mnt"),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind mount");
    mount(
        Some("tmpfs"),
        &root.join("tmpfs"),
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .expect("tmpfs mount");
    write(root.join("tmpfs/on-tmpfs"), 9);
    let before = tree(outside.path());

    let mut w = wiper(root.path());
    if fallback {
        w = w.without_openat2();
    }
    let report = w.wipe();

    assert_eq!(
        tree(outside.path()),
        before,
        "files behind the bind mount survive"
    );
    assert!(
        root.join("tmpfs/on-tmpfs").exists(),
        "tmpfs contents survive"
    );
    let mut got = failures(&report);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            (
                PathBuf::from("deep/er/mnt"),
                WipeFailureReason::CrossesMount
            ),
            (PathBuf::from("tmpfs"), WipeFailureReason::CrossesMount),
        ],
        "{report}"
    );
    assert!(!report.is_clean());
    let expected: BTreeSet<PathBuf> = ["deep", "deep/er", "deep/er/mnt", "tmpfs", "tmpfs/on-tmpfs"]
        .iter()
        .map(PathBuf::from)
        .chain(before.iter().map(|p| Path::new("deep/er/mnt").join(p)))
        .collect();
    assert_eq!(tree(root.path()), expected);
    assert_eq!(report.files_removed(), 2);
    assert_eq!(report.bytes_removed(), 15);
    nix::mount::umount(&root.join("deep/er/mnt")).expect("umount bind");
    nix::mount::umount(&root.join("tmpfs")).expect("umount tmpfs");
}

// ---------------------------------------------------------------------------------------------
// Permissions

fn build_permissionless_tree(root: &Path) -> usize {
    // Each directory gets a mode that forbids one of read, write or search, some nested.
    let mut files = 0;
    for (dir, mode) in [
        ("none", 0o000),
        ("none/none", 0o000),
        ("none/none/none", 0o000),
        ("no-write", 0o500),
        ("no-read", 0o300),
        ("no-search", 0o600),
        ("none-with-sticky", 0o1000),
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
        write(root.join(dir).join("file"), 4);
        write(root.join(dir).join("sub/file"), 4);
        files += 2;
        let _ = mode;
    }
    // Apply modes deepest first so the tree can still be built above.
    for (dir, mode) in [
        ("none/none/none", 0o000),
        ("none/none", 0o000),
        ("none", 0o000),
        ("no-write", 0o500),
        ("no-read", 0o300),
        ("no-search", 0o600),
        ("none-with-sticky", 0o1000),
    ] {
        fs::set_permissions(root.join(dir), fs::Permissions::from_mode(mode)).unwrap();
    }
    files
}

fn wipe_permissionless(root: &Path) {
    let files = build_permissionless_tree(root);
    let report = wiper(root).wipe();
    assert!(report.is_clean(), "{report}");
    assert_eq!(tree(root), BTreeSet::new());
    assert_eq!(report.files_removed(), files as u64);
    assert_eq!(report.bytes_removed(), 4 * files as u64);
    // 7 directories, each with a `sub`.
    assert_eq!(report.dirs_removed(), 14);
}

#[test]
fn permissionless_directories_are_removed() {
    const NAME: &str = "permissionless_directories_are_removed";
    if let Ok(path) = std::env::var(CASE_VAR) {
        // Child, running as `nobody`: DAC applies, so the modes must be repaired.
        assert!(!is_root());
        return wipe_permissionless(Path::new(&path));
    }
    // In this process (root bypasses DAC, so this mostly checks nothing breaks).
    let dir = TestDir::new("perm");
    wipe_permissionless(dir.path());
    if !is_root() {
        return; // we already ran as an unprivileged user
    }
    // As an unprivileged user, through the mode repair.
    use std::os::unix::process::CommandExt;
    let dir = TestDir::new("perm-nobody");
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    let (code, out) = run_child(NAME, dir.path().to_str().unwrap(), |cmd| {
        cmd.uid(65534).gid(65534);
    });
    assert_eq!(code, 0, "child as nobody failed:\n{out}");
    assert_eq!(tree(dir.path()), BTreeSet::new());
}

#[test]
fn entries_owned_by_someone_else_in_a_locked_directory_are_reported() {
    const NAME: &str = "entries_owned_by_someone_else_in_a_locked_directory_are_reported";
    if let Ok(path) = std::env::var(CASE_VAR) {
        let root = Path::new(&path);
        let report = wiper(root).wipe();
        assert_eq!(
            failures(&report),
            vec![(
                PathBuf::from("locked/file"),
                WipeFailureReason::PermissionDenied
            )],
            "{report}"
        );
        // The writable part was still removed.
        assert!(!root.join("mine").exists());
        return;
    }
    if !is_root() {
        return privileged_unavailable("needs root to create a directory nobody cannot change");
    }
    use std::os::unix::process::CommandExt;
    let dir = TestDir::new("perm-foreign");
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    write(dir.join("locked/file"), 1);
    fs::set_permissions(dir.join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    write(dir.join("mine/file"), 1);
    std::os::unix::fs::chown(dir.join("mine"), Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::chown(dir.join("mine/file"), Some(65534), Some(65534)).unwrap();
    let (code, out) = run_child(NAME, dir.path().to_str().unwrap(), |cmd| {
        cmd.uid(65534).gid(65534);
    });
    assert_eq!(code, 0, "child as nobody failed:\n{out}");
    assert!(dir.join("locked/file").exists());
}

// ---------------------------------------------------------------------------------------------
// Volume

#[test]
fn hundred_thousand_files_flat() {
    let dir = TestDir::new("100k-flat");
    for i in 0..100_000 {
        fs::File::create(dir.join(format!("f{i}"))).unwrap();
    }
    let report = wiper(dir.path()).wipe();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.files_removed(), 100_000);
    assert_eq!(report.dirs_removed(), 0);
    assert_eq!(tree(dir.path()), BTreeSet::new());
}

#[test]
fn hundred_thousand_files_nested() {
    let dir = TestDir::new("100k-nested");
    // 10 x 10 directories of 1,000 files each, at depth 2.
    for a in 0..10 {
        for b in 0..10 {
            let d = dir.join(format!("a{a}/b{b}"));
            fs::create_dir_all(&d).unwrap();
            for i in 0..1000 {
                fs::File::create(d.join(format!("f{i}"))).unwrap();
            }
        }
    }
    let report = wiper(dir.path()).wipe();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.files_removed(), 100_000);
    assert_eq!(report.dirs_removed(), 110);
    assert_eq!(tree(dir.path()), BTreeSet::new());
}

// ---------------------------------------------------------------------------------------------
// Keep-list

#[test]
fn keep_list_is_preserved_exactly() {
    let dir = TestDir::new("keep");
    let all = [
        "cache/model.bin",
        "cache/sub/deep/blob",
        "cache-other/x",
        "a/b/keep.txt",
        "a/b/drop.txt",
        "a/b/c/drop",
        "a/drop",
        "a/keepdir/inner/file",
        "top-drop",
        "x/y",
        "x/z",
    ];
    for p in all {
        write(dir.join(p), 3);
    }
    fs::create_dir_all(dir.join("empty-kept")).unwrap();
    // A symlink where a kept path's parent should be: not a directory, so it is removed,
    // and its target is untouched.
    let outside = TestDir::new("keep-outside");
    write(outside.join("t"), 1);
    symlink(outside.path(), dir.join("s")).unwrap();

    let config = WipeConfig::new(dir.path())
        .unwrap()
        .keep("cache")
        .unwrap()
        .keep("a/b/keep.txt")
        .unwrap()
        .keep(dir.join("a/keepdir"))
        .unwrap()
        .keep("x/y")
        .unwrap()
        .keep("empty-kept")
        .unwrap()
        .keep("missing/entirely")
        .unwrap()
        .keep("s/t")
        .unwrap();
    let report = TmpWiper::new(config).wipe();

    let expected: BTreeSet<PathBuf> = [
        "cache",
        "cache/model.bin",
        "cache/sub",
        "cache/sub/deep",
        "cache/sub/deep/blob",
        "a",
        "a/b",
        "a/b/keep.txt",
        "a/keepdir",
        "a/keepdir/inner",
        "a/keepdir/inner/file",
        "x",
        "x/y",
        "empty-kept",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(tree(dir.path()), expected);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.kept(), 5);
    // cache-other/x, a/b/drop.txt, a/b/c/drop, a/drop, top-drop, x/z, symlink s.
    assert_eq!(report.files_removed(), 7);
    assert_eq!(report.dirs_removed(), 2); // cache-other, a/b/c
    assert!(outside.join("t").exists());

    // A second wipe finds nothing more to do and keeps the same set.
    let again = TmpWiper::new(
        WipeConfig::new(dir.path())
            .unwrap()
            .keep("cache")
            .unwrap()
            .keep("a/b/keep.txt")
            .unwrap()
            .keep("a/keepdir")
            .unwrap()
            .keep("x/y")
            .unwrap()
            .keep("empty-kept")
            .unwrap(),
    )
    .wipe();
    assert_eq!(again.files_removed() + again.dirs_removed(), 0);
    assert_eq!(tree(dir.path()), expected);
}

// ---------------------------------------------------------------------------------------------
// Concurrency

#[test]
fn files_created_during_the_wipe() {
    let dir = TestDir::new("concurrent");
    let mut pre_files = Vec::new();
    let mut pre_dirs = Vec::new();
    for d in 0..200 {
        let sub = dir.join(format!("pre-d{d}"));
        fs::create_dir(&sub).unwrap();
        pre_dirs.push(sub.clone());
        for f in 0..100 {
            let p = sub.join(format!("pre-f{f}"));
            fs::File::create(&p).unwrap();
            pre_files.push(p);
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(2));
    let creator = {
        let (stop, start, root) = (stop.clone(), start.clone(), dir.path().to_path_buf());
        std::thread::spawn(move || {
            start.wait();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // New names only: at the top, in new directories, and inside the old
                // directories the wiper is busy emptying.
                let _ = fs::File::create(root.join(format!("new-{n}")));
                let _ = fs::create_dir(root.join(format!("new-d{n}")));
                let _ = fs::File::create(root.join(format!("new-d{n}/f")));
                let _ = fs::File::create(root.join(format!("pre-d{}/new-{n}", n % 200)));
                n += 1;
            }
            n
        })
    };
    start.wait();
    let report = wiper(dir.path()).wipe();
    stop.store(true, Ordering::Relaxed);
    let created = creator.join().expect("creator thread");
    assert!(created > 0);

    for f in &pre_files {
        assert!(!f.exists(), "{} survived", f.display());
    }
    let failed: BTreeSet<PathBuf> = report
        .failures()
        .iter()
        .map(|f| {
            assert_eq!(f.reason(), WipeFailureReason::NotEmpty, "{report}");
            dir.join(f.path())
        })
        .collect();
    for d in &pre_dirs {
        assert!(
            !d.exists() || failed.contains(d),
            "{} survived without being reported: {report}",
            d.display()
        );
    }
    // Whatever is left is new.
    for p in tree(dir.path()) {
        let s = p.to_string_lossy();
        assert!(
            s.starts_with("new-") || (s.starts_with("pre-d") && !s.contains("/pre-f")),
            "unexpected survivor {s}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Depth and descriptors

#[test]
fn deep_tree_within_a_low_descriptor_limit() {
    const NAME: &str = "deep_tree_within_a_low_descriptor_limit";
    const DEPTH: usize = 5000;
    if std::env::var(CASE_VAR).is_ok() {
        let dir = TestDir::new("deep");
        build_deep(dir.path(), DEPTH);
        let report = wiper(dir.path()).wipe();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.dirs_removed(), DEPTH as u64);
        assert_eq!(report.files_removed(), DEPTH as u64);
        assert_eq!(report.bytes_removed(), DEPTH as u64);
        assert_eq!(tree(dir.path()), BTreeSet::new());
        return;
    }
    // The wiper keeps at most 66 descriptors open; give the child 90 in all (stdio and the
    // test harness use a few).
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 90 && exec \"$0\" --exact \"$1\" --nocapture --test-threads=1")
        .arg(exe)
        .arg(NAME)
        .env(CASE_VAR, "deep");
    let out = fnshield_tests::watchdog::output(cmd, &format!("case {NAME} (deep)"));
    assert!(
        out.status.success(),
        "child failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `depth` nested directories `d/d/d/...`, each with a one-byte file, built through
/// descriptors (the path would be far longer than PATH_MAX).
fn build_deep(root: &Path, depth: usize) {
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::{mkdirat, Mode};
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut cur = nix::fcntl::open(root, flags, Mode::empty()).unwrap();
    for _ in 0..depth {
        mkdirat(&cur, "d", Mode::from_bits_truncate(0o755)).unwrap();
        let file = openat(
            &cur,
            "f",
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        nix::unistd::write(&file, b"x").unwrap();
        cur = openat(&cur, "d", flags, Mode::empty()).unwrap();
    }
}

#[test]
fn deep_and_wide_tree_with_a_keep_below_the_descriptor_window() {
    // Depth beyond the open-directory window, with siblings at every level, so that parents
    // are closed and reopened (climbing with "..") many times.
    let dir = TestDir::new("deep-wide");
    let mut path = dir.path().to_path_buf();
    let mut files = 0u64;
    for level in 0..100 {
        path.push(format!("l{level}"));
        for s in 0..3 {
            write(path.join(format!("s{s}/f")), 1);
            files += 1;
        }
        write(path.join("file"), 2);
        files += 1;
    }
    let deep_keep = (0..80)
        .map(|l| format!("l{l}"))
        .collect::<Vec<_>>()
        .join("/")
        + "/s1";
    let config = WipeConfig::new(dir.path())
        .unwrap()
        .keep(&deep_keep)
        .unwrap();
    let report = TmpWiper::new(config).wipe();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.kept(), 1);
    assert_eq!(report.files_removed(), files - 1);
    let mut expected = BTreeSet::new();
    let mut p = PathBuf::new();
    for l in 0..80 {
        p.push(format!("l{l}"));
        expected.insert(p.clone());
    }
    expected.insert(p.join("s1"));
    expected.insert(p.join("s1/f"));
    assert_eq!(tree(dir.path()), expected);
}

// ---------------------------------------------------------------------------------------------
// Open files and accounting

#[test]
fn open_files_are_removed_and_accounting_is_exact() {
    let dir = TestDir::new("account");
    write(dir.join("empty"), 0);
    write(dir.join("one"), 1);
    write(dir.join("page"), 4096);
    write(dir.join("a/b/big"), 100_000);
    write(dir.join("a/linked"), 1000);
    fs::hard_link(dir.join("a/linked"), dir.join("a/b/second-link")).unwrap();
    symlink("one", dir.join("a/sym")).unwrap();
    nix::unistd::mkfifo(&dir.join("a/fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(dir.join("a/sock")).unwrap();
    fs::create_dir_all(dir.join("empty-dir/inner")).unwrap();

    // Held open for writing and for reading during the wipe.
    let mut open_w = fs::OpenOptions::new()
        .append(true)
        .open(dir.join("page"))
        .unwrap();
    let mut open_r = fs::File::open(dir.join("a/b/big")).unwrap();

    let report = wiper(dir.path()).wipe();

    assert!(report.is_clean(), "{report}");
    assert_eq!(tree(dir.path()), BTreeSet::new());
    // empty, one, page, big, linked, second-link, sym, fifo, sock.
    assert_eq!(report.files_removed(), 9);
    // a, a/b, empty-dir, empty-dir/inner.
    assert_eq!(report.dirs_removed(), 4);
    // The hard-linked file counts once.
    assert_eq!(report.bytes_removed(), 1 + 4096 + 100_000 + 1000);
    assert_eq!(report.failure_count(), 0);
    assert_eq!(report.kept(), 0);

    // The open descriptors still work: the data lives until they close.
    open_w.write_all(b"more").unwrap();
    let mut buf = Vec::new();
    open_r.read_to_end(&mut buf).unwrap();
    assert_eq!(buf.len(), 100_000);
}

#[test]
fn report_renders_as_emf() {
    let dir = TestDir::new("emf");
    write(dir.join("a/f"), 42);
    let report = wiper(dir.path()).wipe();
    let line = report.to_emf_line("fnshield", "my-\"function\"");
    assert!(!line.contains('\n'));
    let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
    assert_eq!(v["FunctionName"], "my-\"function\"");
    assert_eq!(v["FilesRemoved"], 1);
    assert_eq!(v["BytesRemoved"], 42);
    assert_eq!(v["WipeFailures"], 0);
    assert!(v["WipeDurationMicros"].is_u64());
    let cwm = &v["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cwm["Namespace"], "fnshield");
    assert_eq!(cwm["Dimensions"][0][0], "FunctionName");
    let names: Vec<&str> = cwm["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "FilesRemoved",
            "BytesRemoved",
            "WipeFailures",
            "WipeDurationMicros"
        ]
    );
    assert!(v["_aws"]["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
}
