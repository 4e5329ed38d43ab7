//! The reads. A page of checkpoints costs three queries whatever its size: the checkpoint
//! rows, all their pending writes, and every blob of every channel's delta chain (see
//! [`crate::chain`]) — never one query per checkpoint or per channel.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};
use stategraph_checkpoint::{
    ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointMetadata, CheckpointTuple,
    ListQuery, PendingWrite, TaskId, ThreadId, ThreadInfo, ThreadQuery, ThreadStatus, from_micros,
    to_micros,
};

use crate::chain::{fetch_chains, walk_chain};
use crate::error::Context;

/// The columns [`RawCheckpoint::from_row`] reads, in order.
const COLUMNS: &str = "c.thread_id, c.ns, c.id, c.parent_id, c.created_at, c.channel_versions, c.next, c.barriers, c.metadata";

/// A checkpoint's key: thread, namespace, id.
type CheckpointKey = (String, String, String);

/// A checkpoint row as stored, before its JSON columns are decoded.
pub(crate) struct RawCheckpoint {
    thread_id: String,
    ns: String,
    id: String,
    parent_id: Option<String>,
    created_at: i64,
    channel_versions: String,
    next: String,
    barriers: String,
    metadata: String,
}

impl RawCheckpoint {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            thread_id: row.get(0)?,
            ns: row.get(1)?,
            id: row.get(2)?,
            parent_id: row.get(3)?,
            created_at: row.get(4)?,
            channel_versions: row.get(5)?,
            next: row.get(6)?,
            barriers: row.get(7)?,
            metadata: row.get(8)?,
        })
    }

    /// Decodes the JSON columns; a column that does not decode is [`CheckpointError::Corrupt`].
    pub(crate) fn decode(self) -> Result<Checkpoint, CheckpointError> {
        let thread_id = ThreadId::new(self.thread_id);
        let Ok(id) = self.id.parse::<CheckpointId>() else {
            let nil = CheckpointId::from_uuid(uuid::Uuid::nil());
            return Err(CheckpointError::corrupt(
                &thread_id,
                nil,
                format!(
                    "a checkpoint of namespace `{}` has a malformed id `{}`",
                    self.ns, self.id
                ),
            ));
        };
        let broken = |column: &str, error: &dyn std::fmt::Display| {
            CheckpointError::corrupt(
                &thread_id,
                id,
                format!("column `{column}` does not decode: {error}"),
            )
        };
        let parent_id = self
            .parent_id
            .map(|p| p.parse::<CheckpointId>())
            .transpose()
            .map_err(|e| broken("parent_id", &e))?;
        let channel_versions = serde_json::from_str(&self.channel_versions)
            .map_err(|e| broken("channel_versions", &e))?;
        let next = serde_json::from_str(&self.next).map_err(|e| broken("next", &e))?;
        let barriers = serde_json::from_str(&self.barriers).map_err(|e| broken("barriers", &e))?;
        let metadata: CheckpointMetadata =
            serde_json::from_str(&self.metadata).map_err(|e| broken("metadata", &e))?;
        Ok(Checkpoint {
            id,
            ns: self.ns,
            parent_id,
            created_at: from_micros(self.created_at),
            channel_versions,
            next,
            barriers,
            metadata,
            thread_id,
        })
    }
}

