//! The PostgreSQL checkpointer for stategraph: pooled, async, a queryable JSONB audit log, and
//! safe behind pgbouncer in transaction pooling mode.
//!
//! [`PostgresSaver`] implements [`Checkpointer`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
//! use stategraph_postgres::PostgresSaver;
//! use stategraph_checkpoint::{Checkpointer, ThreadId};
//!
//! let saver = PostgresSaver::connect("postgres://postgres@127.0.0.1:5432/test").await?;
//! assert!(saver.get(&ThreadId::new("t"), "", None).await?.is_none());
//! # Ok(()) }
//! ```
#![doc = ""]
#![doc = include_str!("../README.md")]

/// Runs `$body` with `$client` bound to a pooled connection; if it fails because the
/// connection broke, runs it again on a fresh connection, with backoff, until the retry
/// deadline. Every operation is idempotent.
macro_rules! with_retry {
    ($self:ident, $context:expr, |$client:ident| $body:expr) => {{
        let context = $context;
        $self
            .retry
            .run(context, |_| async {
                #[allow(unused_mut)]
                let mut $client = $self.connections.get(context).await?;
                $body
            })
            .await
    }};
}

mod cache;
mod config;
mod error;
mod json;
mod pool;
mod read;
mod retry;
mod schema;
mod store;
mod write;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use stategraph_checkpoint::{
    CheckpointError, CheckpointId, CheckpointTuple, Checkpointer, Epoch, ListQuery, NewCheckpoint,
    PendingWrite, Prune, ThreadId, ThreadInfo, ThreadQuery, limits,
};

use crate::cache::CacheSql;
use crate::error::Context;
use crate::pool::Connections;
use crate::read::ReadSql;
use crate::retry::RetryPolicy;
use crate::store::StoreSql;
use crate::write::{EncodedCheckpoint, WriteSql};

pub use crate::config::{DEFAULT_POOL_SIZE, DEFAULT_SCHEMA, PostgresSaverBuilder};
pub use crate::error::PostgresError;
pub use crate::retry::DEFAULT_RETRY_DEADLINE;
pub use crate::store::PostgresStore;

/// Checkpoints in PostgreSQL tables: the server-backed durable backend.
///
/// # Connections
///
/// A pool (deadpool-postgres, 16 connections unless [`builder`](Self::builder) says) serves
/// every call; nothing blocks the async executor. [`connect`](Self::connect) takes one
/// connection before it returns, so a wrong URL or an unreachable server fails there, with an
/// error naming the server (`host:port`). A pooled connection that died (server restart,
/// network) is replaced on checkout, and an operation that fails because its connection broke
/// is tried again on a fresh one — at once, then with exponential backoff until the retry
/// deadline (30 s unless [`PostgresSaverBuilder::retry_deadline`] says), so a restart or a
/// failover of a few seconds does not fail a run. Reads and writes are all idempotent: a put
/// that had in fact committed is recognised on the retry.
///
/// # pgbouncer
///
/// Every statement is sent as the *unnamed* statement of the extended protocol
/// (`query_typed`: Parse, Bind, Execute, Sync in one round trip) or with the simple protocol,
/// and no prepared-statement cache is used, so no named prepared statement outlives a
/// transaction: the saver works behind pgbouncer in `pool_mode = transaction`. The writes are
/// PL/pgSQL functions in the schema, so what each call parses is short and the functions' own
/// statements are planned once per server connection.
///
/// # Durability
///
/// A checkpoint is committed with the server's `synchronous_commit` (on by default: the WAL is
/// flushed before the put returns). A task's pending writes are committed with
/// `synchronous_commit = off`: visible to every reader as soon as the call returns, and
/// flushed with the step's checkpoint right after; only a crash of the server itself in
/// between can lose them, and then the task runs again.
///
/// # Storage
///
/// Tables live in one schema (`stategraph` by default), created by
/// [`setup`](Checkpointer::setup) through numbered migrations under an advisory lock, so many
/// processes may run it at once. A step writes its checkpoint row and only the channels it
/// changed (unchanged ones are referenced by version); a put is one statement that compares
/// and swaps the thread's head, so two writers advancing one thread get
/// [`CheckpointError::Conflict`] instead of a forked history. Reading a checkpoint or a page
/// of history is one statement. Metadata, checkpoint fields and channel values are `jsonb`, so
/// the tables answer audit questions in SQL (see the crate README).
///
/// ```no_run
/// # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
/// use stategraph_postgres::PostgresSaver;
/// use stategraph_checkpoint::{Checkpointer, ListQuery, ThreadId};
///
/// let saver = PostgresSaver::builder("postgres://postgres@127.0.0.1:5432/test")
///     .pool_size(8)
///     .schema("agents")
///     .connect()
///     .await?;
/// let history = saver.list(&ListQuery::thread(ThreadId::new("job-7")).limit(20)).await?;
/// assert!(history.len() <= 20);
/// # Ok(()) }
/// ```
pub struct PostgresSaver {
    connections: Connections,
    schema: String,
    pool_size: usize,
    reads: ReadSql,
    writes: WriteSql,
    cache: CacheSql,
    store: StoreSql,
    prepared_statements: bool,
    retry: RetryPolicy,
}

