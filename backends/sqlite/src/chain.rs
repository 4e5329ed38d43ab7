//! Channel values as delta chains: which blobs rebuild a channel, fetched for a whole page of
//! checkpoints in one recursive query that walks the `base` links, then checked and ordered
//! snapshot first.

use std::collections::{BTreeSet, HashMap};

use rusqlite::Connection;
use stategraph_checkpoint::{BlobKind, Checkpoint, CheckpointError, CheckpointId};

use crate::error::Context;

/// A blob's key: thread, namespace, channel, version.
pub(crate) type BlobKey = (String, String, String, String);

/// A blob as stored.
pub(crate) struct StoredBlob {
    kind: String,
    base: Option<String>,
    pub(crate) data: Vec<u8>,
}

/// Every blob of every delta chain the checkpoints' channels need, in one recursive query.
/// Without `with_data` the values are left out (to learn which blobs are needed).
pub(crate) fn fetch_chains(
    conn: &Connection,
    context: Context<'_>,
    checkpoints: &[Checkpoint],
    with_data: bool,
) -> Result<HashMap<BlobKey, StoredBlob>, CheckpointError> {
    let heads: BTreeSet<(&str, &str, &str, String)> = checkpoints
        .iter()
        .flat_map(|c| {
            c.channel_versions.iter().map(|(channel, version)| {
                (
                    c.thread_id.as_str(),
                    c.ns.as_str(),
                    channel.as_str(),
                    version.to_string(),
                )
            })
        })
        .collect();
    if heads.is_empty() {
        return Ok(HashMap::new());
    }
    let heads = serde_json::to_string(&heads)
        .map_err(|error| context.other(format!("cannot encode blob keys: {error}")))?;
    let data = if with_data { "b.data" } else { "x''" };
    let sql = format!(
        "WITH RECURSIVE chain (thread_id, ns, channel, version) AS (
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1)
             UNION
             SELECT b.thread_id, b.ns, b.channel, b.base
             FROM chain AS k JOIN stategraph_blobs AS b
               ON b.thread_id = k.thread_id AND b.ns = k.ns
              AND b.channel = k.channel AND b.version = k.version
             WHERE b.base IS NOT NULL
         )
         SELECT b.thread_id, b.ns, b.channel, b.version, b.kind, b.base, {data}
         FROM chain AS k JOIN stategraph_blobs AS b
           ON b.thread_id = k.thread_id AND b.ns = k.ns
          AND b.channel = k.channel AND b.version = k.version"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map([heads], |row| {
                Ok((
                    (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?),
                    StoredBlob {
                        kind: row.get(4)?,
                        base: row.get(5)?,
                        data: row.get(6)?,
                    },
                ))
            })?
            .collect()
        })
        .map_err(|error| context.sqlite(error))
}

/// Walks one channel's chain from `version` back to its snapshot; returns it oldest first.
pub(crate) fn walk_chain<'b>(
    blobs: &'b HashMap<BlobKey, StoredBlob>,
    checkpoint: &Checkpoint,
    channel: &str,
    version: CheckpointId,
) -> Result<Vec<(CheckpointId, BlobKind, &'b StoredBlob)>, CheckpointError> {
    let broken =
        |detail: String| CheckpointError::corrupt(&checkpoint.thread_id, checkpoint.id, detail);
    stategraph_checkpoint::walk_chain(checkpoint, channel, version, |at| {
        let key = (
            checkpoint.thread_id.as_str().to_owned(),
            checkpoint.ns.clone(),
            channel.to_owned(),
            at.to_string(),
        );
        let Some(blob) = blobs.get(&key) else {
            return Ok(None);
        };
        let kind = match (blob.kind.as_str(), &blob.base) {
            ("snapshot", None) => BlobKind::Snapshot,
            ("delta", Some(base)) => BlobKind::Delta {
                base: base.parse().map_err(|_| {
                    broken(format!(
                        "channel `{channel}` at version {at} has a malformed base `{base}`"
                    ))
                })?,
            },
            (kind, base) => {
                return Err(broken(format!(
                    "channel `{channel}` at version {at} has an unknown blob kind `{kind}` (base {base:?})"
                )));
            }
        };
        Ok(Some((kind, blob)))
    })
}

/// The keys of every blob the checkpoints need; fails if any chain is broken.
pub(crate) fn chain_keys(
    conn: &Connection,
    context: Context<'_>,
    checkpoints: &[Checkpoint],
) -> Result<Vec<BlobKey>, CheckpointError> {
    let blobs = fetch_chains(conn, context, checkpoints, false)?;
    let mut keys = BTreeSet::new();
    for checkpoint in checkpoints {
        for (channel, version) in &checkpoint.channel_versions {
            for (at, _, _) in walk_chain(&blobs, checkpoint, channel, *version)? {
                keys.insert((
                    checkpoint.thread_id.as_str().to_owned(),
                    checkpoint.ns.clone(),
                    channel.clone(),
                    at.to_string(),
                ));
            }
        }
    }
    Ok(keys.into_iter().collect())
}
