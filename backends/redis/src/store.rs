//! The store in Redis, on core types only: one hash per item, `{<prefix>:store}:item:<id>`
//! (fields `value`, `created`, `updated`, `ttl`, `expires`), and one sorted set,
//! `{<prefix>:store}:updated`, of every item id by its update time. An id is the namespace's
//! labels and the key joined by `/` (neither may hold it). All the store's keys share one hash
//! tag, so a put (script `store_put.lua`) or a delete (one MULTI/EXEC) is atomic.
//!
//! An item with a time to live expires with Redis's own `PEXPIREAT`, and every read also checks
//! its `expires` against the store's clock, so an expired item is never read;
//! [`RedisStore::sweep`](stategraph_checkpoint::Store::sweep) deletes expired items and their ids
//! (script `store_sweep.lua`, which checks each again where it deletes it). A search walks the
//! ids under its prefix newest first, reads their items in one pipeline and applies
//! [`Filter::matches`](stategraph_checkpoint::store::Filter::matches) — Redis without modules has
//! no query language of its own.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use redis::AsyncCommands;
use serde_json::{Map, Value};
use stategraph_checkpoint::store::{
    Clock, Item, Namespace, NamespaceQuery, SEPARATOR, SearchQuery, Store, StoreError, expiry,
};
use stategraph_checkpoint::{Checkpointer, from_micros, to_micros};

use crate::RedisSaver;

fn backend(error: redis::RedisError) -> StoreError {
    StoreError::Backend(Box::new(error))
}

/// An item's id: its namespace's labels and its key, joined by `/`.
fn id(namespace: &Namespace, key: &str) -> String {
    format!("{}{SEPARATOR}{key}", namespace.joined())
}

/// The namespace and key of an id.
fn split(id: &str) -> Result<(Namespace, &str), StoreError> {
    let (namespace, key) = id
        .rsplit_once(SEPARATOR)
        .ok_or_else(|| StoreError::Corrupt {
            key: id.chars().take(64).collect(),
            detail: "a stored id without a namespace".to_owned(),
        })?;
    Ok((Namespace::from_joined(namespace)?, key))
}

impl RedisSaver {
    fn store_item(&self, id: &str) -> String {
        format!("{{{}:store}}:item:{id}", self.keys.prefix())
    }

    fn store_index(&self) -> String {
        format!("{{{}:store}}:updated", self.keys.prefix())
    }

    /// The items of `ids`, read in one pipeline; `None` for one that is gone or has expired at
    /// `at`.
    async fn store_items(
        &self,
        ids: &[String],
        at: SystemTime,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.store_item(id));
        }
        let mut conn = self.conn.clone();
        let hashes: Vec<std::collections::HashMap<String, String>> =
            pipe.query_async(&mut conn).await.map_err(backend)?;
        let at = to_micros(at);
        ids.iter()
            .zip(hashes)
            .map(|(id, hash)| decode(id, &hash, at))
            .collect()
    }

    /// The ids under `prefix` (labels, label by label), newest update first.
    async fn store_ids(&self, prefix: &[String]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn
            .zrevrange(self.store_index(), 0, -1)
            .await
            .map_err(backend)?;
        let start = format!("{}{SEPARATOR}", prefix.join(&SEPARATOR.to_string()));
        Ok(ids
            .into_iter()
            .filter(|id| prefix.is_empty() || id.starts_with(&start))
            .collect())
    }

    /// Gives the items of `ids` that have a time to live their time again from `at`.
    async fn store_refresh(&self, items: &mut [Item], at: SystemTime) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        let mut any = false;
        for item in items.iter_mut().filter(|item| item.ttl.is_some()) {
            let expires = expiry(at, item.ttl);
            item.expires_at = expires;
            let micros = expires.map_or(0, to_micros);
            let key = self.store_item(&id(&item.namespace, &item.key));
            pipe.cmd("HSET")
                .arg(&key)
                .arg("expires")
                .arg(micros)
                .ignore();
            pipe.cmd("PEXPIREAT")
                .arg(&key)
                .arg(micros / 1000 + 1)
                .ignore();
            any = true;
        }
        if any {
            let mut conn = self.conn.clone();
            pipe.query_async::<()>(&mut conn).await.map_err(backend)?;
        }
        Ok(())
    }

    pub(crate) async fn store_get(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
        at: SystemTime,
    ) -> Result<Option<Item>, StoreError> {
        let found = self.store_items(&[id(namespace, key)], at).await?;
        let Some(mut item) = found.into_iter().next().flatten() else {
            return Ok(None);
        };
        if refresh {
            self.store_refresh(std::slice::from_mut(&mut item), at)
                .await?;
        }
        Ok(Some(item))
    }

    pub(crate) async fn store_put(
        &self,
        namespace: &Namespace,
        key: &str,
        value: &Map<String, Value>,
        ttl: Option<Duration>,
        at: SystemTime,
    ) -> Result<(), StoreError> {
        let id = id(namespace, key);
        let value = serde_json::to_string(value).map_err(StoreError::Encode)?;
        let (ttl, expires) = match expiry(at, ttl) {
            Some(expires) => (
                i64::try_from(ttl.unwrap_or_default().as_micros())
                    .unwrap_or(i64::MAX)
                    .to_string(),
                to_micros(expires).to_string(),
            ),
            None => (String::new(), String::new()),
        };
        let _: i64 = self
            .scripts
            .store_put
            .key(self.store_item(&id))
            .key(self.store_index())
            .arg(to_micros(at))
            .arg(value)
            .arg(&id)
            .arg(ttl)
            .arg(expires)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn store_delete(
        &self,
        namespace: &Namespace,
        key: &str,
    ) -> Result<(), StoreError> {
        let id = id(namespace, key);
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("DEL").arg(self.store_item(&id)).ignore();
        pipe.cmd("ZREM").arg(self.store_index()).arg(&id).ignore();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(backend)
    }

    pub(crate) async fn store_search(
        &self,
        query: &SearchQuery,
        at: SystemTime,
    ) -> Result<Vec<Item>, StoreError> {
        let ids = self.store_ids(&query.prefix).await?;
        let mut found: Vec<Item> = self
            .store_items(&ids, at)
            .await?
            .into_iter()
            .flatten()
            .filter(|item| query.matches(&item.namespace, &item.value))
            .collect();
        // The index orders by update time; ties by namespace and key, as every store does.
        found.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.namespace.joined().cmp(&b.namespace.joined()))
                .then_with(|| a.key.cmp(&b.key))
        });
        let mut page: Vec<Item> = found
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect();
        if query.refresh {
            self.store_refresh(&mut page, at).await?;
        }
        Ok(page)
    }

    pub(crate) async fn store_namespaces(
        &self,
        query: &NamespaceQuery,
        at: SystemTime,
    ) -> Result<Vec<Namespace>, StoreError> {
        let ids = self.store_ids(&query.prefix).await?;
        let live = self.store_items(&ids, at).await?.into_iter().flatten();
        Ok(query.page(live.map(|item| item.namespace)))
    }

    pub(crate) async fn store_sweep(&self, at: SystemTime) -> Result<u64, StoreError> {
        let ids = self.store_ids(&[]).await?;
        let items = self.store_items(&ids, at).await?;
        let gone: Vec<&String> = ids
            .iter()
            .zip(&items)
            .filter(|(_, item)| item.is_none())
            .map(|(id, _)| id)
            .collect();
        let mut removed = 0;
        // Each item is checked again where it is deleted, so one put since it was read stays.
        for chunk in gone.chunks(SWEEP_CHUNK) {
            let mut invocation = self.scripts.store_sweep.prepare_invoke();
            invocation.key(self.store_index());
            for id in chunk {
                invocation.key(self.store_item(id));
            }
            invocation.arg(to_micros(at));
            for id in chunk {
                invocation.arg(id.as_str());
            }
            let swept: u64 = invocation
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(backend)?;
            removed += swept;
        }
        Ok(removed)
    }
}

