//! The writes. A put is one statement (one round trip, atomic on its own): a call of the
//! schema's `put_checkpoint` function, which compares and swaps the thread's head and, only if
//! that succeeded, inserts the checkpoint row and the blobs of the channels it changed.

use std::collections::BTreeMap;
use std::time::SystemTime;

use stategraph_checkpoint::{
    BlobKind, CheckpointError, CheckpointId, Epoch, NewCheckpoint, PendingWrite, PutMode, Source,
    TaskId, ThreadId, limits,
};
use tokio_postgres::Client;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use crate::error::Context;
use crate::json::{JsonText, Stored, jsonb_exact};

/// The write statements, with the schema name filled in once.
#[derive(Debug)]
pub(crate) struct WriteSql {
    claim: String,
    epoch: String,
    put: String,
    head: String,
    put_writes: String,
    claim_if: String,
    lock_owner: String,
    delete: String,
    delete_rows: String,
    copy_check: String,
    copy: String,
    keep_latest: String,
}

const PUT_TYPES: [Type; 19] = [
    Type::TEXT,
    Type::TEXT,
    Type::UUID,
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::TEXT,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::BOOL,
    Type::BOOL,
    Type::TEXT_ARRAY,
    Type::UUID_ARRAY,
    Type::UUID_ARRAY,
    Type::JSONB_ARRAY,
    Type::BYTEA_ARRAY,
    Type::INT8,
];

