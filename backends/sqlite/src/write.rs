//! The writes, each run by the writer thread inside its savepoint of a group commit.
//!
//! Values are encoded by the caller (on its async task) before they reach the writer, so the
//! one thread that holds the write lock only runs SQL.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};
use stategraph_checkpoint::{
    BlobKind, CheckpointError, CheckpointId, Epoch, NewCheckpoint, PendingWrite, PutMode, Source,
    ThreadId, limits, to_micros,
};

use crate::error::Context;
use crate::{chain, read};

/// A checkpoint with every column already encoded.
pub(crate) struct EncodedCheckpoint {
    pub(crate) thread_id: ThreadId,
    ns: String,
    id: CheckpointId,
    parent_id: Option<CheckpointId>,
    mode: PutMode,
    epoch: Option<Epoch>,
    created_at: i64,
    step: i64,
    source: &'static str,
    channel_versions: String,
    next: String,
    barriers: String,
    metadata: String,
    finished: bool,
    blobs: Vec<EncodedBlob>,
}

struct EncodedBlob {
    channel: String,
    version: String,
    kind: &'static str,
    base: Option<String>,
    data: Vec<u8>,
}

impl EncodedCheckpoint {
    /// Checks the checkpoint against the contract's limits and encodes every column.
    pub(crate) fn new(new: NewCheckpoint) -> Result<Self, CheckpointError> {
        limits::check_put(&new)?;
        let NewCheckpoint {
            checkpoint,
            blobs,
            mode,
            epoch,
        } = new;
        let context = Context::new("put", Some(&checkpoint.thread_id));
        let json = |value: serde_json::Result<String>| {
            value.map_err(|error| context.other(format!("cannot encode the checkpoint: {error}")))
        };
        let versions: BTreeMap<&str, String> = checkpoint
            .channel_versions
            .iter()
            .map(|(channel, version)| (channel.as_str(), version.to_string()))
            .collect();
        Ok(Self {
            channel_versions: json(serde_json::to_string(&versions))?,
            next: json(serde_json::to_string(&checkpoint.next))?,
            barriers: json(serde_json::to_string(&checkpoint.barriers))?,
            metadata: json(serde_json::to_string(&checkpoint.metadata.to_json()))?,
            created_at: to_micros(checkpoint.created_at),
            step: checkpoint.metadata.step,
            source: source_name(checkpoint.metadata.source),
            finished: checkpoint.next.is_empty(),
            blobs: blobs
                .into_iter()
                .map(|blob| {
                    let (kind, base) = match blob.kind {
                        BlobKind::Snapshot => ("snapshot", None),
                        BlobKind::Delta { base } => ("delta", Some(base.to_string())),
                    };
                    EncodedBlob {
                        channel: blob.channel,
                        version: blob.version.to_string(),
                        kind,
                        base,
                        data: blob.data,
                    }
                })
                .collect(),
            thread_id: checkpoint.thread_id,
            ns: checkpoint.ns,
            id: checkpoint.id,
            parent_id: checkpoint.parent_id,
            mode,
            epoch,
        })
    }
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Input => "input",
        Source::Loop => "loop",
        Source::Update => "update",
        Source::Fork => "fork",
    }
}

