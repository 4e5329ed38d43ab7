//! The reads. A checkpoint or a page of history is ONE statement (one round trip): a CTE picks
//! the page's checkpoint rows, a recursive CTE walks every channel's delta chain back to its
//! snapshot, and the result is a tagged union of three row kinds (checkpoint, blob, pending
//! write) — never one query per checkpoint or per channel.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use stategraph_checkpoint::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointMetadata,
    CheckpointTuple, ListQuery, PendingWrite, TaskId, ThreadId, ThreadInfo, ThreadQuery,
    ThreadStatus, from_micros, to_micros,
};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use crate::error::Context;
use crate::json::JsonText;

/// The page CTE is spliced in where `{page}` stands; `{s}` is the schema.
const HYDRATE: &str = r#"WITH RECURSIVE
    page AS MATERIALIZED ({page}),
    chain (thread_id, ns, channel, version) AS (
        SELECT p.thread_id, p.ns, v.key COLLATE "C", v.value::uuid
        FROM page AS p, jsonb_each_text(p.channel_versions) AS v
        UNION
        SELECT b.thread_id, b.ns, b.channel, b.base
        FROM chain AS k JOIN {s}.blobs AS b
          ON b.thread_id = k.thread_id AND b.ns = k.ns
         AND b.channel = k.channel AND b.version = k.version
        WHERE b.base IS NOT NULL
    )
    SELECT 0::int2, p.thread_id, p.ns, p.id, p.parent_id, NULL::text, NULL::text, NULL::int4,
           p.created_at, p.channel_versions, NULL::bytea, p.next, p.barriers, p.metadata
    FROM page AS p
    UNION ALL
    SELECT 1::int2, b.thread_id, b.ns, b.version, b.base, b.channel, NULL, NULL,
           NULL, b.value, b.raw, NULL, NULL, NULL
    FROM chain AS k JOIN {s}.blobs AS b
      ON b.thread_id = k.thread_id AND b.ns = k.ns
     AND b.channel = k.channel AND b.version = k.version
    UNION ALL
    SELECT 2::int2, w.thread_id, w.ns, w.checkpoint_id, w.task_id, w.channel, w.node, w.idx,
           NULL, w.value, w.raw, NULL, NULL, NULL
    FROM page AS p JOIN {s}.writes AS w
      ON w.thread_id = p.thread_id AND w.ns = p.ns AND w.checkpoint_id = p.id"#;

const PAGE_COLUMNS: &str = "c.thread_id, c.ns, c.id, c.parent_id, c.created_at, c.channel_versions, c.next, c.barriers, c.metadata";

/// The read statements, with the schema name filled in once.
#[derive(Debug)]
pub(crate) struct ReadSql {
    schema: String,
    latest: String,
    by_id: String,
}

impl ReadSql {
    pub(crate) fn new(schema: &str) -> Self {
        let schema = format!("\"{schema}\"");
        let hydrate = |page: &str| HYDRATE.replace("{page}", page).replace("{s}", &schema);
        Self {
            latest: hydrate(&format!(
                "SELECT {PAGE_COLUMNS} FROM {schema}.checkpoints AS c
                 WHERE c.thread_id = $1 AND c.ns = $2 ORDER BY c.id DESC LIMIT 1"
            )),
            by_id: hydrate(&format!(
                "SELECT {PAGE_COLUMNS} FROM {schema}.checkpoints AS c
                 WHERE c.thread_id = $1 AND c.ns = $2 AND c.id = $3"
            )),
            schema,
        }
    }
}

/// Checkpoint `id` of the thread's namespace, or its latest.
pub(crate) async fn get(
    client: &Client,
    sql: &ReadSql,
    thread_id: &ThreadId,
    ns: &str,
    id: Option<CheckpointId>,
    context: Context<'_>,
) -> Result<Option<CheckpointTuple>, CheckpointError> {
    let rows = match id {
        None => {
            client
                .query_typed(
                    &sql.latest,
                    &[(&thread_id.as_str(), Type::TEXT), (&ns, Type::TEXT)],
                )
                .await
        }
        Some(id) => {
            client
                .query_typed(
                    &sql.by_id,
                    &[
                        (&thread_id.as_str(), Type::TEXT),
                        (&ns, Type::TEXT),
                        (&id.as_uuid(), Type::UUID),
                    ],
                )
                .await
        }
    }
    .map_err(|e| context.pg(e))?;
    Ok(assemble(rows, context)?.pop())
}