impl WriteSql {
    pub(crate) fn new(schema: &str) -> Self {
        let s = format!("\"{schema}\"");
        let fill = |sql: &str| sql.replace("{s}", &s);
        Self {
            claim: fill(
                "INSERT INTO {s}.owners (thread_id, epoch) VALUES ($1, $2)
                 ON CONFLICT (thread_id) DO UPDATE
                     SET epoch = GREATEST({s}.owners.epoch + 1, excluded.epoch)
                 RETURNING epoch",
            ),
            epoch: fill("SELECT epoch FROM {s}.owners WHERE thread_id = $1"),
            // The functions of migration 5, called with one short statement each: an
            // unnamed statement costs a parse of the call, and the function's own statements
            // are planned once per connection.
            put: fill(
                "SELECT {s}.put_checkpoint($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                     $13, $14, $15, $16, $17, $18, $19)",
            ),
            head: fill("SELECT head FROM {s}.heads WHERE thread_id = $1 AND ns = $2"),
            // Pending writes commit without waiting for the WAL flush: they are visible to
            // every reader (a resumed process) at once, and the step's checkpoint, committed
            // right after with the flush, makes them durable with it. Only a crash of the
            // server itself within a fraction of a second can lose them, and then the task runs
            // again, as it would have without them.
            put_writes: fill(
                "SELECT {s}.put_writes($1, $2, $3, $4, $5, $6, $7, $8, $9, $10),
                        set_config('synchronous_commit', 'off', true)",
            ),
            // A claim from epoch $10 (none when NULL) at time $11, and the writes stored with
            // it only if it succeeded.
            claim_if: fill("SELECT {s}.claim_if($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
            // Locks the thread's owner row (creating a placeholder of epoch -1 when there is
            // none) and returns its epoch, so nothing claims the thread until the transaction
            // ends.
            lock_owner: fill(
                "INSERT INTO {s}.owners (thread_id, epoch) VALUES ($1, -1)
                 ON CONFLICT (thread_id) DO UPDATE SET epoch = {s}.owners.epoch
                 RETURNING epoch",
            ),
            delete: fill(
                "WITH c AS (DELETE FROM {s}.checkpoints WHERE thread_id = ANY ($1)),
                      b AS (DELETE FROM {s}.blobs WHERE thread_id = ANY ($1)),
                      w AS (DELETE FROM {s}.writes WHERE thread_id = ANY ($1)),
                      o AS (DELETE FROM {s}.owners WHERE thread_id = ANY ($1))
                 DELETE FROM {s}.heads WHERE thread_id = ANY ($1)",
            ),
            // What a copy replaces in its destination: everything but the owner's epoch.
            delete_rows: fill(
                "WITH c AS (DELETE FROM {s}.checkpoints WHERE thread_id = ANY ($1)),
                      b AS (DELETE FROM {s}.blobs WHERE thread_id = ANY ($1)),
                      w AS (DELETE FROM {s}.writes WHERE thread_id = ANY ($1))
                 DELETE FROM {s}.heads WHERE thread_id = ANY ($1)",
            ),
            copy_check: fill(
                "SELECT EXISTS (SELECT 1 FROM {s}.checkpoints WHERE thread_id = $2),
                        EXISTS (SELECT 1 FROM {s}.checkpoints WHERE thread_id = $1)
                     OR EXISTS (SELECT 1 FROM {s}.writes WHERE thread_id = $1)",
            ),
            copy: fill(
                "WITH c AS (
                     INSERT INTO {s}.checkpoints (thread_id, ns, id, parent_id, advance,
                         created_at, step, source, channel_versions, next, barriers, metadata)
                     SELECT $2, ns, id, parent_id, advance, created_at, step, source,
                         channel_versions, next, barriers, metadata
                     FROM {s}.checkpoints WHERE thread_id = $1
                 ),
                 b AS (
                     INSERT INTO {s}.blobs (thread_id, ns, channel, version, base, value, raw)
                     SELECT $2, ns, channel, version, base, value, raw
                     FROM {s}.blobs WHERE thread_id = $1
                 ),
                 w AS (
                     INSERT INTO {s}.writes (thread_id, ns, checkpoint_id, task_id, idx, node,
                         channel, value, raw)
                     SELECT $2, ns, checkpoint_id, task_id, idx, node, channel, value, raw
                     FROM {s}.writes WHERE thread_id = $1
                 )
                 INSERT INTO {s}.heads (thread_id, ns, head, updated_at, step, finished)
                 SELECT $2, ns, head, updated_at, step, finished
                 FROM {s}.heads WHERE thread_id = $1",
            ),
            // Keeps the latest checkpoint of each namespace, its writes and the blobs of its
            // channels' delta chains; deletes nothing if a kept chain is already broken.
            keep_latest: fill(
                r#"WITH RECURSIVE
                 latest AS MATERIALIZED (
                     SELECT DISTINCT ON (thread_id, ns) thread_id, ns, id, channel_versions
                     FROM {s}.checkpoints WHERE thread_id = ANY ($1)
                     ORDER BY thread_id, ns, id DESC
                 ),
                 chain (thread_id, ns, channel, version) AS (
                     SELECT l.thread_id, l.ns, v.key COLLATE "C", v.value::uuid
                     FROM latest AS l, jsonb_each_text(l.channel_versions) AS v
                     UNION
                     SELECT b.thread_id, b.ns, b.channel, b.base
                     FROM chain AS k JOIN {s}.blobs AS b
                       ON b.thread_id = k.thread_id AND b.ns = k.ns
                      AND b.channel = k.channel AND b.version = k.version
                     WHERE b.base IS NOT NULL
                 ),
                 broken AS MATERIALIZED (
                     SELECT k.thread_id, k.ns, k.channel, k.version FROM chain AS k
                     WHERE NOT EXISTS (
                         SELECT 1 FROM {s}.blobs AS b
                         WHERE b.thread_id = k.thread_id AND b.ns = k.ns
                           AND b.channel = k.channel AND b.version = k.version)
                     LIMIT 1
                 ),
                 c AS (
                     DELETE FROM {s}.checkpoints AS c
                     WHERE c.thread_id = ANY ($1) AND NOT EXISTS (SELECT 1 FROM broken)
                       AND NOT EXISTS (SELECT 1 FROM latest AS l
                           WHERE l.thread_id = c.thread_id AND l.ns = c.ns AND l.id = c.id)
                 ),
                 w AS (
                     DELETE FROM {s}.writes AS w
                     WHERE w.thread_id = ANY ($1) AND NOT EXISTS (SELECT 1 FROM broken)
                       AND NOT EXISTS (SELECT 1 FROM latest AS l
                           WHERE l.thread_id = w.thread_id AND l.ns = w.ns
                             AND l.id = w.checkpoint_id)
                 ),
                 b AS (
                     DELETE FROM {s}.blobs AS b
                     WHERE b.thread_id = ANY ($1) AND NOT EXISTS (SELECT 1 FROM broken)
                       AND NOT EXISTS (SELECT 1 FROM chain AS k
                           WHERE k.thread_id = b.thread_id AND k.ns = b.ns
                             AND k.channel = b.channel AND k.version = b.version)
                 )
                 SELECT thread_id, channel, version::text FROM broken"#,
            ),
        }
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

/// A checkpoint with every column already encoded, ready to send (and to send again).
pub(crate) struct EncodedCheckpoint {
    pub(crate) thread_id: ThreadId,
    ns: String,
    id: CheckpointId,
    parent_id: Option<CheckpointId>,
    mode: PutMode,
    epoch: Option<Epoch>,
    created_at: SystemTime,
    step: i64,
    source: &'static str,
    channel_versions: Vec<u8>,
    next: Vec<u8>,
    barriers: Vec<u8>,
    metadata: Vec<u8>,
    finished: bool,
    channels: Vec<String>,
    versions: Vec<Uuid>,
    bases: Vec<Option<Uuid>>,
    data: Vec<Vec<u8>>,
}

impl EncodedCheckpoint {
    /// The checkpoint's id.
    pub(crate) fn id(&self) -> CheckpointId {
        self.id
    }

    /// Checks the checkpoint against the contract's limits and encodes every column.
    pub(crate) fn new(new: NewCheckpoint, context: Context<'_>) -> Result<Self, CheckpointError> {
        limits::check_put(&new)?;
        let NewCheckpoint {
            checkpoint,
            blobs,
            mode,
            epoch,
        } = new;
        let json = |value: serde_json::Result<Vec<u8>>| {
            value.map_err(|error| context.other(format!("cannot encode the checkpoint: {error}")))
        };
        let versions: BTreeMap<&str, String> = checkpoint
            .channel_versions
            .iter()
            .map(|(channel, version)| (channel.as_str(), version.to_string()))
            .collect();
        let mut encoded = Self {
            channel_versions: json(serde_json::to_vec(&versions))?,
            next: json(serde_json::to_vec(&checkpoint.next))?,
            barriers: json(serde_json::to_vec(&checkpoint.barriers))?,
            metadata: jsonb_exact(&json(serde_json::to_vec(&checkpoint.metadata.to_json()))?)
                .into_owned(),
            created_at: checkpoint.created_at,
            step: checkpoint.metadata.step,
            source: source_name(checkpoint.metadata.source),
            finished: checkpoint.next.is_empty(),
            channels: Vec::with_capacity(blobs.len()),
            versions: Vec::with_capacity(blobs.len()),
            bases: Vec::with_capacity(blobs.len()),
            data: Vec::with_capacity(blobs.len()),
            thread_id: checkpoint.thread_id,
            ns: checkpoint.ns,
            id: checkpoint.id,
            parent_id: checkpoint.parent_id,
            mode,
            epoch,
        };
        for blob in blobs {
            encoded.channels.push(blob.channel);
            encoded.versions.push(blob.version.as_uuid());
            encoded.bases.push(match blob.kind {
                BlobKind::Snapshot => None,
                BlobKind::Delta { base } => Some(base.as_uuid()),
            });
            encoded.data.push(blob.data);
        }
        Ok(encoded)
    }
}

/// Stores a checkpoint: one statement that checks the head and writes everything, or nothing.
pub(crate) async fn put(
    client: &deadpool_postgres::Client,
    sql: &WriteSql,
    c: &EncodedCheckpoint,
    prepared: bool,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let pg = |e| context.pg(e);
    let statement = &sql.put;
    let stored: Vec<Stored<'_>> = c.data.iter().map(|d| Stored::new(d)).collect();
    let values: Vec<Option<JsonText<'_>>> = stored.iter().map(Stored::json).collect();
    let raws: Vec<Option<&[u8]>> = stored.iter().map(Stored::raw).collect();
    let id = c.id.as_uuid();
    let parent = c.parent_id.map(|p| p.as_uuid());
    let advance = c.mode == PutMode::Advance;
    let epoch = c.epoch.map(Epoch::get);
    let params: [&(dyn ToSql + Sync); 19] = [
        &c.thread_id.as_str(),
        &c.ns,
        &id,
        &parent,
        &c.created_at,
        &c.step,
        &c.source,
        &JsonText(&c.channel_versions),
        &JsonText(&c.next),
        &JsonText(&c.barriers),
        &JsonText(&c.metadata),
        &c.finished,
        &advance,
        &c.channels,
        &c.versions,
        &c.bases,
        &values,
        &raws,
        &epoch,
    ];
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .zip(PUT_TYPES.iter())
        .map(|(p, t)| (*p, t.clone()))
        .collect();
    let sent = if prepared {
        match client.prepare_typed_cached(statement, &PUT_TYPES).await {
            Ok(prepared) => client.query(&prepared, &params).await,
            Err(e) => Err(e),
        }
    } else {
        client.query_typed(statement, &typed).await
    };
    let ok = match sent {
        Ok(rows) => rows.first().is_some_and(|row| row.get::<_, bool>(0)),
        // The unique index on (thread, ns, parent) of Advance puts: the last line of defence
        // if two continuations of one parent ever got past the head check.
        Err(e)
            if e.as_db_error()
                .is_some_and(|db| db.constraint() == Some("checkpoints_one_continuation")) =>
        {
            false
        }
        Err(e) => return Err(pg(e)),
    };
    if ok {
        return Ok(());
    }
    fenced(client, sql, &c.thread_id, c.epoch, context).await?;
    match (c.mode, c.parent_id) {
        (PutMode::Fork, Some(parent)) => Err(CheckpointError::MissingParent {
            thread_id: c.thread_id.clone(),
            parent,
        }),
        _ => {
            let latest = client
                .query_typed(
                    &sql.head,
                    &[(&c.thread_id.as_str(), Type::TEXT), (&c.ns, Type::TEXT)],
                )
                .await
                .map_err(pg)?
                .first()
                .map(|row| CheckpointId::from_uuid(row.get::<_, Uuid>(0)));
            Err(CheckpointError::Conflict {
                thread_id: c.thread_id.clone(),
                ns: c.ns.clone(),
                expected: c.parent_id,
                latest,
            })
        }
    }
}

/// Takes ownership of the thread: a new epoch, greater than the last.
pub(crate) async fn claim(
    client: &Client,
    sql: &WriteSql,
    thread_id: &ThreadId,
    context: Context<'_>,
) -> Result<Epoch, CheckpointError> {
    let now = Epoch::next_after(None).get();
    let rows = client
        .query_typed(
            &sql.claim,
            &[(&thread_id.as_str(), Type::TEXT), (&now, Type::INT8)],
        )
        .await
        .map_err(|e| context.pg(e))?;
    let epoch = rows
        .first()
        .map(|row| row.get::<_, i64>(0))
        .ok_or_else(|| context.other("the claim returned no epoch"))?;
    Ok(Epoch::from_i64(epoch))
}

/// After a refused write: [`CheckpointError::Fenced`] if its epoch is no longer the thread's.
async fn fenced(
    client: &Client,
    sql: &WriteSql,
    thread_id: &ThreadId,
    epoch: Option<Epoch>,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let Some(epoch) = epoch else {
        return Ok(());
    };
    let current = current_epoch(client, sql, thread_id, context).await?;
    CheckpointError::check_fence(thread_id, Some(epoch), current)
}

/// Stores one task's writes in one statement: the first write at each (task, index) wins,
/// except at negative indexes (errors), where the latest does.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn put_writes(
    client: &Client,
    sql: &WriteSql,
    thread_id: &ThreadId,
    ns: &str,
    checkpoint: CheckpointId,
    writes: &[PendingWrite],
    epoch: Option<Epoch>,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    if writes.is_empty() {
        return Ok(());
    }
    let epoch_value = epoch.map(Epoch::get);
    let rows = store_writes(
        client,
        &sql.put_writes,
        (thread_id, ns, checkpoint),
        writes,
        &[(&epoch_value, Type::INT8)],
    )
    .await
    .map_err(|e| context.pg(e))?;
    if rows.first().is_some_and(|row| row.get::<_, bool>(0)) {
        return Ok(());
    }
    fenced(client, sql, thread_id, epoch, context).await?;
    Err(context.other("the writes were refused, but the thread's epoch is the writer's"))
}

/// Takes ownership of the thread from epoch `expected` at time `now` (see
/// [`Epoch::next_after`]), storing `writes` with it, in one statement.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn claim_if(
    client: &Client,
    sql: &WriteSql,
    thread_id: &ThreadId,
    expected: Option<Epoch>,
    now: i64,
    ns: &str,
    checkpoint: CheckpointId,
    writes: &[PendingWrite],
    context: Context<'_>,
) -> Result<Epoch, CheckpointError> {
    let expected_value = expected.map(Epoch::get);
    let rows = store_writes(
        client,
        &sql.claim_if,
        (thread_id, ns, checkpoint),
        writes,
        &[(&expected_value, Type::INT8), (&now, Type::INT8)],
    )
    .await
    .map_err(|e| context.pg(e))?;
    if let Some(epoch) = rows.first().and_then(|row| row.get::<_, Option<i64>>(0)) {
        return Ok(Epoch::from_i64(epoch));
    }
    let current = current_epoch(client, sql, thread_id, context).await?;
    CheckpointError::check_expected(thread_id, expected, current)?;
    Err(context.other("the claim was refused, but the thread's epoch is the expected one"))
}