impl PostgresSaver {
    /// Connects with the default options (pool of 16, schema `stategraph`), takes one
    /// connection now so an unreachable server fails here, and runs
    /// [`setup`](Checkpointer::setup).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
    /// use stategraph_postgres::PostgresSaver;
    ///
    /// let saver = PostgresSaver::connect("postgres://postgres@127.0.0.1:5432/test").await?;
    /// assert_eq!(saver.schema(), "stategraph");
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: impl Into<String>) -> Result<Self, CheckpointError> {
        Self::builder(url).connect().await
    }

    /// Options for connecting to `url` (a `postgres://` URL or a `key=value` string): pool
    /// size, schema, timeouts.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
    /// use stategraph_postgres::PostgresSaver;
    ///
    /// let saver = PostgresSaver::builder("host=127.0.0.1 user=postgres dbname=test")
    ///     .pool_size(4)
    ///     .schema("checkpoints_v2")
    ///     .connect()
    ///     .await?;
    /// assert_eq!(saver.pool_size(), 4);
    /// # Ok(()) }
    /// ```
    pub fn builder(url: impl Into<String>) -> PostgresSaverBuilder {
        PostgresSaverBuilder::new(url)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The most connections the pool opens.
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// The server, as `host:port`.
    pub fn server(&self) -> &str {
        &self.connections.server
    }

    pub(crate) async fn start(builder: PostgresSaverBuilder) -> Result<Self, CheckpointError> {
        let connections = Connections::open(&builder)?;
        let saver = Self {
            reads: ReadSql::new(&builder.schema),
            writes: WriteSql::new(&builder.schema),
            cache: CacheSql::new(&builder.schema),
            store: StoreSql::new(&builder.schema),
            prepared_statements: builder.prepared_statements,
            schema: builder.schema,
            pool_size: builder.pool_size,
            retry: RetryPolicy {
                deadline: builder.retry_deadline,
            },
            connections,
        };
        // Fail fast: one connection now, not on the first checkpoint.
        drop(
            saver
                .connections
                .get(Context::new("connect", None, &saver.connections.server))
                .await?,
        );
        saver.setup().await?;
        Ok(saver)
    }

    fn context<'a>(
        &'a self,
        operation: &'static str,
        thread_id: Option<&'a ThreadId>,
    ) -> Context<'a> {
        Context::new(operation, thread_id, &self.connections.server)
    }
}

