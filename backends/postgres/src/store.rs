//! The store in PostgreSQL: table `store` of the saver's schema, one row per item, the value as
//! JSONB (queryable beside the checkpoints), the namespace as the labels joined by `/`. Every
//! statement is sent unnamed (`query_typed`), so it works behind pgbouncer in transaction mode.
//! Filters compare `value -> field` (the field a bound parameter) with the kind checks that give
//! [`Filter::matches`]'s answers.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::{Map, Value};
use stategraph_checkpoint::store::{
    Clock, Filter, Item, Namespace, NamespaceQuery, Op, SEPARATOR, SearchQuery, Store, StoreError,
    expiry,
};
use stategraph_checkpoint::{CheckpointError, Checkpointer, from_micros, to_micros};
use tokio_postgres::Client;
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use crate::PostgresSaver;
use crate::error::Context;

/// The store's statements, with the schema filled in.
#[derive(Debug)]
pub(crate) struct StoreSql {
    schema: String,
    get: String,
    refresh: String,
    put: String,
    delete: String,
    sweep: String,
}

/// What an item row is read with.
const COLUMNS: &str = "namespace, key, value::text, created_at, updated_at, ttl, expires_at";

impl StoreSql {
    pub(crate) fn new(schema: &str) -> Self {
        let s = format!("\"{schema}\"");
        let fill = |sql: &str| sql.replace("{s}", &s).replace("{columns}", COLUMNS);
        Self {
            schema: s.clone(),
            get: fill(
                "SELECT {columns} FROM {s}.store
                 WHERE namespace = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)",
            ),
            refresh: fill(
                "UPDATE {s}.store SET expires_at = $3 + ttl
                 WHERE namespace = $1 AND key = $2 AND ttl IS NOT NULL
                   AND (expires_at IS NULL OR expires_at > $3)",
            ),
            put: fill(
                "INSERT INTO {s}.store AS old
                     (namespace, key, value, created_at, updated_at, ttl, expires_at)
                 VALUES ($1, $2, $3, $4, $4, $5, $6)
                 ON CONFLICT (namespace, key) DO UPDATE SET
                     value = excluded.value,
                     created_at = CASE
                         WHEN old.expires_at IS NOT NULL AND old.expires_at <= excluded.updated_at
                         THEN excluded.created_at ELSE old.created_at END,
                     updated_at = excluded.updated_at,
                     ttl = excluded.ttl,
                     expires_at = excluded.expires_at",
            ),
            delete: fill("DELETE FROM {s}.store WHERE namespace = $1 AND key = $2"),
            sweep: fill(
                "WITH swept AS (
                     DELETE FROM {s}.store WHERE expires_at IS NOT NULL AND expires_at <= $1
                     RETURNING 1
                 )
                 SELECT count(*) FROM swept",
            ),
        }
    }
}

/// A failure of a stored row, as a store reports it.
fn corrupt(key: &str, detail: String) -> StoreError {
    StoreError::Corrupt {
        key: key.chars().take(64).collect(),
        detail,
    }
}

/// An item row as an [`Item`].
fn decode(row: &Row) -> Result<Item, StoreError> {
    let key: String = row.get(1);
    let value: String = row.get(2);
    let value: Map<String, Value> = serde_json::from_str(&value)
        .map_err(|e| corrupt(&key, format!("its value is not a JSON object: {e}")))?;
    let namespace = Namespace::from_joined(row.get(0))
        .map_err(|e| corrupt(&key, format!("its namespace is not valid: {e}")))?;
    let ttl: Option<i64> = row.get(5);
    let expires: Option<i64> = row.get(6);
    Ok(Item {
        namespace,
        key,
        value,
        created_at: from_micros(row.get(3)),
        updated_at: from_micros(row.get(4)),
        ttl: ttl.map(|t| std::time::Duration::from_micros(t.unsigned_abs())),
        expires_at: expires.map(from_micros),
    })
}

