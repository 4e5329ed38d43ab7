//! The limits of the checkpointer contract: what every backend must accept and what every
//! backend must refuse, checked before any backend is called.
//!
//! A value inside the limits round-trips on every backend; a value outside them is refused with
//! [`CheckpointError::Limit`] naming the limit, before anything is stored. The limits come from
//! what the backends can hold (a PostgreSQL `text` or `jsonb` value cannot contain a NUL
//! character; an index entry holds a few kilobytes) and from what can be read back (the JSON
//! reader refuses values nested deeper than it recurses), so nothing is stored that cannot be
//! read again.
//!
//! | what | accepted | refused |
//! |---|---|---|
//! | thread id | 1 to [`MAX_THREAD_ID_BYTES`] bytes of UTF-8 | empty, longer, or a NUL character |
//! | namespace | 0 to [`MAX_NAMESPACE_BYTES`] bytes | longer, or a NUL character |
//! | channel, node and join names | 1 to [`MAX_NAME_BYTES`] bytes | empty, longer, or a NUL |
//! | a user metadata key | up to [`MAX_METADATA_KEY_BYTES`] bytes | longer, a NUL, or a reserved key |
//! | user metadata | strings without NUL, nested at most [`MAX_JSON_DEPTH`] levels, [`MAX_METADATA_BYTES`] encoded | anything else |
//! | channel values and writes | any bytes, nested at most [`MAX_JSON_DEPTH`] levels when JSON | deeper JSON |
//! | a checkpoint's id | greater than its parent's ([`CheckpointId::after`]) | equal or smaller |
//!
//! Every built-in backend calls these checks first, the runtime calls them before it calls a
//! backend, and the conformance kit holds a custom backend to the same line.

use super::{
    CheckpointError, CheckpointMetadata, ListQuery, NewCheckpoint, PendingWrite, ThreadQuery,
};
use crate::ids::{CheckpointId, ThreadId};

/// The longest thread id, in bytes of UTF-8.
pub const MAX_THREAD_ID_BYTES: usize = 512;
/// The longest namespace, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 512;
/// The longest channel, node or join name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// The longest user metadata key, in bytes.
pub const MAX_METADATA_KEY_BYTES: usize = 1024;
/// The largest user metadata of one checkpoint, encoded as JSON, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// The deepest nesting of arrays and objects in a stored JSON value (metadata, a channel
/// value, a write). The JSON reader recurses at most 128 levels; stored values are wrapped in
/// up to two more (a delta's list, a write's reducer tag), so this leaves room for them.
pub const MAX_JSON_DEPTH: usize = 100;

/// What a limit applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Subject {
    /// A thread id.
    ThreadId,
    /// A namespace.
    Namespace,
    /// A channel name (in versions, blobs or writes).
    Channel,
    /// A node name (in `next`, barriers, writes or metadata).
    Node,
    /// A user metadata key.
    MetadataKey,
    /// The user metadata of a checkpoint as a whole.
    Metadata,
    /// A node cache key.
    CacheKey,
    /// The value of channel `channel` (a field of the state), or of a write to it.
    Value {
        /// The channel (at most [`MAX_NAME_BYTES`] long, as checked before).
        channel: String,
    },
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::ThreadId => f.write_str("the thread id"),
            Subject::Namespace => f.write_str("the namespace"),
            Subject::Channel => f.write_str("a channel name"),
            Subject::Node => f.write_str("a node name"),
            Subject::MetadataKey => f.write_str("a user metadata key"),
            Subject::Metadata => f.write_str("the user metadata"),
            Subject::CacheKey => f.write_str("a cache key"),
            Subject::Value { channel } => write!(f, "the value of channel `{channel}`"),
        }
    }
}

/// A value outside the limits of the checkpointer contract. It never quotes the value itself,
/// which may be of any size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The value is empty where something is required.
    #[error("{0} is empty; it needs at least one character")]
    Empty(Subject),
    /// The value is longer than the limit.
    #[error("{subject} is {len} bytes long; the limit is {limit} bytes")]
    TooLong {
        /// What is too long.
        subject: Subject,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The value holds a NUL character, which PostgreSQL cannot store in text or JSON.
    #[error(
        "{subject} contains a NUL character (U+0000) at byte {at}; no checkpointer stores NUL in ids, names or metadata"
    )]
    Nul {
        /// What holds the NUL.
        subject: Subject,
        /// The byte offset of the first NUL (in the encoded JSON for metadata).
        at: usize,
    },
    /// The JSON value is nested deeper than it could be read back.
    #[error(
        "{subject} is nested more than {limit} levels deep (arrays and objects), deeper than it could be read back"
    )]
    TooDeep {
        /// What is too deep.
        subject: Subject,
        /// The limit, [`MAX_JSON_DEPTH`].
        limit: usize,
    },
    /// A checkpoint's id does not sort after its parent's, so a history listed newest first
    /// would not follow parent links. Draw it with
    /// [`CheckpointId::after`](crate::CheckpointId::after).
    #[error(
        "checkpoint {id} does not sort after its parent {parent}; draw a checkpoint's id with `CheckpointId::after(parent)`"
    )]
    IdNotAfterParent {
        /// The checkpoint's id.
        id: CheckpointId,
        /// Its parent's id.
        parent: CheckpointId,
    },
}

