//! The store in SQLite: [`SqliteStore`], on table `stategraph_store`, one row per item, its
//! namespace stored as the labels joined by `/`. The functions below are its statements, each
//! run on a worker thread's connection as the saver's are. Filters run in SQL over `json_each`,
//! matching top-level fields by name as a bound parameter (no JSON path is built from user
//! text), with the kind checks that give [`Filter::matches`]'s answers.

use std::path::Path;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::{Map, Value};
use stategraph_checkpoint::store::{
    Clock, Filter, Item, Namespace, NamespaceQuery, Op, SEPARATOR, SearchQuery, Store, StoreError,
    expiry,
};
use stategraph_checkpoint::{Checkpointer, from_micros, to_micros};

use crate::SqliteSaver;
use crate::error::Context;

/// What an item row is read with.
const COLUMNS: &str = "namespace, key, value, created_at, updated_at, ttl, expires_at";

/// The condition that a row has not expired at `?1`.
const LIVE: &str = "(expires_at IS NULL OR expires_at > ?1)";

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// An item row as read: namespace, key, value, created, updated, ttl and expiry.
struct ItemRow {
    namespace: String,
    key: String,
    value: String,
    created: i64,
    updated: i64,
    ttl: Option<i64>,
    expires: Option<i64>,
}

fn item(row: &Row<'_>) -> rusqlite::Result<ItemRow> {
    Ok(ItemRow {
        namespace: row.get(0)?,
        key: row.get(1)?,
        value: row.get(2)?,
        created: row.get(3)?,
        updated: row.get(4)?,
        ttl: row.get(5)?,
        expires: row.get(6)?,
    })
}

/// An item row as an [`Item`].
fn decode(row: ItemRow) -> Result<Item, StoreError> {
    let ItemRow {
        namespace,
        key,
        value,
        created,
        updated,
        ttl,
        expires,
    } = row;
    let corrupt = |detail: String| StoreError::Corrupt {
        key: key.chars().take(64).collect(),
        detail,
    };
    let value: Map<String, Value> = serde_json::from_str(&value)
        .map_err(|e| corrupt(format!("its value is not a JSON object: {e}")))?;
    let namespace = Namespace::from_joined(&namespace)
        .map_err(|e| corrupt(format!("its namespace is not valid: {e}")))?;
    Ok(Item {
        namespace,
        key,
        value,
        created_at: from_micros(created),
        updated_at: from_micros(updated),
        ttl: ttl.map(|t| std::time::Duration::from_micros(t.unsigned_abs())),
        expires_at: expires.map(from_micros),
    })
}

/// The item at `key` in `namespace`, unless absent or expired; renewed first with `refresh`.
pub(crate) fn get(
    conn: &Connection,
    namespace: &Namespace,
    key: &str,
    refresh: bool,
    at: SystemTime,
) -> Result<Option<Item>, StoreError> {
    let at = to_micros(at);
    let joined = namespace.joined();
    if refresh {
        conn.prepare_cached(&format!(
            "UPDATE stategraph_store SET expires_at = ?1 + ttl
             WHERE namespace = ?2 AND key = ?3 AND ttl IS NOT NULL AND {LIVE}"
        ))
        .and_then(|mut s| s.execute(params![at, joined, key]))
        .map_err(backend)?;
    }
    let row = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM stategraph_store WHERE namespace = ?2 AND key = ?3 AND {LIVE}"
        ))
        .and_then(|mut s| s.query_row(params![at, joined, key], item).optional())
        .map_err(backend)?;
    row.map(decode).transpose()
}

/// Stores an item, keeping the creation time of a live one it replaces.
pub(crate) fn put(
    conn: &Connection,
    namespace: &Namespace,
    key: &str,
    value: &str,
    ttl: Option<std::time::Duration>,
    at: SystemTime,
) -> rusqlite::Result<()> {
    let micros = to_micros(at);
    let ttl_micros = ttl.map(|t| i64::try_from(t.as_micros()).unwrap_or(i64::MAX));
    let expires = expiry(at, ttl).map(to_micros);
    conn.prepare_cached(
        "INSERT INTO stategraph_store
             (namespace, key, value, created_at, updated_at, ttl, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)
         ON CONFLICT (namespace, key) DO UPDATE SET
             value = excluded.value,
             created_at = CASE
                 WHEN stategraph_store.expires_at IS NOT NULL
                      AND stategraph_store.expires_at <= excluded.updated_at
                 THEN excluded.created_at ELSE stategraph_store.created_at END,
             updated_at = excluded.updated_at,
             ttl = excluded.ttl,
             expires_at = excluded.expires_at",
    )?
    .execute(params![
        namespace.joined(),
        key,
        value,
        micros,
        ttl_micros,
        expires
    ])?;
    Ok(())
}

