//! fnshield
#![deny(unsafe_code)]
