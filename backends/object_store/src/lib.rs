//! The object-store checkpointer for stategraph: S3, Google Cloud Storage, Azure Blob Storage
//! or a local directory, through the [`object_store`] crate.
//!
//! [`ObjectStoreSaver`] implements [`Checkpointer`] with nothing but what object stores
//! guarantee: whole objects that never change once written, strongly consistent reads and
//! listings, and *create-if-absent* (`PutMode::Create`; `If-None-Match: *` on S3). Each thread
//! is a log of immutable entries under numbered keys; a writer adds entry `n + 1` only if no
//! one else has, so the contract's compare-and-swap (a put continues the latest checkpoint, a
//! write carries the owner's epoch) holds across processes without a database or a lock
//! service. See [`ObjectStoreSaver`] for the layout and for when to choose it, and
//! [`ObjectStoreStore`] for the [`Store`](stategraph_checkpoint::Store) on the same objects.
//!
//! ```no_run
//! # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
//! use stategraph_object_store::ObjectStoreSaver;
//! use stategraph_checkpoint::{Checkpointer, ThreadId};
//!
//! let saver = ObjectStoreSaver::local("/var/lib/agent/checkpoints").await?;
//! assert!(saver.get(&ThreadId::new("t"), "", None).await?.is_none());
//! # Ok(()) }
//! ```
#![doc = ""]
#![doc = include_str!("../README.md")]

mod cache;
mod entry;
mod error;
mod log;
mod name;
mod slots;
mod store;
mod view;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use stategraph_checkpoint::{
    CheckpointError, CheckpointId, CheckpointTuple, Checkpointer, Epoch, ListQuery, NewCheckpoint,
    PendingWrite, Prune, ThreadId, ThreadInfo, ThreadQuery, limits,
};
use tokio::sync::OwnedMutexGuard;

use crate::entry::{Entry, Kind};
use crate::error::Context;
use crate::log::{Log, Logs, thread_key};
use crate::slots::Slots;
use crate::view::View;

pub use crate::error::ObjectStoreError;
pub use crate::store::ObjectStoreStore;
pub use object_store;

/// How many threads' logs a saver keeps in memory unless told otherwise.
const DEFAULT_CACHED_THREADS: usize = 1024;

/// After how many entries a generation is compacted unless told otherwise.
const DEFAULT_COMPACT_AFTER: u64 = 512;

/// Checkpoints in an object store: for serverless and cross-cloud deployments where a
/// bucket is the one durable thing every process can reach.
///
/// # When to choose it
///
/// Choose it when your workers have no database but do have a bucket (functions, batch jobs,
/// several clouds), when checkpoints should live for months at object-storage prices, or when
/// a thread must be readable by tools that only speak S3. Each saved checkpoint costs two
/// requests to the store (tens of milliseconds on S3, about half a millisecond on a local disk
/// with fsync), so for many short steps per second choose PostgreSQL, SQLite or Redis instead. Listing *every* thread
/// (`list_threads`, or `list` without a thread) reads each thread's log, so it costs one
/// request per thread.
///
/// # Layout and guarantees
///
/// Under the prefix (default `stategraph`), each thread is a log at
/// `threads/<sha256 of thread id>/<generation>/<sequence>`, beside an `id` object holding the
/// thread's id (written with its first entry, so a thread whose log cannot be read is reported
/// by its id); every entry is an immutable object holding one claim (with the writes of a
/// conditional claim), one checkpoint with its new blobs, or one task's writes. A writer
/// creates the next sequence number with create-if-absent: when another process got there
/// first, it reads that entry, checks its put again against the thread as it now stands
/// ([`CheckpointError::Conflict`], [`CheckpointError::Fenced`]) and retries. An object is
/// written whole or not at all, so a process killed during an upload leaves no entry (and at
/// most an invisible staging file or unfinished multipart upload), never half of one.
///
/// [`prune`](Checkpointer::prune) and [`delete_thread`](Checkpointer::delete_thread) seal the
/// log with what remains and start the next generation from it, then delete the old one,
/// oldest entry first; a writer that raced them notices and retries in the new generation.
/// A long log is compacted the same way, keeping its whole history, every 512 entries
/// ([`with_compaction_after`](Self::with_compaction_after)), so a process that has not read a
/// thread before reads a few objects, not one per step. The node cache lives under `cache/`,
/// one object per key, and the [`ObjectStoreStore`] on the same prefix under `store/`.
///
/// Each process keeps the logs it has read in memory (at most
/// [`with_cached_threads`](Self::with_cached_threads) of them) and, before answering, reads only
/// the entries added since, so a read costs two requests when nothing changed, and a write two
/// (the create, and a check that the entry before it still exists).
///
/// # The store must honour create-if-absent
///
/// [`setup`](Checkpointer::setup) creates a probe object twice and refuses a store whose second
/// create does not fail: on such a store two writers could both "win". Local directories and
/// Amazon S3 honour it (S3 through `If-None-Match`, which the `object_store` crate sends by
/// default); for other S3-compatible servers, check.
#[derive(Clone)]
pub struct ObjectStoreSaver {
    store: Arc<dyn ObjectStore>,
    root: Path,
    logs: Logs,
    /// The logs this process has read, by thread key; each behind its own lock, so one
    /// process's calls on a thread go one at a time.
    threads: Arc<Slots>,
    /// After how many entries a generation is compacted into one.
    compact_after: u64,
}

