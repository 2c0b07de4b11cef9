//! Fuzzes the DNS parser and the host table's learning path: no input may panic,
//! and every name that comes out must be a valid host name.
#![no_main]

use fnshield::internals::dns::{parse_response, parse_tcp, Answer, HostTable};
use libfuzzer_sys::fuzz_target;

static TABLE: HostTable<64> = HostTable::new();

fn check(a: &Answer) {
    let names = match a {
        Answer::A { name, .. } | Answer::Aaaa { name, .. } => [name, name],
        Answer::Cname { name, target, .. } => [name, target],
    };
    for n in names {
        assert!(n.len() <= 253);
        assert!(n
            .as_bytes()
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)));
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_response(data, &mut |a| check(a));
    let _ = parse_tcp(data, &mut |a| check(a));
    let learned = TABLE.learn_from_response(data, 1);
    TABLE.learn_from_tcp_response(data, 1);
    // Everything learned must come back out through lookup without panicking.
    if learned > 0 {
        let _ = parse_response(data, &mut |a| {
            let ip = match a {
                Answer::A { addr, .. } => (*addr).into(),
                Answer::Aaaa { addr, .. } => (*addr).into(),
                Answer::Cname { .. } => return,
            };
            TABLE.lookup(ip, 1, &mut |n| assert!(!n.is_empty()));
        });
    }
});
