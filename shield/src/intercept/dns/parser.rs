//! The DNS response parser: A, AAAA and CNAME answers out of a UDP (or TCP) payload, with
//! every bound the module documentation lists. Allocation-free.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest name, in bytes of its dotted text form (a wire name is at most 255
/// octets, so its text form is at most 253).
pub const MAX_NAME: usize = 255;

/// Compression pointers followed per name before the name is rejected.
pub const MAX_POINTER_HOPS: usize = 32;

/// Answer records examined per message; the rest are ignored.
pub const MAX_RECORDS: usize = 256;

/// CNAME records remembered per response when following a chain; a longer chain is
/// followed only this far.
pub const MAX_CNAMES: usize = 16;

pub(super) const HEADER_LEN: usize = 12;
pub(super) const TYPE_A: u16 = 1;
pub(super) const TYPE_CNAME: u16 = 5;
pub(super) const TYPE_AAAA: u16 = 28;
pub(super) const CLASS_IN: u16 = 1;

/// A host name: lowercase ASCII letters, digits, `-` and `_`, dot-separated, with no
/// trailing dot. The root name is empty. Fixed size, so it lives on the stack.
#[derive(Clone, Copy)]
pub struct Name {
    pub(super) buf: [u8; MAX_NAME],
    pub(super) len: u8,
}

impl Name {
    /// The empty (root) name.
    pub const fn empty() -> Self {
        Name {
            buf: [0; MAX_NAME],
            len: 0,
        }
    }

    /// Parses a dotted name (one trailing dot allowed), lowercasing it. Returns `None`
    /// for characters other than ASCII letters, digits, `-`, `_`, for empty labels, for
    /// labels over 63 bytes and for names over 253 bytes.
    pub fn new(s: &str) -> Option<Self> {
        let s = s.strip_suffix('.').unwrap_or(s);
        let mut n = Name::empty();
        if s.is_empty() {
            return Some(n);
        }
        for label in s.split('.') {
            if label.is_empty() || label.len() > 63 {
                return None;
            }
            if !n.push_label(label.as_bytes()) {
                return None;
            }
        }
        Some(n)
    }

    /// The name as bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this never takes the fallback.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Length of the dotted form in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether this is the root name.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a label, validating and lowercasing it. Returns false (leaving the name
    /// unusable) when a byte is not allowed or the name would exceed 253 bytes.
    fn push_label(&mut self, label: &[u8]) -> bool {
        let dot = usize::from(self.len != 0);
        let start = usize::from(self.len);
        let end = start + dot + label.len();
        if end > 253 {
            return false;
        }
        let Some(dst) = self.buf.get_mut(start..end) else {
            return false;
        };
        if dot == 1 {
            dst[0] = b'.';
        }
        for (d, &b) in dst[dot..].iter_mut().zip(label) {
            if !is_name_byte(b) {
                return false;
            }
            *d = b.to_ascii_lowercase();
        }
        self.len = end as u8;
        true
    }
}

pub(super) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Name {}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", self.as_str())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One answer record of a response.
// The CNAME variant holds two names; boxing is not an option in a signal handler and
// answers are passed by reference anyway.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// An IPv4 address for `name`.
    A {
        /// Owner name.
        name: Name,
        /// The address.
        addr: Ipv4Addr,
        /// Time to live in seconds (values above 2^31 - 1 read as 0, per RFC 2181).
        ttl: u32,
    },
    /// An IPv6 address for `name`.
    Aaaa {
        /// Owner name.
        name: Name,
        /// The address.
        addr: Ipv6Addr,
        /// Time to live in seconds.
        ttl: u32,
    },
    /// `name` is an alias of `target`.
    Cname {
        /// The alias.
        name: Name,
        /// The canonical name.
        target: Name,
        /// Time to live in seconds.
        ttl: u32,
    },
}

/// Why a DNS message was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The message ends in the middle of a field.
    #[error("DNS message truncated")]
    Truncated,
    /// The QR bit is clear: a query, not a response.
    #[error("DNS message is a query, not a response")]
    NotResponse,
    /// The opcode is not QUERY.
    #[error("DNS opcode {0} is not QUERY")]
    Opcode(u8),
    /// The response carries an error code (e.g. 3 = NXDOMAIN).
    #[error("DNS response has rcode {0}")]
    Rcode(u8),
    /// A label length uses the reserved 0b01/0b10 prefixes (a "label" over 63 bytes).
    #[error("DNS label length byte {0:#x} is reserved")]
    BadLabel(u8),
    /// A name is longer than 255 octets on the wire.
    #[error("DNS name longer than 255 octets")]
    NameTooLong,
    /// A compression pointer points forward or to itself.
    #[error("DNS compression pointer does not point backwards")]
    BadPointer,
    /// Too many compression pointers in one name (a loop).
    #[error("DNS name follows more than 32 compression pointers")]
    PointerLoop,
    /// A record's data does not fit its type (A not 4 bytes, AAAA not 16, CNAME name
    /// overrunning its data).
    #[error("DNS record data does not match its type")]
    BadRdata,
    /// A TCP message's length prefix disagrees with the bytes given.
    #[error("DNS-over-TCP length prefix does not match the message")]
    BadLength,
    /// The response does not have exactly one question (needed to follow a CNAME chain).
    #[error("DNS response does not have exactly one question")]
    QuestionCount,
}