/// How many expired items one sweep script deletes.
const SWEEP_CHUNK: usize = 256;

/// An item's hash as an [`Item`]; `None` when it is gone or expired at `at`.
fn decode(
    id: &str,
    hash: &std::collections::HashMap<String, String>,
    at: i64,
) -> Result<Option<Item>, StoreError> {
    let Some(value) = hash.get("value") else {
        return Ok(None);
    };
    let (namespace, key) = split(id)?;
    let corrupt = |detail: &str| StoreError::Corrupt {
        key: key.chars().take(64).collect(),
        detail: detail.to_owned(),
    };
    let micros = |field: &str| -> Result<Option<i64>, StoreError> {
        hash.get(field)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| corrupt("a time that is not a number"))
            })
            .transpose()
    };
    let expires = micros("expires")?;
    if expires.is_some_and(|expires| expires <= at) {
        return Ok(None);
    }
    let value: Map<String, Value> =
        serde_json::from_str(value).map_err(|_| corrupt("its value is not a JSON object"))?;
    let created = micros("created")?.ok_or_else(|| corrupt("no creation time"))?;
    let updated = micros("updated")?.ok_or_else(|| corrupt("no update time"))?;
    Ok(Some(Item {
        namespace,
        key: key.to_owned(),
        value,
        created_at: from_micros(created),
        updated_at: from_micros(updated),
        ttl: micros("ttl")?.map(|t| Duration::from_micros(t.unsigned_abs())),
        expires_at: expires.map(from_micros),
    }))
}

/// A [`Store`] in Redis, on core types only (hashes and a sorted set under one hash tag,
/// `{<prefix>:store}`), expiring items with Redis's own expiry. Connect it with the
/// checkpointer's options ([`RedisSaverBuilder::connect_store`](crate::RedisSaverBuilder::connect_store)).
#[derive(Debug)]
pub struct RedisStore(pub(crate) RedisSaver, pub(crate) Clock);

impl RedisStore {
    /// Connects with the default options, as [`RedisSaver::connect`] does.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        RedisSaver::builder(url).connect_store().await
    }

    /// This store, reading the time from `clock` (for tests of times to live). Redis still
    /// expires an item at its time by the wall clock; see [`ManualClock`](stategraph_checkpoint::store::ManualClock).
    #[must_use]
    pub fn with_clock(self, clock: impl Into<Clock>) -> Self {
        Self(self.0, clock.into())
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn setup(&self) -> Result<(), StoreError> {
        Checkpointer::setup(&self.0).await.map_err(StoreError::from)
    }

    async fn read(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        self.0
            .store_get(namespace, key, refresh, self.1.now())
            .await
    }

    async fn write(
        &self,
        namespace: &Namespace,
        key: &str,
        value: serde_json::Map<String, serde_json::Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        self.0
            .store_put(namespace, key, &value, ttl, self.1.now())
            .await
    }

    async fn remove(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        self.0.store_delete(namespace, key).await
    }

    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        self.0.store_search(query, self.1.now()).await
    }

    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        self.0.store_namespaces(query, self.1.now()).await
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        self.0.store_sweep(self.1.now()).await
    }
}
