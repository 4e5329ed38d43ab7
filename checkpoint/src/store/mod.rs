//! The Store: long-term content that state refers to by id — documents, memories, archived
//! messages — kept out of checkpoints (the seed's "external references, not content").
//!
//! Items are JSON objects under a key in a [`Namespace`] (a path of labels), with created and
//! updated times and an optional time to live that reads can refresh. One async trait,
//! [`Store`], is the contract for every backend; a conformance kit
//! ([`store_conformance!`](crate::store_conformance)) checks any implementation of it.
//! [`MemoryStore`] is here; SQLite, PostgreSQL and Redis stores live with their
//! checkpointers. Nodes reach the graph's store through
//! the runtime's `NodeContext::store`; it is configured on the builder next to
//! the checkpointer and may live on another backend.
//!
//! `namespace.rs` holds the names and their rules, `query.rs` searches and their filters,
//! `clock.rs` the time stores read (a test can move it), `embed.rs` the embedding models a
//! semantic index uses, `index.rs` semantic search on any store, `memory.rs` the in-memory
//! store.

mod clock;
mod embed;
mod index;
mod memory;
mod namespace;
mod query;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Map, Value};

pub use clock::{Clock, ManualClock};
pub use embed::Embed;
pub use index::{Index, IndexedStore, ScoredItem, VECTOR_FIELD};
pub use memory::MemoryStore;
pub use namespace::{Namespace, SEPARATOR, check_key};

/// The limits of names in a store.
pub mod namespace_limits {
    pub use super::namespace::{MAX_KEY_BYTES, MAX_LABEL_BYTES, MAX_LABELS};
}
pub use query::{Filter, NamespaceQuery, Op, SearchQuery};

/// One stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Its namespace.
    pub namespace: Namespace,
    /// Its key within the namespace.
    pub key: String,
    /// Its value: a JSON object.
    pub value: Map<String, Value>,
    /// When it was first put (microsecond precision, as every backend keeps).
    pub created_at: SystemTime,
    /// When it was last put.
    pub updated_at: SystemTime,
    /// Its time to live, renewed from each read that refreshes it; `None` never expires.
    pub ttl: Option<Duration>,
    /// When it expires, if it does.
    pub expires_at: Option<SystemTime>,
}

impl Item {
    /// The value as `T`.
    pub fn value_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.value.clone()))
    }
}

/// Why a store refused or failed an operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A namespace with no label.
    #[error("a namespace needs at least one label")]
    EmptyNamespace,
    /// A namespace label or a key that is empty.
    #[error("a {what} may not be empty")]
    Empty {
        /// `"namespace label"` or `"key"`.
        what: &'static str,
    },
    /// A namespace label or a key that holds the separator (`/`) or a NUL character.
    #[error("the {what} `{text}` holds `{found}`, which a {what} may not hold")]
    Forbidden {
        /// `"namespace label"` or `"key"`.
        what: &'static str,
        /// The text (at most 64 characters of it).
        text: String,
        /// The character found, escaped.
        found: String,
    },
    /// A namespace label or a key that is too long.
    #[error("the {what} is {len} bytes long; at most {max} are allowed")]
    TooLong {
        /// `"namespace label"`, `"namespace"` or `"key"`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value that is not a JSON object.
    #[error("a store value must be a JSON object; this one is {found}")]
    NotAnObject {
        /// What it is instead (`an array`, `a string`, …).
        found: &'static str,
    },
    /// A value nested deeper than [`limits::MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH):
    /// it could not be read back.
    #[error("the value is nested deeper than {limit} levels, which could not be read back")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A value that cannot be encoded as JSON.
    #[error("the value cannot be encoded as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// A time to live of zero.
    #[error("a time to live must be longer than zero; give `None` for an item that never expires")]
    ZeroTtl,
    /// A time to live longer than [`MAX_TTL`].
    #[error("a time to live may be at most 100 years; give `None` for an item that never expires")]
    TtlTooLong,
    /// A filter whose field name is empty or too long.
    #[error("a search filter names field `{field}`, which is not a field name (1 to 256 bytes)")]
    BadFilter {
        /// The field (at most 64 characters of it).
        field: String,
    },
    /// The backend failed.
    #[error("the store's backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A value put through a semantic index has the field the index keeps its vector in.
    #[error(
        "a value put through a semantic index may not have a field `{field}`: the index keeps its vector there"
    )]
    ReservedField {
        /// The field.
        field: &'static str,
    },
    /// The embedding model failed, or answered with the wrong number of vectors (its
    /// message, cut to 1,000 bytes).
    #[error("the embedding model failed: {0}")]
    Embed(String),
    /// A stored item cannot be read back.
    #[error("the stored item `{key}` is corrupt: {detail}")]
    Corrupt {
        /// The item's key.
        key: String,
        /// What is wrong.
        detail: String,
    },
}