/// Checkpoint `id` of the thread's namespace, or its latest.
pub(crate) fn get(
    conn: &mut Connection,
    thread_id: &ThreadId,
    ns: &str,
    id: Option<CheckpointId>,
) -> Result<Option<CheckpointTuple>, CheckpointError> {
    let context = Context::new("get", Some(thread_id));
    let sqlite = |error| context.sqlite(error);
    // One read transaction: the three queries see the same snapshot.
    let tx = conn.transaction().map_err(sqlite)?;
    let raw = match id {
        Some(id) => tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM stategraph_checkpoints AS c
                 WHERE c.thread_id = ?1 AND c.ns = ?2 AND c.id = ?3"
            ))
            .and_then(|mut s| {
                s.query_map(
                    (thread_id.as_str(), ns, id.to_string()),
                    RawCheckpoint::from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
            }),
        None => tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM stategraph_checkpoints AS c
                 WHERE c.thread_id = ?1 AND c.ns = ?2 ORDER BY c.id DESC LIMIT 1"
            ))
            .and_then(|mut s| {
                s.query_map((thread_id.as_str(), ns), RawCheckpoint::from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            }),
    }
    .map_err(sqlite)?;
    let checkpoints = raw
        .into_iter()
        .map(RawCheckpoint::decode)
        .collect::<Result<Vec<_>, _>>()?;
    let tuple = hydrate(&tx, context, checkpoints)?.pop();
    tx.commit().map_err(sqlite)?;
    Ok(tuple)
}

/// How one metadata filter entry is checked in SQL.
struct FilterSql {
    /// The JSON types (`json_each.type`) the value may have, as SQL literals.
    types: &'static str,
    /// The scalar to compare `json_each.atom` with, when SQLite compares exactly as serde does.
    atom: Option<Value>,
    /// Whether the SQL test is the whole test; otherwise rows are re-checked in Rust.
    exact: bool,
}

impl FilterSql {
    fn new(value: &serde_json::Value) -> Self {
        use serde_json::Value as Json;
        let (types, atom, exact) = match value {
            Json::Null => ("'null'", None, true),
            Json::Bool(true) => ("'true'", None, true),
            Json::Bool(false) => ("'false'", None, true),
            Json::String(s) => ("'text'", Some(Value::Text(s.clone())), true),
            Json::Number(n) => match n.as_i64() {
                Some(i) => ("'integer'", Some(Value::Integer(i)), true),
                // Beyond i64, or a float: SQLite's number parsing need not round as serde
                // does, so only narrow by type and compare in Rust.
                None if n.is_u64() => ("'integer', 'real'", None, false),
                None => ("'real'", None, false),
            },
            Json::Array(_) => ("'array'", None, false),
            Json::Object(_) => ("'object'", None, false),
        };
        Self { types, atom, exact }
    }

    /// Appends to `sql` (and its `args`) one condition per entry of `filter` on the metadata
    /// in `column`; returns whether they are the whole test, or rows must be re-checked with
    /// [`CheckpointMetadata::matches`].
    fn push(
        filter: &BTreeMap<String, serde_json::Value>,
        column: &str,
        sql: &mut String,
        args: &mut Vec<Value>,
    ) -> bool {
        let mut exact = true;
        for (key, value) in filter {
            let entry = FilterSql::new(value);
            exact &= entry.exact;
            // A row whose metadata is not JSON passes, so decoding reports it as corrupt
            // instead of the filter hiding it.
            sql.push_str(&format!(
                " AND (NOT json_valid({column}) OR EXISTS (SELECT 1 FROM json_each({column}) AS m
                       WHERE m.key = ? AND m.type IN ({})",
                entry.types
            ));
            args.push(Value::Text(key.clone()));
            if let Some(atom) = entry.atom {
                sql.push_str(" AND m.atom = ?");
                args.push(atom);
            }
            sql.push_str("))");
        }
        exact
    }
}

