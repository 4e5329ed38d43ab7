//! [`PostgresSaverBuilder`]: the connection string, pool size, schema and timeouts.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use stategraph_checkpoint::CheckpointError;
use tokio_postgres::config::Host;

use crate::PostgresSaver;
use crate::error::Context;

/// The schema the tables go in unless [`PostgresSaverBuilder::schema`] names another.
pub const DEFAULT_SCHEMA: &str = "stategraph";

/// How many connections the pool keeps unless [`PostgresSaverBuilder::pool_size`] says.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Options for [`PostgresSaver`], from [`PostgresSaver::builder`].
///
/// ```no_run
/// # async fn demo() -> Result<(), stategraph_checkpoint::CheckpointError> {
/// use std::time::Duration;
/// use stategraph_postgres::PostgresSaver;
///
/// let saver = PostgresSaver::builder("postgres://app@db.internal:5432/agents")
///     .pool_size(32)
///     .schema("agents_checkpoints")
///     .connect_timeout(Duration::from_secs(3))
///     .connect()
///     .await?;
/// assert_eq!(saver.schema(), "agents_checkpoints");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresSaverBuilder {
    pub(crate) url: String,
    pub(crate) pool_size: usize,
    pub(crate) schema: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) wait_timeout: Duration,
    pub(crate) verify_certificates: bool,
    pub(crate) prepared_statements: bool,
    pub(crate) retry_deadline: Duration,
}

impl fmt::Debug for PostgresSaverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSaverBuilder")
            .field("url", &redact(&self.url))
            .field("pool_size", &self.pool_size)
            .field("schema", &self.schema)
            .field("connect_timeout", &self.connect_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("verify_certificates", &self.verify_certificates)
            .field("prepared_statements", &self.prepared_statements)
            .field("retry_deadline", &self.retry_deadline)
            .finish()
    }
}

impl PostgresSaverBuilder {
    pub(crate) fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: DEFAULT_POOL_SIZE,
            schema: DEFAULT_SCHEMA.to_owned(),
            connect_timeout: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(30),
            verify_certificates: false,
            prepared_statements: false,
            retry_deadline: crate::retry::DEFAULT_RETRY_DEADLINE,
        }
    }

    /// How long an operation whose connection failed (a server restart, a failover, a network
    /// cut) is retried on new connections, with exponential backoff, before it fails with the
    /// last error (default [`DEFAULT_RETRY_DEADLINE`](crate::DEFAULT_RETRY_DEADLINE), 30 s).
    /// `Duration::ZERO` turns the backoff off: a failed connection is then replaced and tried
    /// once more at once, and the next failure is returned. Statement errors (a constraint, a
    /// conflict) are never retried.
    pub fn retry_deadline(mut self, deadline: Duration) -> Self {
        self.retry_deadline = deadline;
        self
    }

    /// The most connections the pool opens (default 16). Concurrent operations beyond that
    /// wait for a free connection.
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }

    /// The schema holding the tables (default `stategraph`), created by `setup` if missing.
    /// An identifier of ASCII letters, digits and `_`, not starting with a digit.
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.schema = name.into();
        self
    }

    /// How long opening one connection may take before it fails (default 10 s; a
    /// `connect_timeout` in the connection string wins).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an operation waits for a free pooled connection (default 30 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// With the `tls` feature: check the server's certificate against the platform's root
    /// certificates and the host name (libpq's `sslmode=verify-full`) whenever TLS is used.
    /// Off by default, as in libpq, where `prefer` and `require` encrypt without checking who
    /// issued the certificate. Without the `tls` feature there is no TLS to check.
    pub fn verify_certificates(mut self, verify: bool) -> Self {
        self.verify_certificates = verify;
        self
    }

    /// Prepares the checkpoint write's call once per connection and reuses it (a named prepared
    /// statement), which saves the server parsing it on every step (the write itself, a
    /// function, is planned once per connection either way). Only for direct
    /// connections or poolers that keep prepared statements (pgbouncer 1.21+ with
    /// `max_prepared_statements`): behind a transaction pooler without that, leave it off
    /// (the default), and every statement is sent unnamed.
    pub fn prepared_statements(mut self, on: bool) -> Self {
        self.prepared_statements = on;
        self
    }

    /// Opens the pool, takes one connection now (so an unreachable server fails here, naming
    /// it), and runs `setup`.
    pub async fn connect(self) -> Result<PostgresSaver, CheckpointError> {
        PostgresSaver::start(self).await
    }

    /// Opens the pool as [`connect`](Self::connect) does, as a [`PostgresStore`](crate::PostgresStore)
    /// (table `store` in the same schema).
    pub async fn connect_store(
        self,
    ) -> Result<crate::PostgresStore, stategraph_checkpoint::StoreError> {
        PostgresSaver::start(self)
            .await
            .map(|saver| {
                crate::PostgresStore(saver, stategraph_checkpoint::store::Clock::default())
            })
            .map_err(stategraph_checkpoint::StoreError::from)
    }

    /// The parsed connection string and the server it names, as `host:port`.
    pub(crate) fn parse(&self) -> Result<(tokio_postgres::Config, Arc<str>), CheckpointError> {
        let unknown: Arc<str> = Arc::from(redact(&self.url));
        let context = Context::new("connect", None, &unknown);
        if !is_identifier(&self.schema) {
            return Err(context.other(format!(
                "`{}` is not a valid schema name: use ASCII letters, digits and `_`, not starting with a digit, at most 63 bytes",
                self.schema
            )));
        }
        let mut config = tokio_postgres::Config::from_str(&self.url).map_err(|e| context.pg(e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("stategraph");
        }
        Ok((config.clone(), Arc::from(describe_server(&config))))
    }
}

/// `host:port` of every host the configuration names, comma-separated.
fn describe_server(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports
                .get(i)
                .or_else(|| ports.first())
                .copied()
                .unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}/.s.PGSQL.{port}", path.display()),
            }
        })
        .collect();
    if hosts.is_empty() {
        format!("localhost:{}", ports.first().copied().unwrap_or(5432))
    } else {
        hosts.join(",")
    }
}

/// The connection string without its password.
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(is_identifier("stategraph"));
        assert!(is_identifier("_x9"));
        assert!(!is_identifier("9x"));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier("a\"; drop table x; --"));
        assert!(!is_identifier(""));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:1/d"),
            "postgres://u:***@h:1/d"
        );
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
    }

    #[test]
    fn servers_are_named_by_host_and_port() {
        let config = tokio_postgres::Config::from_str("postgres://u@db.example:6543/x").unwrap();
        assert_eq!(describe_server(&config), "db.example:6543");
        let config = tokio_postgres::Config::from_str("host=a,b port=1,2 user=u").unwrap();
        assert_eq!(describe_server(&config), "a:1,b:2");
    }
}
