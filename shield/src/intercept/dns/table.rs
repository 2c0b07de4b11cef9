//! The IP → names table: set-associative, sequence-locked slots of atomics, with TTLs.

use super::parser::{
    address, header, is_name_byte, names_equal, read_name, tcp_payload, walk, DnsError, Name,
    HEADER_LEN, MAX_CNAMES, MAX_NAME, TYPE_CNAME,
};
use std::net::IpAddr;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// The shortest time an entry is kept, in seconds, whatever the record's TTL says
/// (a 0 s TTL must still cover the `connect` that follows the lookup).
pub const MIN_TTL: u32 = 5;

/// The longest time an entry is kept, in seconds (one day), whatever the record's TTL
/// says.
pub const MAX_TTL: u32 = 86_400;

/// Slots per set of a [`HostTable`]: the most names one address can have at once.
pub const WAYS: usize = 8;

/// One slot: a sequence lock over (address, name, expiry), all atomics.
pub(super) struct Slot {
    /// Even: stable; odd: a writer holds the slot.
    pub(super) seq: AtomicU32,
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
    pub(super) slots: [Slot; N],
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
