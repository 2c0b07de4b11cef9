//! /tmp wiper against `rm -rf` of the same tree, in the same run.
//!
//! * `wipe_10k/fnshield`: `TmpWiper::wipe` of a root holding 10,000 files of 100 bytes in
//!   110 nested directories (10 groups x 10 directories x 100 files).
//! * `wipe_10k/rm_rf`: `rm -rf <root>/t` of the same tree, spawned with `std::process::Command`
//!   (what a shell-out would cost, process start included).
//! * `wipe_10k/std_remove_dir_all`: `std::fs::remove_dir_all` of the same tree, in process (a
//!   baseline without the process start and without the wiper's checks and accounting).
//! * `wipe_empty/fnshield`: `TmpWiper::wipe` of an already empty root (goal: at most 20 µs).
//!
//! Each iteration gets a fresh tree (`iter_batched`, built outside the timing).
//! Run: `cargo bench -p benches --bench wipe`.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use fnshield::wipe::{TmpWiper, WipeConfig};

const GROUPS: usize = 10;
const DIRS_PER_GROUP: usize = 10;
const FILES_PER_DIR: usize = 100;
const FILES: u64 = (GROUPS * DIRS_PER_GROUP * FILES_PER_DIR) as u64;

fn base() -> PathBuf {
    std::env::temp_dir().join(format!("fnshield-bench-wipe-{}", std::process::id()))
}

/// A fresh root holding `t/g*/d*/f*`; returns the root.
fn fresh_tree() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = base().join(format!("r{}", N.fetch_add(1, Ordering::Relaxed)));
    let content = [b'x'; 100];
    for g in 0..GROUPS {
        for d in 0..DIRS_PER_GROUP {
            let dir = root.join(format!("t/g{g}/d{d}"));
            fs::create_dir_all(&dir).expect("create bench dir");
            for f in 0..FILES_PER_DIR {
                fs::write(dir.join(format!("f{f}")), content).expect("write bench file");
            }
        }
    }
    root
}

fn wiper(root: &Path) -> TmpWiper {
    TmpWiper::new(WipeConfig::new(root).expect("absolute root"))
}

fn bench_wipe(c: &mut Criterion) {
    let _ = fs::remove_dir_all(base());
    let mut group = c.benchmark_group("wipe_10k");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    group.bench_function("fnshield", |b| {
        b.iter_batched(
            || {
                let root = fresh_tree();
                (wiper(&root), root)
            },
            |(w, root)| {
                let report = w.wipe();
                assert_eq!(report.files_removed(), FILES, "{report}");
                assert!(report.is_clean(), "{report}");
                root
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("rm_rf", |b| {
        b.iter_batched(
            fresh_tree,
            |root| {
                let status = Command::new("rm")
                    .arg("-rf")
                    .arg(root.join("t"))
                    .status()
                    .expect("spawn rm");
                assert!(status.success());
                root
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("std_remove_dir_all", |b| {
        b.iter_batched(
            fresh_tree,
            |root| {
                fs::remove_dir_all(root.join("t")).expect("remove_dir_all");
                root
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let empty = base().join("empty");
    fs::create_dir_all(&empty).expect("create empty root");
    let w = wiper(&empty);
    c.bench_function("wipe_empty/fnshield", |b| b.iter(|| black_box(w.wipe())));

    let _ = fs::remove_dir_all(base());
}

criterion_group!(benches, bench_wipe);
criterion_main!(benches);