/// The item at `key` in `namespace`, unless absent or expired; renewed first with `refresh`.
pub(crate) async fn get(
    client: &Client,
    sql: &StoreSql,
    namespace: &Namespace,
    key: &str,
    refresh: bool,
    at: SystemTime,
    context: Context<'_>,
) -> Result<Result<Option<Item>, StoreError>, CheckpointError> {
    let at = to_micros(at);
    let joined = namespace.joined();
    let args: [(&(dyn ToSql + Sync), Type); 3] =
        [(&joined, Type::TEXT), (&key, Type::TEXT), (&at, Type::INT8)];
    if refresh {
        client
            .query_typed(&sql.refresh, &args)
            .await
            .map_err(|e| context.pg(e))?;
    }
    let rows = client
        .query_typed(&sql.get, &args)
        .await
        .map_err(|e| context.pg(e))?;
    Ok(rows.first().map(decode).transpose())
}

/// An item to put: its place, value and time to live, and the time of the put.
pub(crate) struct NewItem<'a> {
    pub(crate) namespace: &'a Namespace,
    pub(crate) key: &'a str,
    pub(crate) value: &'a Value,
    pub(crate) ttl: Option<Duration>,
    pub(crate) at: SystemTime,
}

/// Stores an item, keeping the creation time of a live one it replaces.
pub(crate) async fn put(
    client: &Client,
    sql: &StoreSql,
    item: &NewItem<'_>,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    let NewItem {
        namespace,
        key,
        value,
        ttl,
        at,
    } = *item;
    let micros = to_micros(at);
    let ttl_micros = ttl.map(|t| i64::try_from(t.as_micros()).unwrap_or(i64::MAX));
    let expires = expiry(at, ttl).map(to_micros);
    client
        .query_typed(
            &sql.put,
            &[
                (&namespace.joined(), Type::TEXT),
                (&key, Type::TEXT),
                (value, Type::JSONB),
                (&micros, Type::INT8),
                (&ttl_micros, Type::INT8),
                (&expires, Type::INT8),
            ],
        )
        .await
        .map_err(|e| context.pg(e))?;
    Ok(())
}

/// Removes the item at `key` in `namespace`.
pub(crate) async fn delete(
    client: &Client,
    sql: &StoreSql,
    namespace: &Namespace,
    key: &str,
    context: Context<'_>,
) -> Result<(), CheckpointError> {
    client
        .query_typed(
            &sql.delete,
            &[(&namespace.joined(), Type::TEXT), (&key, Type::TEXT)],
        )
        .await
        .map_err(|e| context.pg(e))?;
    Ok(())
}

/// A statement's parameters as it is built: values and their types.
#[derive(Default)]
struct Params {
    values: Vec<Box<dyn ToSql + Sync + Send>>,
    types: Vec<Type>,
}

impl Params {
    /// Adds a parameter; returns its placeholder (`$n`).
    fn push(&mut self, value: impl ToSql + Sync + Send + 'static, ty: Type) -> String {
        self.values.push(Box::new(value));
        self.types.push(ty);
        format!("${}", self.values.len())
    }

    fn typed(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.values
            .iter()
            .zip(&self.types)
            .map(|(v, t)| (&**v as &(dyn ToSql + Sync), t.clone()))
            .collect()
    }
}

/// The condition that a row is live at `at` and under `prefix`, label by label.
fn live_under(prefix: &[String], at: SystemTime, params: &mut Params) -> String {
    let at = params.push(to_micros(at), Type::INT8);
    let mut sql = format!("(expires_at IS NULL OR expires_at > {at})");
    if !prefix.is_empty() {
        let joined = prefix.join(&SEPARATOR.to_string());
        let below = format!("{joined}{SEPARATOR}");
        let exact = params.push(joined, Type::TEXT);
        let starts = params.push(below, Type::TEXT);
        sql.push_str(&format!(
            " AND (namespace = {exact} OR starts_with(namespace, {starts}))"
        ));
    }
    sql
}

/// One filter in SQL: [`Filter::matches`] over `value -> field`.
fn condition(filter: &Filter, params: &mut Params) -> String {
    let op = filter.op.sql();
    let field = params.push(filter.field.clone(), Type::TEXT);
    match &filter.value {
        Value::Number(n) => {
            let number = params.push(n.to_string(), Type::TEXT);
            // CASE, not AND: SQL does not promise to test the kind before casting.
            format!(
                "(CASE WHEN jsonb_typeof(value -> {field}) = 'number' \
                 THEN (value -> {field})::numeric {op} {number}::numeric ELSE false END)"
            )
        }
        Value::String(s) => {
            let text = params.push(s.clone(), Type::TEXT);
            format!(
                "(CASE WHEN jsonb_typeof(value -> {field}) = 'string' \
                 THEN (value ->> {field}) COLLATE \"C\" {op} {text} COLLATE \"C\" ELSE false END)"
            )
        }
        Value::Bool(b) if matches!(filter.op, Op::Eq | Op::Ne) => {
            let wanted = (filter.op == Op::Eq) == *b;
            format!(
                "(jsonb_typeof(value -> {field}) = 'boolean' AND (value -> {field}) = '{wanted}'::jsonb)"
            )
        }
        Value::Null if filter.op == Op::Eq => {
            format!("(jsonb_typeof(value -> {field}) = 'null')")
        }
        _ => "false".to_owned(),
    }
}