/// Removes the item at `key` in `namespace`.
pub(crate) fn delete(conn: &Connection, namespace: &Namespace, key: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM stategraph_store WHERE namespace = ?1 AND key = ?2")?
        .execute(params![namespace.joined(), key])?;
    Ok(())
}

/// The condition that a row's namespace is under `prefix` label by label, with its parameters
/// (numbered from `next`).
fn under(prefix: &[String], next: usize, args: &mut Vec<Sql>) -> String {
    if prefix.is_empty() {
        return "1".to_owned();
    }
    let joined = prefix.join(&SEPARATOR.to_string());
    let below = format!("{joined}{SEPARATOR}");
    args.push(Sql::Text(joined));
    args.push(Sql::Integer(below.chars().count() as i64));
    args.push(Sql::Text(below));
    format!(
        "(namespace = ?{} OR substr(namespace, 1, ?{}) = ?{})",
        next,
        next + 1,
        next + 2
    )
}

/// The SQL condition of one filter over `json_each`, with its parameters (numbered from
/// `next`): the field by name, its kind, and the comparison — [`Filter::matches`] in SQL.
fn condition(filter: &Filter, next: usize, args: &mut Vec<Sql>) -> String {
    let op = filter.op.sql();
    let (kinds, compared): (&str, Option<Sql>) = match &filter.value {
        Value::Number(n) => (
            "type IN ('integer', 'real')",
            Some(match n.as_i64() {
                Some(i) => Sql::Integer(i),
                None => Sql::Real(n.as_f64().unwrap_or(f64::NAN)),
            }),
        ),
        Value::String(s) => ("type = 'text'", Some(Sql::Text(s.clone()))),
        Value::Bool(b) => match filter.op {
            Op::Eq if *b => ("type = 'true'", None),
            Op::Eq => ("type = 'false'", None),
            Op::Ne if *b => ("type = 'false'", None),
            Op::Ne => ("type = 'true'", None),
            _ => return "0".to_owned(),
        },
        Value::Null if filter.op == Op::Eq => ("type = 'null'", None),
        _ => return "0".to_owned(),
    };
    args.push(Sql::Text(filter.field.clone()));
    let mut sql = format!(
        "EXISTS (SELECT 1 FROM json_each(stategraph_store.value) WHERE key = ?{next} AND {kinds}"
    );
    if let Some(value) = compared {
        args.push(value);
        sql.push_str(&format!(" AND value {op} ?{}", next + 1));
    }
    sql.push(')');
    sql
}