/// Checkpoints matching `query`, newest first (ties, from copied threads, by thread then
/// namespace).
///
/// Metadata keys never reach the SQL text: each is a bound parameter compared with the keys
/// `json_each` reads out of the stored object, so any string is a safe key. Scalars compare in
/// SQL; arrays, objects and floats are narrowed by JSON type in SQL and compared with
/// [`CheckpointMetadata::matches`] in Rust, and the limit then counts matches, not candidates.
pub(crate) fn list(
    conn: &mut Connection,
    query: &ListQuery,
) -> Result<Vec<CheckpointTuple>, CheckpointError> {
    let context = Context::new("list", query.thread_id.as_ref());
    let sqlite = |error| context.sqlite(error);
    let limit = query.limit.unwrap_or(usize::MAX);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut sql = format!("SELECT {COLUMNS} FROM stategraph_checkpoints AS c WHERE 1");
    let mut args = Vec::new();
    if let Some(thread_id) = &query.thread_id {
        sql.push_str(" AND c.thread_id = ?");
        args.push(Value::Text(thread_id.as_str().to_owned()));
    }
    if let Some(ns) = &query.ns {
        sql.push_str(" AND c.ns = ?");
        args.push(Value::Text(ns.clone()));
    }
    if let Some(before) = query.before {
        sql.push_str(" AND c.id < ?");
        args.push(Value::Text(before.to_string()));
    }
    let exact = FilterSql::push(&query.filter, "c.metadata", &mut sql, &mut args);
    sql.push_str(" ORDER BY c.id DESC, c.thread_id, c.ns");
    if exact && query.limit.is_some() {
        sql.push_str(" LIMIT ?");
        args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    }

    let tx = conn.transaction().map_err(sqlite)?;
    let mut checkpoints = Vec::new();
    {
        let mut statement = tx.prepare_cached(&sql).map_err(sqlite)?;
        let mut rows = statement.query(params_from_iter(args)).map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let checkpoint = RawCheckpoint::from_row(row).map_err(sqlite)?.decode()?;
            if exact || checkpoint.metadata.matches(&query.filter) {
                checkpoints.push(checkpoint);
                if checkpoints.len() == limit {
                    break;
                }
            }
        }
    }
    let tuples = hydrate(&tx, context, checkpoints)?;
    tx.commit().map_err(sqlite)?;
    Ok(tuples)
}

