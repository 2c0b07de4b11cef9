//! The parser and the table against hand-built messages.

use super::parser::{is_name_byte, CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_CNAME};
use super::*;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `api.example.com` → CNAME `edge.example.com` → A 93.184.216.34, with
/// compression, byte for byte as a resolver sends it.
const CAPTURED: &[u8] = &[
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // header
    3, b'a', b'p', b'i', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0x00,
    0x01, 0x00, 0x01, // A IN
    0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x07, // CNAME, ttl 300
    4, b'e', b'd', b'g', b'e', 0xc0, 0x10, // edge + ptr to "example.com" (offset 16)
    0xc0, 0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, // A, ttl 60
    93, 184, 216, 34,
];

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn wire(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in n.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

struct Rr {
    owner: Vec<u8>,
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

fn rr(owner: &str, rtype: u16, ttl: u32, rdata: Vec<u8>) -> Rr {
    Rr {
        owner: wire(owner),
        rtype,
        ttl,
        rdata,
    }
}

fn a(owner: &str, ip: [u8; 4], ttl: u32) -> Rr {
    rr(owner, TYPE_A, ttl, ip.to_vec())
}

fn response_with(flags: u16, q: &str, answers: &[Rr]) -> Vec<u8> {
    let mut m = vec![0xab, 0xcd];
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend(wire(q));
    m.extend_from_slice(&[0, 1, 0, 1]);
    for r in answers {
        m.extend_from_slice(&r.owner);
        m.extend_from_slice(&r.rtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&r.ttl.to_be_bytes());
        m.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&r.rdata);
    }
    m
}

fn response(q: &str, answers: &[Rr]) -> Vec<u8> {
    response_with(0x8180, q, answers)
}

fn answers(msg: &[u8]) -> Result<Vec<Answer>, DnsError> {
    let mut v = Vec::new();
    parse_response(msg, &mut |a| v.push(*a))?;
    Ok(v)
}

fn names<const N: usize>(t: &HostTable<N>, ip: &str, now: u64) -> Vec<String> {
    let mut v = Vec::new();
    t.lookup(ip.parse().unwrap(), now, &mut |n| {
        v.push(n.as_str().to_owned())
    });
    v.sort();
    v
}

#[test]
fn captured_response_with_compression() {
    assert_eq!(
        answers(CAPTURED).unwrap(),
        vec![
            Answer::Cname {
                name: name("api.example.com"),
                target: name("edge.example.com"),
                ttl: 300
            },
            Answer::A {
                name: name("edge.example.com"),
                addr: Ipv4Addr::new(93, 184, 216, 34),
                ttl: 60
            },
        ]
    );
    let t = HostTable::<64>::new();
    assert_eq!(t.learn_from_response(CAPTURED, 1000), 2);
    assert_eq!(
        names(&t, "93.184.216.34", 1000),
        ["api.example.com", "edge.example.com"]
    );
    assert_eq!(names(&t, "93.184.216.35", 1000), Vec::<String>::new());
    // The same address asked for as IPv4-mapped IPv6.
    assert_eq!(names(&t, "::ffff:93.184.216.34", 1000).len(), 2);
}

#[test]
fn multiple_a_and_aaaa_answers() {
    let v6 = "2600:1f18::1"
        .parse::<Ipv6Addr>()
        .unwrap()
        .octets()
        .to_vec();
    let v6b = "2600:1f18::2"
        .parse::<Ipv6Addr>()
        .unwrap()
        .octets()
        .to_vec();
    let msg = response(
        "SQS.us-east-1.AmazonAWS.com",
        &[
            a("sqs.us-east-1.amazonaws.com", [3, 1, 1, 1], 30),
            a("SQS.us-east-1.amazonaws.com", [3, 1, 1, 2], 30),
            rr("sqs.us-east-1.amazonaws.com", TYPE_AAAA, 40, v6),
            rr("sqs.us-east-1.amazonaws.com", TYPE_AAAA, 40, v6b),
            rr(
                "sqs.us-east-1.amazonaws.com",
                16, /* TXT */
                40,
                b"\x02hi".to_vec(),
            ),
        ],
    );
    let got = answers(&msg).unwrap();
    assert_eq!(got.len(), 4, "TXT is skipped: {got:?}");
    assert!(matches!(got[3], Answer::Aaaa { ttl: 40, .. }));
    let t = HostTable::<64>::new();
    assert_eq!(t.learn_from_response(&msg, 0), 4);
    for ip in ["3.1.1.1", "3.1.1.2", "2600:1f18::1", "2600:1f18::2"] {
        assert_eq!(names(&t, ip, 1), ["sqs.us-east-1.amazonaws.com"], "{ip}");
    }
}

#[test]
fn cname_chain_in_any_order_records_alias_and_canonical_name() {
    let msg = response(
        "www.shop.example",
        &[
            a("e7.cdn.example", [10, 0, 0, 7], 20),
            rr("edge.shop.example", TYPE_CNAME, 300, wire("e7.cdn.example")),
            rr(
                "www.shop.example",
                TYPE_CNAME,
                300,
                wire("edge.shop.example"),
            ),
        ],
    );
    let t = HostTable::<64>::new();
    assert_eq!(t.learn_from_response(&msg, 0), 2);
    assert_eq!(
        names(&t, "10.0.0.7", 0),
        ["e7.cdn.example", "www.shop.example"]
    );
}

#[test]
fn answers_off_the_chain_are_not_learned() {
    let msg = response(
        "evil.example",
        &[
            a("evil.example", [1, 1, 1, 1], 60),
            a("s3.amazonaws.com", [6, 6, 6, 6], 60),
            rr("other.example", TYPE_CNAME, 60, wire("s3.amazonaws.com")),
        ],
    );
    let t = HostTable::<64>::new();
    assert_eq!(t.learn_from_response(&msg, 0), 1);
    assert_eq!(names(&t, "1.1.1.1", 0), ["evil.example"]);
    assert!(names(&t, "6.6.6.6", 0).is_empty());
    // parse_response itself reports everything.
    assert_eq!(answers(&msg).unwrap().len(), 3);
}

#[test]
fn cname_loops_end() {
    let msg = response(
        "a.example",
        &[
            rr("a.example", TYPE_CNAME, 60, wire("b.example")),
            rr("b.example", TYPE_CNAME, 60, wire("a.example")),
            a("b.example", [10, 1, 1, 1], 60),
        ],
    );
    let t = HostTable::<64>::new();
    assert_eq!(t.learn_from_response(&msg, 0), 2);
    assert_eq!(names(&t, "10.1.1.1", 0), ["a.example", "b.example"]);
}

#[test]
fn every_truncation_is_an_error() {
    let msgs = [
        CAPTURED.to_vec(),
        response("x.example", &[a("x.example", [1, 2, 3, 4], 5)]),
        response(
            "www.shop.example",
            &[rr(
                "www.shop.example",
                TYPE_CNAME,
                300,
                wire("e.cdn.example"),
            )],
        ),
    ];
    let t = HostTable::<64>::new();
    for m in &msgs {
        assert!(parse_response(m, &mut |_| ()).is_ok());
        for len in 0..m.len() {
            assert!(
                parse_response(&m[..len], &mut |_| ()).is_err(),
                "prefix of {len} bytes parsed"
            );
            assert_eq!(t.learn_from_response(&m[..len], 0), 0);
        }
    }
}

#[test]
fn compression_loops_and_bad_pointers() {
    let mut hdr = CAPTURED[..12].to_vec();
    hdr[7] = 0; // no answers
    let with_q = |q: &[u8]| {
        let mut m = hdr.clone();
        m.extend_from_slice(q);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m
    };
    // Pointer to itself.
    assert_eq!(answers(&with_q(&[0xc0, 12])), Err(DnsError::BadPointer));
    // Pointer forward.
    assert_eq!(answers(&with_q(&[0xc0, 14, 0])), Err(DnsError::BadPointer));
    // A label, then a pointer back to it: a loop that grows the name.
    let e = answers(&with_q(&[1, b'a', 0xc0, 12])).unwrap_err();
    assert!(
        matches!(e, DnsError::NameTooLong | DnsError::PointerLoop),
        "{e:?}"
    );
    // An answer whose owner points into the header: garbage labels, never a panic.
    let mut m = CAPTURED[..33].to_vec();
    m[7] = 1;
    m.extend_from_slice(&[0xc0, 0x00]);
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
    assert!(answers(&m).is_err());
    // 41 questions: the root, then pointers each one question back, so the last
    // name is a chain of 40 pointers (more than MAX_POINTER_HOPS).
    let mut m2 = hdr.clone();
    m2[5] = 41;
    m2.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut prev = 12u16;
    for _ in 0..40 {
        let here = m2.len() as u16;
        m2.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8, 0, 1, 0, 1]);
        prev = here;
    }
    assert_eq!(answers(&m2), Err(DnsError::PointerLoop));
}

