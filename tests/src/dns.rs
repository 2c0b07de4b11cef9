//! A tiny authoritative DNS responder on loopback, for name-resolution tests.
//!
//! [`DnsResponder`] answers `A`, `AAAA` (and `ANY`, with both) queries for the names in
//! its [`DnsRecords`], over UDP and TCP on the same `127.0.0.1` port. It follows
//! `CNAME`s inside its own records and puts the whole chain in the answer, as an
//! authoritative server does. Names it does not know get `NXDOMAIN`; known names
//! without records of the asked type get an empty `NOERROR` answer. Every query is
//! recorded ([`DnsResponder::queries`]).
//!
//! The wire format (RFC 1035) is encoded by hand: no compression except a pointer to
//! the question name, no EDNS. Answers larger than 512 bytes over UDP are sent
//! truncated with the `TC` bit, so a client retries over TCP.
//!
//! ```no_run
//! # async fn example() -> Result<(), fnshield_tests::dns::DnsError> {
//! use fnshield_tests::dns::{DnsRecords, DnsResponder};
//!
//! let records = DnsRecords::new()
//!     .host("api.example.com", ["127.0.0.2".parse().unwrap()], 60)?
//!     .cname("www.example.com", "api.example.com", 300)?;
//! let dns = DnsResponder::start(records).await;
//! println!("nameserver {}", dns.addr());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Why a record set was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name is not a valid DNS host name.
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A name may have a CNAME or addresses, not both (RFC 1034 §3.6.2).
    #[error("{name:?} cannot have both a CNAME and addresses; remove one of them")]
    CnameConflict {
        /// The name.
        name: String,
    },
}

/// DNS record types the responder knows about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordType {
    /// IPv4 address (1).
    A,
    /// Canonical name (5).
    Cname,
    /// IPv6 address (28).
    Aaaa,
    /// Any type (255).
    Any,
    /// Any other type, by number.
    Other(u16),
}

impl RecordType {
    /// The type's number on the wire.
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Cname => 5,
            RecordType::Aaaa => 28,
            RecordType::Any => 255,
            RecordType::Other(code) => code,
        }
    }

    /// The type for a number on the wire.
    pub fn from_code(code: u16) -> Self {
        match code {
            1 => RecordType::A,
            5 => RecordType::Cname,
            28 => RecordType::Aaaa,
            255 => RecordType::Any,
            other => RecordType::Other(other),
        }
    }
}

/// The names a [`DnsResponder`] serves. Names are case-insensitive; a trailing dot
/// is optional.
#[derive(Debug, Clone, Default)]
pub struct DnsRecords {
    hosts: HashMap<String, (Vec<IpAddr>, u32)>,
    cnames: HashMap<String, (String, u32)>,
}

impl DnsRecords {
    /// No names: every query gets `NXDOMAIN`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds addresses for `name` (both families may be mixed) with this TTL in
    /// seconds. Adding a name again appends addresses and keeps the last TTL.
    /// An empty address list makes the name exist without records (`NOERROR`, no
    /// answers).
    pub fn host(
        mut self,
        name: &str,
        addrs: impl IntoIterator<Item = IpAddr>,
        ttl: u32,
    ) -> Result<Self, DnsError> {
        let key = normalize(name)?;
        if self.cnames.contains_key(&key) {
            return Err(DnsError::CnameConflict { name: key });
        }
        let entry = self.hosts.entry(key).or_insert_with(|| (Vec::new(), ttl));
        entry.0.extend(addrs);
        entry.1 = ttl;
        Ok(self)
    }

    /// Makes `alias` a CNAME for `target`. The target need not be served here (then
    /// the answer is the CNAME with `NXDOMAIN`, as an authoritative server replies).
    pub fn cname(mut self, alias: &str, target: &str, ttl: u32) -> Result<Self, DnsError> {
        let key = normalize(alias)?;
        let target = normalize(target)?;
        if self.hosts.contains_key(&key) {
            return Err(DnsError::CnameConflict { name: key });
        }
        self.cnames.insert(key, (target, ttl));
        Ok(self)
    }
}