/// Checks a thread id.
pub fn check_thread_id(thread_id: &ThreadId) -> Result<(), LimitError> {
    let id = thread_id.as_str();
    if id.is_empty() {
        return Err(LimitError::Empty(Subject::ThreadId));
    }
    check_text(id, Subject::ThreadId, MAX_THREAD_ID_BYTES)
}

/// Checks a namespace (`""` is the root graph's).
pub fn check_namespace(ns: &str) -> Result<(), LimitError> {
    check_text(ns, Subject::Namespace, MAX_NAMESPACE_BYTES)
}

/// The longest node cache key, in bytes.
pub const MAX_CACHE_KEY_BYTES: usize = 1024;

/// Checks a node cache key: 1 to [`MAX_CACHE_KEY_BYTES`] bytes, without NUL.
pub fn check_cache_key(key: &str) -> Result<(), LimitError> {
    check_name_within(key, Subject::CacheKey, MAX_CACHE_KEY_BYTES)
}

fn check_name(name: &str, subject: Subject) -> Result<(), LimitError> {
    check_name_within(name, subject, MAX_NAME_BYTES)
}

fn check_name_within(name: &str, subject: Subject, limit: usize) -> Result<(), LimitError> {
    if name.is_empty() {
        return Err(LimitError::Empty(subject));
    }
    check_text(name, subject, limit)
}

fn check_text(text: &str, subject: Subject, limit: usize) -> Result<(), LimitError> {
    if text.len() > limit {
        return Err(LimitError::TooLong {
            subject,
            len: text.len(),
            limit,
        });
    }
    match text.bytes().position(|b| b == 0) {
        Some(at) => Err(LimitError::Nul { subject, at }),
        None => Ok(()),
    }
}

/// Checks the metadata of a checkpoint: node names, namespaces and the user's keys.
pub fn check_metadata(metadata: &CheckpointMetadata) -> Result<(), CheckpointError> {
    for names in metadata.writes.keys() {
        check_name(names, Subject::Node)?;
    }
    for ns in metadata.parents.keys() {
        check_namespace(ns)?;
    }
    check_user_metadata(&metadata.user)
}

/// Checks user metadata: keys, NUL characters, depth and size. The reserved keys are checked
/// too ([`CheckpointError::ReservedMetadataKey`]).
pub fn check_user_metadata(
    user: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), CheckpointError> {
    if user.is_empty() {
        return Ok(());
    }
    for key in user.keys() {
        check_text(key, Subject::MetadataKey, MAX_METADATA_KEY_BYTES)?;
        if CheckpointMetadata::RESERVED_KEYS.contains(&key.as_str()) {
            return Err(CheckpointError::ReservedMetadataKey(key.clone()));
        }
    }
    let encoded = serde_json::to_vec(user).expect("a JSON map encodes");
    if encoded.len() > MAX_METADATA_BYTES {
        return Err(LimitError::TooLong {
            subject: Subject::Metadata,
            len: encoded.len(),
            limit: MAX_METADATA_BYTES,
        }
        .into());
    }
    // A NUL can only appear escaped in JSON text.
    if let Some(at) = encoded.windows(6).position(|w| w == b"\\u0000") {
        return Err(LimitError::Nul {
            subject: Subject::Metadata,
            at,
        }
        .into());
    }
    // The map itself is one level.
    if json_depth_exceeds(&encoded, MAX_JSON_DEPTH + 1) {
        return Err(LimitError::TooDeep {
            subject: Subject::Metadata,
            limit: MAX_JSON_DEPTH,
        }
        .into());
    }
    Ok(())
}

/// Checks encoded value bytes of channel `channel`: JSON nested deeper than
/// [`MAX_JSON_DEPTH`] is refused (bytes that are not JSON are the caller's business).
pub fn check_value(channel: &str, bytes: &[u8]) -> Result<(), LimitError> {
    if json_depth_exceeds(bytes, MAX_JSON_DEPTH) {
        return Err(LimitError::TooDeep {
            subject: Subject::Value {
                channel: channel.to_owned(),
            },
            limit: MAX_JSON_DEPTH,
        });
    }
    Ok(())
}