/// A failure of a checkpointer's storage, as a store on the same backend reports it.
impl From<crate::checkpointer::CheckpointError> for StoreError {
    fn from(error: crate::checkpointer::CheckpointError) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

/// Long-term storage of JSON items by namespace and key: the one contract every store
/// implements.
///
/// A store implements the storage operations (`read`, `write`, `remove`, `find`,
/// `namespaces`, `sweep`); callers use `get`, `put_value`, `delete`, `search` and
/// `list_namespaces`, which check their arguments (keys, times to live, filters, prefixes) the
/// same way for every store before handing them on. All methods are async and must not block
/// the executor. An expired item is never returned, by any method, whether or not it has been
/// swept yet.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates or migrates the storage. Idempotent.
    async fn setup(&self) -> Result<(), StoreError>;

    /// The item at `key` in `namespace`, if there is one that has not expired. With `refresh`,
    /// an item with a time to live gets it again from now.
    async fn get(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        check_key(key)?;
        self.read(namespace, key, refresh).await
    }

    /// Stores `value` (a JSON object) at `key` in `namespace`, replacing what was there (its
    /// creation time is kept). With `ttl`, the item expires that long after the put (or after
    /// its last refreshing read).
    async fn put_value(
        &self,
        namespace: &Namespace,
        key: &str,
        value: Map<String, Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        check_put(key, ttl)?;
        check_value(&value)?;
        self.write(namespace, key, value, ttl).await
    }

    /// Removes the item at `key` in `namespace`; removing nothing is not an error.
    async fn delete(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        self.remove(namespace, key).await
    }