/// One page of the items `query` finds, renewed first when it says so.
pub(crate) fn search(
    conn: &Connection,
    query: &SearchQuery,
    at: SystemTime,
) -> Result<Vec<Item>, StoreError> {
    let at = to_micros(at);
    let mut args = vec![Sql::Integer(at)];
    let mut conditions = vec![LIVE.to_owned()];
    conditions.push(under(&query.prefix, args.len() + 1, &mut args));
    // Filters SQL compares exactly go to SQL; the others are checked here, on every candidate,
    // and the page is then cut here too.
    let (in_sql, checked): (Vec<&Filter>, Vec<&Filter>) =
        query.filters.iter().partition(|f| f.exact_in_sql());
    for filter in in_sql {
        conditions.push(condition(filter, args.len() + 1, &mut args));
    }
    let (limit, offset) = if checked.is_empty() {
        (query.limit, query.offset)
    } else {
        (usize::MAX, 0)
    };
    args.push(Sql::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    args.push(Sql::Integer(i64::try_from(offset).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT {COLUMNS} FROM stategraph_store WHERE {}
         ORDER BY updated_at DESC, namespace, key LIMIT ?{} OFFSET ?{}",
        conditions.join(" AND "),
        args.len() - 1,
        args.len()
    );
    let rows = conn
        .prepare(&sql)
        .and_then(|mut s| {
            s.query_map(params_from_iter(args.iter()), item)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?;
    let mut items = rows
        .into_iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    if !checked.is_empty() {
        items = items
            .into_iter()
            .filter(|item| checked.iter().all(|f| f.matches(&item.value)))
            .skip(query.offset)
            .take(query.limit)
            .collect();
    }
    if query.refresh {
        let mut renew = conn
            .prepare_cached(
                "UPDATE stategraph_store SET expires_at = ?1 + ttl
                 WHERE namespace = ?2 AND key = ?3 AND ttl IS NOT NULL",
            )
            .map_err(backend)?;
        for item in &mut items {
            if let Some(ttl) = item.ttl {
                renew
                    .execute(params![at, item.namespace.joined(), item.key])
                    .map_err(backend)?;
                item.expires_at = expiry(from_micros(at), Some(ttl));
            }
        }
    }
    Ok(items)
}

/// The namespaces `query` lists.
pub(crate) fn list_namespaces(
    conn: &Connection,
    query: &NamespaceQuery,
    at: SystemTime,
) -> Result<Vec<Namespace>, StoreError> {
    let mut args = vec![Sql::Integer(to_micros(at))];
    let prefix = under(&query.prefix, 2, &mut args);
    let sql = format!("SELECT DISTINCT namespace FROM stategraph_store WHERE {LIVE} AND {prefix}");
    let joined: Vec<String> = conn
        .prepare(&sql)
        .and_then(|mut s| {
            s.query_map(params_from_iter(args.iter()), |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?;
    let namespaces = joined
        .iter()
        .map(|ns| Namespace::from_joined(ns))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(query.page(namespaces))
}

/// Removes every expired item; returns how many.
pub(crate) fn sweep(conn: &Connection, at: SystemTime) -> rusqlite::Result<u64> {
    let removed = conn
        .prepare_cached(
            "DELETE FROM stategraph_store WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        )?
        .execute([to_micros(at)])?;
    Ok(removed as u64)
}

/// A [`Store`] in a SQLite database (table `stategraph_store`), with connections of its own:
/// open it on the checkpointer's file to keep both in one database, or on another.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use stategraph_checkpoint::store::Namespace;
/// use stategraph_checkpoint::{Store, StoreExt};
/// use stategraph_sqlite::SqliteStore;
///
/// let store = SqliteStore::open_in_memory().await?;
/// let ns = Namespace::new(["users", "u-7"])?;
/// store.put(&ns, "profile", &serde_json::json!({ "name": "Ada" }), None).await?;
/// assert!(store.get(&ns, "profile", false).await?.is_some());
/// # Ok::<(), stategraph_checkpoint::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct SqliteStore(pub(crate) SqliteSaver, Clock);

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path` and runs
    /// [`setup`](Store::setup).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        SqliteSaver::open(path)
            .await
            .map(|saver| Self(saver, Clock::default()))
            .map_err(StoreError::from)
    }

    /// A private database in memory, gone when the store is dropped: for tests.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        SqliteSaver::open_in_memory()
            .await
            .map(|saver| Self(saver, Clock::default()))
            .map_err(StoreError::from)
    }

    /// This store, reading the time from `clock` (for tests of times to live).
    #[must_use]
    pub fn with_clock(self, clock: impl Into<Clock>) -> Self {
        Self(self.0, clock.into())
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn setup(&self) -> Result<(), StoreError> {
        Checkpointer::setup(&self.0).await.map_err(StoreError::from)
    }

    async fn read(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        let (namespace, key, at) = (namespace.clone(), key.to_owned(), self.1.now());
        // A refreshing read writes, so it runs on the writer's connection.
        let worker = if refresh {
            &self.0.writer
        } else {
            self.0.reader()
        };
        worker
            .run(Context::new("store_get", None), move |conn| {
                Ok(get(conn, &namespace, &key, refresh, at))
            })
            .await
            .map_err(StoreError::from)?
    }

    async fn write(
        &self,
        namespace: &Namespace,
        key: &str,
        value: serde_json::Map<String, serde_json::Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_string(&value).map_err(StoreError::Encode)?;
        let (namespace, key, at) = (namespace.clone(), key.to_owned(), self.1.now());
        let context = Context::new("store_put", None);
        self.0
            .writer
            .write(context, move |conn| {
                put(conn, &namespace, &key, &value, ttl, at)
                    .map_err(|e| Context::new("store_put", None).sqlite(e))
            })
            .await
            .map_err(StoreError::from)
    }

    async fn remove(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        let (namespace, key) = (namespace.clone(), key.to_owned());
        self.0
            .writer
            .write(Context::new("store_delete", None), move |conn| {
                delete(conn, &namespace, &key)
                    .map_err(|e| Context::new("store_delete", None).sqlite(e))
            })
            .await
            .map_err(StoreError::from)
    }

    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        let (query, at) = (query.clone(), self.1.now());
        let worker = if query.refresh {
            &self.0.writer
        } else {
            self.0.reader()
        };
        worker
            .run(Context::new("store_search", None), move |conn| {
                Ok(search(conn, &query, at))
            })
            .await
            .map_err(StoreError::from)?
    }

    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        let (query, at) = (query.clone(), self.1.now());
        self.0
            .reader()
            .run(Context::new("store_list_namespaces", None), move |conn| {
                Ok(list_namespaces(conn, &query, at))
            })
            .await
            .map_err(StoreError::from)?
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        let at = self.1.now();
        self.0
            .writer
            .run(Context::new("store_sweep", None), move |conn| {
                sweep(conn, at).map_err(|e| Context::new("store_sweep", None).sqlite(e))
            })
            .await
            .map_err(StoreError::from)
    }
}
