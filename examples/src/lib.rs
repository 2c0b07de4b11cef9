//! Example functions.
