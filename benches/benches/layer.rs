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
//! One emulator and one function process per variant, measured one after the other with the
//! same event, in a current-thread tokio runtime in the bench process. The loopback HTTP
//! round trip dominates (~90 µs), so differences of a few µs are near the noise: compare the
//! medians, and rerun if the confidence intervals overlap widely.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use benches::{criterion_dir, Summary};
use criterion::Criterion;
use fnshield_tests::emulator::Emulator;
use serde_json::json;

fn main() {
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

    let mut g = c.benchmark_group("invocation");
    for (name, bin, envs) in variants {
        let (emulator, function) = rt.block_on(async {
            let emulator = Emulator::start().await;
            let function = emulator.spawn_function(bin, envs).await;
            // The first invocation includes cold start; it also proves the function works.
            let result = emulator.call(event.clone()).await;
            assert_eq!(result.expect_response(), event, "{name}: echo");
            (emulator, function)
        });
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(emulator.call(black_box(event.clone())).await);
                    }
                    start.elapsed()
                })
            })
        });
        // The shielded function logs nothing for an echo: no event means nothing was blocked.
        let stdout = function.stdout_lines();
        assert!(
            !stdout.iter().any(|l| l.contains("\"function_shield\"")),
            "{name}: the function logged shield events:\n{}",
            stdout.join("\n")
        );
        drop(function);
        drop(emulator);
    }
    g.finish();
    c.final_summary();

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
    summary.print();
}
