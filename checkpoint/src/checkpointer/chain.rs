//! Delta chains: how a backend rebuilds a channel's value from the blobs it stores.

use std::collections::HashSet;

use super::{BlobKind, Checkpoint, CheckpointError};
use crate::ids::CheckpointId;

/// Walks `checkpoint`'s channel `channel` from `version` back to its snapshot, asking `find` for
/// the blob stored at each version, and returns the links oldest first (snapshot, then
/// deltas) with what `find` returned for each. A missing link, or a chain that loops back on
/// itself, is [`CheckpointError::Corrupt`] naming the thread, checkpoint and channel.
///
/// Every backend that stores blobs by (thread, namespace, channel, version) uses this, so the
/// chain rules are written once.
pub fn walk_chain<T>(
    checkpoint: &Checkpoint,
    channel: &str,
    version: CheckpointId,
    mut find: impl FnMut(CheckpointId) -> Result<Option<(BlobKind, T)>, CheckpointError>,
) -> Result<Vec<(CheckpointId, BlobKind, T)>, CheckpointError> {
    let corrupt =
        |detail: String| CheckpointError::corrupt(&checkpoint.thread_id, checkpoint.id, detail);
    let mut chain = Vec::new();
    let mut seen = HashSet::new();
    let mut at = version;
    loop {
        if !seen.insert(at) {
            return Err(corrupt(format!(
                "the delta chain of channel `{channel}` loops back on itself at version {at}"
            )));
        }
        let Some((kind, found)) = find(at)? else {
            return Err(corrupt(format!(
                "channel `{channel}` has no blob at version {at}"
            )));
        };
        chain.push((at, kind, found));
        match kind {
            BlobKind::Snapshot => break,
            BlobKind::Delta { base } => at = base,
        }
    }
    chain.reverse();
    Ok(chain)
}