/// Stores a checkpoint after checking it against the thread's history, inside the write
/// transaction so no other writer can move the head in between.
pub(crate) fn put(conn: &Connection, c: &EncodedCheckpoint) -> Result<(), CheckpointError> {
    let context = Context::new("put", Some(&c.thread_id));
    let sqlite = |error| context.sqlite(error);
    check_epoch(conn, &c.thread_id, c.epoch, context)?;
    let latest: Option<String> = conn
        .prepare_cached(
            "SELECT max(id) FROM stategraph_checkpoints WHERE thread_id = ?1 AND ns = ?2",
        )
        .and_then(|mut s| s.query_row(params![c.thread_id.as_str(), c.ns], |r| r.get(0)))
        .map_err(sqlite)?;
    let latest = latest
        .map(|id| {
            id.parse::<CheckpointId>().map_err(|_| {
                CheckpointError::corrupt(
                    &c.thread_id,
                    c.id,
                    format!(
                        "the latest checkpoint of namespace `{}` has a malformed id `{id}`",
                        c.ns
                    ),
                )
            })
        })
        .transpose()?;
    match c.mode {
        PutMode::Advance if c.parent_id != latest => {
            return Err(CheckpointError::Conflict {
                thread_id: c.thread_id.clone(),
                ns: c.ns.clone(),
                expected: c.parent_id,
                latest,
            });
        }
        PutMode::Advance => {}
        PutMode::Fork => {
            if let Some(parent) = c.parent_id {
                let exists = conn
                    .prepare_cached(
                        "SELECT 1 FROM stategraph_checkpoints
                         WHERE thread_id = ?1 AND ns = ?2 AND id = ?3",
                    )
                    .and_then(|mut s| {
                        s.query_row(
                            params![c.thread_id.as_str(), c.ns, parent.to_string()],
                            |_| Ok(()),
                        )
                        .optional()
                    })
                    .map_err(sqlite)?
                    .is_some();
                if !exists {
                    return Err(CheckpointError::MissingParent {
                        thread_id: c.thread_id.clone(),
                        parent,
                    });
                }
            }
        }
    }
    let id = c.id.to_string();
    let mut insert_blob = conn
        .prepare_cached(
            "INSERT INTO stategraph_blobs (thread_id, ns, channel, version, kind, base, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (thread_id, ns, channel, version) DO NOTHING",
        )
        .map_err(sqlite)?;
    for blob in &c.blobs {
        insert_blob
            .execute(params![
                c.thread_id.as_str(),
                c.ns,
                blob.channel,
                blob.version,
                blob.kind,
                blob.base,
                blob.data
            ])
            .map_err(sqlite)?;
    }
    conn.prepare_cached(
        "INSERT INTO stategraph_checkpoints (thread_id, ns, id, parent_id, created_at, step,
             source, channel_versions, next, barriers, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (thread_id, ns, id) DO UPDATE SET
             parent_id = excluded.parent_id, created_at = excluded.created_at,
             step = excluded.step, source = excluded.source,
             channel_versions = excluded.channel_versions, next = excluded.next,
             barriers = excluded.barriers, metadata = excluded.metadata",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.thread_id.as_str(),
            c.ns,
            id,
            c.parent_id.map(|p| p.to_string()),
            c.created_at,
            c.step,
            c.source,
            c.channel_versions,
            c.next,
            c.barriers,
            c.metadata
        ])
    })
    .map_err(sqlite)?;
    if c.ns.is_empty() {
        // The thread's head is its greatest root checkpoint id, whatever order puts arrive in.
        conn.prepare_cached(
            "INSERT INTO stategraph_threads (thread_id, head, updated_at, step, finished)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (thread_id) DO UPDATE SET
                 head = excluded.head, updated_at = excluded.updated_at,
                 step = excluded.step, finished = excluded.finished
             WHERE excluded.head >= stategraph_threads.head",
        )
        .and_then(|mut s| {
            s.execute(params![
                c.thread_id.as_str(),
                id,
                c.created_at,
                c.step,
                c.finished
            ])
        })
        .map_err(sqlite)?;
    }
    Ok(())
}

