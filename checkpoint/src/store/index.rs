//! Semantic search: items found by meaning, not only by namespace and filters (LangGraph's
//! store `index` with `embed`, `dims` and `fields`).
//!
//! An [`Index`] embeds the chosen fields of each value it puts and keeps the vector in the
//! value itself, under [`VECTOR_FIELD`] — one write, so an item and its vector never disagree,
//! whatever the backend and however the process dies. [`Index::search`] embeds the query's text
//! and ranks every item the query's namespace prefix and filters select (the backend's own
//! search, so expired items stay out) by cosine similarity: an exact search, on any store.
//! [`IndexedStore`] wraps a store with an index, so every put is embedded and every read
//! leaves the vector out.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use stategraph_checkpoint::store::{
//!     Embed, Index, IndexedStore, Namespace, SearchQuery, StoreError, StoreExt,
//! };
//! use stategraph_checkpoint::MemoryStore;
//!
//! /// Stands in for an embedding model: one dimension per word it knows.
//! struct Words;
//!
//! #[async_trait::async_trait]
//! impl Embed for Words {
//!     async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, StoreError> {
//!         let known = ["tea", "green", "oslo", "lives"];
//!         Ok(texts
//!             .iter()
//!             .map(|t| known.iter().map(|w| t.to_lowercase().matches(w).count() as f32).collect())
//!             .collect())
//!     }
//! }
//!
//! let store = IndexedStore::new(MemoryStore::new(), Index::new(Words, 4).fields(["text"]));
//! let ns = Namespace::new(["memories", "ada"])?;
//! store.put(&ns, "m1", &serde_json::json!({ "text": "likes green tea" }), None).await?;
//! store.put(&ns, "m2", &serde_json::json!({ "text": "lives in Oslo" }), None).await?;
//! let found = store.search_text(&SearchQuery::under(["memories"]), "tea").await?;
//! assert_eq!(found[0].item.key, "m1");
//! assert!(found[0].score > found[1].score);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{Embed, Item, Namespace, NamespaceQuery, SearchQuery, Store, StoreError};

/// The field of a stored value that holds its vector; a value put through an index may not
/// have a field of this name.
pub const VECTOR_FIELD: &str = "__vector__";

/// How many items a semantic search reads from the store at a time.
const PAGE: usize = 256;

/// What a semantic index embeds, and with what: the model, the length of its vectors, and the
/// fields of a value whose text is embedded (`"$"`, the default, is the whole value as JSON; a
/// dotted path names a nested field).
#[derive(Clone)]
pub struct Index {
    embed: Arc<dyn Embed>,
    dims: usize,
    fields: Vec<String>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("dims", &self.dims)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

/// An item found by a semantic search, with its cosine similarity to the query (1 is the same
/// direction).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScoredItem {
    /// The item, without its vector.
    pub item: Item,
    /// Its similarity to the query.
    pub score: f32,
}

impl Index {
    /// An index embedding whole values with `embed`, whose vectors have `dims` numbers.
    pub fn new(embed: impl Embed, dims: usize) -> Self {
        Self {
            embed: Arc::new(embed),
            dims,
            fields: vec!["$".to_owned()],
        }
    }

