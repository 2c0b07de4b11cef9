//! fnshield's test support.
//!
//! - [`emulator`]: a local AWS Lambda Runtime API on loopback that drives real
//!   function binaries and records an ordered timeline of what they do.
//! - [`dns`]: a tiny DNS responder on loopback for name-resolution tests.
//! - [`sandbox`]: the `fnshield-sandbox` launcher's profiles (Lambda's sandbox, older kernels).
//! - [`watchdog`]: runs a per-case child process with a bound, so a hang fails with a message.

pub mod dns;
pub mod emulator;
pub mod sandbox;
pub mod watchdog;