/// Stores one task's writes: the first write at each (task, index) wins, except at negative
/// indexes (errors), where the latest does.
pub(crate) fn put_writes(
    conn: &Connection,
    thread_id: &ThreadId,
    ns: &str,
    checkpoint: CheckpointId,
    writes: &[PendingWrite],
    epoch: Option<Epoch>,
) -> Result<(), CheckpointError> {
    let context = Context::new("put_writes", Some(thread_id));
    let sqlite = |error| context.sqlite(error);
    check_epoch(conn, thread_id, epoch, context)?;
    let checkpoint = checkpoint.to_string();
    for write in writes {
        let sql = if write.idx < 0 {
            "INSERT INTO stategraph_writes
                 (thread_id, ns, checkpoint_id, task_id, idx, node, channel, value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (thread_id, ns, checkpoint_id, task_id, idx) DO UPDATE SET
                 node = excluded.node, channel = excluded.channel, value = excluded.value"
        } else {
            "INSERT INTO stategraph_writes
                 (thread_id, ns, checkpoint_id, task_id, idx, node, channel, value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (thread_id, ns, checkpoint_id, task_id, idx) DO NOTHING"
        };
        conn.prepare_cached(sql)
            .and_then(|mut s| {
                s.execute(params![
                    thread_id.as_str(),
                    ns,
                    checkpoint,
                    write.task_id.to_string(),
                    write.idx,
                    write.node,
                    write.channel,
                    write.value
                ])
            })
            .map_err(sqlite)?;
    }
    Ok(())
}

const TABLES: [&str; 4] = [
    "stategraph_checkpoints",
    "stategraph_blobs",
    "stategraph_writes",
    "stategraph_threads",
];

/// Takes ownership of the thread: a new epoch, greater than the last.
pub(crate) fn claim(conn: &Connection, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
    let context = Context::new("claim", Some(thread_id));
    let now = Epoch::next_after(None).get();
    conn.prepare_cached(
        "INSERT INTO stategraph_owners (thread_id, epoch) VALUES (?1, ?2)
         ON CONFLICT (thread_id) DO UPDATE SET epoch = max(epoch + 1, excluded.epoch)
         RETURNING epoch",
    )
    .and_then(|mut s| s.query_row(params![thread_id.as_str(), now], |r| r.get(0)))
    .map(Epoch::from_i64)
    .map_err(|error| context.sqlite(error))
}

/// Takes ownership of the thread if its epoch is still `expected`, storing `writes` against
/// checkpoint `checkpoint` of `ns` in the same transaction.
pub(crate) fn claim_if(
    conn: &mut Connection,
    thread_id: &ThreadId,
    expected: Option<Epoch>,
    ns: &str,
    checkpoint: CheckpointId,
    writes: &[PendingWrite],
) -> Result<Epoch, CheckpointError> {
    let context = Context::new("claim_if", Some(thread_id));
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|error| context.sqlite(error))?;
    let current = current_epoch(&tx, thread_id, context)?;
    CheckpointError::check_expected(thread_id, expected, current)?;
    let epoch = claim(&tx, thread_id)?;
    put_writes(&tx, thread_id, ns, checkpoint, writes, Some(epoch))?;
    tx.commit().map_err(|error| context.sqlite(error))?;
    Ok(epoch)
}

/// The thread's epoch now.
pub(crate) fn current_epoch(
    conn: &Connection,
    thread_id: &ThreadId,
    context: Context<'_>,
) -> Result<Option<Epoch>, CheckpointError> {
    conn.prepare_cached("SELECT epoch FROM stategraph_owners WHERE thread_id = ?1")
        .and_then(|mut s| s.query_row([thread_id.as_str()], |r| r.get(0)).optional())
        .map(|epoch| epoch.map(Epoch::from_i64))
        .map_err(|error| context.sqlite(error))
}

/// Refuses a write whose epoch is no longer the thread's. Runs inside the write transaction,
/// which no claim can interleave with.
fn check_epoch(
    conn: &Connection,
    thread_id: &ThreadId,
    epoch: Option<Epoch>,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let Some(epoch) = epoch else {
        return Ok(());
    };
    let current = current_epoch(conn, thread_id, context)?;
    CheckpointError::check_fence(thread_id, Some(epoch), current)
}

/// Deletes every row of the thread if its epoch is still `expected`.
pub(crate) fn delete_thread_if(
    conn: &Connection,
    thread_id: &ThreadId,
    expected: Option<Epoch>,
) -> Result<(), CheckpointError> {
    let current = current_epoch(
        conn,
        thread_id,
        Context::new("delete_thread_if", Some(thread_id)),
    )?;
    CheckpointError::check_expected(thread_id, expected, current)?;
    delete_thread(conn, thread_id)
}

/// Deletes every row of the thread, its owner's epoch included.
pub(crate) fn delete_thread(
    conn: &Connection,
    thread_id: &ThreadId,
) -> Result<(), CheckpointError> {
    delete_rows(conn, thread_id, &["stategraph_owners"])?;
    delete_rows(conn, thread_id, &TABLES)
}

fn delete_rows(
    conn: &Connection,
    thread_id: &ThreadId,
    tables: &[&str],
) -> Result<(), CheckpointError> {
    let context = Context::new("delete_thread", Some(thread_id));
    for table in tables {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE thread_id = ?1"))
            .and_then(|mut s| s.execute([thread_id.as_str()]))
            .map_err(|error| context.sqlite(error))?;
    }
    Ok(())
}

/// Copies every row of `from` to `to`, which must have no checkpoint.
pub(crate) fn copy_thread(
    conn: &Connection,
    from: &ThreadId,
    to: &ThreadId,
) -> Result<(), CheckpointError> {
    let context = Context::new("copy_thread", Some(from));
    let sqlite = |error| context.sqlite(error);
    let has_rows = |table: &str, thread_id: &ThreadId| {
        conn.prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE thread_id = ?1)"
        ))
        .and_then(|mut s| s.query_row([thread_id.as_str()], |r| r.get::<_, bool>(0)))
        .map_err(sqlite)
    };
    if has_rows("stategraph_checkpoints", to)? {
        return Err(CheckpointError::ThreadExists(to.clone()));
    }
    let mut source_exists = false;
    for table in TABLES {
        source_exists = source_exists || has_rows(table, from)?;
    }
    if !source_exists || from == to {
        return Ok(());
    }
    // The destination may hold stray writes (saved against no checkpoint); the copy replaces
    // them, as it replaces the whole thread. Its owner, if a run claimed it, stays.
    delete_rows(conn, to, &TABLES)?;
    let copies = [
        "INSERT INTO stategraph_checkpoints (thread_id, ns, id, parent_id, created_at, step,
             source, channel_versions, next, barriers, metadata)
         SELECT ?2, ns, id, parent_id, created_at, step, source, channel_versions, next,
             barriers, metadata
         FROM stategraph_checkpoints WHERE thread_id = ?1",
        "INSERT INTO stategraph_blobs (thread_id, ns, channel, version, kind, base, data)
         SELECT ?2, ns, channel, version, kind, base, data
         FROM stategraph_blobs WHERE thread_id = ?1",
        "INSERT INTO stategraph_writes (thread_id, ns, checkpoint_id, task_id, idx, node,
             channel, value)
         SELECT ?2, ns, checkpoint_id, task_id, idx, node, channel, value
         FROM stategraph_writes WHERE thread_id = ?1",
        "INSERT INTO stategraph_threads (thread_id, head, updated_at, step, finished)
         SELECT ?2, head, updated_at, step, finished
         FROM stategraph_threads WHERE thread_id = ?1",
    ];
    for sql in copies {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([from.as_str(), to.as_str()]))
            .map_err(sqlite)?;
    }
    Ok(())
}