/// The thread's epoch now.
pub(crate) async fn current_epoch(
    client: &Client,
    sql: &WriteSql,
    thread_id: &ThreadId,
    context: Context<'_>,
) -> Result<Option<Epoch>, CheckpointError> {
    Ok(client
        .query_typed(&sql.epoch, &[(&thread_id.as_str(), Type::TEXT)])
        .await
        .map_err(|e| context.pg(e))?
        .first()
        .map(|row| Epoch::from_i64(row.get::<_, i64>(0))))
}

/// Runs `statement`, whose parameters are the thread, namespace and checkpoint, the arrays of
/// `writes` ($4.. $9) and then `tail`.
async fn store_writes(
    client: &Client,
    statement: &str,
    (thread_id, ns, checkpoint): (&ThreadId, &str, CheckpointId),
    writes: &[PendingWrite],
    tail: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    // One row per key, as the statement may touch a row once: the first of a regular index,
    // the last of an error index.
    let mut unique: BTreeMap<(TaskId, i32), &PendingWrite> = BTreeMap::new();
    for write in writes {
        let key = (write.task_id, write.idx);
        if write.idx < 0 {
            unique.insert(key, write);
        } else {
            unique.entry(key).or_insert(write);
        }
    }
    let writes: Vec<&PendingWrite> = unique.into_values().collect();
    let tasks: Vec<Uuid> = writes.iter().map(|w| w.task_id.as_uuid()).collect();
    let idxs: Vec<i32> = writes.iter().map(|w| w.idx).collect();
    let nodes: Vec<&str> = writes.iter().map(|w| w.node.as_str()).collect();
    let channels: Vec<&str> = writes.iter().map(|w| w.channel.as_str()).collect();
    let stored: Vec<Stored<'_>> = writes.iter().map(|w| Stored::new(&w.value)).collect();
    let values: Vec<Option<JsonText<'_>>> = stored.iter().map(Stored::json).collect();
    let raws: Vec<Option<&[u8]>> = stored.iter().map(Stored::raw).collect();
    let checkpoint = checkpoint.as_uuid();
    let thread_id = thread_id.as_str();
    let mut params: Vec<(&(dyn ToSql + Sync), Type)> = vec![
        (&thread_id, Type::TEXT),
        (&ns, Type::TEXT),
        (&checkpoint, Type::UUID),
        (&tasks, Type::UUID_ARRAY),
        (&idxs, Type::INT4_ARRAY),
        (&nodes, Type::TEXT_ARRAY),
        (&channels, Type::TEXT_ARRAY),
        (&values, Type::JSONB_ARRAY),
        (&raws, Type::BYTEA_ARRAY),
    ];
    params.extend_from_slice(tail);
    client.query_typed(statement, &params).await
}