/// Whether `value` compares in SQL (`metadata @> {key: value}`) exactly as
/// [`CheckpointMetadata::matches`] compares it in Rust. Numbers, arrays and objects do not
/// (`1.0` equals `1` in `jsonb`; containment is not equality for nested values), so they
/// narrow the candidates in SQL and are checked again in Rust.
fn exact_in_sql(value: &serde_json::Value) -> bool {
    matches!(
        value,
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::String(_)
    )
}

/// Checkpoints matching `query`, newest first (ties, from copied threads, by thread then
/// namespace). Metadata keys never reach the SQL text: the filter is one bound `jsonb` value.
pub(crate) async fn list(
    client: &Client,
    sql: &ReadSql,
    query: &ListQuery,
    context: Context<'_>,
) -> Result<Vec<CheckpointTuple>, CheckpointError> {
    let limit = query.limit.unwrap_or(usize::MAX);
    if limit == 0 {
        return Ok(Vec::new());
    }
    // `jsonb` cannot hold a NUL character, so no stored metadata has one: such a filter
    // matches nothing (and cannot be sent as `jsonb`).
    if query
        .filter
        .iter()
        .any(|(key, value)| key.contains('\0') || has_nul(value))
    {
        return Ok(Vec::new());
    }
    let thread_id = query.thread_id.as_ref().map(|t| t.as_str());
    let before = query.before.map(|b| b.as_uuid());
    let filter = serde_json::to_vec(&query.filter)
        .map_err(|e| context.other(format!("cannot encode the metadata filter: {e}")))?;
    let exact = query.filter.values().all(exact_in_sql);
    let sql_limit = if exact {
        i64::try_from(limit).unwrap_or(i64::MAX)
    } else {
        i64::MAX
    };
    let filter_json = JsonText(&filter);
    let mut conditions = Vec::new();
    let mut params: Vec<(&(dyn ToSql + Sync), Type)> = Vec::new();
    let mut bind =
        |condition: &str, value, ty| bind(&mut params, &mut conditions, condition, value, ty);
    if let Some(thread_id) = &thread_id {
        bind("c.thread_id = ?", thread_id, Type::TEXT);
    }
    if let Some(ns) = &query.ns {
        bind("c.ns = ?", ns, Type::TEXT);
    }
    if let Some(before) = &before {
        bind("c.id < ?", before, Type::UUID);
    }
    if !query.filter.is_empty() {
        bind("c.metadata @> ?", &filter_json, Type::JSONB);
    }
    params.push((&sql_limit, Type::INT8));
    let mut page = format!(
        "SELECT {PAGE_COLUMNS} FROM {}.checkpoints AS c WHERE TRUE",
        sql.schema
    );
    for condition in &conditions {
        page.push_str(" AND ");
        page.push_str(condition);
    }
    page.push_str(&format!(
        " ORDER BY c.id DESC, c.thread_id, c.ns LIMIT ${}",
        params.len()
    ));
    let statement = HYDRATE.replace("{page}", &page).replace("{s}", &sql.schema);
    let rows = client
        .query_typed(&statement, &params)
        .await
        .map_err(|e| context.pg(e))?;
    let mut tuples = assemble(rows, context)?;
    if !exact {
        tuples.retain(|t| t.checkpoint.metadata.matches(&query.filter));
        tuples.truncate(limit);
    }
    Ok(tuples)
}