#[test]
fn labels_over_63_and_names_over_255() {
    let mut hdr = CAPTURED[..12].to_vec();
    hdr[7] = 0;
    for bad in [0x40u8, 0x80, 0xbf] {
        let mut m = hdr.clone();
        m.extend_from_slice(&[bad, b'a', 0, 0, 1, 0, 1]);
        assert_eq!(answers(&m), Err(DnsError::BadLabel(bad)));
    }
    let q = |labels: &[usize]| {
        let mut m = hdr.clone();
        for &l in labels {
            m.push(l as u8);
            m.extend(std::iter::repeat_n(b'x', l));
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m
    };
    // 3 * 64 + 62 + 1 = 255 octets: the longest legal name.
    assert_eq!(answers(&q(&[63, 63, 63, 61])), Ok(vec![]));
    assert_eq!(answers(&q(&[63, 63, 63, 62])), Err(DnsError::NameTooLong));
    assert_eq!(answers(&q(&[63; 5])), Err(DnsError::NameTooLong));
    // And as a table name: the longest fits.
    let long = [
        &"x".repeat(63)[..],
        &"x".repeat(63),
        &"x".repeat(63),
        &"x".repeat(61),
    ]
    .join(".");
    assert_eq!(name(&long).len(), 253);
    assert!(Name::new(&format!("{long}x")).is_none());
    assert!(Name::new(&"x".repeat(64)).is_none());
}

#[test]
fn headers_that_teach_nothing() {
    let ok = response("x.example", &[a("x.example", [1, 2, 3, 4], 5)]);
    let set_flags = |f: u16| {
        let mut m = ok.clone();
        m[2..4].copy_from_slice(&f.to_be_bytes());
        m
    };
    assert_eq!(answers(&set_flags(0x0100)), Err(DnsError::NotResponse));
    assert_eq!(answers(&set_flags(0x8183)), Err(DnsError::Rcode(3)));
    assert_eq!(answers(&set_flags(0x8980)), Err(DnsError::Opcode(1)));
    assert!(
        answers(&set_flags(0x8380)).is_ok(),
        "TC answers are still answers"
    );
    let t = HostTable::<64>::new();
    assert_eq!(t.learn_from_response(&set_flags(0x8183), 0), 0);
    let mut two_q = ok.clone();
    two_q[5] = 2;
    assert_eq!(t.learn_from_response(&two_q, 0), 0);
    let bad_a = response(
        "x.example",
        &[rr("x.example", TYPE_A, 5, vec![1, 2, 3, 4, 5])],
    );
    assert_eq!(answers(&bad_a), Err(DnsError::BadRdata));
    let bad_aaaa = response("x.example", &[rr("x.example", TYPE_AAAA, 5, vec![0; 4])]);
    assert_eq!(answers(&bad_aaaa), Err(DnsError::BadRdata));
    let mut cname = wire("y.example");
    cname.push(0);
    let bad_cname = response("x.example", &[rr("x.example", TYPE_CNAME, 5, cname)]);
    assert_eq!(answers(&bad_cname), Err(DnsError::BadRdata));
    // Non-IN class is skipped.
    let mut chaos = ok.clone();
    let class_at = chaos.len() - 4 - 2 - 4 - 2;
    chaos[class_at..class_at + 2].copy_from_slice(&3u16.to_be_bytes());
    assert_eq!(answers(&chaos), Ok(vec![]));
}

#[test]
fn odd_characters_skip_the_record_only() {
    let msg = response(
        "x.example",
        &[
            Rr {
                owner: b"\x03a b\x07example\x00".to_vec(),
                rtype: TYPE_A,
                ttl: 5,
                rdata: vec![9, 9, 9, 9],
            },
            a("x.example", [1, 2, 3, 4], 5),
        ],
    );
    assert_eq!(answers(&msg).unwrap().len(), 1);
    let dotted = response(
        "x.example",
        &[Rr {
            owner: b"\x0cs3.amazonaws\x03com\x00".to_vec(),
            rtype: TYPE_A,
            ttl: 5,
            rdata: vec![9, 9, 9, 9],
        }],
    );
    assert_eq!(
        answers(&dotted),
        Ok(vec![]),
        "a dot inside a label is not a dot"
    );
    assert!(Name::new("a..b").is_none());
    assert!(Name::new("a b").is_none());
    assert_eq!(name("Foo.Example.").as_str(), "foo.example");
    assert_eq!(name("").as_str(), "");
}

#[test]
fn tcp_framing() {
    let mut m = (CAPTURED.len() as u16).to_be_bytes().to_vec();
    m.extend_from_slice(CAPTURED);
    let mut n = 0;
    parse_tcp(&m, &mut |_| n += 1).unwrap();
    assert_eq!(n, 2);
    assert_eq!(HostTable::<64>::new().learn_from_tcp_response(&m, 0), 2);
    assert_eq!(
        parse_tcp(&m[..m.len() - 1], &mut |_| ()),
        Err(DnsError::Truncated)
    );
    m.push(0);
    assert_eq!(parse_tcp(&m, &mut |_| ()), Err(DnsError::BadLength));
    assert_eq!(parse_tcp(&[0], &mut |_| ()), Err(DnsError::Truncated));
}

#[test]
fn ttls_are_clamped_and_honoured() {
    let t = HostTable::<64>::new();
    let ip: IpAddr = "10.9.9.9".parse().unwrap();
    t.insert(ip, &name("sixty.example"), 60, 1000);
    t.insert(ip, &name("zero.example"), 0, 1000);
    t.insert(ip, &name("huge.example"), u32::MAX, 1000);
    assert_eq!(
        names(&t, "10.9.9.9", 1004),
        ["huge.example", "sixty.example", "zero.example"]
    );
    assert_eq!(
        names(&t, "10.9.9.9", 1005),
        ["huge.example", "sixty.example"]
    );
    assert_eq!(
        names(&t, "10.9.9.9", 1059),
        ["huge.example", "sixty.example"]
    );
    assert_eq!(names(&t, "10.9.9.9", 1060), ["huge.example"]);
    assert_eq!(names(&t, "10.9.9.9", 1000 + 86_399), ["huge.example"]);
    assert!(names(&t, "10.9.9.9", 1000 + 86_400).is_empty());
    // Refreshing a pair extends it without duplicating it.
    t.insert(ip, &name("sixty.example"), 60, 1050);
    t.insert(ip, &name("sixty.example"), 60, 1050);
    assert_eq!(
        names(&t, "10.9.9.9", 1100),
        ["huge.example", "sixty.example"]
    );
    // A TTL with the top bit set reads as 0 (then clamped to MIN_TTL).
    let msg = response("x.example", &[a("x.example", [1, 2, 3, 4], 0x8000_0000)]);
    assert!(matches!(
        answers(&msg).unwrap()[0],
        Answer::A { ttl: 0, .. }
    ));
}

#[test]
fn a_full_set_evicts_expired_then_soonest_to_expire() {
    let t = HostTable::<8>::new(); // one set
    let ip = |i: u8| IpAddr::from([10, 0, 0, i]);
    for i in 0..8u8 {
        t.insert(
            ip(i),
            &name(&format!("h{i}.example")),
            100 + u32::from(i),
            0,
        );
    }
    for i in 0..8u8 {
        assert_eq!(
            names(&t, &format!("10.0.0.{i}"), 0),
            [format!("h{i}.example")]
        );
    }
    // Full: the new entry replaces h0 (expires first).
    t.insert(ip(8), &name("h8.example"), 500, 0);
    assert!(names(&t, "10.0.0.0", 0).is_empty());
    assert_eq!(names(&t, "10.0.0.1", 0), ["h1.example"]);
    assert_eq!(names(&t, "10.0.0.8", 0), ["h8.example"]);
    // At t=102, h1 and h2 have expired, so they go before h3 (t=103).
    t.insert(ip(9), &name("h9.example"), 500, 102);
    t.insert(ip(10), &name("h10.example"), 500, 102);
    assert_eq!(names(&t, "10.0.0.3", 102), ["h3.example"]);
    assert_eq!(names(&t, "10.0.0.9", 102), ["h9.example"]);
    assert_eq!(names(&t, "10.0.0.10", 102), ["h10.example"]);
    assert_eq!(t.dropped(), 0);
}

#[test]
fn concurrent_writers_and_readers_never_see_torn_entries() {
    // A small table so that all threads fight over the same slots. Each name says
    // which address it belongs to, and names differ in length, so a torn read (name
    // of one write, length or address of another) would show.
    static T: HostTable<16> = HostTable::new();
    const ADDRS: u8 = 6;
    let bad = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..4u64)
        .map(|th| {
            let bad = bad.clone();
            std::thread::spawn(move || {
                let mut seen = 0u64;
                let mut x = th.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                for i in 0..20_000u64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let a = (x % u64::from(ADDRS)) as u8;
                    let ip = IpAddr::from([10, 0, 0, a]);
                    if th % 2 == 0 || i % 3 == 0 {
                        let pad = "p".repeat((x >> 8) as usize % 60);
                        let n = name(&format!("a{a}-{pad}.x{}.example", pad.len()));
                        T.insert(ip, &n, 60, 0);
                    }
                    T.lookup(ip, 1, &mut |n| {
                        seen += 1;
                        let s = n.as_str();
                        let ok = s.strip_prefix(&format!("a{a}-")).and_then(|rest| {
                            let (pad, tail) = rest.split_once(".x")?;
                            let len: usize = tail.strip_suffix(".example")?.parse().ok()?;
                            Some(pad.len() == len && pad.bytes().all(|b| b == b'p'))
                        });
                        if ok != Some(true) {
                            bad.store(true, Ordering::Relaxed);
                            eprintln!("torn: {s:?} for 10.0.0.{a}");
                        }
                    });
                }
                seen
            })
        })
        .collect();
    let seen: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(!bad.load(Ordering::Relaxed), "a reader saw a torn entry");
    assert!(
        seen > 1000,
        "readers saw too few entries ({seen}) to mean anything"
    );
}