/// One page of the items `query` finds, renewed first when it says so.
pub(crate) async fn search(
    client: &Client,
    sql: &StoreSql,
    query: &SearchQuery,
    at: SystemTime,
    context: Context<'_>,
) -> Result<Result<Vec<Item>, StoreError>, CheckpointError> {
    let mut params = Params::default();
    let mut conditions = vec![live_under(&query.prefix, at, &mut params)];
    // Filters SQL compares exactly go to SQL; the others are checked here, on every candidate,
    // and the page is then cut (and renewed) here too.
    let (in_sql, checked): (Vec<&Filter>, Vec<&Filter>) =
        query.filters.iter().partition(|f| f.exact_in_sql());
    for filter in in_sql {
        conditions.push(condition(filter, &mut params));
    }
    let (page_limit, page_offset) = if checked.is_empty() {
        (query.limit, query.offset)
    } else {
        (usize::MAX, 0)
    };
    let limit = params.push(i64::try_from(page_limit).unwrap_or(i64::MAX), Type::INT8);
    let offset = params.push(i64::try_from(page_offset).unwrap_or(i64::MAX), Type::INT8);
    let select = format!(
        "SELECT {COLUMNS} FROM {}.store WHERE {} \
         ORDER BY updated_at DESC, namespace, key LIMIT {limit} OFFSET {offset}",
        sql.schema,
        conditions.join(" AND ")
    );
    let statement = if query.refresh && checked.is_empty() {
        // Renew the page's items in the same statement, and return them renewed.
        format!(
            "WITH page AS ({select}),
                  renewed AS (
                      UPDATE {s}.store AS item SET expires_at = {at} + item.ttl
                      FROM page
                      WHERE item.namespace = page.namespace AND item.key = page.key
                        AND item.ttl IS NOT NULL
                      RETURNING item.namespace, item.key, item.expires_at
                  )
             SELECT page.namespace, page.key, page.value, page.created_at, page.updated_at,
                    page.ttl, coalesce(renewed.expires_at, page.expires_at)
             FROM page LEFT JOIN renewed
               ON renewed.namespace = page.namespace AND renewed.key = page.key
             ORDER BY page.updated_at DESC, page.namespace, page.key",
            s = sql.schema,
            at = "$1"
        )
    } else {
        select
    };
    let rows = client
        .query_typed(&statement, &params.typed())
        .await
        .map_err(|e| context.pg(e))?;
    let items: Result<Vec<Item>, StoreError> = rows.iter().map(decode).collect();
    if checked.is_empty() {
        return Ok(items);
    }
    let mut page: Vec<Item> = match items {
        Ok(items) => items
            .into_iter()
            .filter(|item| checked.iter().all(|f| f.matches(&item.value)))
            .skip(query.offset)
            .take(query.limit)
            .collect(),
        Err(error) => return Ok(Err(error)),
    };
    if query.refresh {
        let renew = format!(
            "UPDATE {}.store SET expires_at = $1 + ttl
             WHERE namespace = $2 AND key = $3 AND ttl IS NOT NULL RETURNING expires_at",
            sql.schema
        );
        let at = to_micros(at);
        for item in page.iter_mut().filter(|item| item.ttl.is_some()) {
            let joined = item.namespace.joined();
            let renewed = client
                .query_typed(
                    &renew,
                    &[
                        (&at, Type::INT8),
                        (&joined, Type::TEXT),
                        (&item.key, Type::TEXT),
                    ],
                )
                .await
                .map_err(|e| context.pg(e))?;
            if let Some(row) = renewed.first() {
                item.expires_at = row.get::<_, Option<i64>>(0).map(from_micros);
            }
        }
    }
    Ok(Ok(page))
}