/// Whether a string anywhere in `value` (key or value) holds a NUL character.
fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Adds a parameter and the condition using it (`?` stands for its placeholder).
fn bind<'p>(
    params: &mut Vec<(&'p (dyn ToSql + Sync), Type)>,
    conditions: &mut Vec<String>,
    condition: &str,
    value: &'p (dyn ToSql + Sync),
    ty: Type,
) {
    params.push((value, ty));
    conditions.push(condition.replace('?', &format!("${}", params.len())));
}

/// The smallest whole microsecond count not earlier than `time`: a stored time `t` (whole
/// microseconds) is before `time` exactly when `t < micros_ceil(time)`.
fn micros_ceil(time: SystemTime) -> SystemTime {
    let floor = to_micros(time);
    if from_micros(floor) < time {
        from_micros(floor.saturating_add(1))
    } else {
        from_micros(floor)
    }
}

/// The threads matching `query`, by thread id (byte order), from the heads table. A metadata
/// filter joins each head's checkpoint row and is one bound `jsonb` value, checked again in
/// Rust where containment is not equality (see [`exact_in_sql`]).
pub(crate) async fn list_threads(
    client: &Client,
    sql: &ReadSql,
    query: &ThreadQuery,
    context: Context<'_>,
) -> Result<Vec<ThreadInfo>, CheckpointError> {
    let limit = query.limit.unwrap_or(usize::MAX);
    if limit == 0
        || query
            .filter
            .iter()
            .any(|(k, v)| k.contains('\0') || has_nul(v))
    {
        return Ok(Vec::new());
    }
    let after = query.after.as_ref().map(|t| t.as_str());
    let status = query.status.map(ThreadStatus::name);
    let before = query.updated_before.map(micros_ceil);
    let filtered = !query.filter.is_empty();
    let exact = query.filter.values().all(exact_in_sql);
    let sql_limit = if exact {
        i64::try_from(limit).unwrap_or(i64::MAX)
    } else {
        i64::MAX
    };
    let filter = serde_json::to_vec(&query.filter)
        .map_err(|e| context.other(format!("cannot encode the metadata filter: {e}")))?;
    let filter = filtered.then_some(JsonText(&filter));
    // The status as `ThreadStatus::of` decides it: a question or an error of a task of the
    // head that has no result since (and for a question, no answer).
    let unfinished = |channel: &str, also: &str| {
        format!(
            "EXISTS (SELECT 1 FROM {s}.writes AS w
                     WHERE w.thread_id = h.thread_id AND w.ns = '' AND w.checkpoint_id = h.head
                       AND w.channel = '{channel}'
                       AND NOT EXISTS (SELECT 1 FROM {s}.writes AS r
                           WHERE r.thread_id = h.thread_id AND r.ns = '' AND r.checkpoint_id = h.head
                             AND r.task_id = w.task_id AND r.idx >= 0)
                       AND {also})",
            s = sql.schema
        )
    };
    // A question waits unless its task's saved answers hold one for its call.
    let unanswered = format!(
        "NOT EXISTS (SELECT 1 FROM {s}.writes AS a
                 WHERE a.thread_id = h.thread_id AND a.ns = '' AND a.checkpoint_id = h.head
                   AND a.task_id = w.task_id AND a.channel = '{resume}'
                   AND a.value ? (w.value ->> 'index'))",
        s = sql.schema,
        resume = PendingWrite::RESUME
    );
    let (metadata, join) = if filtered {
        (
            "c.metadata",
            format!(
                "JOIN {}.checkpoints AS c
                   ON c.thread_id = h.thread_id AND c.ns = '' AND c.id = h.head
                  AND c.metadata @> $5",
                sql.schema
            ),
        )
    } else {
        ("NULL::jsonb", String::new())
    };
    let statement = format!(
        "SELECT thread_id, head, updated_at, step, status, metadata FROM (
             SELECT h.thread_id, h.head, h.updated_at, h.step, {metadata} AS metadata,
                    CASE WHEN h.finished THEN 'finished'
                         WHEN EXISTS (SELECT 1 FROM {s}.writes AS e
                                      WHERE e.thread_id = h.thread_id AND e.ns = ''
                                        AND e.checkpoint_id = h.head
                                        AND e.channel = '__expired__') THEN 'expired'
                         WHEN {interrupted} THEN 'interrupted'
                         WHEN {errored} THEN 'errored'
                         ELSE 'pending' END AS status
             FROM {s}.heads AS h {join}
             WHERE h.ns = '' AND ($1::text IS NULL OR h.thread_id > $1)
               AND ($3::timestamptz IS NULL OR h.updated_at < $3)
         ) AS t
         WHERE $2::text IS NULL OR status = $2
         ORDER BY thread_id LIMIT $4",
        interrupted = unfinished(PendingWrite::INTERRUPT, &unanswered),
        errored = unfinished(PendingWrite::ERROR, "TRUE"),
        s = sql.schema
    );
    let rows = client
        .query_typed(
            &statement,
            &[
                (&after, Type::TEXT),
                (&status, Type::TEXT),
                (&before, Type::TIMESTAMPTZ),
                (&sql_limit, Type::INT8),
                (&filter, Type::JSONB),
            ],
        )
        .await
        .map_err(|e| context.pg(e))?;
    let mut threads = Vec::new();
    for row in &rows {
        let thread_id = ThreadId::new(row.get::<_, String>(0));
        let head = CheckpointId::from_uuid(row.get(1));
        let read = (|| {
            let wanted = exact
                || query.filter_matches_stored(
                    &thread_id,
                    head,
                    row.get::<_, JsonText<'_>>(5).0,
                )?;
            let status = ThreadStatus::from_name(row.get(4))
                .ok_or_else(|| context.other("a thread's stored status is unknown"))?;
            Ok::<_, CheckpointError>((wanted, status))
        })();
        let status = match read {
            Ok((true, status)) => status,
            Ok((false, _)) => continue,
            Err(error) => {
                error.report_skipped(&thread_id);
                continue;
            }
        };
        threads.push(ThreadInfo {
            thread_id,
            head,
            updated_at: row.get(2),
            step: row.get(3),
            status,
        });
        if threads.len() == limit {
            break;
        }
    }
    Ok(threads)
}

