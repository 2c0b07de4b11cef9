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

mod parser;
mod table;
#[cfg(test)]
mod tests;

pub use parser::{
    parse_response, parse_tcp, Answer, DnsError, Name, MAX_CNAMES, MAX_NAME, MAX_POINTER_HOPS,
    MAX_RECORDS,
};
pub use table::{HostTable, MAX_TTL, MIN_TTL, WAYS};
