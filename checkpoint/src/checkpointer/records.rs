//! One thread's checkpoints, blobs and pending writes held in memory, with the contract's rules
//! for adding to them and reading them back.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The maps' hasher: foldhash, seeded per process, several times faster than the standard
/// SipHash on the short keys here (a namespace, a channel, an id), which a saver hashes a few
/// times per checkpoint.
type Hasher = foldhash::fast::RandomState;

/// The pending writes of one checkpoint, keyed by task and index.
type TaskWrites = BTreeMap<(TaskId, i32), PendingWrite>;

use super::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointMetadata, CheckpointTuple,
    NewCheckpoint, PendingWrite, PutMode, ThreadInfo, walk_chain,
};
use crate::ids::{CheckpointId, TaskId, ThreadId};

/// A blob's key: namespace, channel, version.
type BlobKey = (String, String, CheckpointId);

/// One thread as [`MemorySaver`](super::MemorySaver) holds it: checkpoints by namespace and id,
/// the blobs they wrote, and the writes saved against each. Public for backends that keep
/// threads in memory too — a log replayed on read, a cache in front of a remote store — so
/// they add and read exactly as the contract says: a blob already stored is kept, a write at
/// a negative index replaces the task's earlier one, the latest checkpoint of a namespace is
/// the one with the greatest id, and each channel is rebuilt from its snapshot and deltas.
///
/// Ownership epochs are not part of it: a backend keeps the thread's epoch beside it.
///
/// ```
/// use stategraph_checkpoint::{ThreadId, ThreadRecords};
/// let records = ThreadRecords::default();
/// assert!(records.is_empty());
/// assert!(records.latest("").is_none());
/// ```
#[derive(Debug, Default, Clone)]
pub struct ThreadRecords {
    /// Checkpoints by namespace, then id (so iteration is oldest first).
    checkpoints: BTreeMap<String, BTreeMap<CheckpointId, Checkpoint>>,
    /// Blobs by namespace, channel and version.
    blobs: HashMap<BlobKey, (BlobKind, Vec<u8>), Hasher>,
    /// Writes by namespace and checkpoint, keyed by task and index.
    writes: HashMap<(String, CheckpointId), TaskWrites, Hasher>,
}

impl ThreadRecords {
    /// Whether the thread has no checkpoint.
    pub fn is_empty(&self) -> bool {
        self.checkpoints.values().all(BTreeMap::is_empty)
    }

    /// The latest checkpoint of namespace `ns`: the one with the greatest id.
    pub fn latest(&self, ns: &str) -> Option<&Checkpoint> {
        self.checkpoints
            .get(ns)
            .and_then(|c| c.values().next_back())
    }

    /// Checkpoint `id` of namespace `ns`.
    pub fn checkpoint(&self, ns: &str, id: CheckpointId) -> Option<&Checkpoint> {
        self.checkpoints.get(ns).and_then(|c| c.get(&id))
    }

    /// Every checkpoint, namespace by namespace, oldest first within each.
    pub fn checkpoints(&self) -> impl Iterator<Item = &Checkpoint> {
        self.checkpoints.values().flat_map(BTreeMap::values)
    }

    /// Every blob, with its namespace, in no particular order.
    pub fn blobs(&self) -> impl Iterator<Item = (&str, ChannelBlob)> {
        self.blobs
            .iter()
            .map(|((ns, channel, version), (kind, data))| {
                let blob = ChannelBlob {
                    channel: channel.clone(),
                    version: *version,
                    kind: *kind,
                    data: data.clone(),
                };
                (ns.as_str(), blob)
            })
    }

    /// Every pending write, with its namespace and checkpoint, in no particular order.
    pub fn writes(&self) -> impl Iterator<Item = (&str, CheckpointId, &PendingWrite)> {
        self.writes
            .iter()
            .flat_map(|((ns, id), writes)| writes.values().map(move |w| (ns.as_str(), *id, w)))
    }

    /// Whether the blob of `channel` at `version` in `ns` is stored.
    pub fn has_blob(&self, ns: &str, channel: &str, version: CheckpointId) -> bool {
        self.blobs
            .contains_key(&(ns.to_owned(), channel.to_owned(), version))
    }

    /// Whether `new` may be stored as it stands: an advance must continue the latest checkpoint
    /// of its namespace ([`CheckpointError::Conflict`]), a fork must name a parent that exists
    /// ([`CheckpointError::MissingParent`]). Epochs are the caller's to check.
    pub fn check_parent(&self, new: &NewCheckpoint) -> Result<(), CheckpointError> {
        let checkpoint = &new.checkpoint;
        match new.mode {
            PutMode::Advance => {
                let latest = self.latest(&checkpoint.ns).map(|c| c.id);
                if checkpoint.parent_id != latest {
                    return Err(CheckpointError::Conflict {
                        thread_id: checkpoint.thread_id.clone(),
                        ns: checkpoint.ns.clone(),
                        expected: checkpoint.parent_id,
                        latest,
                    });
                }
            }
            PutMode::Fork => {
                if let Some(parent) = checkpoint.parent_id
                    && self.checkpoint(&checkpoint.ns, parent).is_none()
                {
                    return Err(CheckpointError::MissingParent {
                        thread_id: checkpoint.thread_id.clone(),
                        parent,
                    });
                }
            }
        }
        Ok(())
    }