/// A blob's key: thread, namespace, channel, version.
type BlobKey = (String, String, String, Uuid);
/// A checkpoint's key: thread, namespace, id.
type CheckpointKey = (String, String, Uuid);

/// A stored blob: its base (`None` for a snapshot) and bytes.
struct StoredBlob {
    base: Option<Uuid>,
    data: Vec<u8>,
}

/// The bytes of a `value jsonb` / `raw bytea` pair.
fn value_bytes(row: &Row) -> Option<Vec<u8>> {
    match row.get::<_, Option<JsonText<'_>>>(9) {
        Some(json) => Some(json.0.to_vec()),
        None => row.get::<_, Option<Vec<u8>>>(10),
    }
}

/// Builds the tuples from the tagged rows of one hydrating statement, newest first.
fn assemble(rows: Vec<Row>, context: Context<'_>) -> Result<Vec<CheckpointTuple>, CheckpointError> {
    let mut checkpoints = Vec::new();
    let mut blobs: HashMap<BlobKey, StoredBlob> = HashMap::new();
    let mut writes: HashMap<CheckpointKey, Vec<PendingWrite>> = HashMap::new();
    for row in &rows {
        let kind: i16 = row.get(0);
        let thread_id: String = row.get(1);
        let ns: String = row.get(2);
        let id: Uuid = row.get(3);
        match kind {
            0 => checkpoints.push(decode_checkpoint(row, thread_id, ns, id)?),
            1 => {
                let channel: String = row.get(5);
                let data = value_bytes(row).unwrap_or_default();
                blobs.insert(
                    (thread_id, ns, channel, id),
                    StoredBlob {
                        base: row.get(4),
                        data,
                    },
                );
            }
            2 => {
                let task: Uuid = row.get(4);
                writes
                    .entry((thread_id, ns, id))
                    .or_default()
                    .push(PendingWrite {
                        task_id: TaskId::from_uuid(task),
                        idx: row.get(7),
                        node: row.get(6),
                        channel: row.get(5),
                        value: value_bytes(row).unwrap_or_default(),
                    });
            }
            other => return Err(context.other(format!("unexpected row kind {other}"))),
        }
    }
    checkpoints.sort_by(|a, b| {
        b.id.cmp(&a.id)
            .then_with(|| a.thread_id.cmp(&b.thread_id))
            .then_with(|| a.ns.cmp(&b.ns))
    });
    checkpoints
        .into_iter()
        .map(|checkpoint| {
            let mut channels = BTreeMap::new();
            for (channel, version) in &checkpoint.channel_versions {
                channels.insert(
                    channel.clone(),
                    walk_chain(&blobs, &checkpoint, channel, *version)?,
                );
            }
            let key = (
                checkpoint.thread_id.as_str().to_owned(),
                checkpoint.ns.clone(),
                checkpoint.id.as_uuid(),
            );
            let mut pending_writes = writes.remove(&key).unwrap_or_default();
            pending_writes.sort_by_key(|w| (w.task_id, w.idx));
            Ok(CheckpointTuple {
                checkpoint,
                channels,
                pending_writes,
            })
        })
        .collect()
}

