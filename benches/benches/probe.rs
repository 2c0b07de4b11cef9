//! The cold-start cost of the kernel probe (issue 12): `probe_kernel()` is what
//! `Shield::install()` runs first, and it includes the forked-child check (a short-lived child
//! sets NoNewPrivs and installs an allow-everything filter, so that a sandbox that *kills*
//! `prctl` or `seccomp(2)` kills the child, not the function).
//!
//! * `probe/probe_kernel`: the whole probe (forked child, `SECCOMP_GET_ACTION_AVAIL`, pidfd,
//!   `process_vm_readv`, openat2, Landlock); it installs nothing in this process, so it can
//!   run again and again.
//! * `probe/fork_and_reap`: the floor of any forked-child check, in the same run: a raw
//!   `clone(SIGCHLD)` whose child exits at once, reaped with `waitpid`.
//!
//! Run: `cargo bench -p benches --bench probe`.
// The raw fork baseline.
#![allow(unsafe_code)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn fork_and_reap() {
    // SAFETY: clone(SIGCHLD) as fork(2) does, integer arguments; the child only calls _exit.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) };
    if pid == 0 {
        // SAFETY: _exit in the forked child, which touches nothing else.
        unsafe { libc::_exit(0) };
    }
    assert!(pid > 0, "clone failed");
    let mut status = 0;
    // SAFETY: waitpid on our own child with a valid status pointer.
    let r = unsafe { libc::waitpid(pid as i32, &mut status, 0) };
    assert_eq!(r, pid as i32);
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("probe");
    g.bench_function("probe_kernel", |b| {
        b.iter(|| black_box(fnshield::internals::probe_kernel()))
    });
    g.bench_function("fork_and_reap", |b| b.iter(fork_and_reap));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
