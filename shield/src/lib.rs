//! fnshield
#![deny(unsafe_code)]
pub mod validate;
