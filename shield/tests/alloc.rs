//! Proves that what the SIGSYS handler calls outside the DNS code — the decision engine and
//! the event ring — allocates nothing.
#![allow(missing_docs)]

use fnshield::internals::decide::{Access, Decider, Verdict};
use fnshield::internals::{Record, RecordKind, Ring};
use fnshield::PolicyKind;

static RING: Ring<256> = Ring::new();

#[test]
fn decide_and_push_allocate_nothing() {
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
    let d = Decider::new(&policy);
    let long = format!("/tmp/{}", "a/".repeat(1000));
    let ip = "127.0.0.2".parse().unwrap();
    let mut rec = Record::new(PolicyKind::ReadWriteTmp, true, RecordKind::Path, 257);
    rec.set_text(b"/tmp/x");
    rec.push_arg(b"/bin/sh");
    let mut verdicts = Vec::with_capacity(16);
    let info = allocation_counter::measure(|| {
        verdicts.push(d.classify_path(b"/tmp/cache/../x", Access::Write).verdict);
        verdicts.push(
            d.classify_path(b"/proc/self/root/proc/self/environ", Access::Read)
                .verdict,
        );
        verdicts.push(d.classify_path(long.as_bytes(), Access::Read).verdict);
        verdicts.push(d.classify_path(b"relative", Access::Read).verdict);
        verdicts.push(d.decide_connect(ip, 443, &mut [b"x.example.org".as_slice()].into_iter()));
        verdicts.push(d.decide_connect(ip, 443, &mut std::iter::empty()));
        verdicts.push(d.decide_exec(b"/usr/bin/../bin/ffmpeg"));
        verdicts.push(d.decide_exec(b"/bin/sh"));
        for _ in 0..300 {
            RING.push(&rec);
        }
    });
    assert_eq!(info.count_total, 0, "decide or push allocated: {info:?}");
    use Verdict::*;
    assert_eq!(
        verdicts,
        [Block, Block, Block, Block, Allow, Block, Allow, Block]
    );
    assert_eq!(RING.overflowed(), 300 - 256, "overflow counted exactly");
}

#[test]
fn the_counter_is_live() {
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![1u8; 64]);
    });
    assert!(info.count_total >= 1);
}
