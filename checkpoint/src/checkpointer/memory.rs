//! `MemorySaver`: checkpoints in process memory, for tests and development.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{
    Checkpoint, CheckpointError, CheckpointTuple, Checkpointer, ListQuery, NewCheckpoint,
    PendingWrite, Prune, ThreadInfo, ThreadQuery, ThreadRecords, limits, now,
};
use crate::ids::{CheckpointId, Epoch, ThreadId};

/// Checkpoints kept in process memory: lost when the process exits, so for tests and
/// development only. It stores the same encoded blobs, versions and writes as the durable
/// backends and answers every call with the same semantics (it passes the same conformance
/// kit), so a graph tested on it behaves the same on SQLite or Postgres.
///
/// ```
/// # tokio_test_block_on(async {
/// use stategraph_checkpoint::{Checkpointer, MemorySaver, ThreadId};
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

#[derive(Debug, Default, Clone)]
struct ThreadData {
    /// Checkpoints, blobs and writes.
    records: ThreadRecords,
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
        let records = &thread.records;
        let found = match id {
            Some(id) => records.checkpoint(ns, id),
            None => records.latest(ns),
        };
        found.map(|c| records.tuple(c)).transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        limits::check_query(query)?;
        let threads = self.lock();
        let mut found: Vec<(&ThreadRecords, &Checkpoint)> = threads
            .values()
            .flat_map(|t| t.records.checkpoints().map(move |c| (&t.records, c)))
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

    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        Ok(self.lock().get(thread_id).and_then(|t| t.epoch))
    }

    async fn claim_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError> {
        limits::check_writes(thread_id, ns, &writes)?;
        let mut threads = self.lock();
        let current = threads.get(thread_id).and_then(|t| t.epoch);
        CheckpointError::check_expected(thread_id, expected, current)?;
        let thread = threads.entry(thread_id.clone()).or_default();
        let epoch = Epoch::next_after(thread.epoch);
        thread.epoch = Some(epoch);
        if !writes.is_empty() {
            thread.records.insert_writes(ns, id, writes);
        }
        Ok(epoch)
    }

    async fn put(&self, new: NewCheckpoint) -> Result<(), CheckpointError> {
        limits::check_put(&new)?;
        let mut threads = self.lock();
        let thread = threads.entry(new.checkpoint.thread_id.clone()).or_default();
        CheckpointError::check_fence(&new.checkpoint.thread_id, new.epoch, thread.epoch)?;
        thread.records.check_parent(&new)?;
        thread.records.insert_checkpoint(new.checkpoint, new.blobs);
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
        CheckpointError::check_fence(thread_id, epoch, thread.epoch)?;
        thread.records.insert_writes(ns, id, writes);
        Ok(())
    }

    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread_id)?;
        self.lock().remove(thread_id);
        Ok(())
    }

    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let mut threads = self.lock();
        let current = threads.get(thread_id).and_then(|t| t.epoch);
        CheckpointError::check_expected(thread_id, expected, current)?;
        threads.remove(thread_id);
        Ok(())
    }

    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(from)?;
        limits::check_thread_id(to)?;
        let mut threads = self.lock();
        if threads.get(to).is_some_and(|t| !t.records.is_empty()) {
            return Err(CheckpointError::ThreadExists(to.clone()));
        }
        let Some(source) = threads.get(from) else {
            return Ok(());
        };
        let mut copy = source.clone();
        // The copy is a new thread: the destination's own owner (if any) stays.
        copy.epoch = threads.get(to).and_then(|t| t.epoch);
        copy.records.set_thread(to);
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
                        thread.records.keep_latest()?;
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
            .filter_map(|t| t.records.info())
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
