//! The node cache: results by key, each with the time it expires (none: kept until replaced).
//! Expired entries are never returned, and each put removes those that expired.

use std::time::Duration;

use stategraph_checkpoint::{CheckpointError, now, to_micros};
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::error::Context;

/// The cache's statements, with the schema filled in.
#[derive(Debug)]
pub(crate) struct CacheSql {
    get: String,
    put: String,
}

impl CacheSql {
    pub(crate) fn new(schema: &str) -> Self {
        let s = format!("\"{schema}\"");
        let fill = |sql: &str| sql.replace("{s}", &s);
        Self {
            get: fill(
                "SELECT value FROM {s}.cache
                 WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)",
            ),
            // One statement: the sweep of expired entries (but the key's own, which the upsert
            // replaces: a statement may not touch one row twice) and the upsert.
            put: fill(
                "WITH swept AS (
                     DELETE FROM {s}.cache
                     WHERE expires_at IS NOT NULL AND expires_at <= $4 AND key <> $1
                 )
                 INSERT INTO {s}.cache (key, value, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE
                     SET value = excluded.value, expires_at = excluded.expires_at",
            ),
        }
    }
}

/// The entry under `key`, unless absent or expired.
pub(crate) async fn get(
    client: &Client,
    sql: &CacheSql,
    key: &str,
    context: Context<'_>,
) -> Result<Option<Vec<u8>>, CheckpointError> {
    let at = to_micros(now());
    let rows = client
        .query_typed(&sql.get, &[(&key, Type::TEXT), (&at, Type::INT8)])
        .await
        .map_err(|e| context.pg(e))?;
    Ok(rows.first().map(|row| row.get(0)))
}

/// Stores `value` under `key`, expiring `ttl` from now, and removes expired entries.
pub(crate) async fn put(
    client: &Client,
    sql: &CacheSql,
    key: &str,
    value: &[u8],
    ttl: Option<Duration>,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let at = to_micros(now());
    let expires =
        ttl.map(|ttl| at.saturating_add(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX)));
    client
        .query_typed(
            &sql.put,
            &[
                (&key, Type::TEXT),
                (&value, Type::BYTEA),
                (&expires, Type::INT8),
                (&at, Type::INT8),
            ],
        )
        .await
        .map_err(|e| context.pg(e))?;
    Ok(())
}