/// The threads matching `query`, by thread id.
pub(crate) fn list_threads(
    conn: &Connection,
    query: &ThreadQuery,
) -> Result<Vec<ThreadInfo>, CheckpointError> {
    let context = Context::new("list_threads", None);
    let sqlite = |error| context.sqlite(error);
    if query.limit == Some(0) {
        return Ok(Vec::new());
    }
    // The status as `ThreadStatus::of` decides it: a question or an error of a task of the
    // head that has no result since (and for a question, no answer).
    let unfinished = |channel: &str, also: &str| {
        format!(
            "EXISTS (SELECT 1 FROM stategraph_writes AS w
                     WHERE w.thread_id = h.thread_id AND w.ns = '' AND w.checkpoint_id = h.head
                       AND w.channel = '{channel}'
                       AND NOT EXISTS (SELECT 1 FROM stategraph_writes AS r
                           WHERE r.thread_id = h.thread_id AND r.ns = '' AND r.checkpoint_id = h.head
                             AND r.task_id = w.task_id AND r.idx >= 0)
                       AND {also})"
        )
    };
    // A question waits unless its task's saved answers hold one for its call.
    let unanswered = format!(
        "NOT EXISTS (SELECT 1 FROM stategraph_writes AS a
                 WHERE a.thread_id = h.thread_id AND a.ns = '' AND a.checkpoint_id = h.head
                   AND a.task_id = w.task_id AND a.channel = '{resume}'
                   AND json_valid(CAST(w.value AS TEXT)) AND json_valid(CAST(a.value AS TEXT))
                   AND json_type(CAST(a.value AS TEXT),
                                 '$.\"' || json_extract(CAST(w.value AS TEXT), '$.index') || '\"')
                       IS NOT NULL)",
        resume = PendingWrite::RESUME
    );
    let filtered = !query.filter.is_empty();
    let (metadata, join) = if filtered {
        (
            "c.metadata",
            "JOIN stategraph_checkpoints AS c
               ON c.thread_id = h.thread_id AND c.ns = '' AND c.id = h.head",
        )
    } else {
        ("NULL", "")
    };
    let mut sql = format!(
        "SELECT thread_id, head, updated_at, step, status, metadata FROM (
             SELECT h.thread_id, h.head, h.updated_at, h.step, {metadata} AS metadata,
                    CASE WHEN h.finished THEN 'finished'
                         WHEN EXISTS (SELECT 1 FROM stategraph_writes AS e
                                      WHERE e.thread_id = h.thread_id AND e.ns = ''
                                        AND e.checkpoint_id = h.head
                                        AND e.channel = '__expired__') THEN 'expired'
                         WHEN {} THEN 'interrupted'
                         WHEN {} THEN 'errored'
                         ELSE 'pending' END AS status
             FROM stategraph_threads AS h {join}
         ) WHERE 1",
        unfinished(PendingWrite::INTERRUPT, &unanswered),
        unfinished(PendingWrite::ERROR, "TRUE")
    );
    let mut args = Vec::new();
    if let Some(after) = &query.after {
        sql.push_str(" AND thread_id > ?");
        args.push(Value::Text(after.as_str().to_owned()));
    }
    if let Some(status) = query.status {
        sql.push_str(" AND status = ?");
        args.push(Value::Text(status.name().to_owned()));
    }
    if let Some(before) = query.updated_before {
        sql.push_str(" AND updated_at < ?");
        args.push(Value::Integer(micros_ceil(before)));
    }
    FilterSql::push(&query.filter, "metadata", &mut sql, &mut args);
    sql.push_str(" ORDER BY thread_id");
    // No LIMIT in SQL: rows are read lazily until `limit` threads are listed, so a thread that
    // cannot be read (left out) does not shorten the page.
    let limit = query.limit.unwrap_or(usize::MAX);
    let mut statement = conn.prepare_cached(&sql).map_err(sqlite)?;
    let mut rows = statement.query(params_from_iter(args)).map_err(sqlite)?;
    let mut threads = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite)? {
        let (thread_id, head, updated_at, step, status, metadata) = (|| {
            Ok::<_, rusqlite::Error>((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Option<String>>(5)?,
            ))
        })()
        .map_err(sqlite)?;
        let thread_id = ThreadId::new(thread_id);
        let read = (|| {
            let head = head.parse::<CheckpointId>().map_err(|_| {
                let nil = CheckpointId::from_uuid(uuid::Uuid::nil());
                CheckpointError::corrupt(&thread_id, nil, "the thread's head id is malformed")
            })?;
            // Decoded even when SQL decided, so corrupt metadata is reported, not listed.
            let wanted = match metadata {
                Some(metadata) => {
                    query.filter_matches_stored(&thread_id, head, metadata.as_bytes())?
                }
                None => true,
            };
            let status = ThreadStatus::from_name(&status)
                .ok_or_else(|| context.other("a thread's stored status is unknown"))?;
            Ok::<_, CheckpointError>((head, wanted, status))
        })();
        let (head, status) = match read {
            Ok((head, true, status)) => (head, status),
            Ok((_, false, _)) => continue,
            Err(error) => {
                error.report_skipped(&thread_id);
                continue;
            }
        };
        threads.push(ThreadInfo {
            thread_id,
            head,
            updated_at: from_micros(updated_at),
            step,
            status,
        });
        if threads.len() == limit {
            break;
        }
    }
    Ok(threads)
}

/// The smallest whole microsecond count not earlier than `time`: a stored time `t` (whole
/// microseconds) is before `time` exactly when `t < micros_ceil(time)`.
fn micros_ceil(time: SystemTime) -> i64 {
    let floor = to_micros(time);
    if from_micros(floor) < time {
        floor.saturating_add(1)
    } else {
        floor
    }
}