/// Keeps only the latest checkpoint of each namespace of the thread, its writes, and the
/// blobs its channels need.
pub(crate) fn keep_latest(conn: &Connection, thread_id: &ThreadId) -> Result<(), CheckpointError> {
    let context = Context::new("prune", Some(thread_id));
    let sqlite = |error| context.sqlite(error);
    // SQLite takes the bare columns of a max() aggregate from the row holding the maximum.
    let latest = conn
        .prepare_cached(
            "SELECT thread_id, ns, max(id), parent_id, created_at, channel_versions, next,
                 barriers, metadata
             FROM stategraph_checkpoints WHERE thread_id = ?1 GROUP BY ns",
        )
        .and_then(|mut s| {
            s.query_map([thread_id.as_str()], read::RawCheckpoint::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sqlite)?
        .into_iter()
        .map(read::RawCheckpoint::decode)
        .collect::<Result<Vec<_>, _>>()?;
    if latest.is_empty() {
        return Ok(());
    }
    // Fails (and so prunes nothing) if a kept checkpoint's chain is already broken.
    let kept_blobs = chain::chain_keys(conn, context, &latest)?;
    let kept_blobs = serde_json::to_string(&kept_blobs)
        .map_err(|error| context.other(format!("cannot encode blob keys: {error}")))?;
    let deletes = [
        "DELETE FROM stategraph_checkpoints AS c WHERE thread_id = ?1 AND id < (
             SELECT max(id) FROM stategraph_checkpoints
             WHERE thread_id = ?1 AND ns = c.ns)",
        "DELETE FROM stategraph_writes AS w WHERE thread_id = ?1 AND NOT EXISTS (
             SELECT 1 FROM stategraph_checkpoints
             WHERE thread_id = ?1 AND ns = w.ns AND id = w.checkpoint_id)",
    ];
    for sql in deletes {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([thread_id.as_str()]))
            .map_err(sqlite)?;
    }
    conn.prepare_cached(
        "DELETE FROM stategraph_blobs WHERE thread_id = ?1 AND (ns, channel, version) NOT IN (
             SELECT value ->> 1, value ->> 2, value ->> 3 FROM json_each(?2))",
    )
    .and_then(|mut s| s.execute([thread_id.as_str(), &kept_blobs]))
    .map_err(sqlite)?;
    Ok(())
}
