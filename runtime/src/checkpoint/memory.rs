//! `MemorySaver`: checkpoints in process memory, for tests and development.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointTuple, Checkpointer, ListQuery,
    NewCheckpoint, PendingWrite, Prune, PutMode, ThreadInfo, ThreadQuery, limits, now, walk_chain,
};
use crate::ids::{CheckpointId, Epoch, TaskId, ThreadId};

/// Checkpoints kept in process memory: lost when the process exits, so for tests and
/// development only. It stores the same encoded blobs, versions and writes as the durable
/// backends and answers every call with the same semantics (it passes the same conformance
/// kit), so a graph tested on it behaves the same on SQLite or Postgres.
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
    threads: Mutex<BTreeMap<ThreadId, ThreadData>>,
    /// Node cache entries by key.
    cache: Mutex<HashMap<String, CacheEntry>>,
}

/// A node cache entry: the value, and when it expires (`None`: never).
type CacheEntry = (Vec<u8>, Option<SystemTime>);

type BlobKey = (String, String, CheckpointId);

#[derive(Debug, Default, Clone)]
struct ThreadData {
    /// Checkpoints by namespace, then id (so iteration is oldest first).
    checkpoints: BTreeMap<String, BTreeMap<CheckpointId, Checkpoint>>,
    /// Blobs by namespace, channel and version.
    blobs: HashMap<BlobKey, (BlobKind, Vec<u8>)>,
    /// Writes by namespace and checkpoint, keyed by task and index.
    writes: HashMap<(String, CheckpointId), BTreeMap<(TaskId, i32), PendingWrite>>,
    /// The epoch of the thread's owner, once a run claimed it.
    epoch: Option<Epoch>,
}

