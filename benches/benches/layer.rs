//! Per-invocation cost of fnshield's handler wrapper and outer layer (issue 3), in one run.
//! `cargo bench -p benches --bench layer`
//!
//! The same echo handler runs as a real function process under the Runtime API emulator
//! (`fnshield_tests::emulator`, HTTP/1 on loopback), and each iteration is one complete
//! invocation as Lambda drives it: queue the event, the function's `/next` receives it, the
//! handler returns it, the function posts `/response`, the bench sees the result.
//!
//! * `invocation/plain`: `plain_echo` — `lambda_runtime::run_concurrent(service_fn(handler))`.
//! * `invocation/layer`: `shielded_echo` with `SHIELDED_ECHO=layer` — the same runtime with
//!   `shield.wrap(handler)` and `shield.layer()`, **not installed**: the wrapper and layer
//!   alone (event screening, verdict lookup, request-id binding, JSON re-typing of the
//!   event and response, event flush after the response).
//! * `invocation/shielded`: `shielded_echo` with `SHIELDED_ECHO=run` — `fnshield::run`, which
//!   also installs the seccomp filter and trap handler (every policy `block`).
//!
//! Goal: ≤ 5 µs added per invocation (`layer − plain`); the summary also gives
//! `shielded − plain` (wrapper, layer and kernel filter together). No validation schema is
//! configured and the tmp wipe is off, so this is the fixed cost every invocation pays.
//!
//! One emulator and one function process per variant, all running for the whole bench, driven
//! with the same event from a current-thread tokio runtime in the bench process. The criterion
//! benchmarks measure the variants one after the other; then interleaved rounds (bursts of 50
//! invocations after 5 untimed ones, alternating `plain` and the other variant) give the median per-round
//! difference, which load from other processes on a shared machine hits alike. The loopback
//! HTTP round trip dominates (~90 µs), so differences of a few µs are near the noise.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use benches::{criterion_dir, fmt_delta, fmt_ns, interleave, median, verdict, Summary};
use criterion::Criterion;
use fnshield_tests::emulator::Emulator;
use serde_json::json;

/// Interleaved rounds per variant in the paired measurement, and invocations per burst.
const ROUNDS: usize = 151;
const BURST: u64 = 50;
/// Untimed invocations before each timed burst.
const WAKE: u64 = 5;

fn main() {
    let measuring = benches::measuring();
    let mut summary = Summary::new("layer: per-invocation cost through the Runtime API emulator");
    let mut c = Criterion::default()
        .output_directory(&criterion_dir())
        .without_plots()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let event = json!({
        "orderId": "6f1c2d3e-4b5a-4c7d-9e8f-0a1b2c3d4e5f",
        "customerEmail": "jane@example.com",
        "quantity": 2,
        "createdAt": "2024-05-01T12:30:00Z"
    });
    let plain = Path::new(env!("CARGO_BIN_EXE_plain_echo"));
    let shielded = Path::new(env!("CARGO_BIN_EXE_shielded_echo"));
    type Variant<'a> = (&'a str, &'a Path, &'a [(&'a str, &'a str)]);
    let variants: [Variant; 3] = [
        ("plain", plain, &[]),
        ("layer", shielded, &[("SHIELDED_ECHO", "layer")]),
        ("shielded", shielded, &[("SHIELDED_ECHO", "run")]),
    ];

    // Every function process runs for the whole bench (idle ones wait in `/next`).
    let running: Vec<_> = variants
        .iter()
        .map(|&(name, bin, envs)| {
            rt.block_on(async {
                let emulator = Emulator::start().await;
                let function = emulator.spawn_function(bin, envs).await;
                // The first invocation includes cold start; it also proves the function works.
                let result = emulator.call(event.clone()).await;
                assert_eq!(result.expect_response(), event, "{name}: echo");
                (name, emulator, function)
            })
        })
        .collect();
    // The time `n` invocations take, one after the other.
    let burst = |emulator: &Emulator, n: u64| -> Duration {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                black_box(emulator.call(black_box(event.clone())).await);
            }
            start.elapsed()
        })
    };

    let mut g = c.benchmark_group("invocation");
    for (name, emulator, _) in &running {
        g.bench_function(*name, |b| b.iter_custom(|iters| burst(emulator, iters)));
    }
    g.finish();
    c.final_summary();

    let mut pairs = Vec::new();
    if measuring {
        // A few untimed invocations first: the function that was idle in `/next` wakes up.
        let per_call = |e: &Emulator| {
            burst(e, WAKE);
            burst(e, BURST).as_nanos() as f64 / BURST as f64
        };
        let plain = &running[0].1;
        for (name, emulator, _) in &running[1..] {
            pairs.push((
                *name,
                interleave(ROUNDS, || per_call(emulator), || per_call(plain)),
            ));
        }
    }

    for (name, _, function) in &running {
        // An echo logs no shield event: nothing was blocked, nothing degraded.
        let stdout = function.stdout_lines();
        assert!(
            !stdout.iter().any(|l| l.contains("\"function_shield\"")),
            "{name}: the function logged shield events:\n{}",
            stdout.join("\n")
        );
    }
    drop(running);

    summary.added(
        "wrapper + layer (not installed) vs plain",
        "invocation",
        "layer",
        "plain",
        Some(5_000.0),
    );
    summary.added(
        "fnshield::run (wrapper + layer + seccomp filter) vs plain",
        "invocation",
        "shielded",
        "plain",
        None,
    );
    for (name, rounds) in &pairs {
        let added = median(rounds.iter().map(|(v, p)| v - p));
        let goal = if *name == "layer" {
            format!("≤ +5.00 µs — {}", verdict(added, 5_000.0))
        } else {
            "—".to_owned()
        };
        let min = |f: fn(&(f64, f64)) -> f64| rounds.iter().map(f).fold(f64::INFINITY, f64::min);
        let (min_v, min_p) = (min(|p| p.0), min(|p| p.1));
        summary.row(
            format!("paired: {name} vs plain ({ROUNDS} rounds of {BURST}, median of differences)"),
            format!(
                "{} ({} vs {}); least-disturbed bursts: {} vs {} ({})",
                fmt_delta(added),
                fmt_ns(median(rounds.iter().map(|p| p.0))),
                fmt_ns(median(rounds.iter().map(|p| p.1))),
                fmt_ns(min_v),
                fmt_ns(min_p),
                fmt_delta(min_v - min_p)
            ),
            goal,
        );
    }
    if measuring {
        summary.print();
    }
}