/// The namespaces `query` lists.
pub(crate) async fn list_namespaces(
    client: &Client,
    sql: &StoreSql,
    query: &NamespaceQuery,
    at: SystemTime,
    context: Context<'_>,
) -> Result<Result<Vec<Namespace>, StoreError>, CheckpointError> {
    let mut params = Params::default();
    let condition = live_under(&query.prefix, at, &mut params);
    let statement = format!(
        "SELECT DISTINCT namespace FROM {}.store WHERE {condition}",
        sql.schema
    );
    let rows = client
        .query_typed(&statement, &params.typed())
        .await
        .map_err(|e| context.pg(e))?;
    let namespaces = rows
        .iter()
        .map(|row| Namespace::from_joined(row.get(0)))
        .collect::<Result<Vec<_>, _>>();
    Ok(namespaces.map(|found| query.page(found)))
}

/// Removes every expired item; returns how many.
pub(crate) async fn sweep(
    client: &Client,
    sql: &StoreSql,
    at: SystemTime,
    context: Context<'_>,
) -> Result<u64, CheckpointError> {
    let rows = client
        .query_typed(&sql.sweep, &[(&to_micros(at), Type::INT8)])
        .await
        .map_err(|e| context.pg(e))?;
    let removed: i64 = rows.first().map_or(0, |row| row.get(0));
    Ok(removed.unsigned_abs())
}

/// A [`Store`] in PostgreSQL: table `store` of a schema, values as JSONB, with a pool of its
/// own. Connect it to the checkpointer's database and schema to keep both together, or
/// elsewhere; it works behind pgbouncer in transaction mode like the saver.
///
/// ```no_run
/// # async fn demo() -> Result<(), stategraph_checkpoint::StoreError> {
/// use stategraph_postgres::PostgresSaver;
///
/// let store = PostgresSaver::builder("postgres://postgres@127.0.0.1:5432/test")
///     .connect_store()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PostgresStore(pub(crate) PostgresSaver, pub(crate) Clock);

impl PostgresStore {
    /// Connects with the default options, as [`PostgresSaver::connect`] does.
    pub async fn connect(url: impl Into<String>) -> Result<Self, StoreError> {
        PostgresSaver::builder(url).connect_store().await
    }

    /// This store, reading the time from `clock` (for tests of times to live).
    #[must_use]
    pub fn with_clock(self, clock: impl Into<Clock>) -> Self {
        Self(self.0, clock.into())
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn setup(&self) -> Result<(), StoreError> {
        Checkpointer::setup(&self.0).await.map_err(StoreError::from)
    }

    async fn read(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        let saver = &self.0;
        let at = self.1.now();
        let context = saver.context("store_get", None);
        with_retry!(saver, context, |client| {
            get(&client, &saver.store, namespace, key, refresh, at, context).await
        })
        .map_err(StoreError::from)?
    }

    async fn write(
        &self,
        namespace: &Namespace,
        key: &str,
        value: serde_json::Map<String, serde_json::Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let value = serde_json::Value::Object(value);
        let saver = &self.0;
        let at = self.1.now();
        let context = saver.context("store_put", None);
        let item = NewItem {
            namespace,
            key,
            value: &value,
            ttl,
            at,
        };
        with_retry!(saver, context, |client| {
            put(&client, &saver.store, &item, context).await
        })
        .map_err(StoreError::from)
    }

    async fn remove(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        let saver = &self.0;
        let context = saver.context("store_delete", None);
        with_retry!(saver, context, |client| {
            delete(&client, &saver.store, namespace, key, context).await
        })
        .map_err(StoreError::from)
    }

    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        let saver = &self.0;
        let at = self.1.now();
        let context = saver.context("store_search", None);
        with_retry!(saver, context, |client| {
            search(&client, &saver.store, query, at, context).await
        })
        .map_err(StoreError::from)?
    }

    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        let saver = &self.0;
        let at = self.1.now();
        let context = saver.context("store_list_namespaces", None);
        with_retry!(saver, context, |client| {
            list_namespaces(&client, &saver.store, query, at, context).await
        })
        .map_err(StoreError::from)?
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        let saver = &self.0;
        let at = self.1.now();
        let context = saver.context("store_sweep", None);
        with_retry!(saver, context, |client| {
            sweep(&client, &saver.store, at, context).await
        })
        .map_err(StoreError::from)
    }
}
