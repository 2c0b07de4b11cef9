//! Learning IP → host name from DNS answers, inside a signal handler.
//!
//! seccomp sees IP addresses only, while policies name hosts. The shield traps
//! `recvfrom`/`recvmsg` when a source address is requested, and when a datagram comes
//! from port 53 of a configured resolver it feeds the payload to
//! [`HostTable::learn_from_response`]. At `connect` time [`HostTable::lookup`] gives the
//! names the destination IP was learned under.
//!
//! # Async-signal safety
//!
//! Everything in this module except the `Debug` / `Display` impls is usable from a
//! SIGSYS handler:
//!
//! * no allocation (a test with a counting global allocator proves it for
//!   [`parse_response`], [`HostTable::learn_from_response`] and [`HostTable::lookup`]);
//! * no locks: the table is a set-associative array of slots, each guarded by a
//!   sequence lock made of atomics. A writer claims a slot with one compare-and-swap and
//!   *skips* (counting [`HostTable::dropped`]) when another writer holds it, so a
//!   handler that interrupts a writer on its own thread never waits for it. Readers
//!   retry a torn read a bounded number of times, then skip that slot;
//! * no panics on any input (bounds are checked everywhere; the parser is fuzzed);
//! * bounded work: at most [`MAX_POINTER_HOPS`] compression pointers per name, at most
//!   [`MAX_RECORDS`] answer records per message, at most [`MAX_CNAMES`] CNAME records
//!   followed per response, and a lookup or insert visits only the
//!   [`WAYS`] slots of one set;
//! * small stack: a few [`Name`]s (256 bytes each); CNAME chains are kept as 16-bit
//!   message offsets, not copies of names.
//!
//! # Trust
//!
//! Only the answers reachable from the question name through the CNAME chain are
//! learned. An answer record for an unrelated owner name (say, a response to a query for
//! `evil.example` that also "answers" `s3.amazonaws.com A 6.6.6.6`) is ignored. The
//! caller must still only feed responses from the configured resolvers.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

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

/// The shortest time an entry is kept, in seconds, whatever the record's TTL says
/// (a 0 s TTL must still cover the `connect` that follows the lookup).
pub const MIN_TTL: u32 = 5;

/// The longest time an entry is kept, in seconds (one day), whatever the record's TTL
/// says.
pub const MAX_TTL: u32 = 86_400;

/// Slots per set of a [`HostTable`]: the most names one address can have at once.
pub const WAYS: usize = 8;