/// Attaches channel blobs and pending writes to the checkpoints (two queries in all).
fn hydrate(
    conn: &Connection,
    context: Context<'_>,
    checkpoints: Vec<Checkpoint>,
) -> Result<Vec<CheckpointTuple>, CheckpointError> {
    if checkpoints.is_empty() {
        return Ok(Vec::new());
    }
    let blobs = fetch_chains(conn, context, &checkpoints, true)?;
    let mut writes = fetch_writes(conn, context, &checkpoints)?;
    checkpoints
        .into_iter()
        .map(|checkpoint| {
            let mut channels = BTreeMap::new();
            for (channel, version) in &checkpoint.channel_versions {
                let chain = walk_chain(&blobs, &checkpoint, channel, *version)?
                    .into_iter()
                    .map(|(version, kind, blob)| ChannelBlob {
                        channel: channel.clone(),
                        version,
                        kind,
                        data: blob.data.clone(),
                    })
                    .collect();
                channels.insert(channel.clone(), chain);
            }
            let key = (
                checkpoint.thread_id.as_str().to_owned(),
                checkpoint.ns.clone(),
                checkpoint.id.to_string(),
            );
            let pending_writes = writes
                .remove(&key)
                .unwrap_or_default()
                .into_iter()
                .map(|raw| raw.decode(&checkpoint))
                .collect::<Result<_, _>>()?;
            Ok(CheckpointTuple {
                checkpoint,
                channels,
                pending_writes,
            })
        })
        .collect()
}

/// A pending write as stored.
struct RawWrite {
    task_id: String,
    idx: i32,
    node: String,
    channel: String,
    value: Vec<u8>,
}

impl RawWrite {
    fn decode(self, checkpoint: &Checkpoint) -> Result<PendingWrite, CheckpointError> {
        let task_id = self.task_id.parse::<uuid::Uuid>().map_err(|_| {
            CheckpointError::corrupt(
                &checkpoint.thread_id,
                checkpoint.id,
                format!("a pending write has a malformed task id `{}`", self.task_id),
            )
        })?;
        Ok(PendingWrite {
            task_id: TaskId::from_uuid(task_id),
            node: self.node,
            idx: self.idx,
            channel: self.channel,
            value: self.value,
        })
    }
}

