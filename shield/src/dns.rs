//! DNS (placeholder)