    /// The items under `query`'s namespace prefix that match its filters, newest update first
    /// (then by namespace and key), one page of them.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        query.check()?;
        self.find(query).await
    }

    /// The namespaces under `query`'s prefix, cut to its depth, distinct and in order, one page
    /// of them.
    async fn list_namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        query.check()?;
        self.namespaces(query).await
    }

    /// Removes every expired item; returns how many.
    async fn sweep(&self) -> Result<u64, StoreError>;

    /// [`Store::get`] with its arguments checked.
    async fn read(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError>;

    /// [`Store::put_value`] with its arguments checked.
    async fn write(
        &self,
        namespace: &Namespace,
        key: &str,
        value: Map<String, Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError>;

    /// [`Store::delete`] with its arguments checked.
    async fn remove(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError>;

    /// [`Store::search`] with its query checked.
    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError>;

    /// [`Store::list_namespaces`] with its query checked.
    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError>;
}

/// Typed puts on any [`Store`].
pub trait StoreExt: Store {
    /// Stores any value that serializes to a JSON object ([`Store::put_value`]); anything else
    /// is [`StoreError::NotAnObject`].
    fn put<'a, T: Serialize + ?Sized>(
        &'a self,
        namespace: &'a Namespace,
        key: &'a str,
        value: &T,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let value = object(value);
        Box::pin(async move { self.put_value(namespace, key, value?, ttl).await })
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// `value` as a JSON object, or why it is not one.
pub fn object<T: Serialize + ?Sized>(value: &T) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(value).map_err(StoreError::Encode)? {
        Value::Object(map) => Ok(map),
        other => Err(StoreError::NotAnObject {
            found: match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => unreachable!("matched above"),
            },
        }),
    }
}

/// Checks a value as every store must: nested at most
/// [`limits::MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH) deep (deeper would not read
/// back), and no NUL character in a string or a field name (PostgreSQL's JSONB cannot hold one,
/// so no store takes one).
pub fn check_value(value: &Map<String, Value>) -> Result<(), StoreError> {
    fn walk(value: &Value, depth: usize) -> Result<(), StoreError> {
        if depth > crate::limits::MAX_JSON_DEPTH {
            return Err(StoreError::TooDeep {
                limit: crate::limits::MAX_JSON_DEPTH,
            });
        }
        let nul = |text: &str| {
            text.contains('\0').then(|| StoreError::Forbidden {
                what: "value",
                text: text
                    .chars()
                    .take(64)
                    .flat_map(char::escape_default)
                    .collect(),
                found: "\\0".to_owned(),
            })
        };
        match value {
            Value::String(text) => nul(text).map_or(Ok(()), Err),
            Value::Array(items) => items.iter().try_for_each(|v| walk(v, depth + 1)),
            Value::Object(fields) => fields.iter().try_for_each(|(name, v)| {
                nul(name).map_or(Ok(()), Err)?;
                walk(v, depth + 1)
            }),
            _ => Ok(()),
        }
    }
    value.iter().try_for_each(|(name, v)| {
        if name.contains('\0') {
            return Err(StoreError::Forbidden {
                what: "value",
                text: name
                    .chars()
                    .take(64)
                    .flat_map(char::escape_default)
                    .collect(),
                found: "\\0".to_owned(),
            });
        }
        walk(v, 2)
    })
}

/// The longest time to live: a hundred years.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Checks the arguments of a put, as every store must: the key, and a time to live that is
/// neither zero nor longer than [`MAX_TTL`].
pub fn check_put(key: &str, ttl: Option<Duration>) -> Result<(), StoreError> {
    check_key(key)?;
    match ttl {
        Some(Duration::ZERO) => Err(StoreError::ZeroTtl),
        Some(ttl) if ttl > MAX_TTL => Err(StoreError::TtlTooLong),
        _ => Ok(()),
    }
}

/// When an item with `ttl` put (or refreshed) at `at` expires, at the microsecond precision
/// every store keeps.
pub fn expiry(at: SystemTime, ttl: Option<Duration>) -> Option<SystemTime> {
    let expires = at.checked_add(ttl?)?;
    Some(crate::checkpointer::from_micros(
        crate::checkpointer::to_micros(expires),
    ))
}

#[async_trait]
impl<T: Store + ?Sized> Store for Arc<T> {
    async fn setup(&self) -> Result<(), StoreError> {
        (**self).setup().await
    }
    async fn sweep(&self) -> Result<u64, StoreError> {
        (**self).sweep().await
    }
    async fn read(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        (**self).read(namespace, key, refresh).await
    }
    async fn write(
        &self,
        namespace: &Namespace,
        key: &str,
        value: Map<String, Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        (**self).write(namespace, key, value, ttl).await
    }
    async fn remove(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        (**self).remove(namespace, key).await
    }
    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        (**self).find(query).await
    }
    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        (**self).namespaces(query).await
    }
}

/// Sweeps `store` every `every` in a background task, logging what it removed; stops when the
/// handle is aborted or dropped with the runtime.
pub fn spawn_sweeper(store: Arc<dyn Store>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match store.sweep().await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "swept expired store items"),
                Err(error) => tracing::warn!(%error, "the store sweep failed"),
            }
        }
    })
}