const HEADER_LEN: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// A host name: lowercase ASCII letters, digits, `-` and `_`, dot-separated, with no
/// trailing dot. The root name is empty. Fixed size, so it lives on the stack.
#[derive(Clone, Copy)]
pub struct Name {
    buf: [u8; MAX_NAME],
    len: u8,
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

fn is_name_byte(b: u8) -> bool {
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
fn read_name(msg: &[u8], off: usize, out: &mut Name) -> Result<(usize, bool), DnsError> {
    *out = Name::empty();
    let mut ok = true;
    let end = walk_name(msg, off, |l| ok = ok && out.push_label(l))?;
    if !ok {
        *out = Name::empty();
    }
    Ok((end, ok))
}

/// Whether two (already validated) wire names in `msg` are equal, ignoring ASCII case.
fn names_equal(msg: &[u8], a: usize, b: usize) -> bool {
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
struct Raw {
    owner: usize,
    rtype: u16,
    ttl: u32,
    rdata: usize,
    rdlen: usize,
}

/// Checks the header and returns (question count, answer count).
fn header(msg: &[u8]) -> Result<(u16, u16), DnsError> {
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
fn walk(msg: &[u8], mut rec: impl FnMut(&Raw)) -> Result<(), DnsError> {
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

fn address(msg: &[u8], r: &Raw) -> Option<IpAddr> {
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
fn tcp_payload(msg: &[u8]) -> Result<&[u8], DnsError> {
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

/// One slot: a sequence lock over (address, name, expiry), all atomics.
struct Slot {
    /// Even: stable; odd: a writer holds the slot.
    seq: AtomicU32,
    /// bits 0..8: family (0 empty, 4, 6); bits 8..16: name length.
    meta: AtomicU32,
    addr: [AtomicU32; 4],
    /// Absolute expiry in the caller's seconds; 0 = empty.
    expires: AtomicU64,
    name: [AtomicU64; 32],
}

impl Slot {
    const fn new() -> Self {
        Slot {
            seq: AtomicU32::new(0),
            meta: AtomicU32::new(0),
            addr: [const { AtomicU32::new(0) }; 4],
            expires: AtomicU64::new(0),
            name: [const { AtomicU64::new(0) }; 32],
        }
    }
}

/// The key of an address: family and four words.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    family: u8,
    words: [u32; 4],
}

impl Key {
    /// IPv4-mapped IPv6 addresses are folded to IPv4, so a lookup of `::ffff:a.b.c.d`
    /// finds what an A record taught.
    fn of(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V4(a) => Key {
                family: 4,
                words: [u32::from(a), 0, 0, 0],
            },
            IpAddr::V6(a) => {
                let o = a.octets();
                let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
                Key {
                    family: 6,
                    words: [w(0), w(4), w(8), w(12)],
                }
            }
        }
    }

    fn set(&self, n: usize) -> usize {
        // FNV-1a over the words, then a multiplicative mix.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(self.family);
        for w in self.words {
            h = (h ^ u64::from(w)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        ((h >> 32) as usize) % n
    }
}

/// What a consistent read of a slot saw.
struct Snapshot {
    key: Key,
    expires: u64,
    name: Name,
}

/// How many times a reader retries a slot a writer is changing before skipping it.
const READ_RETRIES: usize = 4;

/// A bounded, fixed-size IP → name table with TTLs, safe to use from signal handlers
/// and many threads at once.
///
/// `N` is the number of entries (a multiple of [`WAYS`], at least [`WAYS`]; 1024 is a
/// good size: about 300 KiB). Entries are grouped in sets of [`WAYS`] slots chosen by
/// a hash of the address, so one address holds at most [`WAYS`] names, and a full set
/// evicts its expired entries first, then the one closest to expiry.
///
/// Times are whole seconds of a monotonic clock chosen by the caller (e.g.
/// `CLOCK_MONOTONIC`), passed as `now_secs`. An entry lives for its record's TTL
/// clamped to [`MIN_TTL`]..=[`MAX_TTL`].
///
/// Every method is lock-free and allocation-free, and therefore async-signal-safe.
/// Writers that find a slot being written skip the insert and count it in
/// [`dropped`](Self::dropped) rather than wait. Two racing inserts of the same pair
/// may leave it in two slots; [`lookup`](Self::lookup) then reports it twice.
///
/// An adversary who controls many DNS answers can evict entries of one set (hash
/// flooding); that makes connections to the evicted names fail closed, not open.
pub struct HostTable<const N: usize> {
    slots: [Slot; N],
    dropped: AtomicU64,
}

impl<const N: usize> Default for HostTable<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> HostTable<N> {
    /// An empty table; usable in a `static`.
    ///
    /// Fails to compile (post-monomorphisation) unless `N` is a non-zero multiple of
    /// [`WAYS`].
    pub const fn new() -> Self {
        const {
            assert!(
                N >= WAYS && N.is_multiple_of(WAYS),
                "HostTable size must be a multiple of WAYS (8)"
            )
        };
        HostTable {
            slots: [const { Slot::new() }; N],
            dropped: AtomicU64::new(0),
        }
    }

    fn set_of(&self, key: &Key) -> &[Slot] {
        let set = key.set(N / WAYS);
        self.slots.get(set * WAYS..set * WAYS + WAYS).unwrap_or(&[])
    }

    /// A consistent read of `slot`, or `None` when it is empty, holds another address
    /// (when `want` is given), or stayed torn for [`READ_RETRIES`] attempts.
    fn read(slot: &Slot, want: Option<&Key>) -> Option<Snapshot> {
        for _ in 0..READ_RETRIES {
            let s1 = slot.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                continue;
            }
            let meta = slot.meta.load(Ordering::Relaxed);
            let key = Key {
                family: meta as u8,
                words: [0, 1, 2, 3].map(|i| slot.addr[i].load(Ordering::Relaxed)),
            };
            let expires = slot.expires.load(Ordering::Relaxed);
            let mismatch = expires == 0 || want.is_some_and(|w| *w != key);
            let mut name = Name::empty();
            if !mismatch {
                let len = (meta >> 8) as u8;
                for (i, w) in slot.name.iter().enumerate() {
                    let bytes = w.load(Ordering::Relaxed).to_le_bytes();
                    if let Some(dst) = name.buf.get_mut(i * 8..i * 8 + 8) {
                        dst.copy_from_slice(&bytes);
                    } else if let Some(dst) = name.buf.get_mut(i * 8..) {
                        let n = dst.len();
                        dst.copy_from_slice(&bytes[..n]);
                    }
                }
                name.len = len.min(MAX_NAME as u8);
            }
            fence(Ordering::Acquire);
            if slot.seq.load(Ordering::Relaxed) != s1 {
                continue;
            }
            if mismatch {
                return None;
            }
            // A consistent snapshot always holds a valid name (writers store only
            // valid ones); check anyway, so a logic error cannot leak bad bytes.
            if !name
                .as_bytes()
                .iter()
                .all(|&b| is_name_byte(b) || b == b'.')
            {
                return None;
            }
            return Some(Snapshot { key, expires, name });
        }
        None
    }

    /// Records that `addr` is known as `name` for `ttl` seconds from `now_secs`
    /// (clamped to [`MIN_TTL`]..=[`MAX_TTL`]). Refreshes an existing entry for the same
    /// pair. Empty names are ignored.
    ///
    /// Async-signal-safe. Skips (and counts in [`dropped`](Self::dropped)) when the
    /// chosen slot is being written by someone else.
    pub fn insert(&self, addr: IpAddr, name: &Name, ttl: u32, now_secs: u64) {
        if name.is_empty() {
            return;
        }
        let key = Key::of(addr);
        let expires = now_secs.saturating_add(u64::from(ttl.clamp(MIN_TTL, MAX_TTL)));
        let set = self.set_of(&key);
        // Same pair: refresh. Otherwise: an empty or expired slot, else the one closest
        // to expiry. Slots being written are not candidates.
        let mut victim: Option<(usize, u64)> = None;
        let mut same = None;
        for (i, slot) in set.iter().enumerate() {
            let seen = Self::read(slot, None);
            let (exp, k, n) = match &seen {
                Some(s) => (s.expires, Some(s.key), Some(&s.name)),
                None if slot.seq.load(Ordering::Relaxed) & 1 == 1 => continue,
                None => (0, None, None),
            };
            if k == Some(key) && n == Some(name) {
                same = Some(i);
                break;
            }
            let rank = if exp <= now_secs { 0 } else { exp };
            if victim.is_none_or(|(_, r)| rank < r) {
                victim = Some((i, rank));
            }
        }
        let Some(i) = same.or(victim.map(|(i, _)| i)) else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some(slot) = set.get(i) else { return };
        let s = slot.seq.load(Ordering::Relaxed);
        if s & 1 == 1
            || slot
                .seq
                .compare_exchange(s, s.wrapping_add(1), Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        fence(Ordering::Release);
        slot.meta.store(
            u32::from(key.family) | u32::from(name.len) << 8,
            Ordering::Relaxed,
        );
        for (a, w) in slot.addr.iter().zip(key.words) {
            a.store(w, Ordering::Relaxed);
        }
        slot.expires.store(expires, Ordering::Relaxed);
        for (i, w) in slot.name.iter().enumerate() {
            let mut bytes = [0u8; 8];
            if let Some(src) = name.buf.get(i * 8..(i * 8 + 8).min(MAX_NAME)) {
                bytes[..src.len()].copy_from_slice(src);
            }
            w.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
        }
        slot.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// Calls `out` with every live name learned for `addr` (an IPv4-mapped IPv6
    /// address is looked up as IPv4). Entries expire when `now_secs` reaches their
    /// expiry.
    ///
    /// Async-signal-safe: reads at most [`WAYS`] slots, each retried at most a few
    /// times when a writer is changing it.
    pub fn lookup(&self, addr: IpAddr, now_secs: u64, out: &mut impl FnMut(&Name)) {
        let key = Key::of(addr);
        for slot in self.set_of(&key) {
            if let Some(s) = Self::read(slot, Some(&key)) {
                if s.expires > now_secs {
                    out(&s.name);
                }
            }
        }
    }

    /// Inserts forgone because a slot was busy (another writer, possibly a signal
    /// handler interrupting a writer on the same thread).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Learns from one DNS response (UDP payload); returns how many (address, name)
    /// pairs were inserted.
    ///
    /// The response must have exactly one question. Starting from the question name,
    /// the CNAME chain is followed through the answers (up to [`MAX_CNAMES`] links);
    /// each A/AAAA answer whose owner is on that chain is recorded under both its owner
    /// (the canonical name) and the question name (the alias the program asked for).
    /// Answers off the chain are ignored. A malformed message teaches nothing.
    ///
    /// Async-signal-safe: no allocation, no locks, bounded work and stack.
    pub fn learn_from_response(&self, msg: &[u8], now_secs: u64) -> usize {
        self.learn(msg, now_secs).unwrap_or(0)
    }

    /// [`learn_from_response`](Self::learn_from_response) for a DNS-over-TCP message
    /// (2-byte length prefix).
    pub fn learn_from_tcp_response(&self, msg: &[u8], now_secs: u64) -> usize {
        tcp_payload(msg).map_or(0, |m| self.learn_from_response(m, now_secs))
    }

    fn learn(&self, msg: &[u8], now_secs: u64) -> Result<usize, DnsError> {
        if header(msg)?.0 != 1 {
            return Err(DnsError::QuestionCount);
        }
        let mut qname = Name::empty();
        if !read_name(msg, HEADER_LEN, &mut qname)?.1 {
            return Ok(0);
        }
        // Pass 1: validate everything and collect CNAME links as message offsets.
        let mut cnames = [(0usize, 0usize); MAX_CNAMES];
        let mut n_cnames = 0;
        walk(msg, |r| {
            if r.rtype == TYPE_CNAME {
                if let Some(c) = cnames.get_mut(n_cnames) {
                    *c = (r.owner, r.rdata);
                    n_cnames += 1;
                }
            }
        })?;
        let cnames = cnames.get(..n_cnames).unwrap_or(&[]);
        // The chain: question name, then each alias's target in turn.
        let mut chain = [0usize; MAX_CNAMES + 1];
        chain[0] = HEADER_LEN;
        let mut len = 1;
        while len < chain.len() {
            let cur = chain[len - 1];
            let next = cnames.iter().find(|&&(owner, target)| {
                names_equal(msg, owner, cur)
                    && !chain[..len].iter().any(|&c| names_equal(msg, c, target))
            });
            let Some(&(_, target)) = next else { break };
            chain[len] = target;
            len += 1;
        }
        let chain = &chain[..len];
        // Pass 2: addresses on the chain.
        let mut learned = 0;
        walk(msg, |r| {
            let Some(ip) = address(msg, r) else { return };
            if !chain.iter().any(|&c| names_equal(msg, c, r.owner)) {
                return;
            }
            let mut owner = Name::empty();
            if let Ok((_, true)) = read_name(msg, r.owner, &mut owner) {
                self.insert(ip, &owner, r.ttl, now_secs);
                learned += 1;
                if owner != qname {
                    self.insert(ip, &qname, r.ttl, now_secs);
                    learned += 1;
                }
            }
        })?;
        Ok(learned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// `api.example.com` → CNAME `edge.example.com` → A 93.184.216.34, with
    /// compression, byte for byte as a resolver sends it.
    const CAPTURED: &[u8] = &[
        0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // header
        3, b'a', b'p', b'i', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0,
        0x00, 0x01, 0x00, 0x01, // A IN
        0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00,
        0x07, // CNAME, ttl 300
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
}
