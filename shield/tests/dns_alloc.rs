//! Proves that the DNS code the SIGSYS handler runs allocates nothing.
//!
//! `allocation-counter` installs a counting `#[global_allocator]` in this test binary
//! and counts per thread, so other test threads cannot disturb a measurement.

use std::net::IpAddr;

use fnshield::internals::dns::{parse_response, HostTable, Name};

/// `api.example.com` CNAME `edge.example.com`, A 93.184.216.34, compressed.
const CAPTURED: &[u8] = &[
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 3, b'a', b'p', b'i', 7,
    b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0x00, 0x01, 0x00, 0x01, 0xc0,
    0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x07, 4, b'e', b'd', b'g', b'e',
    0xc0, 0x10, 0xc0, 0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 93, 184,
    216, 34,
];

static TABLE: HostTable<1024> = HostTable::new();

#[test]
fn the_counter_is_live() {
    // Guards against a vacuous pass: the allocator must see this Vec.
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![1u8; 64]);
    });
    assert!(info.count_total >= 1, "counting allocator is not installed");
}

#[test]
fn parse_learn_and_lookup_allocate_nothing() {
    let ip: IpAddr = "93.184.216.34".parse().unwrap();
    let mut answers = 0;
    let mut found = 0;
    let mut learned = 0;
    let info = allocation_counter::measure(|| {
        parse_response(CAPTURED, &mut |_| answers += 1).unwrap();
        learned = TABLE.learn_from_response(CAPTURED, 100);
        TABLE.lookup(ip, 100, &mut |n: &Name| {
            found += 1;
            std::hint::black_box(n.as_str());
        });
        // Malformed input takes the error paths, which must not allocate either.
        for len in 0..CAPTURED.len() {
            let _ = parse_response(&CAPTURED[..len], &mut |_| ());
            TABLE.learn_from_response(&CAPTURED[..len], 100);
        }
        TABLE.insert(ip, &Name::empty(), 5, 100);
    });
    assert_eq!((answers, learned, found), (2, 2, 2));
    assert_eq!(
        info.count_total, 0,
        "DNS signal-handler path allocated: {info:?}"
    );
}
