//! The tables, as numbered migrations recorded in `<schema>.migrations`.
//!
//! Each checkpoint row carries the version of every channel but no values; a channel's value
//! is stored once per version in `blobs`, as a snapshot or as a delta on an earlier version
//! (`base`). So a step writes only the channels it changed. Every JSON column is `jsonb`, so
//! the tables are a queryable audit log (who approved what, when). Text ids that are compared
//! or sorted use `COLLATE "C"` (byte order, the order of `ThreadId`), and ids are `uuid`
//! (UUIDv7: byte order is creation order).

use stategraph_checkpoint::CheckpointError;
use tokio_postgres::types::Type;

use crate::error::Context;

/// One step of the schema's history. Never edit a released migration: add the next one.
struct Migration {
    version: i32,
    description: &'static str,
    /// SQL with `{s}` for the quoted schema name.
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "checkpoints, channel blobs, pending writes, thread heads",
        sql: r#"
        -- One row per checkpoint. `metadata` is CheckpointMetadata::to_json() (user keys
        -- flattened into it); `step` and `source` are copied out of it for queries.
        CREATE TABLE {s}.checkpoints (
            thread_id        text COLLATE "C" NOT NULL,
            ns               text COLLATE "C" NOT NULL,
            id               uuid        NOT NULL,
            parent_id        uuid,
            -- Written by an Advance put (a continuation of the head), not a Fork.
            advance          boolean     NOT NULL,
            created_at       timestamptz NOT NULL,
            step             bigint      NOT NULL,
            source           text        NOT NULL,
            channel_versions jsonb       NOT NULL, -- {channel: version}
            next             jsonb       NOT NULL, -- [node]
            barriers         jsonb       NOT NULL, -- {join target: [finished source]}
            metadata         jsonb       NOT NULL,
            -- The latest checkpoint of (thread, ns) and its history pages, newest first.
            PRIMARY KEY (thread_id, ns, id)
        );
        -- History of a thread across its namespaces, newest first.
        CREATE INDEX checkpoints_by_thread ON {s}.checkpoints (thread_id, id);
        -- Metadata filters (`metadata @> '{"run_id": "r"}'`) across every thread.
        CREATE INDEX checkpoints_by_metadata ON {s}.checkpoints USING gin (metadata jsonb_path_ops);
        -- The last line of defence against a forked history: one Advance child per parent.
        CREATE UNIQUE INDEX checkpoints_one_continuation ON {s}.checkpoints
            (thread_id, ns, coalesce(parent_id, '00000000-0000-0000-0000-000000000000'))
            WHERE advance;

        -- One row per channel per version that wrote it. A NULL base is a snapshot; otherwise
        -- the value is one step's writes (a JSON array) to replay on the blob at `base`.
        -- `value` holds JSON; `raw` holds bytes jsonb cannot (not JSON, or a \u0000 escape).
        CREATE TABLE {s}.blobs (
            thread_id text COLLATE "C" NOT NULL,
            ns        text COLLATE "C" NOT NULL,
            channel   text COLLATE "C" NOT NULL,
            version   uuid  NOT NULL,
            base      uuid,
            value     jsonb,
            raw       bytea,
            CHECK ((value IS NULL) <> (raw IS NULL)),
            PRIMARY KEY (thread_id, ns, channel, version)
        );

        -- The writes of finished tasks, against the checkpoint their step started from.
        CREATE TABLE {s}.writes (
            thread_id     text COLLATE "C" NOT NULL,
            ns            text COLLATE "C" NOT NULL,
            checkpoint_id uuid    NOT NULL,
            task_id       uuid    NOT NULL,
            idx           integer NOT NULL,
            node          text    NOT NULL,
            channel       text    NOT NULL,
            value         jsonb,
            raw           bytea,
            CHECK ((value IS NULL) <> (raw IS NULL)),
            PRIMARY KEY (thread_id, ns, checkpoint_id, task_id, idx)
        );

