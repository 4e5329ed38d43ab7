//! Object names made from user text (a thread id, a cache key): the SHA-256 of the text in
//! hex, so any text makes a short name that is valid on every store.

use sha2::{Digest, Sha256};

/// The name of the object or directory for `text`.
pub(crate) fn hashed(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
