//! Options: key prefix, expiry, the volatile-storage opt-in and timeouts.

use std::time::Duration;

use stategraph_checkpoint::CheckpointError;

use crate::RedisSaver;

/// When a thread's keys expire: `after` its last write (and, with `refresh_on_read`, its last
/// read), so paused or finished threads do not live forever.
///
/// Every key of the thread gets the same expiry on each write, so a thread vanishes whole,
/// never half. Listings (`list`, `list_threads`) do not refresh it: a retention sweep must
/// not keep everything alive.
///
/// ```
/// use std::time::Duration;
/// use stategraph_redis::Ttl;
///
/// let ttl = Ttl { after: Duration::from_secs(7 * 24 * 3600), refresh_on_read: true };
/// assert!(ttl.refresh_on_read);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl {
    /// How long a thread lives after its last write (or read, with `refresh_on_read`).
    /// Rounded to milliseconds, at least 1 ms.
    pub after: Duration,
    /// Whether `get` (and the tuples `list` returns) renew the expiry too.
    pub refresh_on_read: bool,
}

impl Ttl {
    /// Expiry `after` the last write, not renewed by reads.
    pub fn after_write(after: Duration) -> Self {
        Self {
            after,
            refresh_on_read: false,
        }
    }

    pub(crate) fn millis(&self) -> u64 {
        u64::try_from(self.after.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// Everything a saver was built with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) url: String,
    pub(crate) key_prefix: String,
    pub(crate) ttl: Option<Ttl>,
    pub(crate) allow_volatile: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Option<Duration>,
}

impl Config {
    /// The expiry to apply on writes, in milliseconds (0 = none).
    pub(crate) fn write_ttl_ms(&self) -> u64 {
        self.ttl.map_or(0, |t| t.millis())
    }

    /// The expiry to refresh on reads, in milliseconds (0 = none).
    pub(crate) fn read_ttl_ms(&self) -> u64 {
        self.ttl
            .filter(|t| t.refresh_on_read)
            .map_or(0, |t| t.millis())
    }
}

/// Options for [`RedisSaver`], from [`RedisSaver::builder`].
///
/// ```no_run
/// # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
/// use std::time::Duration;
/// use stategraph_redis::{RedisSaver, Ttl};
///
/// let saver = RedisSaver::builder("redis://127.0.0.1:6379")
///     .key_prefix("myapp")
///     .ttl(Ttl { after: Duration::from_secs(30 * 24 * 3600), refresh_on_read: true })
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisSaverBuilder {
    config: Config,
}

impl RedisSaverBuilder {
    pub(crate) fn new(url: &str) -> Self {
        Self {
            config: Config {
                url: url.to_owned(),
                key_prefix: "stategraph".to_owned(),
                ttl: None,
                allow_volatile: false,
                connect_timeout: Duration::from_secs(5),
                response_timeout: None,
            },
        }
    }

    /// The prefix of every key the saver writes (default `stategraph`), so several
    /// applications (or test runs) can share one server. Must not contain `{` or `}`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.key_prefix = prefix.into();
        self
    }

    /// Expire each thread's keys some time after its last write (default: never).
    pub fn ttl(mut self, ttl: Ttl) -> Self {
        self.config.ttl = Some(ttl);
        self
    }

    /// Accept a server that would lose checkpoints on restart (no append-only file, or
    /// `appendfsync no`), or whose settings cannot be checked because `CONFIG` is disabled
    /// (managed Redis). `setup()` then logs a warning once per saver instead of refusing.
    /// For tests, caches of recomputable work, and managed services you know persist.
    pub fn allow_volatile(mut self, allow: bool) -> Self {
        self.config.allow_volatile = allow;
        self
    }

    /// How long connecting may take before [`connect`](Self::connect) fails (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long one command may wait for its answer (default: no limit).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.config.response_timeout = Some(timeout);
        self
    }

    /// Connects, and runs [`setup`](stategraph_checkpoint::Checkpointer::setup), which checks
    /// the server's persistence settings.
    pub async fn connect(self) -> Result<RedisSaver, CheckpointError> {
        RedisSaver::from_config(self.config).await
    }

    /// Connects as [`connect`](Self::connect) does, as a [`RedisStore`](crate::RedisStore)
    /// (keys `{<prefix>:store}:…`).
    pub async fn connect_store(
        self,
    ) -> Result<crate::RedisStore, stategraph_checkpoint::StoreError> {
        RedisSaver::from_config(self.config)
            .await
            .map(|saver| crate::RedisStore(saver, stategraph_checkpoint::store::Clock::default()))
            .map_err(stategraph_checkpoint::StoreError::from)
    }
}

/// The URL with its password hidden, for `Debug` and error messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact("redis://:secret@h"), "redis://:***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }
}
