//! The loopback DNS responder, queried with hand-built packets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use fnshield_tests::dns::{DnsRecords, DnsResponder, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// A standard query (RD set) for `name` with type `qtype`, class IN.
fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q
}

async fn ask_udp(dns: &DnsResponder, packet: &[u8]) -> Vec<u8> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    socket.send_to(packet, dns.addr()).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).await.unwrap();
    buf[..n].to_vec()
}

async fn ask_tcp(dns: &DnsResponder, packet: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(dns.addr()).await.unwrap();
    stream
        .write_all(&(packet.len() as u16).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(packet).await.unwrap();
    let len = stream.read_u16().await.unwrap();
    let mut reply = vec![0u8; usize::from(len)];
    stream.read_exact(&mut reply).await.unwrap();
    reply
}

/// A decoded answer record: (type, ttl, rdata) — owner names are skipped.
#[derive(Debug, PartialEq)]
struct Rr {
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

/// Decodes rcode and answers of a reply to a single-question query.
fn decode(reply: &[u8]) -> (u8, Vec<Rr>) {
    let rcode = reply[3] & 0x0f;
    let ancount = u16::from_be_bytes([reply[6], reply[7]]);
    let mut pos = 12;
    pos = skip_name(reply, pos) + 4;
    let mut answers = Vec::new();
    for _ in 0..ancount {
        pos = skip_name(reply, pos);
        let rtype = u16::from_be_bytes([reply[pos], reply[pos + 1]]);
        let ttl = u32::from_be_bytes(reply[pos + 4..pos + 8].try_into().unwrap());
        let len = usize::from(u16::from_be_bytes([reply[pos + 8], reply[pos + 9]]));
        pos += 10;
        answers.push(Rr {
            rtype,
            ttl,
            rdata: reply[pos..pos + len].to_vec(),
        });
        pos += len;
    }
    assert_eq!(pos, reply.len(), "trailing bytes in {reply:?}");
    (rcode, answers)
}

fn skip_name(msg: &[u8], mut pos: usize) -> usize {
    loop {
        let len = msg[pos];
        if len & 0xc0 == 0xc0 {
            return pos + 2;
        }
        pos += 1 + usize::from(len);
        if len == 0 {
            return pos;
        }
    }
}

fn records() -> DnsRecords {
    DnsRecords::new()
        .host(
            "api.example.test",
            ["127.0.0.2".parse::<IpAddr>().unwrap()],
            60,
        )
        .unwrap()
        .host("api.example.test", ["::2".parse::<IpAddr>().unwrap()], 60)
        .unwrap()
        .cname("www.example.test", "edge.example.test", 300)
        .unwrap()
        .cname("edge.example.test", "api.example.test", 30)
        .unwrap()
        .cname("dangling.example.test", "gone.example.test", 5)
        .unwrap()
}

#[tokio::test]
async fn a_query_gets_the_exact_expected_reply() {
    let dns = DnsResponder::start(records()).await;
    // id 0xbeef, RD, one question: api.example.test A IN.
    let packet = query(0xbeef, "api.example.test", 1);

    let reply = ask_udp(&dns, &packet).await;

    let mut expected = vec![
        0xbe, 0xef, // id
        0x85, 0x80, // QR AA RD, RA, NOERROR
        0, 1, 0, 1, 0, 0, 0, 0, // 1 question, 1 answer
    ];
    expected.extend_from_slice(&packet[12..]); // the question, echoed
    expected.extend_from_slice(&[
        0xc0, 0x0c, // owner: pointer to the question name
        0, 1, 0, 1, // A IN
        0, 0, 0, 60, // ttl
        0, 4, 127, 0, 0, 2, // rdata
    ]);
    assert_eq!(reply, expected);
    let queries = dns.queries();
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].name(), "api.example.test");
    assert_eq!(queries[0].record_type(), RecordType::A);
}

#[tokio::test]
async fn aaaa_query_returns_only_ipv6_and_names_are_case_insensitive() {
    let dns = DnsResponder::start(records()).await;
    let (rcode, answers) = decode(&ask_udp(&dns, &query(1, "API.Example.TEST", 28)).await);
    assert_eq!(rcode, 0);
    assert_eq!(
        answers,
        vec![Rr {
            rtype: 28,
            ttl: 60,
            rdata: "::2".parse::<Ipv6Addr>().unwrap().octets().to_vec()
        }]
    );
}

#[tokio::test]
async fn cname_chain_is_followed_and_returned() {
    let dns = DnsResponder::start(records()).await;
    let (rcode, answers) = decode(&ask_udp(&dns, &query(2, "www.example.test", 1)).await);
    assert_eq!(rcode, 0);
    let edge = b"\x04edge\x07example\x04test\x00".to_vec();
    let api = b"\x03api\x07example\x04test\x00".to_vec();
    assert_eq!(
        answers,
        vec![
            Rr {
                rtype: 5,
                ttl: 300,
                rdata: edge
            },
            Rr {
                rtype: 5,
                ttl: 30,
                rdata: api
            },
            Rr {
                rtype: 1,
                ttl: 60,
                rdata: vec![127, 0, 0, 2]
            },
        ]
    );
}

#[tokio::test]
async fn unknown_names_get_nxdomain() {
    let dns = DnsResponder::start(records()).await;
    let (rcode, answers) = decode(&ask_udp(&dns, &query(3, "nope.example.test", 1)).await);
    assert_eq!((rcode, answers.len()), (3, 0));

    // A CNAME to an unknown target: the CNAME, and NXDOMAIN for the end of the chain.
    let (rcode, answers) = decode(&ask_udp(&dns, &query(4, "dangling.example.test", 1)).await);
    assert_eq!(rcode, 3);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].rtype, 5);
}

#[tokio::test]
async fn known_name_without_that_type_gets_an_empty_noerror() {
    let dns = DnsResponder::start(
        DnsRecords::new()
            .host("v4only.test", ["10.0.0.1".parse::<IpAddr>().unwrap()], 1)
            .unwrap(),
    )
    .await;
    let (rcode, answers) = decode(&ask_udp(&dns, &query(5, "v4only.test", 28)).await);
    assert_eq!((rcode, answers.len()), (0, 0));
}

#[tokio::test]
async fn large_answers_are_truncated_over_udp_and_complete_over_tcp() {
    let many: Vec<IpAddr> = (1..=40u8)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 1, i)))
        .collect();
    let dns = DnsResponder::start(DnsRecords::new().host("big.test", many, 10).unwrap()).await;
    let packet = query(6, "big.test", 1);

    let udp = ask_udp(&dns, &packet).await;
    assert_ne!(udp[2] & 0x02, 0, "TC bit must be set");
    assert_eq!(decode(&udp).1.len(), 0);

    let tcp = ask_tcp(&dns, &packet).await;
    assert_eq!(tcp[2] & 0x02, 0);
    let (rcode, answers) = decode(&tcp);
    assert_eq!((rcode, answers.len()), (0, 40));
    assert!(dns.queries()[1].tcp());
}

#[tokio::test]
async fn non_query_opcodes_get_notimp() {
    let dns = DnsResponder::start(records()).await;
    let mut packet = query(7, "api.example.test", 1);
    packet[2] |= 2 << 3; // opcode STATUS
    let reply = ask_udp(&dns, &packet).await;
    assert_eq!(&reply[..2], &[0, 7]);
    assert_eq!(reply[3] & 0x0f, 4);
}