    /// Stores a blob of namespace `ns`, unless one with its channel and version is stored:
    /// that one is kept.
    pub fn insert_blob(&mut self, ns: &str, blob: ChannelBlob) {
        self.blobs
            .entry((ns.to_owned(), blob.channel, blob.version))
            .or_insert((blob.kind, blob.data));
    }

    /// Stores `checkpoint` and the blobs it wrote, without checking its parent (see
    /// [`check_parent`](Self::check_parent)).
    pub fn insert_checkpoint(&mut self, checkpoint: Checkpoint, blobs: Vec<ChannelBlob>) {
        for blob in blobs {
            self.insert_blob(&checkpoint.ns, blob);
        }
        self.checkpoints
            .entry(checkpoint.ns.clone())
            .or_default()
            .insert(checkpoint.id, checkpoint);
    }

    /// Stores writes against checkpoint `id` of `ns`: a write at a negative index replaces the
    /// task's earlier one at that index; any other is kept only if the task has none there.
    pub fn insert_writes(
        &mut self,
        ns: &str,
        id: CheckpointId,
        writes: impl IntoIterator<Item = PendingWrite>,
    ) {
        let stored = self.writes.entry((ns.to_owned(), id)).or_default();
        for write in writes {
            let key = (write.task_id, write.idx);
            if write.idx < 0 {
                stored.insert(key, write);
            } else {
                stored.entry(key).or_insert(write);
            }
        }
    }

    /// The writes saved against checkpoint `id` of `ns`, by task and index.
    pub fn pending(&self, ns: &str, id: CheckpointId) -> Vec<PendingWrite> {
        self.writes
            .get(&(ns.to_owned(), id))
            .map(|w| w.values().cloned().collect())
            .unwrap_or_default()
    }

    /// `checkpoint` with the blobs that rebuild each channel (snapshot first) and its pending
    /// writes; [`CheckpointError::Corrupt`] if a chain is broken.
    pub fn tuple(&self, checkpoint: &Checkpoint) -> Result<CheckpointTuple, CheckpointError> {
        let mut channels = BTreeMap::new();
        for (channel, keys) in self.chain_keys(checkpoint)? {
            let blobs = keys
                .into_iter()
                .map(|key| {
                    let (kind, data) = &self.blobs[&key];
                    ChannelBlob {
                        channel: key.1,
                        version: key.2,
                        kind: *kind,
                        data: data.clone(),
                    }
                })
                .collect();
            channels.insert(channel, blobs);
        }
        Ok(CheckpointTuple {
            checkpoint: checkpoint.clone(),
            channels,
            pending_writes: self.pending(&checkpoint.ns, checkpoint.id),
        })
    }

    /// The thread as [`list_threads`](super::Checkpointer::list_threads) describes it, with its
    /// head's metadata; `None` without a root checkpoint.
    pub fn info(&self) -> Option<(ThreadInfo, &CheckpointMetadata)> {
        let head = self.latest("")?;
        let pending = self.pending("", head.id);
        Some((ThreadInfo::from_head(head, &pending), &head.metadata))
    }

    /// Keeps only the latest checkpoint of each namespace, with its writes and the blobs it
    /// needs. Returns whether anything was dropped.
    pub fn keep_latest(&mut self) -> Result<bool, CheckpointError> {
        let mut kept_blobs = BTreeSet::new();
        let mut kept = BTreeSet::new();
        for checkpoints in self.checkpoints.values() {
            if let Some(latest) = checkpoints.values().next_back() {
                for (_, keys) in self.chain_keys(latest)? {
                    kept_blobs.extend(keys);
                }
                kept.insert((latest.ns.clone(), latest.id));
            }
        }
        let before = (
            self.checkpoints().count(),
            self.blobs.len(),
            self.writes.len(),
        );
        for checkpoints in self.checkpoints.values_mut() {
            checkpoints.retain(|id, c| kept.contains(&(c.ns.clone(), *id)));
        }
        self.blobs.retain(|key, _| kept_blobs.contains(key));
        self.writes.retain(|key, _| kept.contains(key));
        Ok(before
            != (
                self.checkpoints().count(),
                self.blobs.len(),
                self.writes.len(),
            ))
    }

    /// Moves every checkpoint to thread `thread_id` (for a copy).
    pub fn set_thread(&mut self, thread_id: &ThreadId) {
        for checkpoints in self.checkpoints.values_mut() {
            for checkpoint in checkpoints.values_mut() {
                checkpoint.thread_id = thread_id.clone();
            }
        }
    }

    /// The blob keys that rebuild `checkpoint`'s channels: each version and its delta bases.
    fn chain_keys(
        &self,
        checkpoint: &Checkpoint,
    ) -> Result<Vec<(String, Vec<BlobKey>)>, CheckpointError> {
        let mut chains = Vec::with_capacity(checkpoint.channel_versions.len());
        for (channel, version) in &checkpoint.channel_versions {
            let key = |at| (checkpoint.ns.clone(), channel.clone(), at);
            let links = walk_chain(checkpoint, channel, *version, |at| {
                Ok(self.blobs.get(&key(at)).map(|(kind, _)| (*kind, ())))
            })?;
            chains.push((
                channel.clone(),
                links.into_iter().map(|(at, _, ())| key(at)).collect(),
            ));
        }
        Ok(chains)
    }
}