        -- The latest checkpoint of each (thread, namespace): the register every Advance put
        -- compares and swaps, and (for ns = '') what thread listings read, one small row per
        -- thread. Updated every step, so pages keep room for HOT updates.
        CREATE TABLE {s}.heads (
            thread_id  text COLLATE "C" NOT NULL,
            ns         text COLLATE "C" NOT NULL,
            head       uuid        NOT NULL,
            updated_at timestamptz NOT NULL,
            step       bigint      NOT NULL,
            finished   boolean     NOT NULL, -- the head schedules no node
            PRIMARY KEY (thread_id, ns)
        ) WITH (fillfactor = 70);
    "#,
    },
    Migration {
        version: 2,
        description: "thread owners: the fencing epoch of the run that last claimed each thread",
        sql: r#"
        -- Every fenced write locks its thread's row FOR SHARE and checks the epoch; a claim
        -- updates it. So a claim waits for writes in flight, and a write after a claim sees
        -- the new epoch and is refused.
        CREATE TABLE {s}.owners (
            thread_id text COLLATE "C" NOT NULL PRIMARY KEY,
            epoch     bigint NOT NULL
        );
    "#,
    },
    Migration {
        version: 3,
        description: "node cache: results by key, with the time each expires",
        sql: r#"
        CREATE TABLE {s}.cache (
            key        text COLLATE "C" NOT NULL PRIMARY KEY,
            value      bytea  NOT NULL,
            expires_at bigint          -- microseconds since the epoch; NULL: never
        );
        CREATE INDEX cache_by_expiry ON {s}.cache (expires_at) WHERE expires_at IS NOT NULL;
    "#,
    },
    Migration {
        version: 4,
        description: "store: JSON items by namespace and key, with their times and expiry",
        sql: r#"
        CREATE TABLE {s}.store (
            namespace  text COLLATE "C" NOT NULL,  -- the labels joined by '/'
            key        text COLLATE "C" NOT NULL,
            value      jsonb  NOT NULL,            -- a JSON object
            created_at bigint NOT NULL,            -- microseconds since the epoch
            updated_at bigint NOT NULL,
            ttl        bigint,                     -- microseconds; NULL: never expires
            expires_at bigint,
            PRIMARY KEY (namespace, key)
        );
        CREATE INDEX store_by_update ON {s}.store (updated_at);
        CREATE INDEX store_by_expiry ON {s}.store (expires_at) WHERE expires_at IS NOT NULL;
    "#,
    },
    Migration {
        version: 5,
        description: "the writes as functions, planned once per connection",
        sql: r#"
        -- The write paths as PL/pgSQL functions. A client calls each with one short statement,
        -- so an unnamed statement (safe behind any pooler) costs a parse of that call only; the
        -- function's own statements are planned once per connection and cached.

        -- Whether a write may go ahead: it carries no epoch, or the thread's current one. The
        -- row lock (FOR SHARE, held to the end of the transaction) makes a concurrent claim
        -- wait for this write, and makes this write re-read the epoch a claim committed.
        CREATE FUNCTION {s}.fence(in_thread text, in_epoch bigint)
        RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN
            RETURN in_epoch IS NULL OR EXISTS (
                SELECT 1 FROM {s}.owners
                WHERE thread_id = in_thread AND epoch = in_epoch FOR SHARE);
        END $$;

        -- A checkpoint: the fence, the head's compare-and-swap (Advance) or move (Fork), then
        -- the changed channels' blobs and the checkpoint row. False, with nothing written, when
        -- the fence or the head refuses it.
        CREATE FUNCTION {s}.put_checkpoint(
            in_thread text, in_ns text, in_id uuid, in_parent uuid, in_created timestamptz,
            in_step bigint, in_source text, in_versions jsonb, in_next jsonb, in_barriers jsonb,
            in_metadata jsonb, in_finished boolean, in_advance boolean, in_channels text[],
            in_blob_versions uuid[], in_bases uuid[], in_values jsonb[], in_raws bytea[],
            in_epoch bigint
        ) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT {s}.fence(in_thread, in_epoch) THEN
                RETURN false;
            END IF;
            IF in_advance AND in_parent IS NOT NULL THEN
                -- The head must be the expected parent: the row lock makes a concurrent writer
                -- wait and then re-check against the committed head.
                UPDATE {s}.heads
                SET head = in_id, updated_at = in_created, step = in_step, finished = in_finished
                WHERE thread_id = in_thread AND ns = in_ns AND head = in_parent;
            ELSIF in_advance THEN
                -- A first checkpoint: the head row must not exist yet.
                INSERT INTO {s}.heads (thread_id, ns, head, updated_at, step, finished)
                VALUES (in_thread, in_ns, in_id, in_created, in_step, in_finished)
                ON CONFLICT (thread_id, ns) DO NOTHING;
            ELSIF in_parent IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM {s}.checkpoints
                WHERE thread_id = in_thread AND ns = in_ns AND id = in_parent
            ) THEN
                -- A fork needs its parent.
                RETURN false;
            ELSE
                -- A fork becomes the head if its id is the greatest.
                INSERT INTO {s}.heads AS h (thread_id, ns, head, updated_at, step, finished)
                VALUES (in_thread, in_ns, in_id, in_created, in_step, in_finished)
                ON CONFLICT (thread_id, ns) DO UPDATE SET
                    head = excluded.head, updated_at = excluded.updated_at,
                    step = excluded.step, finished = excluded.finished
                WHERE excluded.head >= h.head;
            END IF;
            IF in_advance AND NOT FOUND THEN
                RETURN false;
            END IF;
            INSERT INTO {s}.blobs (thread_id, ns, channel, version, base, value, raw)
            SELECT in_thread, in_ns, u.channel, u.version, u.base, u.value, u.raw
            FROM unnest(in_channels, in_blob_versions, in_bases, in_values, in_raws)
                 AS u (channel, version, base, value, raw)
            ON CONFLICT (thread_id, ns, channel, version) DO NOTHING;
            -- A fork may replace a checkpoint of its own id; an Advance never does (the
            -- duplicate is an error, and rolls back the head's move with it).
            INSERT INTO {s}.checkpoints (thread_id, ns, id, parent_id, advance, created_at, step,
                source, channel_versions, next, barriers, metadata)
            VALUES (in_thread, in_ns, in_id, in_parent, in_advance, in_created, in_step,
                in_source, in_versions, in_next, in_barriers, in_metadata)
            ON CONFLICT (thread_id, ns, id) DO UPDATE SET
                parent_id = excluded.parent_id, created_at = excluded.created_at,
                step = excluded.step, source = excluded.source,
                channel_versions = excluded.channel_versions, next = excluded.next,
                barriers = excluded.barriers, metadata = excluded.metadata
            WHERE NOT in_advance;
            IF NOT FOUND THEN
                RAISE unique_violation USING CONSTRAINT = 'checkpoints_pkey',
                    MESSAGE = 'a checkpoint with this id exists';
            END IF;
            RETURN true;
        END $$;

        -- One task's writes, if the fence lets them: the first write at each (task, index)
        -- wins, except at negative indexes (errors), where the latest does. The caller sends
        -- each key once.
        CREATE FUNCTION {s}.put_writes(
            in_thread text, in_ns text, in_checkpoint uuid, in_tasks uuid[], in_idxs int4[],
            in_nodes text[], in_channels text[], in_values jsonb[], in_raws bytea[],
            in_epoch bigint
        ) RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT {s}.fence(in_thread, in_epoch) THEN
                RETURN false;
            END IF;
            INSERT INTO {s}.writes (thread_id, ns, checkpoint_id, task_id, idx, node, channel,
                value, raw)
            SELECT in_thread, in_ns, in_checkpoint, u.task_id, u.idx, u.node, u.channel,
                u.value, u.raw
            FROM unnest(in_tasks, in_idxs, in_nodes, in_channels, in_values, in_raws)
                 AS u (task_id, idx, node, channel, value, raw)
            ON CONFLICT (thread_id, ns, checkpoint_id, task_id, idx) DO UPDATE SET
                node = excluded.node, channel = excluded.channel,
                value = excluded.value, raw = excluded.raw
            WHERE excluded.idx < 0;
            RETURN true;
        END $$;

        -- A claim from epoch in_expected (none when NULL) at time in_now, and the writes stored
        -- with it only if it succeeded: the new epoch, or NULL. The row lock of the update makes
        -- a concurrent claim wait and re-check, so of two claims from one epoch one succeeds.
        CREATE FUNCTION {s}.claim_if(
            in_thread text, in_ns text, in_checkpoint uuid, in_tasks uuid[], in_idxs int4[],
            in_nodes text[], in_channels text[], in_values jsonb[], in_raws bytea[],
            in_expected bigint, in_now bigint
        ) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            claimed bigint;
        BEGIN
            IF in_expected IS NULL THEN
                INSERT INTO {s}.owners (thread_id, epoch) VALUES (in_thread, in_now)
                ON CONFLICT (thread_id) DO NOTHING
                RETURNING epoch INTO claimed;
            ELSE
                UPDATE {s}.owners SET epoch = GREATEST(epoch + 1, in_now)
                WHERE thread_id = in_thread AND epoch = in_expected
                RETURNING epoch INTO claimed;
            END IF;
            IF claimed IS NOT NULL THEN
                PERFORM {s}.put_writes(in_thread, in_ns, in_checkpoint, in_tasks, in_idxs,
                    in_nodes, in_channels, in_values, in_raws, claimed);
            END IF;
            RETURN claimed;
        END $$;
    "#,
    },
];