/// Deletes every row of the thread if its epoch is still `expected`, in one transaction that
/// holds the thread's owner row locked.
pub(crate) async fn delete_thread_if(
    client: &mut Client,
    sql: &WriteSql,
    thread_id: &ThreadId,
    expected: Option<Epoch>,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let pg = |e| context.pg(e);
    let tx = client.transaction().await.map_err(pg)?;
    let locked = tx
        .query_typed(&sql.lock_owner, &[(&thread_id.as_str(), Type::TEXT)])
        .await
        .map_err(pg)?;
    let current = locked
        .first()
        .map(|row| row.get::<_, i64>(0))
        .filter(|&epoch| epoch != -1)
        .map(Epoch::from_i64);
    // On a mismatch the transaction rolls back as it is dropped, placeholder included.
    CheckpointError::check_expected(thread_id, expected, current)?;
    tx.query_typed(
        &sql.delete,
        &[(&[thread_id.as_str()].as_slice(), Type::TEXT_ARRAY)],
    )
    .await
    .map_err(pg)?;
    tx.commit().await.map_err(pg)
}

/// Deletes every row of the threads, in one statement.
pub(crate) async fn delete_threads(
    client: &Client,
    sql: &WriteSql,
    thread_ids: &[&str],
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    client
        .query_typed(&sql.delete, &[(&thread_ids, Type::TEXT_ARRAY)])
        .await
        .map_err(|e| context.pg(e))?;
    Ok(())
}

