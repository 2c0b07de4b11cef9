//! fnshield
#![deny(unsafe_code)]
pub mod arch;
pub mod dns;
pub mod filter;
