//! The node cache: results by key, each with the time it expires (none: kept until replaced).
//! Expired entries are never returned, and each put removes those that expired.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use stategraph_checkpoint::{CheckpointError, now, to_micros};

use crate::error::Context;

/// The entry under `key`, unless absent or expired.
pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
    let context = Context::new("cache_get", None);
    conn.prepare_cached(
        "SELECT value FROM stategraph_cache
         WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
    )
    .and_then(|mut s| {
        s.query_row(params![key, to_micros(now())], |r| r.get(0))
            .optional()
    })
    .map_err(|error| context.sqlite(error))
}

/// Stores `value` under `key`, expiring `ttl` from now, and removes expired entries.
pub(crate) fn put(
    conn: &Connection,
    key: &str,
    value: &[u8],
    ttl: Option<Duration>,
) -> Result<(), CheckpointError> {
    let context = Context::new("cache_put", None);
    let at = to_micros(now());
    let expires =
        ttl.map(|ttl| at.saturating_add(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX)));
    conn.prepare_cached(
        "DELETE FROM stategraph_cache WHERE expires_at IS NOT NULL AND expires_at <= ?1",
    )
    .and_then(|mut s| s.execute([at]))
    .map_err(|error| context.sqlite(error))?;
    conn.prepare_cached(
        "INSERT INTO stategraph_cache (key, value, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
    )
    .and_then(|mut s| s.execute(params![key, value, expires]))
    .map_err(|error| context.sqlite(error))?;
    Ok(())
}