fn u16_at(msg: &[u8], off: usize) -> Result<u16, DnsError> {
    match msg.get(off..off.wrapping_add(2)) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(DnsError::Truncated),
    }
}

fn u32_at(msg: &[u8], off: usize) -> Result<u32, DnsError> {
    Ok(u32::from(u16_at(msg, off)?) << 16 | u32::from(u16_at(msg, off + 2)?))
}

/// Walks the labels of the wire name at `off`, calling `label` for each. Returns the
/// offset just past the name where it starts (not where a pointer leads).
fn walk_name(msg: &[u8], mut off: usize, mut label: impl FnMut(&[u8])) -> Result<usize, DnsError> {
    let mut end = None;
    let mut hops = 0;
    let mut wire_len = 1; // the root label
    loop {
        let len = *msg.get(off).ok_or(DnsError::Truncated)?;
        match len >> 6 {
            0 if len == 0 => return Ok(end.unwrap_or(off + 1)),
            0 => {
                let l = usize::from(len);
                let bytes = msg.get(off + 1..off + 1 + l).ok_or(DnsError::Truncated)?;
                wire_len += 1 + l;
                if wire_len > 255 {
                    return Err(DnsError::NameTooLong);
                }
                label(bytes);
                off += 1 + l;
            }
            3 => {
                let lo = *msg.get(off + 1).ok_or(DnsError::Truncated)?;
                let ptr = usize::from(len & 0x3f) << 8 | usize::from(lo);
                end.get_or_insert(off + 2);
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(DnsError::PointerLoop);
                }
                if ptr >= off {
                    return Err(DnsError::BadPointer);
                }
                off = ptr;
            }
            _ => return Err(DnsError::BadLabel(len)),
        }
    }
}

/// Decodes the name at `off` into `out`. Returns the end offset and whether the name is
/// representable (only allowed characters).
pub(super) fn read_name(msg: &[u8], off: usize, out: &mut Name) -> Result<(usize, bool), DnsError> {
    *out = Name::empty();
    let mut ok = true;
    let end = walk_name(msg, off, |l| ok = ok && out.push_label(l))?;
    if !ok {
        *out = Name::empty();
    }
    Ok((end, ok))
}

/// Whether two (already validated) wire names in `msg` are equal, ignoring ASCII case.
pub(super) fn names_equal(msg: &[u8], a: usize, b: usize) -> bool {
    let (mut a, mut b) = (Cursor::new(a), Cursor::new(b));
    loop {
        match (a.next(msg), b.next(msg)) {
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {
                if x.is_empty() {
                    return true;
                }
            }
            _ => return false,
        }
    }
}

/// Label-by-label iteration over a wire name; yields `Some(&[])` for the root label
/// and `None` on any malformation (bounded by [`MAX_POINTER_HOPS`] and 128 labels).
struct Cursor {
    off: usize,
    hops: usize,
    labels: usize,
}

impl Cursor {
    fn new(off: usize) -> Self {
        Cursor {
            off,
            hops: 0,
            labels: 0,
        }
    }

    fn next<'m>(&mut self, msg: &'m [u8]) -> Option<&'m [u8]> {
        loop {
            let len = *msg.get(self.off)?;
            if len >> 6 == 3 {
                let ptr = usize::from(len & 0x3f) << 8 | usize::from(*msg.get(self.off + 1)?);
                self.hops += 1;
                if self.hops > MAX_POINTER_HOPS || ptr >= self.off {
                    return None;
                }
                self.off = ptr;
                continue;
            }
            if len >> 6 != 0 {
                return None;
            }
            self.labels += 1;
            if self.labels > 128 {
                return None;
            }
            let l = usize::from(len);
            let bytes = msg.get(self.off + 1..self.off + 1 + l)?;
            self.off += 1 + l;
            return Some(bytes);
        }
    }
}

/// One answer record, located in the message.
pub(super) struct Raw {
    pub(super) owner: usize,
    pub(super) rtype: u16,
    pub(super) ttl: u32,
    pub(super) rdata: usize,
    pub(super) rdlen: usize,
}

