//! `MemorySaver`: checkpoints in process memory, for tests and development.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointTuple, Checkpointer, ListQuery,
    NewCheckpoint, PendingWrite,
};
use crate::ids::{CheckpointId, TaskId, ThreadId};

/// Checkpoints kept in process memory: lost when the process exits, so for tests and
/// development only. It stores the same encoded blobs, versions and writes as the durable
/// backends and answers every call with the same semantics, so a graph tested on it behaves
/// the same on SQLite or Postgres.
///
/// ```
/// # tokio_test_block_on(async {
/// use stategraph_runtime::{Checkpointer, MemorySaver, ThreadId};
/// let saver = MemorySaver::new();
/// saver.setup().await.unwrap();
/// assert!(saver.get(&ThreadId::new("t"), "", None).await.unwrap().is_none());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemorySaver {
    threads: Mutex<HashMap<ThreadId, ThreadData>>,
}

#[derive(Debug, Default)]
struct ThreadData {
    /// Checkpoints by namespace, then id (so iteration is oldest first).
    checkpoints: HashMap<String, BTreeMap<CheckpointId, Checkpoint>>,
    /// Blobs by namespace, channel and version.
    blobs: HashMap<(String, String, CheckpointId), (BlobKind, Vec<u8>)>,
    /// Writes by namespace and checkpoint, keyed by task and index.
    writes: HashMap<(String, CheckpointId), BTreeMap<(TaskId, i32), PendingWrite>>,
}

impl MemorySaver {
    /// An empty saver.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThreadId, ThreadData>> {
        // A panic while holding the lock leaves the maps consistent (every write is one insert),
        // so a poisoned lock is still safe to use.
        self.threads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ThreadData {
    fn tuple(&self, checkpoint: &Checkpoint) -> Result<CheckpointTuple, CheckpointError> {
        let mut channels = BTreeMap::new();
        for (channel, version) in &checkpoint.channel_versions {
            let mut chain = Vec::new();
            let mut at = *version;
            loop {
                let key = (checkpoint.ns.clone(), channel.clone(), at);
                let Some((kind, data)) = self.blobs.get(&key) else {
                    return Err(CheckpointError::Corrupt {
                        thread_id: checkpoint.thread_id.clone(),
                        checkpoint: checkpoint.id,
                        detail: format!("channel `{channel}` has no blob at version {at}"),
                    });
                };
                chain.push(ChannelBlob {
                    channel: channel.clone(),
                    version: at,
                    kind: *kind,
                    data: data.clone(),
                });
                match kind {
                    BlobKind::Snapshot => break,
                    BlobKind::Delta { base } => at = *base,
                }
            }
            chain.reverse();
            channels.insert(channel.clone(), chain);
        }
        let pending_writes = self
            .writes
            .get(&(checkpoint.ns.clone(), checkpoint.id))
            .map(|w| w.values().cloned().collect())
            .unwrap_or_default();
        Ok(CheckpointTuple {
            checkpoint: checkpoint.clone(),
            channels,
            pending_writes,
        })
    }
}

#[async_trait]
impl Checkpointer for MemorySaver {
    async fn setup(&self) -> Result<(), CheckpointError> {
        Ok(())
    }

    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        let threads = self.lock();
        let Some(thread) = threads.get(thread_id) else {
            return Ok(None);
        };
        let Some(checkpoints) = thread.checkpoints.get(ns) else {
            return Ok(None);
        };
        let found = match id {
            Some(id) => checkpoints.get(&id),
            None => checkpoints.values().next_back(),
        };
        found.map(|c| thread.tuple(c)).transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        let threads = self.lock();
        let Some(thread) = threads.get(&query.thread_id) else {
            return Ok(Vec::new());
        };
        let mut found: Vec<&Checkpoint> = thread
            .checkpoints
            .iter()
            .filter(|(ns, _)| query.ns.as_deref().is_none_or(|want| want == ns.as_str()))
            .flat_map(|(_, checkpoints)| checkpoints.values())
            .filter(|c| query.before.is_none_or(|before| c.id < before))
            .collect();
        found.sort_by_key(|c| std::cmp::Reverse(c.id));
        found.truncate(query.limit.unwrap_or(usize::MAX));
        found.into_iter().map(|c| thread.tuple(c)).collect()
    }

    async fn put(&self, new: NewCheckpoint) -> Result<(), CheckpointError> {
        let NewCheckpoint { checkpoint, blobs } = new;
        let mut threads = self.lock();
        let thread = threads.entry(checkpoint.thread_id.clone()).or_default();
        for blob in blobs {
            thread
                .blobs
                .entry((checkpoint.ns.clone(), blob.channel, blob.version))
                .or_insert((blob.kind, blob.data));
        }
        thread
            .checkpoints
            .entry(checkpoint.ns.clone())
            .or_default()
            .insert(checkpoint.id, checkpoint);
        Ok(())
    }

    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<(), CheckpointError> {
        let mut threads = self.lock();
        let stored = threads
            .entry(thread_id.clone())
            .or_default()
            .writes
            .entry((ns.to_owned(), id))
            .or_default();
        for write in writes {
            let key = (write.task_id, write.idx);
            if write.idx < 0 {
                stored.insert(key, write);
            } else {
                stored.entry(key).or_insert(write);
            }
        }
        Ok(())
    }

    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        self.lock().remove(thread_id);
        Ok(())
    }
}