/// The pending writes of every checkpoint, by (thread, namespace, checkpoint id), each list
/// ordered by task id and index.
fn fetch_writes(
    conn: &Connection,
    context: Context<'_>,
    checkpoints: &[Checkpoint],
) -> Result<HashMap<CheckpointKey, Vec<RawWrite>>, CheckpointError> {
    let keys: Vec<(&str, &str, String)> = checkpoints
        .iter()
        .map(|c| (c.thread_id.as_str(), c.ns.as_str(), c.id.to_string()))
        .collect();
    let keys = serde_json::to_string(&keys)
        .map_err(|error| context.other(format!("cannot encode checkpoint keys: {error}")))?;
    let mut writes: HashMap<_, Vec<RawWrite>> = HashMap::new();
    conn.prepare_cached(
        "SELECT thread_id, ns, checkpoint_id, task_id, idx, node, channel, value
         FROM stategraph_writes
         WHERE (thread_id, ns, checkpoint_id) IN (
             SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1))
         ORDER BY thread_id, ns, checkpoint_id, task_id, idx",
    )
    .and_then(|mut s| {
        let mut rows = s.query([keys])?;
        while let Some(row) = rows.next()? {
            writes
                .entry((row.get(0)?, row.get(1)?, row.get(2)?))
                .or_default()
                .push(RawWrite {
                    task_id: row.get(3)?,
                    idx: row.get(4)?,
                    node: row.get(5)?,
                    channel: row.get(6)?,
                    value: row.get(7)?,
                });
        }
        Ok(())
    })
    .map_err(|error| context.sqlite(error))?;
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use stategraph_checkpoint::{
        BlobKind, ChannelBlob, Checkpoint, CheckpointMetadata, NewCheckpoint, PutMode, Source, now,
    };

    use super::*;
    use crate::write::{EncodedCheckpoint, put, put_writes};

    /// A thread of `n` checkpoints, each changing `log` (a delta, with a snapshot every 5
    /// steps) and `count`, keeping `fixed` from the first, with two pending writes each.
    fn populate(conn: &mut Connection, thread: &ThreadId, n: usize) {
        crate::schema::migrate(conn).unwrap();
        let mut parent: Option<CheckpointId> = None;
        let mut first = None;
        let mut log_version = None;
        for i in 0..n {
            let id = CheckpointId::new();
            let first_id = *first.get_or_insert(id);
            let log_kind = match log_version {
                Some(base) if i % 5 != 0 => BlobKind::Delta { base },
                _ => BlobKind::Snapshot,
            };
            log_version = Some(id);
            let blob = |channel: &str, kind| ChannelBlob {
                channel: channel.to_owned(),
                version: id,
                kind,
                data: serde_json::to_vec(&json!([i])).unwrap(),
            };
            let mut blobs = vec![blob("log", log_kind), blob("count", BlobKind::Snapshot)];
            if i == 0 {
                blobs.push(blob("fixed", BlobKind::Snapshot));
            }
            let checkpoint = Checkpoint {
                id,
                thread_id: thread.clone(),
                ns: String::new(),
                parent_id: parent,
                created_at: now(),
                channel_versions: [
                    ("log".to_owned(), id),
                    ("count".to_owned(), id),
                    ("fixed".to_owned(), first_id),
                ]
                .into(),
                next: vec!["n".to_owned()],
                barriers: BTreeMap::new(),
                metadata: {
                    let mut metadata =
                        CheckpointMetadata::new(Source::Loop, i64::try_from(i).unwrap());
                    metadata.user = [("run".to_owned(), json!("r"))].into_iter().collect();
                    metadata
                },
            };
            let encoded = EncodedCheckpoint::new(NewCheckpoint {
                checkpoint,
                blobs,
                mode: PutMode::Advance,
                epoch: None,
            })
            .unwrap();
            put(conn, &encoded).unwrap();
            let write = |idx| PendingWrite {
                task_id: TaskId::from_uuid(uuid::Uuid::now_v7()),
                node: "n".to_owned(),
                idx,
                channel: "log".to_owned(),
                value: b"1".to_vec(),
            };
            put_writes(conn, thread, "", id, &[write(0), write(1)], None).unwrap();
            parent = Some(id);
        }
    }

    /// The statements `run` executes on `conn`, by their SQL text.
    fn statements<T>(
        conn: &mut Connection,
        run: impl FnOnce(&mut Connection) -> T,
    ) -> (T, Vec<String>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        conn.trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |event: rusqlite::trace::TraceEvent<'_>| {
                if let rusqlite::trace::TraceEvent::Stmt(_, sql) = event {
                    sink.lock().unwrap().push(sql.to_owned());
                }
            }),
        )
        .unwrap();
        let out = run(conn);
        conn.trace_v2(
            rusqlite::trace::TraceEventCodes::empty(),
            None::<fn(rusqlite::trace::TraceEvent<'_>)>,
        )
        .unwrap();
        let seen = seen.lock().unwrap().clone();
        (out, seen)
    }

    fn queries(statements: &[String]) -> usize {
        statements
            .iter()
            .filter(|s| !s.starts_with("BEGIN") && !s.starts_with("COMMIT"))
            .count()
    }

    #[test]
    fn a_page_of_history_costs_three_queries_whatever_its_size() {
        let mut conn = Connection::open_in_memory().unwrap();
        let thread = ThreadId::new("t");
        populate(&mut conn, &thread, 40);
        for limit in [1, 10, 40] {
            let query = ListQuery::thread(thread.clone()).limit(limit);
            let (page, sql) = statements(&mut conn, |conn| list(conn, &query).unwrap());
            assert_eq!(page.len(), limit);
            assert!(
                page.iter()
                    .all(|t| t.pending_writes.len() == 2 && t.channels.len() == 3)
            );
            assert_eq!(queries(&sql), 3, "limit {limit}: {sql:#?}");
        }
        // Filters rechecked in Rust do not add queries either.
        let query = ListQuery::default()
            .filter("run", "r")
            .filter("parents", json!({}));
        let (page, sql) = statements(&mut conn, |conn| list(conn, &query).unwrap());
        assert_eq!(page.len(), 40);
        assert_eq!(queries(&sql), 3, "{sql:#?}");
        let (latest, sql) = statements(&mut conn, |conn| get(conn, &thread, "", None).unwrap());
        let latest = latest.unwrap();
        assert_eq!(
            latest.channels["log"].len(),
            5,
            "snapshot at 35, deltas 36..=39"
        );
        assert_eq!(latest.channels["fixed"].len(), 1);
        assert_eq!(queries(&sql), 3, "{sql:#?}");
    }

    /// The query plan of `sql`, one line per step.
    fn plan(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Vec<String> {
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        statement
            .query_map(args, |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn reads_search_indexes_instead_of_scanning_tables() {
        let mut conn = Connection::open_in_memory().unwrap();
        populate(&mut conn, &ThreadId::new("t"), 3);
        let keys = r#"[["t","","x","y"]]"#;
        let cases: Vec<(&str, Vec<String>)> = vec![
            (
                "latest",
                plan(
                    &conn,
                    &format!(
                        "SELECT {COLUMNS} FROM stategraph_checkpoints AS c
                         WHERE c.thread_id = ?1 AND c.ns = ?2 ORDER BY c.id DESC LIMIT 1"
                    ),
                    &[&"t", &""],
                ),
            ),
            (
                "history page",
                plan(
                    &conn,
                    &format!(
                        "SELECT {COLUMNS} FROM stategraph_checkpoints AS c
                         WHERE 1 AND c.thread_id = ? AND c.ns = ? AND c.id < ?
                         ORDER BY c.id DESC, c.thread_id, c.ns LIMIT ?"
                    ),
                    &[&"t", &"", &"z", &10],
                ),
            ),
            (
                "writes",
                plan(
                    &conn,
                    "SELECT thread_id, ns, checkpoint_id, task_id, idx, node, channel, value
                     FROM stategraph_writes
                     WHERE (thread_id, ns, checkpoint_id) IN (
                         SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1))
                     ORDER BY thread_id, ns, checkpoint_id, task_id, idx",
                    &[&keys],
                ),
            ),
            (
                "threads page",
                plan(
                    &conn,
                    "SELECT thread_id, head, updated_at, step, finished FROM stategraph_threads
                     WHERE 1 AND thread_id > ? ORDER BY thread_id LIMIT ?",
                    &[&"a", &10],
                ),
            ),
        ];
        for (name, lines) in cases {
            for line in &lines {
                assert!(
                    !line.starts_with("SCAN stategraph") && !line.starts_with("SCAN c"),
                    "{name} scans a table: {lines:#?}"
                );
            }
            // The writes of a page are sorted after the index lookups; the rest stream in order.
            if name != "writes" {
                assert!(
                    !lines.iter().any(|l| l.contains("TEMP B-TREE")),
                    "{name} sorts: {lines:#?}"
                );
            }
        }
        let sql = format!(
            "{} ",
            "WITH RECURSIVE chain (thread_id, ns, channel, version) AS (
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1)
                 UNION
                 SELECT b.thread_id, b.ns, b.channel, b.base
                 FROM chain AS k JOIN stategraph_blobs AS b
                   ON b.thread_id = k.thread_id AND b.ns = k.ns
                  AND b.channel = k.channel AND b.version = k.version
                 WHERE b.base IS NOT NULL
             )
             SELECT b.thread_id, b.ns, b.channel, b.version, b.kind, b.base, b.data
             FROM chain AS k JOIN stategraph_blobs AS b
               ON b.thread_id = k.thread_id AND b.ns = k.ns
              AND b.channel = k.channel AND b.version = k.version"
        );
        let lines = plan(&conn, &sql, &[&keys]);
        assert!(
            !lines.iter().any(|l| l.starts_with("SCAN b")),
            "the chain walk scans blobs: {lines:#?}"
        );
    }
}