/// Lower-cases, strips one trailing dot and checks RFC 1035 lengths and characters
/// (letters, digits, `-`, and `_` for service names).
fn normalize(name: &str) -> Result<String, DnsError> {
    let invalid = |reason| DnsError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    let trimmed = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if trimmed.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if trimmed.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    for label in trimmed.split('.') {
        if label.is_empty() {
            return Err(invalid("has an empty label"));
        }
        if label.len() > 63 {
            return Err(invalid("has a label longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid("use only letters, digits, `-` and `_`"));
        }
    }
    Ok(trimmed)
}

/// A query the responder received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    name: String,
    record_type: RecordType,
    tcp: bool,
}

impl DnsQuery {
    /// The queried name, lower-cased, without the trailing dot.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queried type.
    pub fn record_type(&self) -> RecordType {
        self.record_type
    }

    /// Whether it came over TCP.
    pub fn tcp(&self) -> bool {
        self.tcp
    }
}

/// A DNS server on `127.0.0.1`, UDP and TCP on the same port. Dropping it stops it.
pub struct DnsResponder {
    addr: SocketAddr,
    queries: Arc<Mutex<Vec<DnsQuery>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl DnsResponder {
    /// Binds UDP and TCP on the same ephemeral port of `127.0.0.1` and serves
    /// `records` on the current tokio runtime.
    ///
    /// # Panics
    /// If no port can be bound for both protocols, or outside a tokio runtime.
    pub async fn start(records: DnsRecords) -> DnsResponder {
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("local address of a bound socket");
        let records = Arc::new(records);
        let queries = Arc::new(Mutex::new(Vec::new()));
        let udp_task = tokio::spawn(serve_udp(udp, records.clone(), queries.clone()));
        let tcp_task = tokio::spawn(serve_tcp(tcp, records, queries.clone()));
        DnsResponder {
            addr,
            queries,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// The address to send queries to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The queries received so far, in order.
    pub fn queries(&self) -> Vec<DnsQuery> {
        self.queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for DnsResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResponder")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..32 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind UDP 127.0.0.1:0 for the DNS responder");
        let port = udp.local_addr().expect("bound").port();
        if let Ok(tcp) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port was free for both UDP and TCP after 32 tries");
}

async fn serve_udp(
    socket: UdpSocket,
    records: Arc<DnsRecords>,
    queries: Arc<Mutex<Vec<DnsQuery>>>,
) {
    let mut buf = [0u8; 4096];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(mut reply) = respond(&buf[..n], &records, &queries, false) {
            if reply.len() > 512 {
                truncate(&mut reply);
            }
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    records: Arc<DnsRecords>,
    queries: Arc<Mutex<Vec<DnsQuery>>>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let records = records.clone();
        let queries = queries.clone();
        connections.spawn(async move {
            loop {
                let Ok(len) = stream.read_u16().await else {
                    return;
                };
                let mut query = vec![0u8; usize::from(len)];
                if stream.read_exact(&mut query).await.is_err() {
                    return;
                }
                let Some(reply) = respond(&query, &records, &queries, true) else {
                    return;
                };
                let Ok(len) = u16::try_from(reply.len()) else {
                    return;
                };
                let mut framed = len.to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                if stream.write_all(&framed).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Response codes.
const NOERROR: u8 = 0;
const FORMERR: u8 = 1;
const SERVFAIL: u8 = 2;
const NXDOMAIN: u8 = 3;
const NOTIMP: u8 = 4;

/// How many CNAMEs a chain may have before the answer is `SERVFAIL` (a loop).
const MAX_CNAME_CHAIN: usize = 8;

/// Builds the reply to one query message, or `None` to stay silent (not a query, or
/// too short to even carry an id).
fn respond(
    query: &[u8],
    records: &DnsRecords,
    queries: &Mutex<Vec<DnsQuery>>,
    tcp: bool,
) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let opcode = (query[2] >> 3) & 0x0f;
    let rd = query[2] & 0x01;
    let qdcount = u16::from_be_bytes([query[4], query[5]]);
    let header = |rcode: u8, qd: u16, an: u16| {
        let mut h = Vec::with_capacity(512);
        h.extend_from_slice(&query[..2]);
        // QR=1, opcode as asked, AA=1, TC=0, RD copied; RA=1, Z=0, rcode.
        h.push(0x80 | (opcode << 3) | 0x04 | rd);
        h.push(0x80 | rcode);
        h.extend_from_slice(&qd.to_be_bytes());
        h.extend_from_slice(&an.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]);
        h
    };
    if opcode != 0 {
        return Some(header(NOTIMP, 0, 0));
    }
    if qdcount != 1 {
        return Some(header(FORMERR, 0, 0));
    }
    let Some((name, question_end)) = read_name(query, 12) else {
        return Some(header(FORMERR, 0, 0));
    };
    if query.len() < question_end + 4 {
        return Some(header(FORMERR, 0, 0));
    }
    let qtype = RecordType::from_code(u16::from_be_bytes([
        query[question_end],
        query[question_end + 1],
    ]));
    let question = &query[12..question_end + 4];
    queries
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(DnsQuery {
            name: name.clone(),
            record_type: qtype,
            tcp,
        });

    let mut answers = Vec::new();
    let mut count: u16 = 0;
    // The first owner name is the question's: point at it (offset 12).
    let mut owner: Vec<u8> = vec![0xc0, 0x0c];
    let mut current = name;
    let mut rcode = NOERROR;
    for hop in 0..=MAX_CNAME_CHAIN {
        if let Some((target, ttl)) = records.cnames.get(&current) {
            if hop == MAX_CNAME_CHAIN {
                rcode = SERVFAIL;
                break;
            }
            let rdata = encode_name(target);
            push_rr(&mut answers, &owner, RecordType::Cname, *ttl, &rdata);
            count += 1;
            if qtype == RecordType::Cname {
                break;
            }
            owner = rdata;
            current = target.clone();
            continue;
        }
        match records.hosts.get(&current) {
            None => rcode = NXDOMAIN,
            Some((addrs, ttl)) => {
                for addr in addrs {
                    let (rtype, rdata) = match addr {
                        IpAddr::V4(v4) => (RecordType::A, v4.octets().to_vec()),
                        IpAddr::V6(v6) => (RecordType::Aaaa, v6.octets().to_vec()),
                    };
                    if qtype == rtype || qtype == RecordType::Any {
                        push_rr(&mut answers, &owner, rtype, *ttl, &rdata);
                        count += 1;
                    }
                }
            }
        }
        break;
    }
    let mut reply = header(rcode, 1, count);
    reply.extend_from_slice(question);
    reply.extend_from_slice(&answers);
    Some(reply)
}

/// Cuts a UDP reply down to header and question with `TC` set, so the client retries
/// over TCP.
fn truncate(reply: &mut Vec<u8>) {
    let question_end = read_name(reply, 12).map_or(12, |(_, end)| end + 4);
    reply.truncate(question_end);
    reply[2] |= 0x02;
    reply[6] = 0;
    reply[7] = 0;
}

fn push_rr(out: &mut Vec<u8>, owner: &[u8], rtype: RecordType, ttl: u32, rdata: &[u8]) {
    out.extend_from_slice(owner);
    out.extend_from_slice(&rtype.code().to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // class IN
    out.extend_from_slice(&ttl.to_be_bytes());
    let len = u16::try_from(rdata.len()).expect("rdata of a name or address fits in u16");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(rdata);
}

/// Encodes a validated, normalised name as uncompressed labels.
fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.') {
        // normalize() guarantees 1..=63 bytes.
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// Reads an uncompressed name at `start`; returns it (lower-cased, no trailing dot)
/// and the offset after it. Compression pointers in a question are rejected.
fn read_name(msg: &[u8], start: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut pos = start;
    loop {
        let len = usize::from(*msg.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = msg.get(pos..pos + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += len;
    }
    Some((labels.join("."), pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_and_normalised() {
        assert_eq!(normalize("API.Example.com.").unwrap(), "api.example.com");
        assert!(matches!(normalize(""), Err(DnsError::InvalidName { .. })));
        assert!(matches!(
            normalize("a..b"),
            Err(DnsError::InvalidName { .. })
        ));
        assert!(matches!(
            normalize(&"x".repeat(64)),
            Err(DnsError::InvalidName { .. })
        ));
        assert!(matches!(
            normalize("a b"),
            Err(DnsError::InvalidName { .. })
        ));
        let conflict = DnsRecords::new()
            .host("a.test", [], 1)
            .unwrap()
            .cname("a.test", "b.test", 1);
        assert!(matches!(conflict, Err(DnsError::CnameConflict { .. })));
    }

    #[test]
    fn encode_then_read_round_trips() {
        let encoded = encode_name("www.example.com");
        assert_eq!(encoded, b"\x03www\x07example\x03com\x00");
        assert_eq!(
            read_name(&encoded, 0),
            Some(("www.example.com".to_owned(), encoded.len()))
        );
    }
}
