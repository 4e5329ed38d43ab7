//! The tables, as numbered migrations recorded in `stategraph_migrations`.
//!
//! Each checkpoint row carries the version of every channel but no values; a channel's value
//! is stored once per version in `stategraph_blobs`, as a snapshot or as a delta on an earlier
//! version (`base`). So a step writes only the channels it changed, and a long history does
//! not make a step more expensive. Ids are UUIDv7 text, which sorts by creation time.
//!
//! Tables holding JSON or value bytes keep their rowid: SQLite recommends `WITHOUT ROWID` only
//! for rows far smaller than a page, which these are not; their primary keys are covering
//! indexes for every lookup below. The small `stategraph_threads` rows are `WITHOUT ROWID`.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use stategraph_checkpoint::{CheckpointError, now, to_micros};

use crate::error::Context;

/// One step of the schema's history. Never edit a released migration: add the next one.
struct Migration {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "checkpoints, channel blobs, pending writes, thread heads",
        sql: "
        -- One row per checkpoint. `metadata` is CheckpointMetadata::to_json() (user keys
        -- flattened into it); `step` and `source` are copied out of it for queries.
        CREATE TABLE stategraph_checkpoints (
            thread_id        TEXT    NOT NULL,
            ns               TEXT    NOT NULL,
            id               TEXT    NOT NULL,
            parent_id        TEXT,
            created_at       INTEGER NOT NULL, -- microseconds since the Unix epoch
            step             INTEGER NOT NULL,
            source           TEXT    NOT NULL,
            channel_versions TEXT    NOT NULL, -- {channel: version}
            next             TEXT    NOT NULL, -- [node]
            barriers         TEXT    NOT NULL, -- {join target: [finished source]}
            metadata         TEXT    NOT NULL,
            -- Serves the latest checkpoint of (thread, ns) and history pages, newest first.
            PRIMARY KEY (thread_id, ns, id)
        ) STRICT;

        -- History of a thread across its namespaces, newest first.
        CREATE INDEX stategraph_checkpoints_by_thread ON stategraph_checkpoints (thread_id, id);

        -- One row per channel per version that wrote it. A NULL base is a snapshot; otherwise
        -- `data` is one step's writes to replay on the blob at version `base`.
        CREATE TABLE stategraph_blobs (
            thread_id TEXT NOT NULL,
            ns        TEXT NOT NULL,
            channel   TEXT NOT NULL,
            version   TEXT NOT NULL,
            kind      TEXT NOT NULL, -- 'snapshot' | 'delta'
            base      TEXT,
            data      BLOB NOT NULL,
            PRIMARY KEY (thread_id, ns, channel, version)
        ) STRICT;

        -- The writes of finished tasks, against the checkpoint their step started from.
        CREATE TABLE stategraph_writes (
            thread_id     TEXT    NOT NULL,
            ns            TEXT    NOT NULL,
            checkpoint_id TEXT    NOT NULL,
            task_id       TEXT    NOT NULL,
            idx           INTEGER NOT NULL,
            node          TEXT    NOT NULL,
            channel       TEXT    NOT NULL,
            value         BLOB    NOT NULL,
            PRIMARY KEY (thread_id, ns, checkpoint_id, task_id, idx)
        ) STRICT;

        -- The latest root checkpoint of each thread, so listing threads reads one small row
        -- per thread instead of scanning every checkpoint.
        CREATE TABLE stategraph_threads (
            thread_id  TEXT    NOT NULL PRIMARY KEY,
            head       TEXT    NOT NULL,
            updated_at INTEGER NOT NULL,
            step       INTEGER NOT NULL,
            finished   INTEGER NOT NULL -- 1 when the head schedules no node
        ) STRICT, WITHOUT ROWID;

        -- Retention sweeps: threads not updated since a time.
        CREATE INDEX stategraph_threads_by_update ON stategraph_threads (updated_at);
    ",
    },
    Migration {
        version: 2,
        description: "thread owners: the fencing epoch of the run that last claimed each thread",
        sql: "
        CREATE TABLE stategraph_owners (
            thread_id TEXT    NOT NULL PRIMARY KEY,
            epoch     INTEGER NOT NULL
        ) STRICT, WITHOUT ROWID;
    ",
    },
    Migration {
        version: 3,
        description: "node cache: results by key, with the time each expires",
        sql: "
        CREATE TABLE stategraph_cache (
            key        TEXT    NOT NULL PRIMARY KEY,
            value      BLOB    NOT NULL,
            expires_at INTEGER          -- microseconds since the epoch; NULL: never
        ) STRICT;

        CREATE INDEX stategraph_cache_by_expiry ON stategraph_cache (expires_at)
            WHERE expires_at IS NOT NULL;
    ",
    },
    Migration {
        version: 4,
        description: "store: JSON items by namespace and key, with their times and expiry",
        sql: "
        CREATE TABLE stategraph_store (
            namespace  TEXT    NOT NULL,  -- the labels joined by '/'
            key        TEXT    NOT NULL,
            value      TEXT    NOT NULL,  -- a JSON object
            created_at INTEGER NOT NULL,  -- microseconds since the epoch
            updated_at INTEGER NOT NULL,
            ttl        INTEGER,           -- microseconds; NULL: never expires
            expires_at INTEGER,
            PRIMARY KEY (namespace, key)
        ) STRICT;

        CREATE INDEX stategraph_store_by_update ON stategraph_store (updated_at);
        CREATE INDEX stategraph_store_by_expiry ON stategraph_store (expires_at)
            WHERE expires_at IS NOT NULL;
    ",
    },
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Brings the database to the latest schema. Idempotent, and safe when several processes run
/// it at once: `BEGIN IMMEDIATE` takes the write lock before the version is read, so the
/// second process waits, then finds nothing left to do.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), CheckpointError> {
    let context = Context::new("setup", None);
    let sqlite = |error| context.sqlite(error);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS stategraph_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT    NOT NULL,
            applied_at  INTEGER NOT NULL -- microseconds since the Unix epoch
        ) STRICT",
    )
    .map_err(sqlite)?;
    let current: i64 = tx
        .query_row(
            "SELECT max(version) FROM stategraph_migrations",
            [],
            |row| row.get::<_, Option<i64>>(0),
        )
        .optional()
        .map_err(sqlite)?
        .flatten()
        .unwrap_or(0);
    if current > LATEST {
        return Err(context.other(format!(
            "the database has schema version {current}, newer than this stategraph-sqlite \
             understands ({LATEST}); upgrade stategraph"
        )));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        tracing::info!(
            version = migration.version,
            description = migration.description,
            "applying stategraph-sqlite migration"
        );
        tx.execute_batch(migration.sql).map_err(sqlite)?;
        tx.execute(
            "INSERT INTO stategraph_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            (migration.version, migration.description, to_micros(now())),
        )
        .map_err(sqlite)?;
    }
    tx.commit().map_err(sqlite)
}