/// The schema version this build writes.
pub(crate) const LATEST: i32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// A fixed first key for `pg_advisory_xact_lock(int, int)`; the second is the schema's hash.
const LOCK_CLASS: i32 = 0x5347_5047; // "SGPG"

/// Brings the schema to the latest version. Idempotent, and safe when many processes run it
/// at once: the migration transaction first takes a transaction-scoped advisory lock keyed by
/// the schema name, so the others wait, then find nothing left to do. (Transaction-scoped, so
/// it is released by COMMIT or ROLLBACK, also behind pgbouncer in transaction mode.)
pub(crate) async fn migrate(
    client: &mut tokio_postgres::Client,
    schema: &str,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let quoted = format!("\"{schema}\"");
    let pg = |e| context.pg(e);
    let tx = client.transaction().await.map_err(pg)?;
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[(&LOCK_CLASS, Type::INT4), (&schema, Type::TEXT)],
    )
    .await
    .map_err(pg)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {quoted};
         CREATE TABLE IF NOT EXISTS {quoted}.migrations (
             version     integer     PRIMARY KEY,
             description text        NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(pg)?;
    let current: i32 = tx
        .query_typed(
            &format!("SELECT coalesce(max(version), 0) FROM {quoted}.migrations"),
            &[],
        )
        .await
        .map_err(pg)?
        .first()
        .map(|row| row.get(0))
        .unwrap_or(0);
    if current > LATEST {
        return Err(context.other(format!(
            "schema `{schema}` has version {current}, newer than this stategraph-postgres \
             understands ({LATEST}); upgrade stategraph"
        )));
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        tracing::info!(
            schema,
            version = migration.version,
            description = migration.description,
            "applying stategraph-postgres migration"
        );
        tx.batch_execute(&migration.sql.replace("{s}", &quoted))
            .await
            .map_err(pg)?;
        tx.query_typed(
            &format!("INSERT INTO {quoted}.migrations (version, description) VALUES ($1, $2)"),
            &[
                (&migration.version, Type::INT4),
                (&migration.description, Type::TEXT),
            ],
        )
        .await
        .map_err(pg)?;
    }
    tx.commit().await.map_err(pg)
}
