//! A thread as its log has built it so far: the checkpoints, blobs, writes and owner epoch,
//! with the contract's rules for what a new entry may do to them.

use std::collections::{BTreeMap, HashMap};

use stategraph_runtime::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointTuple, Epoch,
    NewCheckpoint, PendingWrite, PutMode, TaskId, ThreadId, ThreadInfo, walk_chain,
};

use crate::entry::{Entry, Kind};

type BlobKey = (String, String, CheckpointId);

/// One thread's contents.
#[derive(Debug, Default, Clone)]
pub(crate) struct View {
    /// Checkpoints by namespace, then id (so iteration is oldest first).
    checkpoints: BTreeMap<String, BTreeMap<CheckpointId, Checkpoint>>,
    /// Blobs by namespace, channel and version.
    blobs: HashMap<BlobKey, (BlobKind, Vec<u8>)>,
    /// Writes by namespace and checkpoint, keyed by task and index.
    writes: HashMap<(String, CheckpointId), BTreeMap<(TaskId, i32), PendingWrite>>,
    /// The epoch of the thread's owner.
    pub(crate) epoch: Option<Epoch>,
}

impl View {
    /// Applies one entry read from (or just added to) the log.
    pub(crate) fn apply(&mut self, entry: Entry) {
        match entry.kind {
            Kind::Claim => self.epoch = entry.epoch,
            Kind::Seal | Kind::Base => {
                *self = View {
                    epoch: entry.epoch,
                    ..View::default()
                };
                self.add(entry);
            }
            Kind::Put | Kind::Writes | Kind::Import => self.add(entry),
        }
    }

    fn add(&mut self, entry: Entry) {
        for (ns, blob) in entry.blobs {
            self.blobs
                .entry((ns, blob.channel, blob.version))
                .or_insert((blob.kind, blob.data));
        }
        for checkpoint in entry.checkpoints {
            self.checkpoints
                .entry(checkpoint.ns.clone())
                .or_default()
                .insert(checkpoint.id, checkpoint);
        }
        for (ns, id, write) in entry.writes {
            let stored = self.writes.entry((ns, id)).or_default();
            let key = (write.task_id, write.idx);
            if write.idx < 0 {
                stored.insert(key, write);
            } else {
                stored.entry(key).or_insert(write);
            }
        }
    }

    /// Whether the thread has no checkpoint.
    pub(crate) fn is_empty(&self) -> bool {
        self.checkpoints.values().all(BTreeMap::is_empty)
    }

    /// The latest checkpoint of namespace `ns`.
    pub(crate) fn latest(&self, ns: &str) -> Option<&Checkpoint> {
        self.checkpoints
            .get(ns)
            .and_then(|c| c.values().next_back())
    }

    /// Checkpoint `id` of namespace `ns`.
    pub(crate) fn checkpoint(&self, ns: &str, id: CheckpointId) -> Option<&Checkpoint> {
        self.checkpoints.get(ns).and_then(|c| c.get(&id))
    }

    /// How many blobs the thread holds.
    pub(crate) fn blob_count(&self) -> usize {
        self.blobs.len()
    }

    /// Every checkpoint, in every namespace.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Checkpoint> {
        self.checkpoints.values().flat_map(BTreeMap::values)
    }

    /// The entry that stores `new`, if the thread as it stands allows it: the writer's epoch
    /// is the owner's, and the parent is the latest checkpoint (advance) or exists (fork).
    pub(crate) fn put_entry(&self, new: &NewCheckpoint) -> Result<Entry, CheckpointError> {
        let checkpoint = &new.checkpoint;
        CheckpointError::check_fence(&checkpoint.thread_id, new.epoch, self.epoch)?;
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
        let mut entry = Entry::new(Kind::Put);
        entry.checkpoints.push(checkpoint.clone());
        entry.blobs = new
            .blobs
            .iter()
            .filter(|b| {
                !self
                    .blobs
                    .contains_key(&(checkpoint.ns.clone(), b.channel.clone(), b.version))
            })
            .map(|b| (checkpoint.ns.clone(), b.clone()))
            .collect();
        Ok(entry)
    }

    /// The entry that stores a task's `writes`, if `epoch` is still the owner's.
    pub(crate) fn writes_entry(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: &[PendingWrite],
        epoch: Option<Epoch>,
    ) -> Result<Entry, CheckpointError> {
        CheckpointError::check_fence(thread_id, epoch, self.epoch)?;
        let mut entry = Entry::new(Kind::Writes);
        entry.writes = writes
            .iter()
            .map(|w| (ns.to_owned(), id, w.clone()))
            .collect();
        Ok(entry)
    }

    /// Everything the thread holds, as one entry of `kind` (a seal, a base or an import),
    /// with its checkpoints moved to thread `thread_id`.
    pub(crate) fn dump(&self, kind: Kind, thread_id: &ThreadId) -> Entry {
        let mut entry = Entry::new(kind);
        entry.epoch = self.epoch;
        entry.checkpoints = self
            .all()
            .map(|c| Checkpoint {
                thread_id: thread_id.clone(),
                ..c.clone()
            })
            .collect();
        entry.blobs = self
            .blobs
            .iter()
            .map(|((ns, channel, version), (kind, data))| {
                (
                    ns.clone(),
                    ChannelBlob {
                        channel: channel.clone(),
                        version: *version,
                        kind: *kind,
                        data: data.clone(),
                    },
                )
            })
            .collect();
        entry.writes = self
            .writes
            .iter()
            .flat_map(|((ns, id), writes)| writes.values().map(|w| (ns.clone(), *id, w.clone())))
            .collect();
        entry
    }

    /// The thread with only the latest checkpoint of each namespace, its writes and the blobs
    /// it needs.
    pub(crate) fn keep_latest(&self) -> Result<View, CheckpointError> {
        let mut kept = View {
            epoch: self.epoch,
            ..View::default()
        };
        for checkpoints in self.checkpoints.values() {
            let Some(latest) = checkpoints.values().next_back() else {
                continue;
            };
            for (_, keys) in self.chain_keys(latest)? {
                for key in keys {
                    kept.blobs.insert(key.clone(), self.blobs[&key].clone());
                }
            }
            let key = (latest.ns.clone(), latest.id);
            if let Some(writes) = self.writes.get(&key) {
                kept.writes.insert(key, writes.clone());
            }
            kept.checkpoints
                .entry(latest.ns.clone())
                .or_default()
                .insert(latest.id, latest.clone());
        }
        Ok(kept)
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

    /// The writes saved against checkpoint `id` of `ns`, by task and index.
    fn pending(&self, ns: &str, id: CheckpointId) -> Vec<PendingWrite> {
        self.writes
            .get(&(ns.to_owned(), id))
            .map(|w| w.values().cloned().collect())
            .unwrap_or_default()
    }

    /// `checkpoint` with its channel blobs and pending writes.
    pub(crate) fn tuple(
        &self,
        checkpoint: &Checkpoint,
    ) -> Result<CheckpointTuple, CheckpointError> {
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

    /// The thread as `list_threads` describes it, with its head's metadata; `None` when it
    /// has no root checkpoint.
    pub(crate) fn info(&self) -> Option<(ThreadInfo, &Checkpoint)> {
        let head = self.latest("")?;
        let pending = self.pending("", head.id);
        Some((ThreadInfo::from_head(head, &pending), head))
    }
}