/// Decodes a checkpoint row's JSON columns; one that does not decode is
/// [`CheckpointError::Corrupt`] naming the column.
fn decode_checkpoint(
    row: &Row,
    thread_id: String,
    ns: String,
    id: Uuid,
) -> Result<Checkpoint, CheckpointError> {
    let thread_id = ThreadId::new(thread_id);
    let id = CheckpointId::from_uuid(id);
    let broken = |column: &str, error: &dyn std::fmt::Display| {
        CheckpointError::corrupt(
            &thread_id,
            id,
            format!("column `{column}` does not decode: {error}"),
        )
    };
    let json = |index: usize| row.get::<_, JsonText<'_>>(index).0;
    let versions: BTreeMap<String, String> =
        serde_json::from_slice(json(9)).map_err(|e| broken("channel_versions", &e))?;
    let mut channel_versions = BTreeMap::new();
    for (channel, version) in versions {
        let version = version.parse::<CheckpointId>().map_err(|_| {
            broken(
                "channel_versions",
                &format!("channel `{channel}` has a malformed version `{version}`"),
            )
        })?;
        channel_versions.insert(channel, version);
    }
    let next = serde_json::from_slice(json(11)).map_err(|e| broken("next", &e))?;
    let barriers = serde_json::from_slice(json(12)).map_err(|e| broken("barriers", &e))?;
    let metadata: CheckpointMetadata =
        serde_json::from_slice(json(13)).map_err(|e| broken("metadata", &e))?;
    Ok(Checkpoint {
        id,
        ns,
        parent_id: row.get::<_, Option<Uuid>>(4).map(CheckpointId::from_uuid),
        created_at: row.get(8),
        channel_versions,
        next,
        barriers,
        metadata,
        thread_id,
    })
}

/// One channel's chain from `version` back to its snapshot, oldest first.
fn walk_chain(
    blobs: &HashMap<BlobKey, StoredBlob>,
    checkpoint: &Checkpoint,
    channel: &str,
    version: CheckpointId,
) -> Result<Vec<ChannelBlob>, CheckpointError> {
    let links = stategraph_checkpoint::walk_chain(checkpoint, channel, version, |at| {
        let key = (
            checkpoint.thread_id.as_str().to_owned(),
            checkpoint.ns.clone(),
            channel.to_owned(),
            at.as_uuid(),
        );
        Ok(blobs.get(&key).map(|blob| {
            let kind = match blob.base {
                None => BlobKind::Snapshot,
                Some(base) => BlobKind::Delta {
                    base: CheckpointId::from_uuid(base),
                },
            };
            (kind, blob)
        }))
    })?;
    Ok(links
        .into_iter()
        .map(|(version, kind, blob)| ChannelBlob {
            channel: channel.to_owned(),
            version,
            kind,
            data: blob.data.clone(),
        })
        .collect())
}
