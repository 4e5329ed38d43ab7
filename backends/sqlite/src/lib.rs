//! The SQLite checkpointer for stategraph: every checkpoint of every thread in one file.
//!
//! [`SqliteSaver`] implements [`Checkpointer`]. It never blocks the async executor (SQLite
//! runs on threads of its own), writes through a write-ahead log with `synchronous=FULL` by
//! default, commits concurrent writes together, and waits for other connections instead of
//! failing with "database is locked".
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use stategraph_checkpoint::{Checkpointer, ThreadId};
//! use stategraph_sqlite::SqliteSaver;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let saver = SqliteSaver::open(dir.path().join("checkpoints.db")).await?;
//! assert!(saver.get(&ThreadId::new("t"), "", None).await?.is_none());
//! # Ok::<(), stategraph_checkpoint::CheckpointError>(())
//! # }).unwrap();
//! ```
#![doc = ""]
#![doc = include_str!("../README.md")]

mod cache;
mod chain;
mod config;
mod error;
mod read;
mod schema;
mod store;
mod worker;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use stategraph_checkpoint::{
    CheckpointError, CheckpointId, CheckpointTuple, Checkpointer, Epoch, ListQuery, NewCheckpoint,
    PendingWrite, Prune, ThreadId, ThreadInfo, ThreadQuery, limits,
};

use crate::config::{Config, Location, Role};
use crate::error::Context;
use crate::worker::Worker;
use crate::write::EncodedCheckpoint;

pub use crate::config::{SqliteSaverBuilder, Synchronous};
pub use crate::error::SqliteError;
pub use crate::store::SqliteStore;

/// Checkpoints in a SQLite database file: the embedded, durable default backend.
///
/// # Durability
///
/// The file is in WAL mode. With [`Synchronous::Full`] (the default) a checkpoint is on disk
/// before [`put`](Checkpointer::put) returns: it survives a process crash, an OS crash and a
/// power loss. [`Synchronous::Normal`] (opt in with [`builder`](Self::builder)) skips that
/// flush: a checkpoint survives a process crash, but an OS crash or power loss may roll back
/// the last commits (never corrupting the file, so a resume starts from an earlier step).
///
/// # Concurrency
///
/// One thread owns the connection that writes; async callers hand it their writes over a
/// channel and await the answer, so the executor never blocks on SQLite. The writer commits
/// every write queued while it was busy in one transaction (`BEGIN IMMEDIATE … COMMIT`, one
/// `fsync` for all of them), each in its own savepoint so that one put's conflict rolls back
/// only that put, and answers each caller once the commit is durable. (A write whose future
/// is dropped after it was handed over may still commit, as with any database client.) For
/// a file, a second thread with its own connection serves reads, which WAL lets run while a
/// write commits.
///
/// Other savers and other processes may open the same file: each waits for the write lock up
/// to the busy timeout (5 s by default) instead of failing with "database is locked". A put
/// checks its parent against the thread's latest checkpoint inside the write transaction, so
/// two processes advancing one thread get a [`CheckpointError::Conflict`], not a silent fork.
///
/// # Storage
///
/// Each changed channel is stored once per version, so a step writes only what it changed
/// (never the whole state), and reading a page of history costs three queries whatever its
/// length. Schema changes are numbered migrations recorded in `stategraph_migrations`, applied
/// by [`setup`](Checkpointer::setup) (which [`open`](Self::open) runs).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use stategraph_checkpoint::{Checkpointer, ListQuery, ThreadId};
/// use stategraph_sqlite::SqliteSaver;
///
/// let saver = SqliteSaver::open_in_memory().await?;
/// let history = saver.list(&ListQuery::thread(ThreadId::new("job-7")).limit(20)).await?;
/// assert!(history.is_empty());
/// # Ok::<(), stategraph_checkpoint::CheckpointError>(())
/// # }).unwrap();
/// ```
pub struct SqliteSaver {
    config: Arc<Config>,
    pub(crate) writer: Worker,
    /// A second connection for reads; `None` in memory, where only one connection can see the
    /// database, so the writer's thread reads too.
    reader: Option<Worker>,
}

