//! The wipe removes only what the function and its children created (issue 15, item 1), as a
//! pure file-system test of [`TmpWiper::wipe_created`]: a snapshot of what existed, the
//! journal's record of what the function created, and entries of "other processes" that
//! neither names. No seccomp filter is installed here: the end-to-end test with a real
//! function in a private mount namespace is `examples/tests/wipe_private_tmp.rs`.
#![allow(missing_docs)]

use std::fs;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use fnshield::wipe::{Noted, Snapshot, TmpWiper, WipeConfig};

struct TestDir(PathBuf);

impl TestDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "fnshield-wipe-created-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create test dir");
        Self(path)
    }

    fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }

    fn put(&self, p: &str) {
        let p = self.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn noted(paths: &[&str]) -> Noted {
    Noted {
        paths: paths.iter().map(PathBuf::from).collect(),
        ..Noted::default()
    }
}

fn wiper(d: &TestDir) -> TmpWiper {
    TmpWiper::new(WipeConfig::new(&d.0).unwrap())
}

/// What a developer's /tmp holds before the function starts.
fn before_start(d: &TestDir) -> (Snapshot, UnixListener) {
    d.put("important.txt");
    d.put("other-project/src/main.rs");
    fs::create_dir_all(d.join("tmux-0")).unwrap();
    let socket = UnixListener::bind(d.join("tmux-0/default")).unwrap();
    (Snapshot::take(&d.0), socket)
}

#[test]
fn pre_existing_files_and_other_processes_files_survive_planted_files_go() {
    let d = TestDir::new("basic");
    let (before, _socket) = before_start(&d);
    assert_eq!(before.len(), 6, "3 files/sockets and 3 directories");
    // The function plants a file, a file in a pre-existing directory and a tree.
    d.put("planted.txt");
    d.put("other-project/planted.rs");
    d.put("newdir/a/b");
    // Another process (an extension, the developer's tools) creates files meanwhile.
    d.put("ext.txt");
    d.put("other-project/target/out");
    let n = noted(&[
        "planted.txt",
        "other-project/planted.rs",
        "newdir",
        "newdir/a",
        "newdir/a/b",
    ]);
    let report = wiper(&d).wipe_created(&n, &before);
    assert!(report.is_clean(), "{report}");
    for gone in ["planted.txt", "other-project/planted.rs", "newdir"] {
        assert!(!d.join(gone).exists(), "{gone} survived: {report}");
    }
    for kept in [
        "important.txt",
        "other-project/src/main.rs",
        "tmux-0/default",
        "ext.txt",
        "other-project/target/out",
    ] {
        assert!(d.join(kept).exists(), "{kept} was removed: {report}");
    }
    assert_eq!(report.files_removed(), 3);
    assert_eq!(report.dirs_removed(), 2);
}

#[test]
fn renames_and_hard_links_of_pre_existing_files_survive() {
    let d = TestDir::new("renames");
    let (before, _socket) = before_start(&d);
    fs::rename(d.join("important.txt"), d.join("renamed.txt")).unwrap();
    fs::hard_link(d.join("other-project/src/main.rs"), d.join("link.rs")).unwrap();
    // A pre-existing file moved into a directory the function created.
    fs::create_dir(d.join("mine")).unwrap();
    fs::rename(d.join("tmux-0/default"), d.join("mine/default")).unwrap();
    d.put("mine/planted");
    let n = noted(&[
        "important.txt",
        "renamed.txt",
        "link.rs",
        "mine",
        "tmux-0/default",
        "mine/default",
        "mine/planted",
    ]);
    let report = wiper(&d).wipe_created(&n, &before);
    assert!(report.is_clean(), "{report}");
    for kept in [
        "renamed.txt",
        "link.rs",
        "other-project/src/main.rs",
        "mine/default",
    ] {
        assert!(d.join(kept).exists(), "{kept} was removed: {report}");
    }
    assert!(!d.join("mine/planted").exists(), "{report}");
}

#[test]
fn a_created_directory_goes_whole_even_after_a_rename() {
    let d = TestDir::new("dir-rename");
    let (before, _socket) = before_start(&d);
    // mkdir d; create d/x; rename d -> e: the journal never saw "e/x".
    d.put("d/x");
    fs::rename(d.join("d"), d.join("e")).unwrap();
    // A later file of another process in it goes too: renaming a directory takes what is
    // in it.
    d.put("e/ext.db");
    let n = Noted {
        moved: vec![PathBuf::from("e")],
        ..noted(&["d", "d/x"])
    };
    let report = wiper(&d).wipe_created(&n, &before);
    assert!(report.is_clean(), "{report}");
    assert!(!d.join("e").exists(), "{report}");
    assert!(d.join("important.txt").exists());
    // The same after an overflow, when the new name is known by its hash only.
    d.put("d/x");
    fs::rename(d.join("d"), d.join("e")).unwrap();
    d.put("e/ext.db");
    let report = wiper(&d).wipe_created(&Noted::moved_hashed_only(&["e"]), &before);
    assert!(report.is_clean(), "{report}");
    assert!(!d.join("e").exists(), "{report}");
    // Made by the function, not moved: the other process's file stays.
    d.put("d/x");
    d.put("d/ext.db");
    let report = wiper(&d).wipe_created(&noted(&["d", "d/x"]), &before);
    assert!(report.is_clean(), "{report}");
    assert!(
        d.join("d/ext.db").exists() && !d.join("d/x").exists(),
        "{report}"
    );
}

#[test]
fn after_an_overflow_created_paths_go_by_hash_and_other_processes_files_stay() {
    let d = TestDir::new("lost");
    let (before, _socket) = before_start(&d);
    // The function's creations, known only by their hashes (the journal's ring overflowed or
    // the path was too long for a record).
    // Longer than a journal record (256 bytes).
    let long = format!("other-project/{0}/{0}/{0}/f", "x".repeat(100));
    d.put("planted-but-not-journaled");
    d.put("other-project/new/deep");
    d.put(&long);
    // Another process's files, created after the shield started, next to them and inside a
    // pre-existing directory.
    d.put("extension.log");
    d.put("other-project/target/out");
    d.put("tmux-0/later");
    let lost = Noted::hashed_only(&[
        "planted-but-not-journaled",
        "other-project/new",
        "other-project/new/deep",
        long.as_str(),
    ]);
    let report = wiper(&d).wipe_created(&lost, &before);
    assert!(report.is_clean(), "{report}");
    for gone in [
        "planted-but-not-journaled",
        "other-project/new",
        long.as_str(),
    ] {
        assert!(!d.join(gone).exists(), "{gone} survived: {report}");
    }
    for kept in [
        "important.txt",
        "other-project/src/main.rs",
        "tmux-0/default",
        "extension.log",
        "other-project/target/out",
        "tmux-0/later",
    ] {
        assert!(d.join(kept).exists(), "{kept} was removed: {report}");
    }
}

#[test]
fn nothing_noted_nothing_touched() {
    let d = TestDir::new("nothing");
    let (before, _socket) = before_start(&d);
    d.put("someone-elses");
    let report = wiper(&d).wipe_created(&Noted::default(), &before);
    assert!(d.join("someone-elses").exists());
    assert_eq!(report.files_removed() + report.dirs_removed(), 0);
}

#[test]
fn the_keep_list_still_applies() {
    let d = TestDir::new("keep");
    let before = Snapshot::take(&d.0);
    d.put("cache/model.bin");
    d.put("scratch");
    let w = TmpWiper::new(WipeConfig::new(&d.0).unwrap().keep("cache").unwrap());
    let report = w.wipe_created(&noted(&["cache", "cache/model.bin", "scratch"]), &before);
    assert!(d.join("cache/model.bin").exists(), "{report}");
    assert!(!d.join("scratch").exists(), "{report}");
}

/// `mkdir /tmp/cache` by the function, then an extension (another process) writes
/// `/tmp/cache/ext.db`: the function's file in it goes, the extension's file stays, and so
/// does the directory that holds it (no failure: leaving it is the rule).
#[test]
fn a_made_directory_keeps_another_process_file_and_so_stays() {
    let d = TestDir::new("made-dir-other");
    let (before, _socket) = before_start(&d);
    d.put("cache/mine");
    d.put("cache/ext.db");
    let report = wiper(&d).wipe_created(&noted(&["cache", "cache/mine"]), &before);
    assert!(report.is_clean(), "{report}");
    assert!(
        d.join("cache/ext.db").exists(),
        "another process's file in a directory the function made was removed: {report}"
    );
    assert!(!d.join("cache/mine").exists(), "{report}");
    assert_eq!((report.files_removed(), report.dirs_removed()), (1, 0));
}

/// `create_dir_all("/tmp/a/b/c")` and a file in `c` by the function; another process writes
/// into `a/b`: `c` (emptied) goes, `a/b` and `a` stay with the other process's file.
#[test]
fn nested_made_directories_keep_another_process_file() {
    let d = TestDir::new("made-nested-other");
    let (before, _socket) = before_start(&d);
    d.put("a/b/c/mine");
    d.put("a/b/ext.db");
    d.put("a/mine-too");
    let n = noted(&["a", "a/b", "a/b/c", "a/b/c/mine", "a/mine-too"]);
    let report = wiper(&d).wipe_created(&n, &before);
    assert!(report.is_clean(), "{report}");
    assert!(d.join("a/b/ext.db").exists(), "{report}");
    for gone in ["a/b/c", "a/mine-too"] {
        assert!(!d.join(gone).exists(), "{gone} survived: {report}");
    }
    assert_eq!((report.files_removed(), report.dirs_removed()), (2, 1));
}

/// A directory tree the function made and filled, nobody else wrote in it: all of it goes.
#[test]
fn a_made_and_filled_directory_goes_whole() {
    let d = TestDir::new("made-filled");
    let (before, _socket) = before_start(&d);
    d.put("work/a/b/f");
    d.put("work/g");
    fs::create_dir_all(d.join("work/empty")).unwrap();
    let n = noted(&[
        "work",
        "work/a",
        "work/a/b",
        "work/a/b/f",
        "work/g",
        "work/empty",
    ]);
    let report = wiper(&d).wipe_created(&n, &before);
    assert!(report.is_clean(), "{report}");
    assert!(!d.join("work").exists(), "{report}");
    assert_eq!((report.files_removed(), report.dirs_removed()), (2, 4));
    assert!(d.join("important.txt").exists());
}

/// After a journal overflow (paths known by their hashes only), a directory the function made
/// that holds another process's file stays with it.
#[test]
fn after_an_overflow_a_made_directory_keeps_another_process_file() {
    let d = TestDir::new("lost-made-other");
    let (before, _socket) = before_start(&d);
    d.put("cache/mine");
    d.put("cache/sub/mine");
    d.put("cache/ext.db");
    d.put("cache/sub/ext-sub/state");
    let lost = Noted::hashed_only(&["cache", "cache/mine", "cache/sub", "cache/sub/mine"]);
    let report = wiper(&d).wipe_created(&lost, &before);
    assert!(report.is_clean(), "{report}");
    for kept in ["cache/ext.db", "cache/sub/ext-sub/state", "important.txt"] {
        assert!(d.join(kept).exists(), "{kept} was removed: {report}");
    }
    for gone in ["cache/mine", "cache/sub/mine"] {
        assert!(!d.join(gone).exists(), "{gone} survived: {report}");
    }
}