/// Copies every row of `from` to `to`, which must have no checkpoint, in one transaction.
pub(crate) async fn copy_thread(
    client: &mut Client,
    sql: &WriteSql,
    from: &ThreadId,
    to: &ThreadId,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let pg = |e| context.pg(e);
    let tx = client.transaction().await.map_err(pg)?;
    let args: [(&(dyn ToSql + Sync), Type); 2] =
        [(&from.as_str(), Type::TEXT), (&to.as_str(), Type::TEXT)];
    let row = tx.query_typed(&sql.copy_check, &args).await.map_err(pg)?;
    let (to_exists, from_exists) = row
        .first()
        .map(|r| (r.get::<_, bool>(0), r.get::<_, bool>(1)))
        .unwrap_or_default();
    if to_exists {
        return Err(CheckpointError::ThreadExists(to.clone()));
    }
    if !from_exists || from == to {
        return Ok(());
    }
    // The destination may hold stray writes (saved against no checkpoint); the copy replaces
    // them, as it replaces the whole thread. Its owner, if a run claimed it, stays.
    let to_list = [to.as_str()];
    let to_slice: &[&str] = &to_list;
    tx.query_typed(&sql.delete_rows, &[(&to_slice, Type::TEXT_ARRAY)])
        .await
        .map_err(pg)?;
    tx.query_typed(&sql.copy, &args).await.map_err(pg)?;
    tx.commit().await.map_err(pg)
}

/// Keeps only the latest checkpoint of each namespace of the threads, its writes, and the
/// blobs its channels need, in one statement.
pub(crate) async fn keep_latest(
    client: &Client,
    sql: &WriteSql,
    thread_ids: &[&str],
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let rows = client
        .query_typed(&sql.keep_latest, &[(&thread_ids, Type::TEXT_ARRAY)])
        .await
        .map_err(|e| context.pg(e))?;
    if let Some(row) = rows.first() {
        let thread_id = ThreadId::new(row.get::<_, String>(0));
        let channel: String = row.get(1);
        let version: String = row.get(2);
        return Err(CheckpointError::corrupt(
            &thread_id,
            CheckpointId::from_uuid(Uuid::nil()),
            format!(
                "channel `{channel}` has no blob at version {version}, so its latest checkpoint \
                 cannot be kept whole; nothing was pruned"
            ),
        ));
    }
    Ok(())
}