impl std::fmt::Debug for ObjectStoreSaver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreSaver")
            .field("store", &self.store.to_string())
            .field("prefix", &self.root.as_ref())
            .finish_non_exhaustive()
    }
}

impl ObjectStoreSaver {
    /// A saver on `store`, under the prefix `stategraph`. Call
    /// [`setup`](Checkpointer::setup) before use: it checks that the store honours
    /// create-if-absent.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use stategraph_object_store::ObjectStoreSaver;
    /// use stategraph_object_store::object_store::local::LocalFileSystem;
    /// use stategraph_checkpoint::Checkpointer;
    ///
    /// let saver = ObjectStoreSaver::new(Arc::new(LocalFileSystem::new_with_prefix("/tmp/cp")?));
    /// saver.setup().await?;
    /// # Ok(()) }
    /// ```
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        let root = Path::from("stategraph");
        Self {
            logs: Logs::new(store.clone(), &root),
            store,
            root,
            threads: Arc::new(Slots::new(DEFAULT_CACHED_THREADS)),
            compact_after: DEFAULT_COMPACT_AFTER,
        }
    }

    /// The same store under another prefix (a path of `/`-separated parts), so several
    /// applications or environments can share a bucket.
    pub fn with_prefix(self, prefix: &str) -> Self {
        let root = Path::from(prefix);
        Self {
            logs: Logs::new(self.store.clone(), &root),
            root,
            threads: Arc::new(Slots::new(self.threads.capacity())),
            ..self
        }
    }

    /// Keeps the logs of at most `threads` threads in this process's memory (default 1,024);
    /// the least recently used are read from the store again when next needed.
    pub fn with_cached_threads(self, threads: usize) -> Self {
        Self {
            threads: Arc::new(Slots::new(threads)),
            ..self
        }
    }

    /// Compacts a thread's log once it holds `entries` entries since the last compaction
    /// (default 512, at least 2): the whole thread, history included, is written as one object
    /// that starts a new generation, and the entries before it are deleted. A process reading
    /// the thread from scratch then reads one object instead of every step's.
    pub fn with_compaction_after(self, entries: u64) -> Self {
        Self {
            compact_after: entries.max(2),
            ..self
        }
    }

    /// A saver on the local directory `dir` (created if missing), set up and ready. Every
    /// object is flushed to disk (`fsync`, the file and its directory) before a write returns,
    /// so a checkpoint survives a power loss as well as a crash of the process.
    pub async fn local(dir: impl AsRef<std::path::Path>) -> Result<Self, CheckpointError> {
        let ctx = Context::new("setup", None);
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)
            .map_err(|e| ctx.other(format!("cannot create the directory: {e}")))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| ctx.store(e))?
            .with_automatic_cleanup(true)
            .with_fsync(true);
        let saver = Self::new(Arc::new(store));
        saver.setup().await?;
        Ok(saver)
    }

    /// The prefix every object of this saver is under.
    pub fn prefix(&self) -> &str {
        self.root.as_ref()
    }

    /// Thread `key`'s log, up to date with the store.
    async fn read(
        &self,
        ctx: Context<'_>,
        key: &str,
    ) -> Result<OwnedMutexGuard<Option<Log>>, CheckpointError> {
        let mut guard = self.threads.lock_thread(key).await;
        match guard.as_mut() {
            Some(log) => self.logs.refresh(ctx, key, log).await?,
            None => *guard = Some(self.logs.load(ctx, key).await?),
        }
        Ok(guard)
    }

    /// Adds the entry `decide` makes from the thread as it stands (none: nothing to write),
    /// deciding again whenever another writer got there first. An error from `decide` is
    /// returned only once the thread is known to be up to date. Returns the thread's epoch
    /// afterwards.
    async fn write(
        &self,
        ctx: Context<'_>,
        thread_id: &ThreadId,
        mut decide: impl FnMut(&View) -> Result<Option<Entry>, CheckpointError>,
    ) -> Result<Option<Epoch>, CheckpointError> {
        let key = thread_key(thread_id);
        let mut guard = self.threads.lock_thread(&key).await;
        let mut fresh = guard.is_none();
        let log = match guard.as_mut() {
            Some(log) => log,
            None => guard.insert(self.logs.load(ctx, &key).await?),
        };
        if log.is_new() {
            self.logs.write_name(ctx, &key, thread_id).await?;
        }
        loop {
            match decide(&log.view) {
                Ok(Some(entry)) => {
                    if self.logs.append(ctx, &key, log, entry).await? {
                        if log.len() >= self.compact_after {
                            // Best effort, after the write is stored: a writer that got there
                            // first, or a failure here, leaves compaction to a later write.
                            let all =
                                Entry::of_records(Kind::Seal, &log.view.records, log.view.epoch);
                            if let Err(error) = self.logs.append(ctx, &key, log, all).await {
                                tracing::warn!(%error, "could not compact a thread's log");
                            }
                        }
                        return Ok(log.view.epoch);
                    }
                    fresh = true;
                }
                Ok(None) if fresh => return Ok(log.view.epoch),
                Err(e) if fresh => return Err(e),
                Ok(None) | Err(_) => {
                    self.logs.refresh(ctx, &key, log).await?;
                    fresh = true;
                }
            }
        }
    }

    /// Every thread's log, up to date, each through `visit`. A thread whose log cannot be read
    /// is left out and reported by its id ([`CheckpointError::report_skipped`]), or by its key
    /// when its id cannot be read either.
    async fn each_thread(
        &self,
        ctx: Context<'_>,
        mut visit: impl FnMut(&View) -> Result<(), CheckpointError>,
    ) -> Result<(), CheckpointError> {
        for key in self.logs.thread_keys(ctx).await? {
            let guard = match self.read(ctx, &key).await {
                Ok(guard) => guard,
                Err(error) => {
                    match self.logs.name(&key).await {
                        Some(thread_id) => error.report_skipped(&thread_id),
                        None => tracing::warn!(
                            target: "stategraph::listing",
                            key,
                            %error,
                            "a thread that cannot be read, whose id is not recorded, was left out of a listing"
                        ),
                    }
                    continue;
                }
            };
            if let Some(log) = guard.as_ref() {
                visit(&log.view)?;
            }
        }
        Ok(())
    }
}