/// Checks the header and returns (question count, answer count).
pub(super) fn header(msg: &[u8]) -> Result<(u16, u16), DnsError> {
    let flags = u16_at(msg, 2)?;
    let (qd, an) = (u16_at(msg, 4)?, u16_at(msg, 6)?);
    if msg.len() < HEADER_LEN {
        return Err(DnsError::Truncated);
    }
    if flags & 0x8000 == 0 {
        return Err(DnsError::NotResponse);
    }
    let opcode = (flags >> 11) as u8 & 0xf;
    if opcode != 0 {
        return Err(DnsError::Opcode(opcode));
    }
    let rcode = flags as u8 & 0xf;
    if rcode != 0 {
        return Err(DnsError::Rcode(rcode));
    }
    Ok((qd, an))
}

/// Validates the message up to the end of the answer section and calls `rec` for every
/// IN-class answer record (at most [`MAX_RECORDS`]).
pub(super) fn walk(msg: &[u8], mut rec: impl FnMut(&Raw)) -> Result<(), DnsError> {
    let (qd, an) = header(msg)?;
    let mut off = HEADER_LEN;
    for _ in 0..qd {
        off = walk_name(msg, off, |_| ())?;
        u32_at(msg, off)?; // qtype, qclass
        off += 4;
    }
    for _ in 0..usize::from(an).min(MAX_RECORDS) {
        let owner = off;
        off = walk_name(msg, off, |_| ())?;
        let rtype = u16_at(msg, off)?;
        let class = u16_at(msg, off + 2)?;
        let ttl = u32_at(msg, off + 4)?;
        let rdlen = usize::from(u16_at(msg, off + 8)?);
        let rdata = off + 10;
        if rdata + rdlen > msg.len() {
            return Err(DnsError::Truncated);
        }
        off = rdata + rdlen;
        let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
        let ok = match rtype {
            TYPE_A => rdlen == 4,
            TYPE_AAAA => rdlen == 16,
            TYPE_CNAME => walk_name(msg, rdata, |_| ())? == off,
            _ => true,
        };
        if !ok {
            return Err(DnsError::BadRdata);
        }
        if class == CLASS_IN {
            rec(&Raw {
                owner,
                rtype,
                ttl,
                rdata,
                rdlen,
            });
        }
    }
    Ok(())
}

pub(super) fn address(msg: &[u8], r: &Raw) -> Option<IpAddr> {
    let data = msg.get(r.rdata..r.rdata + r.rdlen)?;
    match (r.rtype, data.len()) {
        (TYPE_A, 4) => {
            let b: [u8; 4] = data.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        (TYPE_AAAA, 16) => {
            let b: [u8; 16] = data.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// Parses a DNS response (a UDP payload) and calls `out` for each A, AAAA and CNAME
/// answer of class IN.
///
/// Only responses (QR = 1) to standard queries with rcode NOERROR are accepted. The
/// question and answer sections are checked completely (labels, lengths, compression
/// pointers, record data sizes); authority and additional records are not read.
/// Records whose names contain characters other than letters, digits, `-` and `_`
/// are skipped. At most [`MAX_RECORDS`] answers are examined.
///
/// On error, answers before the malformed part may already have been delivered.
///
/// Async-signal-safe: no allocation, no locks, no panics, bounded work.
pub fn parse_response(msg: &[u8], out: &mut impl FnMut(&Answer)) -> Result<(), DnsError> {
    walk(msg, |r| {
        let mut name = Name::empty();
        let Ok((_, true)) = read_name(msg, r.owner, &mut name) else {
            return;
        };
        let ttl = r.ttl;
        match (r.rtype, address(msg, r)) {
            (_, Some(IpAddr::V4(addr))) => out(&Answer::A { name, addr, ttl }),
            (_, Some(IpAddr::V6(addr))) => out(&Answer::Aaaa { name, addr, ttl }),
            (TYPE_CNAME, None) => {
                let mut target = Name::empty();
                if let Ok((_, true)) = read_name(msg, r.rdata, &mut target) {
                    out(&Answer::Cname { name, target, ttl });
                }
            }
            _ => {}
        }
    })
}

/// Splits a DNS-over-TCP message (2-byte big-endian length prefix) into its payload.
pub(super) fn tcp_payload(msg: &[u8]) -> Result<&[u8], DnsError> {
    let len = usize::from(u16_at(msg, 0)?);
    match msg.get(2..) {
        Some(rest) if rest.len() == len => Ok(rest),
        Some(rest) if rest.len() < len => Err(DnsError::Truncated),
        _ => Err(DnsError::BadLength),
    }
}

/// [`parse_response`] for a DNS-over-TCP message: a 2-byte length prefix that must
/// match the rest of `msg` exactly, then the message.
pub fn parse_tcp(msg: &[u8], out: &mut impl FnMut(&Answer)) -> Result<(), DnsError> {
    parse_response(tcp_payload(msg)?, out)
}
