//! The node cache: one object per key under `cache/`, named by the key's hash, holding the
//! expiry (microseconds since the epoch, little endian; `i64::MAX` for never) and the value.

use std::time::Duration;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use stategraph_checkpoint::{CheckpointError, now, to_micros};

use crate::error::Context;

fn path(root: &Path, key: &str) -> Path {
    root.clone().join("cache").join(crate::name::hashed(key))
}

/// The value cached under `key`, unless it is absent or expired (an expired one is removed).
pub(crate) async fn get(
    store: &dyn ObjectStore,
    root: &Path,
    key: &str,
) -> Result<Option<Vec<u8>>, CheckpointError> {
    let ctx = Context::new("cache_get", None);
    let path = path(root, key);
    let bytes = match store.get(&path).await {
        Ok(found) => found.bytes().await.map_err(|e| ctx.store(e))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(ctx.store(e)),
    };
    let Some((expires, value)) = bytes.split_first_chunk::<8>() else {
        return Err(ctx.other(format!("cache object `{path}` is truncated")));
    };
    if i64::from_le_bytes(*expires) <= to_micros(now()) {
        match store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(ctx.store(e)),
        }
        return Ok(None);
    }
    Ok(Some(value.to_vec()))
}

/// Stores `value` under `key`, replacing any earlier one, to expire `ttl` from now.
pub(crate) async fn put(
    store: &dyn ObjectStore,
    root: &Path,
    key: &str,
    value: Vec<u8>,
    ttl: Option<Duration>,
) -> Result<(), CheckpointError> {
    let ctx = Context::new("cache_put", None);
    let expires = ttl.map_or(i64::MAX, |ttl| to_micros(now() + ttl));
    let mut bytes = Vec::with_capacity(8 + value.len());
    bytes.extend_from_slice(&expires.to_le_bytes());
    bytes.extend_from_slice(&value);
    store
        .put(&path(root, key), PutPayload::from(bytes))
        .await
        .map_err(|e| ctx.store(e))?;
    Ok(())
}
