//! DNS responder (todo)
