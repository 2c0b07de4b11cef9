//! fnshield's test support.
//!
//! - [`emulator`]: a local AWS Lambda Runtime API on loopback that drives real
//!   function binaries and records an ordered timeline of what they do.
//! - [`dns`]: a tiny DNS responder on loopback for name-resolution tests.

pub mod dns;
pub mod emulator;