impl ObjectStoreSaver {
    /// Deletes a thread by sealing its log with nothing in it; with `expected`, only if its
    /// epoch is still that one.
    async fn seal(
        &self,
        ctx: Context<'_>,
        thread_id: &ThreadId,
        expected: Option<Option<Epoch>>,
    ) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread_id)?;
        self.write(ctx, thread_id, |view| {
            if let Some(expected) = expected {
                CheckpointError::check_expected(thread_id, expected, view.epoch)?;
            }
            let gone = view.records.is_empty() && view.epoch.is_none();
            Ok((!gone).then(|| Entry::new(Kind::Seal)))
        })
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Checkpointer for ObjectStoreSaver {
    /// Checks that the store honours create-if-absent: creates a probe object, then creates it
    /// again and expects the store to refuse; removes it. There is nothing to migrate.
    async fn setup(&self) -> Result<(), CheckpointError> {
        let ctx = Context::new("setup", None);
        let probe = self
            .root
            .clone()
            .join("setup")
            .join(CheckpointId::new().to_string());
        let create = |bytes: &'static [u8]| {
            let options = object_store::PutOptions::from(object_store::PutMode::Create);
            self.store.put_opts(
                &probe,
                object_store::PutPayload::from_static(bytes),
                options,
            )
        };
        create(b"first").await.map_err(|e| ctx.store(e))?;
        let second = create(b"second").await;
        // The probe goes either way; a failure to remove it only leaves a small object behind.
        let _ = object_store::ObjectStoreExt::delete(self.store.as_ref(), &probe).await;
        match second {
            Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Ok(_) => Err(ctx.other(
                "the store overwrote an object created with create-if-absent (PutMode::Create): two writers could both advance a thread; use a store that honours it",
            )),
            Err(e) => Err(ctx.store(e)),
        }
    }

    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        limits::check_namespace(ns)?;
        let ctx = Context::new("get", Some(thread_id));
        let guard = self.read(ctx, &thread_key(thread_id)).await?;
        let Some(log) = guard.as_ref() else {
            return Ok(None);
        };
        let found = match id {
            Some(id) => log.view.records.checkpoint(ns, id),
            None => log.view.records.latest(ns),
        };
        found.map(|c| log.view.records.tuple(c)).transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        limits::check_query(query)?;
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut found = Vec::new();
        let mut take = |view: &View| {
            let records = &view.records;
            let mut matching: Vec<_> = records.checkpoints().filter(|c| query.matches(c)).collect();
            matching.sort_by_key(|c| std::cmp::Reverse(c.id));
            for checkpoint in matching.into_iter().take(limit) {
                found.push(records.tuple(checkpoint)?);
            }
            Ok(())
        };
        match &query.thread_id {
            Some(thread_id) => {
                let ctx = Context::new("list", Some(thread_id));
                let guard = self.read(ctx, &thread_key(thread_id)).await?;
                if let Some(log) = guard.as_ref() {
                    take(&log.view)?;
                }
            }
            None => self.each_thread(Context::new("list", None), take).await?,
        }
        found.sort_by_key(|t| std::cmp::Reverse(t.checkpoint.id));
        found.truncate(limit);
        Ok(found)
    }

    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let ctx = Context::new("claim", Some(thread_id));
        let mut claimed = None;
        self.write(ctx, thread_id, |view| {
            let epoch = Epoch::next_after(view.epoch);
            claimed = Some(epoch);
            let mut entry = Entry::new(Kind::Claim);
            entry.epoch = Some(epoch);
            Ok(Some(entry))
        })
        .await?;
        Ok(claimed.expect("a claim always decides an epoch"))
    }

    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let ctx = Context::new("epoch", Some(thread_id));
        let guard = self.read(ctx, &thread_key(thread_id)).await?;
        Ok(guard.as_ref().and_then(|log| log.view.epoch))
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
        let ctx = Context::new("claim_if", Some(thread_id));
        let mut claimed = None;
        self.write(ctx, thread_id, |view| {
            CheckpointError::check_expected(thread_id, expected, view.epoch)?;
            let epoch = Epoch::next_after(view.epoch);
            claimed = Some(epoch);
            let mut entry = Entry::new(Kind::Claim);
            entry.epoch = Some(epoch);
            entry.writes = writes
                .iter()
                .map(|w| (ns.to_owned(), id, w.clone()))
                .collect();
            Ok(Some(entry))
        })
        .await?;
        Ok(claimed.expect("a claim always decides an epoch"))
    }

    async fn put(&self, new: NewCheckpoint) -> Result<(), CheckpointError> {
        limits::check_put(&new)?;
        let thread_id = new.checkpoint.thread_id.clone();
        let ctx = Context::new("put", Some(&thread_id));
        self.write(ctx, &thread_id, |view| view.put_entry(&new).map(Some))
            .await?;
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
        let ctx = Context::new("put_writes", Some(thread_id));
        self.write(ctx, thread_id, |view| {
            let entry = view.writes_entry(thread_id, ns, id, &writes, epoch)?;
            Ok((!writes.is_empty()).then_some(entry))
        })
        .await?;
        Ok(())
    }

    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        self.seal(
            Context::new("delete_thread", Some(thread_id)),
            thread_id,
            None,
        )
        .await
    }

    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        let ctx = Context::new("delete_thread_if", Some(thread_id));
        self.seal(ctx, thread_id, Some(expected)).await
    }

    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(from)?;
        limits::check_thread_id(to)?;
        let ctx = Context::new("copy_thread", Some(from));
        let copy = {
            let guard = self.read(ctx, &thread_key(from)).await?;
            guard.as_ref().map(|log| {
                let mut records = log.view.records.clone();
                records.set_thread(to);
                Entry::of_records(Kind::Import, &records, None)
            })
        };
        self.write(ctx.with_thread(to), to, |view| {
            if !view.records.is_empty() {
                return Err(CheckpointError::ThreadExists(to.clone()));
            }
            Ok(copy.clone().filter(|c| !c.checkpoints.is_empty()))
        })
        .await?;
        Ok(())
    }

    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        for thread_id in thread_ids {
            limits::check_thread_id(thread_id)?;
        }
        for thread_id in thread_ids {
            match policy {
                Prune::Delete => self.delete_thread(thread_id).await?,
                Prune::KeepLatest => {
                    let ctx = Context::new("prune", Some(thread_id));
                    self.write(ctx, thread_id, |view| {
                        let mut kept = view.records.clone();
                        let pruned = kept.keep_latest()?;
                        Ok(pruned.then(|| Entry::of_records(Kind::Seal, &kept, view.epoch)))
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        limits::check_thread_query(query)?;
        let mut found = Vec::new();
        self.each_thread(Context::new("list_threads", None), |view| {
            if let Some((info, metadata)) = view.records.info()
                && query.matches(&info, metadata)
            {
                found.push(info);
            }
            Ok(())
        })
        .await?;
        found.sort_by(|a, b| a.thread_id.cmp(&b.thread_id));
        found.truncate(query.limit.unwrap_or(usize::MAX));
        Ok(found)
    }

    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        limits::check_cache_key(key)?;
        cache::get(self.store.as_ref(), &self.root, key).await
    }

    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError> {
        limits::check_cache_key(key)?;
        cache::put(self.store.as_ref(), &self.root, key, value, ttl).await
    }
}
