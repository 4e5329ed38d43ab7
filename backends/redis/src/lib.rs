//! The Redis checkpointer for stategraph: atomic writes on core Redis types, and honest about
//! durability.
//!
//! [`RedisSaver`] implements [`Checkpointer`] with hashes, sorted sets and Lua scripts only
//! (no RedisJSON or RediSearch), so it runs on any Redis ≥ 6.2. Every put is one script: the
//! checkpoint, its blobs and its index entries are stored all or nothing, after checking on
//! the server that its parent is still the thread's latest checkpoint.
//!
//! [`setup`](Checkpointer::setup) (which [`RedisSaver::connect`] runs) reads the server's
//! persistence settings and refuses a server that would lose checkpoints on restart, unless
//! you opt in with [`RedisSaverBuilder::allow_volatile`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
//! use stategraph_redis::RedisSaver;
//! use stategraph_checkpoint::{Checkpointer, ThreadId};
//!
//! let saver = RedisSaver::connect("redis://127.0.0.1:6379").await?;
//! assert!(saver.get(&ThreadId::new("t"), "", None).await?.is_none());
//! # Ok(()) }
//! ```
#![doc = ""]
#![doc = include_str!("../README.md")]

mod cache;
mod codec;
mod config;
mod durability;
mod error;
mod keys;
mod read;
mod reply;
mod scripts;
mod store;
mod write;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use stategraph_checkpoint::{
    CheckpointError, CheckpointId, CheckpointTuple, Checkpointer, Epoch, ListQuery, NewCheckpoint,
    PendingWrite, Prune, ThreadId, ThreadInfo, ThreadQuery, limits,
};

use crate::config::{Config, redact};
use crate::durability::Persistence;
use crate::error::Context;
use crate::keys::Keys;
use crate::scripts::Scripts;

pub use crate::config::{RedisSaverBuilder, Ttl};
pub use crate::error::RedisError;
pub use crate::store::RedisStore;

/// Checkpoints in Redis, for low-latency steps shared by many processes.
///
/// # Durability
///
/// Redis acknowledges a write once it is in memory; only the append-only file (AOF) makes it
/// survive a restart. [`setup`](Checkpointer::setup) reads `appendonly`, `appendfsync` and
/// `save` with `CONFIG GET` and refuses, naming the setting to change, when a restart would
/// lose checkpoints: no AOF (RDB snapshots alone lose what was written since the last one) or
/// `appendfsync no`. With `appendfsync everysec` a crash of the *machine* may lose the last
/// second of checkpoints (a crash of Redis alone loses nothing); with `always` nothing is
/// lost, at the cost of an fsync per write. If `CONFIG` is disabled (managed services),
/// `setup()` refuses too and says so. [`RedisSaverBuilder::allow_volatile`] accepts such a
/// server explicitly, with one warning per saver.
///
/// # Atomicity and concurrency
///
/// Each operation is one Lua script (the server runs it without interleaving anything else):
/// a put checks the parent against the namespace's latest checkpoint
/// ([`CheckpointError::Conflict`] otherwise, nothing written), then stores the checkpoint,
/// its blobs and its index entries. One multiplexed connection
/// ([`ConnectionManager`], reconnecting by itself) serves all callers; nothing blocks the
/// executor.
///
/// # Storage
///
/// All keys of a thread share the hash tag `{thread}` under the key prefix; checkpoints are
/// ordered by id in sorted sets (score 0, lexicographic ranges), so `before`/`limit` pages are
/// exact. Metadata filters are applied to each record with the contract's own
/// [`matches`](stategraph_checkpoint::CheckpointMetadata::matches), so any key filters, exactly,
/// and `limit` counts matches. A [`Ttl`] expires every key of a thread together.
///
/// ```no_run
/// # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
/// use stategraph_redis::RedisSaver;
/// use stategraph_checkpoint::{Checkpointer, ListQuery, ThreadId};
///
/// let saver = RedisSaver::connect("redis://127.0.0.1:6379").await?;
/// let history = saver.list(&ListQuery::thread(ThreadId::new("job-7")).limit(20)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisSaver {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Arc<Scripts>,
    config: Arc<Config>,
    /// Whether this saver has already warned about volatile storage.
    warned: Arc<AtomicBool>,
}