/// Checks everything a put stores: ids, names, metadata and blobs.
pub fn check_put(new: &NewCheckpoint) -> Result<(), CheckpointError> {
    let checkpoint = &new.checkpoint;
    check_thread_id(&checkpoint.thread_id)?;
    check_namespace(&checkpoint.ns)?;
    if let Some(parent) = checkpoint.parent_id
        && parent >= checkpoint.id
    {
        return Err(LimitError::IdNotAfterParent {
            id: checkpoint.id,
            parent,
        }
        .into());
    }
    for channel in checkpoint.channel_versions.keys() {
        check_name(channel, Subject::Channel)?;
    }
    for node in &checkpoint.next {
        check_name(node, Subject::Node)?;
    }
    for (join, sources) in &checkpoint.barriers {
        check_name(join, Subject::Node)?;
        for source in sources {
            check_name(source, Subject::Node)?;
        }
    }
    check_metadata(&checkpoint.metadata)?;
    for blob in &new.blobs {
        check_name(&blob.channel, Subject::Channel)?;
        // A delta is a list of writes: one level more than the writes it holds.
        let limit = match blob.kind {
            super::BlobKind::Snapshot => MAX_JSON_DEPTH,
            super::BlobKind::Delta { .. } => MAX_JSON_DEPTH + 1,
        };
        if json_depth_exceeds(&blob.data, limit) {
            return Err(LimitError::TooDeep {
                subject: Subject::Value {
                    channel: blob.channel.clone(),
                },
                limit: MAX_JSON_DEPTH,
            }
            .into());
        }
    }
    Ok(())
}

/// Checks a batch of pending writes for `thread_id` in `ns`.
pub fn check_writes(
    thread_id: &ThreadId,
    ns: &str,
    writes: &[PendingWrite],
) -> Result<(), CheckpointError> {
    check_thread_id(thread_id)?;
    check_namespace(ns)?;
    for write in writes {
        check_name(&write.node, Subject::Node)?;
        check_name(&write.channel, Subject::Channel)?;
        check_value(&write.channel, &write.value)?;
    }
    Ok(())
}

/// Checks the ids of a listing; filters are queries and never refused (a filter no stored
/// metadata can match matches nothing).
pub fn check_query(query: &ListQuery) -> Result<(), LimitError> {
    if let Some(thread_id) = &query.thread_id {
        check_thread_id(thread_id)?;
    }
    if let Some(ns) = &query.ns {
        check_namespace(ns)?;
    }
    Ok(())
}

/// Checks the cursor of a thread listing (the last thread id of the previous page).
pub fn check_thread_query(query: &ThreadQuery) -> Result<(), LimitError> {
    match &query.after {
        Some(after) => check_text(after.as_str(), Subject::ThreadId, MAX_THREAD_ID_BYTES),
        None => Ok(()),
    }
}

/// Whether JSON text nests arrays and objects more than `limit` levels deep. Brackets inside
/// strings do not count. Bytes that are not JSON are scanned the same way; the answer is then
/// meaningless but harmless.
pub fn json_depth_exceeds(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'"' => {
                // Skip the string: to the next quote not escaped by a backslash.
                at += 1;
                while at < bytes.len() {
                    match bytes[at] {
                        b'\\' => at += 2,
                        b'"' => break,
                        _ => at += 1,
                    }
                }
            }
            _ => {}
        }
        at += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Vec<u8> {
        let mut text = "[".repeat(depth);
        text.push_str(&"]".repeat(depth));
        text.into_bytes()
    }

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert!(!json_depth_exceeds(b"1", 0));
        assert!(json_depth_exceeds(b"[]", 0));
        assert!(!json_depth_exceeds(br#"{"a":[1,{"b":"[[[[\"[["}]}"#, 3));
        assert!(json_depth_exceeds(br#"{"a":[1,{"b":[]}]}"#, 3));
        assert!(!json_depth_exceeds(&nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH));
        assert!(json_depth_exceeds(
            &nested(MAX_JSON_DEPTH + 1),
            MAX_JSON_DEPTH
        ));
    }

    #[test]
    fn the_reader_reads_what_the_limit_lets_through() {
        // The deepest stored value, wrapped as a delta of writes, still decodes.
        let value = String::from_utf8(nested(MAX_JSON_DEPTH)).unwrap();
        let delta = format!("[{{\"reduce\":{value}}}]");
        serde_json::from_str::<serde_json::Value>(&delta).expect("readable at the limit");
    }

    #[test]
    fn thread_ids() {
        assert_eq!(
            check_thread_id(&ThreadId::new("")),
            Err(LimitError::Empty(Subject::ThreadId))
        );
        assert!(check_thread_id(&ThreadId::new("é".repeat(MAX_THREAD_ID_BYTES / 2))).is_ok());
        assert!(matches!(
            check_thread_id(&ThreadId::new("x".repeat(MAX_THREAD_ID_BYTES + 1))),
            Err(LimitError::TooLong { len: 513, .. })
        ));
        assert_eq!(
            check_thread_id(&ThreadId::new("a\0b")),
            Err(LimitError::Nul {
                subject: Subject::ThreadId,
                at: 1
            })
        );
    }

    #[test]
    fn messages_do_not_quote_the_value() {
        let long = "x".repeat(1 << 20);
        let error = check_thread_id(&ThreadId::new(long)).unwrap_err();
        assert!(error.to_string().len() < 200, "{error}");
    }
}