impl MemorySaver {
    /// An empty saver.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ThreadId, ThreadData>> {
        // Every change below validates first and then mutates without panicking, so a panic
        // elsewhere while the lock was held cannot have left the maps half-written.
        self.threads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ThreadData {
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

    fn tuple(&self, checkpoint: &Checkpoint) -> Result<CheckpointTuple, CheckpointError> {
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

    fn latest(&self, ns: &str) -> Option<&Checkpoint> {
        self.checkpoints
            .get(ns)
            .and_then(|c| c.values().next_back())
    }

    /// Refuses a write whose epoch is no longer the thread's.
    fn check_epoch(
        &self,
        thread_id: &ThreadId,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        CheckpointError::check_fence(thread_id, epoch, self.epoch)
    }

    fn is_empty(&self) -> bool {
        self.checkpoints.values().all(BTreeMap::is_empty)
    }

    /// Keeps only the latest checkpoint of each namespace, with its writes and blobs.
    fn keep_latest(&mut self) -> Result<(), CheckpointError> {
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
        for checkpoints in self.checkpoints.values_mut() {
            checkpoints.retain(|id, c| kept.contains(&(c.ns.clone(), *id)));
        }
        self.blobs.retain(|key, _| kept_blobs.contains(key));
        self.writes.retain(|key, _| kept.contains(key));
        Ok(())
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
        limits::check_thread_id(thread_id)?;
        limits::check_namespace(ns)?;
        let threads = self.lock();
        let Some(thread) = threads.get(thread_id) else {
            return Ok(None);
        };
        let found = match id {
            Some(id) => thread.checkpoints.get(ns).and_then(|c| c.get(&id)),
            None => thread.latest(ns),
        };
        found.map(|c| thread.tuple(c)).transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        limits::check_query(query)?;
        let threads = self.lock();
        let mut found: Vec<(&ThreadData, &Checkpoint)> = threads
            .values()
            .flat_map(|t| {
                t.checkpoints
                    .values()
                    .flat_map(move |c| c.values().map(move |c| (t, c)))
            })
            .filter(|(_, c)| query.matches(c))
            .collect();
        found.sort_by_key(|(_, c)| std::cmp::Reverse(c.id));
        found.truncate(query.limit.unwrap_or(usize::MAX));
        found.into_iter().map(|(t, c)| t.tuple(c)).collect()
    }

    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let mut threads = self.lock();
        let thread = threads.entry(thread_id.clone()).or_default();
        let epoch = Epoch::next_after(thread.epoch);
        thread.epoch = Some(epoch);
        Ok(epoch)
    }

    async fn put(&self, new: NewCheckpoint) -> Result<(), CheckpointError> {
        limits::check_put(&new)?;
        let NewCheckpoint {
            checkpoint,
            blobs,
            mode,
            epoch,
        } = new;
        let mut threads = self.lock();
        let thread = threads.entry(checkpoint.thread_id.clone()).or_default();
        thread.check_epoch(&checkpoint.thread_id, epoch)?;
        let latest = thread.latest(&checkpoint.ns).map(|c| c.id);
        match mode {
            PutMode::Advance if checkpoint.parent_id != latest => {
                return Err(CheckpointError::Conflict {
                    thread_id: checkpoint.thread_id.clone(),
                    ns: checkpoint.ns.clone(),
                    expected: checkpoint.parent_id,
                    latest,
                });
            }
            PutMode::Fork => {
                if let Some(parent) = checkpoint.parent_id {
                    let exists = thread
                        .checkpoints
                        .get(&checkpoint.ns)
                        .is_some_and(|c| c.contains_key(&parent));
                    if !exists {
                        return Err(CheckpointError::MissingParent {
                            thread_id: checkpoint.thread_id.clone(),
                            parent,
                        });
                    }
                }
            }
            PutMode::Advance => {}
        }
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
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        limits::check_writes(thread_id, ns, &writes)?;
        let mut threads = self.lock();
        let thread = threads.entry(thread_id.clone()).or_default();
        thread.check_epoch(thread_id, epoch)?;
        let stored = thread.writes.entry((ns.to_owned(), id)).or_default();
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
        limits::check_thread_id(thread_id)?;
        self.lock().remove(thread_id);
        Ok(())
    }

    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(from)?;
        limits::check_thread_id(to)?;
        let mut threads = self.lock();
        if threads.get(to).is_some_and(|t| !t.is_empty()) {
            return Err(CheckpointError::ThreadExists(to.clone()));
        }
        let Some(source) = threads.get(from) else {
            return Ok(());
        };
        let mut copy = source.clone();
        // The copy is a new thread: the destination's own owner (if any) stays.
        copy.epoch = threads.get(to).and_then(|t| t.epoch);
        for checkpoints in copy.checkpoints.values_mut() {
            for checkpoint in checkpoints.values_mut() {
                checkpoint.thread_id = to.clone();
            }
        }
        threads.insert(to.clone(), copy);
        Ok(())
    }

    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        for thread_id in thread_ids {
            limits::check_thread_id(thread_id)?;
        }
        let mut threads = self.lock();
        for thread_id in thread_ids {
            match policy {
                Prune::Delete => {
                    threads.remove(thread_id);
                }
                Prune::KeepLatest => {
                    if let Some(thread) = threads.get_mut(thread_id) {
                        thread.keep_latest()?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        limits::check_thread_query(query)?;
        let threads = self.lock();
        Ok(threads
            .values()
            .filter_map(|t| t.latest("").map(|head| (t, head)))
            .map(|(thread, head)| {
                let pending: Vec<PendingWrite> = thread
                    .writes
                    .get(&(String::new(), head.id))
                    .map(|w| w.values().cloned().collect())
                    .unwrap_or_default();
                (ThreadInfo::from_head(head, &pending), &head.metadata)
            })
            .filter(|(info, metadata)| query.matches(info, metadata))
            .map(|(info, _)| info)
            .take(query.limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        limits::check_cache_key(key)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(key) {
            Some((_, Some(expires))) if *expires <= now() => {
                cache.remove(key);
                Ok(None)
            }
            Some((value, _)) => Ok(Some(value.clone())),
            None => Ok(None),
        }
    }

    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError> {
        limits::check_cache_key(key)?;
        let at = now();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (_, expires)| expires.is_none_or(|e| e > at));
        cache.insert(key.to_owned(), (value, ttl.map(|ttl| at + ttl)));
        Ok(())
    }
}