impl SqliteSaver {
    /// Opens (creating it if needed) the database file at `path` with the default options,
    /// and runs [`setup`](Checkpointer::setup).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use stategraph_sqlite::{SqliteSaver, Synchronous};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("checkpoints.db");
    /// let saver = SqliteSaver::open(&path).await?;
    /// assert_eq!(saver.path(), Some(path.as_path()));
    /// assert_eq!(saver.synchronous(), Synchronous::Full);
    /// # Ok::<(), stategraph_checkpoint::CheckpointError>(())
    /// # }).unwrap();
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        Self::builder(path).open().await
    }

    /// A private database in memory, gone when the saver is dropped: for tests.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use stategraph_sqlite::SqliteSaver;
    ///
    /// let saver = SqliteSaver::open_in_memory().await?;
    /// assert_eq!(saver.path(), None);
    /// # Ok::<(), stategraph_checkpoint::CheckpointError>(())
    /// # }).unwrap();
    /// ```
    pub async fn open_in_memory() -> Result<Self, CheckpointError> {
        SqliteSaverBuilder::new(Location::Memory).open().await
    }

    /// Options for opening the database file at `path`: durability and busy timeout.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use stategraph_sqlite::{SqliteSaver, Synchronous};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let saver = SqliteSaver::builder(dir.path().join("checkpoints.db"))
    ///     .synchronous(Synchronous::Normal)
    ///     .busy_timeout(Duration::from_secs(30))
    ///     .open()
    ///     .await?;
    /// assert_eq!(saver.busy_timeout(), Duration::from_secs(30));
    /// # Ok::<(), stategraph_checkpoint::CheckpointError>(())
    /// # }).unwrap();
    /// ```
    pub fn builder(path: impl AsRef<Path>) -> SqliteSaverBuilder {
        SqliteSaverBuilder::new(Location::File(PathBuf::from(path.as_ref())))
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.config.path()
    }

    /// How durable an acknowledged write is.
    pub fn synchronous(&self) -> Synchronous {
        self.config.synchronous
    }

    /// How long a write waits for another connection's lock.
    pub fn busy_timeout(&self) -> Duration {
        self.config.busy_timeout
    }

    pub(crate) async fn start(config: Config) -> Result<Self, CheckpointError> {
        let config = Arc::new(config);
        let writer = Worker::spawn(Arc::clone(&config), Role::Writer).await?;
        let saver_without_reader = Self {
            config: Arc::clone(&config),
            writer,
            reader: None,
        };
        saver_without_reader.setup().await?;
        let reader = match config.location {
            // Opened after setup, so the file is already in WAL mode.
            Location::File(_) => Some(Worker::spawn(Arc::clone(&config), Role::Reader).await?),
            Location::Memory => None,
        };
        Ok(Self {
            reader,
            ..saver_without_reader
        })
    }

    pub(crate) fn reader(&self) -> &Worker {
        self.reader.as_ref().unwrap_or(&self.writer)
    }
}

impl fmt::Debug for SqliteSaver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteSaver")
            .field("path", &self.path().unwrap_or(Path::new(":memory:")))
            .field("synchronous", &self.config.synchronous)
            .field("busy_timeout", &self.config.busy_timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Checkpointer for SqliteSaver {
    async fn setup(&self) -> Result<(), CheckpointError> {
        self.writer
            .run(Context::new("setup", None), schema::migrate)
            .await
    }

    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        limits::check_namespace(ns)?;
        let (thread, ns_owned) = (thread_id.clone(), ns.to_owned());
        self.reader()
            .run(Context::new("get", Some(thread_id)), move |conn| {
                read::get(conn, &thread, &ns_owned, id)
            })
            .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        limits::check_query(query)?;
        let owned = query.clone();
        self.reader()
            .run(
                Context::new("list", query.thread_id.as_ref()),
                move |conn| read::list(conn, &owned),
            )
            .await
    }

    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let thread = thread_id.clone();
        self.writer
            .run(Context::new("claim", Some(thread_id)), move |conn| {
                write::claim(conn, &thread)
            })
            .await
    }

    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let thread = thread_id.clone();
        self.reader()
            .run(Context::new("epoch", Some(thread_id)), move |conn| {
                write::current_epoch(conn, &thread, Context::new("epoch", Some(&thread)))
            })
            .await
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
        let (thread, ns) = (thread_id.clone(), ns.to_owned());
        self.writer
            .run(Context::new("claim_if", Some(thread_id)), move |conn| {
                write::claim_if(conn, &thread, expected, &ns, id, &writes)
            })
            .await
    }

    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError> {
        let encoded = EncodedCheckpoint::new(checkpoint)?;
        let thread_id = encoded.thread_id.clone();
        self.writer
            .write(Context::new("put", Some(&thread_id)), move |conn| {
                write::put(conn, &encoded)
            })
            .await
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
        let (thread, ns_owned) = (thread_id.clone(), ns.to_owned());
        self.writer
            .write(Context::new("put_writes", Some(thread_id)), move |conn| {
                write::put_writes(conn, &thread, &ns_owned, id, &writes, epoch)
            })
            .await
    }

    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let thread = thread_id.clone();
        self.writer
            .write(
                Context::new("delete_thread", Some(thread_id)),
                move |conn| write::delete_thread(conn, &thread),
            )
            .await
    }

    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let thread = thread_id.clone();
        self.writer
            .write(
                Context::new("delete_thread_if", Some(thread_id)),
                move |conn| write::delete_thread_if(conn, &thread, expected),
            )
            .await
    }

    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(from)?;
        limits::check_thread_id(to)?;
        let (from_owned, to_owned) = (from.clone(), to.clone());
        self.writer
            .write(Context::new("copy_thread", Some(from)), move |conn| {
                write::copy_thread(conn, &from_owned, &to_owned)
            })
            .await
    }

    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        for thread_id in thread_ids {
            limits::check_thread_id(thread_id)?;
        }
        let threads = thread_ids.to_vec();
        // All threads in one write, so a prune is all or nothing.
        self.writer
            .write(Context::new("prune", None), move |conn| {
                threads.iter().try_for_each(|thread_id| match policy {
                    Prune::Delete => write::delete_thread(conn, thread_id),
                    Prune::KeepLatest => write::keep_latest(conn, thread_id),
                })
            })
            .await
    }

    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        limits::check_thread_query(query)?;
        let owned = query.clone();
        self.reader()
            .run(Context::new("list_threads", None), move |conn| {
                read::list_threads(conn, &owned)
            })
            .await
    }

    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        limits::check_cache_key(key)?;
        let key = key.to_owned();
        self.reader()
            .run(Context::new("cache_get", None), move |conn| {
                cache::get(conn, &key)
            })
            .await
    }

    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError> {
        limits::check_cache_key(key)?;
        let key = key.to_owned();
        self.writer
            .write(Context::new("cache_put", None), move |conn| {
                cache::put(conn, &key, &value, ttl)
            })
            .await
    }
}
