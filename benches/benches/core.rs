//! Ring push and the decision engine: ns per call and 0 allocations (see the unit tests for
//! the allocation proof). `cargo bench -p benches --bench core`
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use fnshield::internals::decide::{Access, Decider};
use fnshield::internals::{Record, RecordKind, Ring};
use fnshield::PolicyKind;
use std::hint::black_box;

fn decider() -> Decider {
    let env = fnshield::Env::from_pairs([("LAMBDA_TASK_ROOT", "/var/task")]);
    let policy = fnshield::Shield::builder()
        .env(env)
        .resolv_conf("nameserver 169.254.78.1\n")
        .allow_destination("10.0.0.0/8:443")
        .allow_destination("*.example.org")
        .allow_tmp("/tmp/cache")
        .allow_exec("/usr/bin/ffmpeg")
        .build_policy()
        .unwrap();
    Decider::new(&policy)
}

fn benches(c: &mut Criterion) {
    let ring: Box<Ring<1024>> = Box::new(Ring::new());
    let mut rec = Record::new(PolicyKind::ReadWriteTmp, true, RecordKind::Path, 257);
    rec.set_text(b"/tmp/some/file/path");
    // Push alone: the consumer drains outside the timed section.
    c.bench_function("ring_push", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(512);
                let t = std::time::Instant::now();
                for _ in 0..batch {
                    ring.push(black_box(&rec));
                }
                total += t.elapsed();
                while ring.pop().is_some() {}
                left -= batch;
            }
            total
        })
    });
    let d = decider();
    c.bench_function("decide_path_tmp", |b| {
        b.iter(|| d.classify_path(black_box(b"/tmp/cache/../x/y"), Access::Write))
    });
    c.bench_function("decide_path_protected", |b| {
        b.iter(|| {
            d.classify_path(
                black_box(b"/proc/self/root/proc/self/environ"),
                Access::Read,
            )
        })
    });
    c.bench_function("normalize_proc_root", |b| {
        b.iter(|| {
            let mut buf = [0u8; 256];
            fnshield::internals::decide::normalize_proc(
                black_box(b"/proc/self/root/proc/self/environ"),
                &mut buf,
            )
        })
    });
    let ip = "127.0.0.2".parse().unwrap();
    c.bench_function("decide_connect", |b| {
        b.iter(|| {
            d.decide_connect(
                black_box(ip),
                443,
                &mut [b"x.example.com".as_slice()].into_iter(),
            )
        })
    });
    c.bench_function("decide_exec", |b| {
        b.iter(|| d.decide_exec(black_box(b"/bin/sh")))
    });
}

criterion_group! {
    name = core;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(1)).warm_up_time(std::time::Duration::from_millis(300));
    targets = benches
}
criterion_main!(core);