#[test]
fn insert_skips_a_slot_held_by_another_writer() {
    let t = HostTable::<8>::new();
    // Pretend every slot is being written (as when a signal handler interrupts a
    // writer): the insert must give up at once and count it.
    for s in &t.slots {
        s.seq.store(1, Ordering::Relaxed);
    }
    t.insert("10.0.0.1".parse().unwrap(), &name("a.example"), 60, 0);
    assert_eq!(t.dropped(), 1);
    assert!(
        names(&t, "10.0.0.1", 0).is_empty(),
        "lookup must not wait either"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn arbitrary_bytes_never_panic(msg in prop::collection::vec(any::<u8>(), 0..600)) {
        let t = HostTable::<16>::new();
        let _ = parse_response(&msg, &mut |_| ());
        let _ = parse_tcp(&msg, &mut |_| ());
        t.learn_from_response(&msg, 0);
    }

    #[test]
    fn mutated_responses_never_panic(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut msg = CAPTURED.to_vec();
        for (i, b) in flips {
            let i = i.index(msg.len());
            msg[i] = b;
        }
        let t = HostTable::<16>::new();
        let mut out = Vec::new();
        if parse_response(&msg, &mut |a| out.push(*a)).is_ok() {
            for a in out {
                let n = match a { Answer::A { name, .. } | Answer::Aaaa { name, .. } | Answer::Cname { name, .. } => name };
                prop_assert!(n.as_bytes().iter().all(|&b| is_name_byte(b) || b == b'.'));
            }
        }
        t.learn_from_response(&msg, 0);
    }
}