    /// Embeds these fields of each value (their texts, one per line) instead of the whole value.
    pub fn fields<I, F>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = F>,
        F: Into<String>,
    {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// The text of `value` this index embeds; `None` when it has none of the fields.
    fn text(&self, value: &Map<String, Value>) -> Option<String> {
        let texts: Vec<String> = self
            .fields
            .iter()
            .filter_map(|field| {
                let found = if field == "$" {
                    Some(Value::Object(value.clone()))
                } else {
                    let mut parts = field.split('.');
                    let first = value.get(parts.next()?)?;
                    parts.try_fold(first, |at, part| at.get(part)).cloned()
                };
                match found? {
                    Value::String(text) => Some(text),
                    Value::Null => None,
                    other => Some(other.to_string()),
                }
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n"))
    }

    /// The vector of `text`, checked against the index's dimensions.
    async fn vector(&self, text: String) -> Result<Vec<f32>, StoreError> {
        let mut vectors = self.embed.embed(&[text]).await?;
        let vector = vectors
            .pop()
            .filter(|_| vectors.is_empty())
            .ok_or_else(|| {
                StoreError::Embed("asked for 1 vector, the model returned another count".to_owned())
            })?;
        if vector.len() != self.dims {
            return Err(StoreError::Embed(format!(
                "the model returned {} dimensions; the index has {}",
                vector.len(),
                self.dims
            )));
        }
        Ok(vector)
    }

    /// Puts `value` at `key` in `namespace` of `store`, with the vector of its indexed fields
    /// (none when it has none of them).
    pub async fn put<S: Store + ?Sized>(
        &self,
        store: &S,
        namespace: &Namespace,
        key: &str,
        mut value: Map<String, Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        if value.contains_key(VECTOR_FIELD) {
            return Err(StoreError::ReservedField {
                field: VECTOR_FIELD,
            });
        }
        if let Some(text) = self.text(&value) {
            let vector = self.vector(text).await?;
            value.insert(VECTOR_FIELD.to_owned(), Value::from(vector));
        }
        store.put_value(namespace, key, value, ttl).await
    }

    /// The items `query` selects in `store` (its prefix and filters; expired items never),
    /// ranked by how close their vectors are to the vector of `text`, then newest first; one
    /// page of them (`query`'s offset and limit). Items put without a vector are left out.
    /// Reads every selected item: an exact search.
    pub async fn search<S: Store + ?Sized>(
        &self,
        store: &S,
        query: &SearchQuery,
        text: &str,
    ) -> Result<Vec<ScoredItem>, StoreError> {
        query.check()?;
        let target = self.vector(text.to_owned()).await?;
        let mut page = query.clone();
        (page.offset, page.limit, page.refresh) = (0, PAGE, false);
        let mut scored = Vec::new();
        loop {
            let items = store.search(&page).await?;
            let read = items.len();
            for item in items {
                if let Some(vector) = vector_of(&item) {
                    let score = cosine(&target, &vector);
                    scored.push(ScoredItem {
                        item: without_vector(item),
                        score,
                    });
                }
            }
            if read < PAGE {
                break;
            }
            page.offset += read;
        }
        // Stable: equal scores keep the store's order, newest first.
        scored.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut found: Vec<ScoredItem> = scored
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect();
        if query.refresh {
            for scored in &mut found {
                let item = &scored.item;
                if let Some(fresh) = store.get(&item.namespace, &item.key, true).await? {
                    scored.item = without_vector(fresh);
                }
            }
        }
        Ok(found)
    }
}

/// The vector kept in `item`'s value, if it has one.
fn vector_of(item: &Item) -> Option<Vec<f32>> {
    item.value
        .get(VECTOR_FIELD)?
        .as_array()?
        .iter()
        .map(|n| n.as_f64().map(|n| n as f32))
        .collect()
}

/// `item` without its vector.
fn without_vector(mut item: Item) -> Item {
    item.value.remove(VECTOR_FIELD);
    item
}

/// The cosine of the angle between `a` and `b` (0 when either is all zeros).
fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let norms = norm(a) * norm(b);
    if norms == 0.0 { 0.0 } else { dot / norms }
}

/// A store with a semantic index: every put is embedded, every read leaves the vector out, and
/// [`search_text`](Self::search_text) finds items by meaning.
#[derive(Debug)]
pub struct IndexedStore<S> {
    inner: S,
    index: Index,
}

impl<S: Store> IndexedStore<S> {
    /// `inner` with `index`.
    pub fn new(inner: S, index: Index) -> Self {
        Self { inner, index }
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The items `query` selects, ranked by similarity to `text` ([`Index::search`]).
    pub async fn search_text(
        &self,
        query: &SearchQuery,
        text: &str,
    ) -> Result<Vec<ScoredItem>, StoreError> {
        self.index.search(&self.inner, query, text).await
    }
}

#[async_trait]
impl<S: Store> Store for IndexedStore<S> {
    async fn setup(&self) -> Result<(), StoreError> {
        self.inner.setup().await
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        self.inner.sweep().await
    }

    async fn read(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        Ok(self
            .inner
            .read(namespace, key, refresh)
            .await?
            .map(without_vector))
    }

    async fn write(
        &self,
        namespace: &Namespace,
        key: &str,
        value: Map<String, Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        self.index
            .put(&self.inner, namespace, key, value, ttl)
            .await
    }

    async fn remove(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        self.inner.remove(namespace, key).await
    }

    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        Ok(self
            .inner
            .find(query)
            .await?
            .into_iter()
            .map(without_vector)
            .collect())
    }

    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        self.inner.namespaces(query).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{ManualClock, MemoryStore, StoreExt};

    /// One dimension per known word.
    struct Words(usize);

    #[async_trait]
    impl Embed for Words {
        async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, StoreError> {
            let known = ["tea", "oslo", "coffee"];
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v: Vec<f32> =
                        known.iter().map(|w| t.matches(w).count() as f32).collect();
                    v.resize(self.0, 0.0);
                    v
                })
                .collect())
        }
    }

    fn ns() -> Namespace {
        Namespace::new(["m"]).unwrap()
    }

    #[tokio::test]
    async fn reads_through_the_index_leave_the_vector_out_and_expired_items_stay_out() {
        let clock = ManualClock::starting_now();
        let inner = Arc::new(MemoryStore::new().with_clock(clock.clone()));
        let store = IndexedStore::new(Arc::clone(&inner), Index::new(Words(3), 3));
        store
            .put(&ns(), "tea", &json!({ "text": "tea" }), None)
            .await
            .unwrap();
        let brief = Some(Duration::from_secs(60));
        store
            .put(&ns(), "brief", &json!({ "text": "tea tea" }), brief)
            .await
            .unwrap();
        // Stored beside the value, left out of what the index's store returns.
        let raw = inner.get(&ns(), "tea", false).await.unwrap().unwrap();
        assert!(raw.value.contains_key(VECTOR_FIELD));
        let read = store.get(&ns(), "tea", false).await.unwrap().unwrap();
        assert!(!read.value.contains_key(VECTOR_FIELD));
        let listed = store.search(&SearchQuery::under(["m"])).await.unwrap();
        assert!(listed.iter().all(|i| !i.value.contains_key(VECTOR_FIELD)));
        let query = SearchQuery::under(["m"]);
        assert_eq!(store.search_text(&query, "tea").await.unwrap().len(), 2);
        clock.advance(Duration::from_secs(61));
        let found = store.search_text(&query, "tea").await.unwrap();
        let keys: Vec<&str> = found.iter().map(|s| s.item.key.as_str()).collect();
        assert_eq!(keys, ["tea"], "an expired item is never found");
    }

    #[tokio::test]
    async fn a_model_of_other_dimensions_is_an_embed_error_and_nothing_is_stored() {
        let store = IndexedStore::new(MemoryStore::new(), Index::new(Words(5), 3));
        let error = store
            .put(&ns(), "k", &json!({ "text": "tea" }), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::Embed(m) if m.contains("5 dimensions; the index has 3")),
            "{error}"
        );
        assert!(store.get(&ns(), "k", false).await.unwrap().is_none());
    }

    #[test]
    fn the_indexed_text_is_the_fields_texts_or_the_whole_value() {
        let index = Index::new(Words(3), 3).fields(["title", "body.text", "tags"]);
        let value = json!({ "title": "Tea", "body": { "text": "in Oslo" }, "tags": ["a"] });
        let value = value.as_object().unwrap();
        assert_eq!(index.text(value).unwrap(), "Tea\nin Oslo\n[\"a\"]");
        assert_eq!(index.text(&Map::new()), None);
        let whole = Index::new(Words(3), 3);
        assert_eq!(
            whole.text(value).unwrap(),
            serde_json::to_string(value).unwrap()
        );
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 0.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
    }
}
