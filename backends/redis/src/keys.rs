//! Key names. Every key of a thread starts with its base `<prefix>:{<thread>}`, so all of them
//! share one hash tag (one cluster slot); the scripts derive the rest from the base:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<base>:nss` | set | the namespaces that have any key |
//! | `<base>:idx` | sorted set | `<checkpoint id><ns>` of every checkpoint, score 0 |
//! | `<base>:cp:<ns>` | hash | checkpoint id → record (JSON) |
//! | `<base>:ord:<ns>` | sorted set | checkpoint ids, score 0 (lexicographic = time order) |
//! | `<base>:blobs:<ns>` | hash | `<version><channel>` → `S<data>` or `D<base version><data>` |
//! | `<base>:writes:<ns>` | hash | `<checkpoint><task><idx>` → write |
//! | `<base>:wix:<ns>` | sorted set | the same fields, score 0, ordered |
//! | `<base>:epoch` | string | the epoch of the run that last claimed the thread |
//! | `<prefix>:threads` | sorted set | every thread id, score 0 (the one key outside a thread) |
//!
//! Checkpoint ids are UUIDv7 strings of fixed length (36), whose lexicographic order is their
//! time order, so `ZRANGEBYLEX` pages exactly and nothing parses an id as a timestamp.

use stategraph_checkpoint::ThreadId;

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The base of every key of `thread`. Braces and `%` in the id are percent-encoded, so the
    /// hash tag is exactly the thread and two ids never share a base.
    pub(crate) fn thread(&self, thread: &ThreadId) -> String {
        let mut base = String::with_capacity(self.prefix.len() + thread.as_str().len() + 4);
        base.push_str(&self.prefix);
        base.push_str(":{");
        for c in thread.as_str().chars() {
            match c {
                '%' => base.push_str("%25"),
                '{' => base.push_str("%7B"),
                '}' => base.push_str("%7D"),
                c => base.push(c),
            }
        }
        base.push('}');
        base
    }

    /// The registry of every thread id (for listings across threads).
    pub(crate) fn registry(&self) -> String {
        format!("{}:threads", self.prefix)
    }
}

/// Why `prefix` cannot be a key prefix, if it cannot.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("the key prefix must not be empty".to_owned());
    }
    if prefix.contains(['{', '}']) {
        return Err(format!(
            "the key prefix `{prefix}` must not contain `{{` or `}}`: the saver puts the thread id in the hash tag"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_are_escaped_into_the_hash_tag() {
        let keys = Keys::new("sg");
        assert_eq!(keys.thread(&ThreadId::new("a")), "sg:{a}");
        assert_eq!(keys.thread(&ThreadId::new("a}b{%")), "sg:{a%7Db%7B%25}");
        assert_ne!(
            keys.thread(&ThreadId::new("%7D")),
            keys.thread(&ThreadId::new("}"))
        );
    }

    #[test]
    fn prefixes_with_braces_are_rejected() {
        assert!(check_prefix("a{b").is_err());
        assert!(check_prefix("").is_err());
        assert!(check_prefix("stategraph").is_ok());
    }
}