impl fmt::Debug for PostgresSaver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.connections.status();
        f.debug_struct("PostgresSaver")
            .field("server", &self.server())
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("open_connections", &status.size)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Checkpointer for PostgresSaver {
    async fn setup(&self) -> Result<(), CheckpointError> {
        let context = self.context("setup", None);
        with_retry!(self, context, |client| {
            schema::migrate(&mut client, &self.schema, context).await
        })
    }

    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        limits::check_namespace(ns)?;
        let context = self.context("get", Some(thread_id));
        with_retry!(self, context, |client| {
            read::get(&client, &self.reads, thread_id, ns, id, context).await
        })
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        limits::check_query(query)?;
        let context = self.context("list", query.thread_id.as_ref());
        with_retry!(self, context, |client| {
            read::list(&client, &self.reads, query, context).await
        })
    }

    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let context = self.context("claim", Some(thread_id));
        with_retry!(self, context, |client| {
            write::claim(&client, &self.writes, thread_id, context).await
        })
    }

    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let context = self.context("epoch", Some(thread_id));
        with_retry!(self, context, |client| {
            write::current_epoch(&client, &self.writes, thread_id, context).await
        })
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
        let writes = &writes;
        let context = self.context("claim_if", Some(thread_id));
        // One time for every attempt: an attempt whose commit was lost took exactly the epoch
        // `max(expected + 1, now)`, which the next attempt then recognises as its own.
        let now = Epoch::next_after(None).get();
        let own = Epoch::from_i64(expected.map_or(now, |e| now.max(e.get().saturating_add(1))));
        self.retry
            .run(context, |attempt| async move {
                let client = self.connections.get(context).await?;
                let result = write::claim_if(
                    &client,
                    &self.writes,
                    thread_id,
                    expected,
                    now,
                    ns,
                    id,
                    writes,
                    context,
                )
                .await;
                match result {
                    Err(CheckpointError::Superseded { current, .. })
                        if attempt > 1 && current == Some(own) =>
                    {
                        Ok(own)
                    }
                    other => other,
                }
            })
            .await
    }

    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError> {
        let thread_id = checkpoint.checkpoint.thread_id.clone();
        let context = self.context("put", Some(&thread_id));
        let encoded = &EncodedCheckpoint::new(checkpoint, context)?;
        self.retry
            .run(context, |attempt| async move {
                let client = self.connections.get(context).await?;
                let result = write::put(
                    &client,
                    &self.writes,
                    encoded,
                    self.prepared_statements,
                    context,
                )
                .await;
                match result {
                    // An earlier attempt committed but its answer was lost: this one finds
                    // that very checkpoint at the head.
                    Err(CheckpointError::Conflict { latest, .. })
                        if attempt > 1 && latest == Some(encoded.id()) =>
                    {
                        Ok(())
                    }
                    other => other,
                }
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
        let writes = &writes;
        let context = self.context("put_writes", Some(thread_id));
        with_retry!(self, context, |client| {
            write::put_writes(
                &client,
                &self.writes,
                thread_id,
                ns,
                id,
                writes,
                epoch,
                context,
            )
            .await
        })
    }

    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let context = self.context("delete_thread", Some(thread_id));
        with_retry!(self, context, |client| {
            write::delete_threads(&client, &self.writes, &[thread_id.as_str()], context).await
        })
    }

    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread_id)?;
        let context = self.context("delete_thread_if", Some(thread_id));
        with_retry!(self, context, |client| {
            write::delete_thread_if(&mut client, &self.writes, thread_id, expected, context).await
        })
    }

    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(from)?;
        limits::check_thread_id(to)?;
        let context = self.context("copy_thread", Some(from));
        with_retry!(self, context, |client| {
            write::copy_thread(&mut client, &self.writes, from, to, context).await
        })
    }

    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        if thread_ids.is_empty() {
            return Ok(());
        }
        for thread_id in thread_ids {
            limits::check_thread_id(thread_id)?;
        }
        let context = self.context("prune", thread_ids.first());
        let ids: Vec<&str> = thread_ids.iter().map(ThreadId::as_str).collect();
        with_retry!(self, context, |client| {
            match policy {
                Prune::Delete => write::delete_threads(&client, &self.writes, &ids, context).await,
                Prune::KeepLatest => write::keep_latest(&client, &self.writes, &ids, context).await,
            }
        })
    }

    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        limits::check_thread_query(query)?;
        let context = self.context("list_threads", None);
        with_retry!(self, context, |client| {
            read::list_threads(&client, &self.reads, query, context).await
        })
    }

    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        limits::check_cache_key(key)?;
        let context = self.context("cache_get", None);
        with_retry!(self, context, |client| {
            cache::get(&client, &self.cache, key, context).await
        })
    }

    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError> {
        limits::check_cache_key(key)?;
        let context = self.context("cache_put", None);
        let value = &value;
        with_retry!(self, context, |client| {
            cache::put(&client, &self.cache, key, value, ttl, context).await
        })
    }
}