impl RedisSaver {
    /// Connects to the server at `url` (`redis://[user:password@]host:port[/db]`, or
    /// `rediss://` for TLS if redis-rs was built with it) with the default options and runs
    /// [`setup`](Checkpointer::setup). Fails within the connect timeout (5 s) when the server is
    /// unreachable, and refuses a server that would lose checkpoints on restart.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
    /// let saver = stategraph_redis::RedisSaver::connect("redis://127.0.0.1:6379").await?;
    /// assert_eq!(saver.key_prefix(), "stategraph");
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, CheckpointError> {
        Self::builder(url).connect().await
    }

    /// Options: key prefix, [`Ttl`], the volatile-storage opt-in, timeouts.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
    /// use std::time::Duration;
    /// use stategraph_redis::{RedisSaver, Ttl};
    ///
    /// let saver = RedisSaver::builder("redis://127.0.0.1:6379")
    ///     .key_prefix("stategraph")
    ///     .ttl(Ttl { after: Duration::from_secs(24 * 3600), refresh_on_read: true })
    ///     .allow_volatile(true) // a cache-only server: accepted, with a warning
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn builder(url: &str) -> RedisSaverBuilder {
        RedisSaverBuilder::new(url)
    }

    /// The prefix of every key this saver writes.
    pub fn key_prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// The expiry of threads, if any.
    pub fn ttl(&self) -> Option<Ttl> {
        self.config.ttl
    }

    async fn from_config(config: Config) -> Result<Self, CheckpointError> {
        let ctx = Context::new("connect", None);
        keys::check_prefix(&config.key_prefix).map_err(|e| ctx.other(e))?;
        let client = redis::Client::open(config.url.as_str()).map_err(|e| ctx.redis(e))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(config.response_timeout)
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            config.connect_timeout * 2,
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        .map_err(|_| {
            ctx.other(format!(
                "no answer from {} within {:?}",
                redact(&config.url),
                config.connect_timeout * 2
            ))
        })?
        .map_err(|e| {
            ctx.other(format!(
                "cannot connect to the Redis server at {}: {e}",
                redact(&config.url)
            ))
        })?;
        let saver = Self {
            conn,
            keys: Keys::new(&config.key_prefix),
            scripts: Arc::new(Scripts::new()),
            config: Arc::new(config),
            warned: Arc::new(AtomicBool::new(false)),
        };
        saver.setup().await?;
        Ok(saver)
    }
}

impl fmt::Debug for RedisSaver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSaver")
            .field("url", &redact(&self.config.url))
            .field("key_prefix", &self.keys.prefix())
            .field("ttl", &self.config.ttl)
            .field("allow_volatile", &self.config.allow_volatile)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Checkpointer for RedisSaver {
    /// Checks the server's persistence (refusing, or warning once per saver with
    /// `allow_volatile`) and loads the scripts. There is no schema to migrate.
    async fn setup(&self) -> Result<(), CheckpointError> {
        let ctx = Context::new("setup", None);
        let mut conn = self.conn.clone();
        let url = redact(&self.config.url);
        match durability::check(&mut conn, &url).await {
            Persistence::Durable { appendfsync } => {
                tracing::debug!(url, appendfsync, "Redis persists checkpoints (AOF on)");
            }
            Persistence::Volatile(why) if self.config.allow_volatile => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        url,
                        "checkpoints may be lost on restart (allowed by allow_volatile): {why}"
                    );
                }
            }
            Persistence::Volatile(why) => return Err(ctx.durability(why)),
        }
        for script in self.scripts.all() {
            script
                .load_async(&mut conn)
                .await
                .map_err(|e| ctx.redis(e))?;
        }
        Ok(())
    }

    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        self.get_tuple(thread_id, ns, id).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        self.list_tuples(query).await
    }

    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        self.claim_thread(thread_id).await
    }

    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        self.thread_epoch(thread_id).await
    }

    async fn claim_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError> {
        self.claim_thread_if(thread_id, expected, ns, id, writes)
            .await
    }

    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError> {
        self.put_checkpoint(checkpoint).await
    }

    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.put_task_writes(thread_id, ns, id, writes, epoch).await
    }

    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        self.delete(thread_id, None, "delete_thread").await
    }

    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.delete(thread_id, Some(expected), "delete_thread_if")
            .await
    }

    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        self.copy(from, to).await
    }

    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        self.prune_threads(thread_ids, policy).await
    }

    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        limits::check_thread_query(query)?;
        self.threads(query).await
    }

    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        limits::check_cache_key(key)?;
        self.cached(key).await
    }

    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError> {
        limits::check_cache_key(key)?;
        self.cache(key, value, ttl).await
    }
}
