//! [`ObjectStoreStore`]: the Store on nothing but what object stores guarantee (whole objects,
//! consistent listings, create-if-absent), like the checkpointer beside it.
//!
//! Each item is a directory of immutable versions,
//! `store/<label hash>/…/<label hash>/<key hash>/<version>`: a label's hash is the first 20
//! hex digits of its SHA-256 (so a namespace prefix is a path prefix, label by label, and the
//! deepest namespace and longest key still fit S3's 1,024-byte names and a file system's
//! 255-byte file names), the key's is all 64, and a version is a zero-padded sequence number.
//! A version's object holds the whole item in JSON, its namespace and key included, so what a
//! path leads to is checked against what was asked for.
//!
//! A put or a refreshing read adds version `n + 1` with create-if-absent, where `n` is the
//! latest it read, and retries from a fresh read when another writer got there first; then it
//! deletes the versions before its own. So a refresh never overwrites a put that raced it, and
//! a refresh that finds its version `n` deleted under it (the item was deleted) withdraws its
//! own rather than bring the item back. A delete adds a tombstone as version `n + 1` first,
//! deletes the versions before it, then the tombstone: a refresh that read the item before the
//! delete finds its slot taken, or finds the version it read gone, and withdraws either way.
//! A read lists the item's versions and reads the latest.
//! A search, a namespace listing or a sweep lists every version under its prefix and reads
//! each item's latest: one request per item, made sixteen at a time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use stategraph_checkpoint::store::{
    Clock, Item, Namespace, NamespaceQuery, SearchQuery, Store, StoreError, expiry,
};
use stategraph_checkpoint::{Checkpointer, from_micros, to_micros};

use crate::ObjectStoreSaver;
use crate::error::Context;

/// How many items a search, listing or sweep reads at once.
const READS_AT_ONCE: usize = 16;

/// How many times an operation starts again when other writers keep changing its item.
const ATTEMPTS: usize = 64;

/// A [`Store`] in an object store (S3, GCS, Azure or a local directory), under the same prefix
/// as an [`ObjectStoreSaver`] (its objects under `store/`), on the same guarantees: no database,
/// no lock service, and no update that overwrites another.
///
/// Choose it where the checkpoints already live in a bucket and the store holds what an agent
/// remembers (profiles, notes, summaries): a `get` costs two requests, a `put` three or four, and
/// a `search` or `list_namespaces` reads every item under its prefix, so keep namespaces narrow
/// and searches under a prefix, or choose PostgreSQL for large, searched stores.
///
/// ```no_run
/// # async fn demo() -> Result<(), stategraph_checkpoint::StoreError> {
/// use stategraph_object_store::ObjectStoreStore;
/// use stategraph_checkpoint::store::Namespace;
/// use stategraph_checkpoint::{Store, StoreExt};
///
/// let store = ObjectStoreStore::local("/var/lib/agent/store").await?;
/// let profile = Namespace::new(["users", "u-7"])?;
/// store.put(&profile, "name", &serde_json::json!({ "name": "Ada" }), None).await?;
/// assert!(store.get(&profile, "name", false).await?.is_some());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ObjectStoreStore {
    saver: ObjectStoreSaver,
    clock: Clock,
}

impl ObjectStoreStore {
    /// A store on `store`, under the prefix `stategraph`. Call [`setup`](Store::setup) before
    /// use: it checks that the store honours create-if-absent.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        ObjectStoreSaver::new(store).into()
    }

    /// The same store under another prefix (a path of `/`-separated parts).
    #[must_use]
    pub fn with_prefix(self, prefix: &str) -> Self {
        Self {
            saver: self.saver.with_prefix(prefix),
            ..self
        }
    }

    /// This store, reading the time from `clock` (for tests of times to live).
    #[must_use]
    pub fn with_clock(self, clock: impl Into<Clock>) -> Self {
        Self {
            clock: clock.into(),
            ..self
        }
    }

    /// A store on the local directory `dir` (created if missing), set up and ready; every
    /// object is flushed to disk before a write returns.
    pub async fn local(dir: impl AsRef<std::path::Path>) -> Result<Self, StoreError> {
        Ok(ObjectStoreSaver::local(dir).await?.into())
    }

    fn objects(&self) -> &dyn ObjectStore {
        self.saver.store.as_ref()
    }

    /// The directory of the items whose namespaces begin with `labels`.
    fn under(&self, labels: &[String]) -> Path {
        labels
            .iter()
            .fold(self.saver.root.clone().join("store"), |path, label| {
                path.join(&crate::name::hashed(label)[..20])
            })
    }

    /// The directory of an item's versions.
    fn item_dir(&self, namespace: &Namespace, key: &str) -> Path {
        self.under(namespace.labels())
            .join(crate::name::hashed(key))
    }
}

/// The store on the saver's objects and prefix.
impl From<ObjectStoreSaver> for ObjectStoreStore {
    fn from(saver: ObjectStoreSaver) -> Self {
        Self {
            saver,
            clock: Clock::default(),
        }
    }
}

/// One version of an item, as its object holds it (times in microseconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    namespace: Vec<String>,
    key: String,
    value: Map<String, Value>,
    created: i64,
    updated: i64,
    ttl: Option<i64>,
    expires: Option<i64>,
    /// A delete's marker: it holds the version after the last one the delete read while the
    /// delete removes them, so a refresh that read the item before cannot add a version there
    /// and outlive the delete. Never live.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

impl Record {
    fn live_at(&self, at: SystemTime) -> bool {
        !self.deleted && self.expires.is_none_or(|expires| expires > to_micros(at))
    }

    /// The marker a delete of the item at `namespace` and `key` adds.
    fn tombstone(namespace: &Namespace, key: &str, at: SystemTime) -> Self {
        Self {
            namespace: namespace.labels().to_vec(),
            key: key.to_owned(),
            value: Map::new(),
            created: to_micros(at),
            updated: to_micros(at),
            ttl: None,
            expires: None,
            deleted: true,
        }
    }

    fn item(&self) -> Result<Item, StoreError> {
        Ok(Item {
            namespace: Namespace::new(self.namespace.iter().cloned())?,
            key: self.key.clone(),
            value: self.value.clone(),
            created_at: from_micros(self.created),
            updated_at: from_micros(self.updated),
            ttl: self.ttl.map(|t| Duration::from_micros(t.unsigned_abs())),
            expires_at: self.expires.map(from_micros),
        })
    }
}

/// An item's versions as listed: the directory and the version numbers, oldest first.
#[derive(Debug, Default)]
struct Versions {
    dir: Option<Path>,
    numbers: Vec<u64>,
}

impl Versions {
    fn latest(&self) -> Option<u64> {
        self.numbers.last().copied()
    }

    fn path(&self, number: u64) -> Option<Path> {
        Some(self.dir.clone()?.join(format!("{number:020}")))
    }
}

/// What reading an item's latest version found.
enum Latest {
    /// No version, or its version was deleted while it was being read.
    Gone,
    /// What the latest version holds.
    Found(Record),
}

impl ObjectStoreStore {
    /// Every item's versions under `dir`, by item directory.
    async fn versions_under(
        &self,
        ctx: Context<'_>,
        dir: &Path,
    ) -> Result<BTreeMap<String, Versions>, StoreError> {
        let listed: Vec<object_store::ObjectMeta> = self
            .objects()
            .list(Some(dir))
            .try_collect()
            .await
            .map_err(|e| ctx.store(e))?;
        let mut items: BTreeMap<String, Versions> = BTreeMap::new();
        for meta in listed {
            let mut parts: Vec<String> = meta
                .location
                .parts()
                .map(|p| p.as_ref().to_owned())
                .collect();
            let Some(Ok(number)) = parts.pop().map(|last| last.parse::<u64>()) else {
                continue;
            };
            let parent = Path::from_iter(parts);
            let versions = items.entry(parent.to_string()).or_default();
            versions.dir = Some(parent);
            versions.numbers.push(number);
        }
        for versions in items.values_mut() {
            versions.numbers.sort_unstable();
        }
        Ok(items)
    }

    /// One item's versions.
    async fn versions(&self, ctx: Context<'_>, dir: &Path) -> Result<Versions, StoreError> {
        let mut all = self.versions_under(ctx, dir).await?;
        Ok(all.remove(&dir.to_string()).unwrap_or_else(|| Versions {
            dir: Some(dir.clone()),
            numbers: Vec::new(),
        }))
    }

    /// What the latest of `versions` holds.
    async fn latest(&self, ctx: Context<'_>, versions: &Versions) -> Result<Latest, StoreError> {
        let Some(path) = versions.latest().and_then(|n| versions.path(n)) else {
            return Ok(Latest::Gone);
        };
        let bytes = match self.objects().get(&path).await {
            Ok(found) => found.bytes().await.map_err(|e| ctx.store(e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(Latest::Gone),
            Err(e) => return Err(ctx.store(e).into()),
        };
        let record: Record = serde_json::from_slice(&bytes).map_err(|_| StoreError::Corrupt {
            key: path
                .filename()
                .unwrap_or_default()
                .chars()
                .take(64)
                .collect(),
            detail: "an item version that is not an item in JSON".to_owned(),
        })?;
        Ok(Latest::Found(record))
    }

    /// The latest live record of the item in `dir`, read again while versions vanish under
    /// the read (another writer's clean-up), with the versions it was read from.
    async fn read_item(
        &self,
        ctx: Context<'_>,
        dir: &Path,
        at: SystemTime,
    ) -> Result<Option<(Versions, Record)>, StoreError> {
        for _ in 0..ATTEMPTS {
            let versions = self.versions(ctx, dir).await?;
            match self.latest(ctx, &versions).await? {
                Latest::Found(record) => {
                    return Ok(record.live_at(at).then_some((versions, record)));
                }
                Latest::Gone if versions.numbers.is_empty() => return Ok(None),
                Latest::Gone => continue,
            }
        }
        Err(busy(ctx))
    }

    /// Adds `record` as the version after `versions`' latest; `false` when another writer
    /// added it first.
    async fn add_version(
        &self,
        ctx: Context<'_>,
        dir: &Path,
        versions: &Versions,
        record: &Record,
    ) -> Result<bool, StoreError> {
        let next = versions.latest().map_or(0, |n| n + 1);
        let path = dir.clone().join(format!("{next:020}"));
        let bytes = serde_json::to_vec(record).map_err(StoreError::Encode)?;
        match self
            .objects()
            .put_opts(
                &path,
                PutPayload::from(bytes),
                PutOptions::from(PutMode::Create),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(ctx.store(e).into()),
        }
    }

    /// Deletes `numbers` of the item in `dir` (a version already gone is no error).
    async fn delete_versions(
        &self,
        ctx: Context<'_>,
        dir: &Path,
        numbers: &[u64],
    ) -> Result<(), StoreError> {
        for number in numbers {
            match self
                .objects()
                .delete(&dir.clone().join(format!("{number:020}")))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(ctx.store(e).into()),
            }
        }
        Ok(())
    }

    /// Gives the item in `dir` its time to live again from `at`, unless a put or delete raced
    /// the read it was given: the item as it then stands (`None`: deleted or expired).
    async fn refresh(
        &self,
        ctx: Context<'_>,
        dir: &Path,
        at: SystemTime,
        mut read: Option<(Versions, Record)>,
    ) -> Result<Option<Record>, StoreError> {
        for _ in 0..ATTEMPTS {
            let Some((versions, mut record)) = read.take() else {
                return Ok(None);
            };
            let Some(ttl) = record.ttl else {
                return Ok(Some(record));
            };
            record.expires =
                expiry(at, Some(Duration::from_micros(ttl.unsigned_abs()))).map(to_micros);
            if self.add_version(ctx, dir, &versions, &record).await? {
                let before = versions.latest().and_then(|n| versions.path(n));
                let still_there = match before {
                    Some(path) => match self.objects().head(&path).await {
                        Ok(_) => true,
                        Err(object_store::Error::NotFound { .. }) => false,
                        Err(e) => return Err(ctx.store(e).into()),
                    },
                    None => false,
                };
                let mine = versions.latest().map_or(0, |n| n + 1);
                if !still_there {
                    // Deleted under the read: a read does not bring an item back.
                    self.delete_versions(ctx, dir, &[mine]).await?;
                    return Ok(None);
                }
                self.delete_versions(ctx, dir, &versions.numbers).await?;
                return Ok(Some(record));
            }
            read = self.read_item(ctx, dir, at).await?;
        }
        Err(busy(ctx))
    }
}

/// Other writers kept changing an item for [`ATTEMPTS`] tries.
fn busy(ctx: Context<'_>) -> StoreError {
    ctx.other("other writers kept changing the item; try again")
        .into()
}

/// Whether `record` is at `namespace` and `key`: a path leads where it was asked to, unless
/// two labels or keys share a hash.
fn is_at(record: &Record, namespace: &Namespace, key: &str) -> bool {
    record.namespace == namespace.labels() && record.key == key
}

#[async_trait]
impl Store for ObjectStoreStore {
    /// Checks that the object store honours create-if-absent, as the checkpointer's setup does.
    async fn setup(&self) -> Result<(), StoreError> {
        self.saver.setup().await.map_err(StoreError::from)
    }

    async fn read(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        let ctx = Context::new("store_get", None);
        let at = self.clock.now();
        let dir = self.item_dir(namespace, key);
        let mut read = self.read_item(ctx, &dir, at).await?;
        if read
            .as_ref()
            .is_some_and(|(_, record)| !is_at(record, namespace, key))
        {
            read = None;
        }
        let record = if refresh {
            self.refresh(ctx, &dir, at, read).await?
        } else {
            read.map(|(_, record)| record)
        };
        record.map(|record| record.item()).transpose()
    }

    async fn write(
        &self,
        namespace: &Namespace,
        key: &str,
        value: Map<String, Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let ctx = Context::new("store_put", None);
        let at = self.clock.now();
        let dir = self.item_dir(namespace, key);
        let micros = to_micros(at);
        let mut record = Record {
            namespace: namespace.labels().to_vec(),
            key: key.to_owned(),
            value,
            created: micros,
            updated: micros,
            ttl: ttl.map(|t| i64::try_from(t.as_micros()).unwrap_or(i64::MAX)),
            expires: expiry(at, ttl).map(to_micros),
            deleted: false,
        };
        for _ in 0..ATTEMPTS {
            let versions = self.versions(ctx, &dir).await?;
            // A live item keeps its creation time; an expired one is replaced by a new one.
            record.created = match self.latest(ctx, &versions).await? {
                Latest::Found(old) if old.live_at(at) && is_at(&old, namespace, key) => old.created,
                Latest::Found(_) => micros,
                Latest::Gone if versions.numbers.is_empty() => micros,
                Latest::Gone => continue,
            };
            if self.add_version(ctx, &dir, &versions, &record).await? {
                return self.delete_versions(ctx, &dir, &versions.numbers).await;
            }
        }
        Err(busy(ctx))
    }

    /// Adds a tombstone after the latest version, deletes the versions before it, then the
    /// tombstone: a refresh that read the item before finds its slot taken (and then the item
    /// gone), or adds its version after the tombstone is gone and finds the version it read
    /// deleted — either way it withdraws.
    async fn remove(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        let ctx = Context::new("store_delete", None);
        let dir = self.item_dir(namespace, key);
        let tombstone = Record::tombstone(namespace, key, self.clock.now());
        for _ in 0..ATTEMPTS {
            let versions = self.versions(ctx, &dir).await?;
            if versions.numbers.is_empty() {
                return Ok(());
            }
            if self.add_version(ctx, &dir, &versions, &tombstone).await? {
                let marker = versions.latest().map_or(0, |n| n + 1);
                self.delete_versions(ctx, &dir, &versions.numbers).await?;
                return self.delete_versions(ctx, &dir, &[marker]).await;
            }
        }
        Err(busy(ctx))
    }

    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        let ctx = Context::new("store_search", None);
        let at = self.clock.now();
        let mut found: Vec<(Path, Record)> = self
            .live_under(ctx, &query.prefix, at)
            .await?
            .into_iter()
            .filter(|(_, record)| {
                let Ok(namespace) = Namespace::new(record.namespace.iter().cloned()) else {
                    return false;
                };
                query.matches(&namespace, &record.value)
            })
            .collect();
        found.sort_by(|(_, a), (_, b)| {
            b.updated
                .cmp(&a.updated)
                .then_with(|| a.namespace.cmp(&b.namespace))
                .then_with(|| a.key.cmp(&b.key))
        });
        let mut page = Vec::new();
        for (dir, record) in found.into_iter().skip(query.offset).take(query.limit) {
            let record = if query.refresh && record.ttl.is_some() {
                let read = self.read_item(ctx, &dir, at).await?;
                match self.refresh(ctx, &dir, at, read).await? {
                    Some(record) => record,
                    None => continue,
                }
            } else {
                record
            };
            page.push(record.item()?);
        }
        Ok(page)
    }

    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        let ctx = Context::new("store_list_namespaces", None);
        let live = self
            .live_under(ctx, &query.prefix, self.clock.now())
            .await?
            .into_iter()
            .map(|(_, record)| Namespace::new(record.namespace))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(query.page(live))
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        let ctx = Context::new("store_sweep", None);
        let at = self.clock.now();
        let all = self.versions_under(ctx, &self.under(&[])).await?;
        let mut removed = 0;
        let reads = futures::stream::iter(all.into_values())
            .map(|versions| async move {
                let latest = self.latest(ctx, &versions).await?;
                Ok::<_, StoreError>((versions, latest))
            })
            .buffer_unordered(READS_AT_ONCE);
        let read: Vec<(Versions, Latest)> = reads.try_collect().await?;
        for (versions, latest) in read {
            let Latest::Found(record) = latest else {
                continue;
            };
            // A tombstone is its delete's to remove.
            if record.live_at(at) || record.deleted {
                continue;
            }
            // Only the versions listed: one put since the listing is newer, and stays.
            if let Some(dir) = &versions.dir {
                self.delete_versions(ctx, dir, &versions.numbers).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl ObjectStoreStore {
    /// Every live item whose namespace begins with `prefix`, with its directory.
    async fn live_under(
        &self,
        ctx: Context<'_>,
        prefix: &[String],
        at: SystemTime,
    ) -> Result<Vec<(Path, Record)>, StoreError> {
        let all = self.versions_under(ctx, &self.under(prefix)).await?;
        let reads = futures::stream::iter(all.into_values())
            .map(|versions| async move {
                let Some(dir) = versions.dir.clone() else {
                    return Ok(None);
                };
                let record = match self.latest(ctx, &versions).await? {
                    Latest::Found(record) => Some(record),
                    // Cleaned up under the listing: read the item again.
                    Latest::Gone => self.read_item(ctx, &dir, at).await?.map(|(_, r)| r),
                };
                Ok::<_, StoreError>(record.map(|record| (dir, record)))
            })
            .buffer_unordered(READS_AT_ONCE);
        let read: Vec<Option<(Path, Record)>> = reads.try_collect().await?;
        Ok(read
            .into_iter()
            .flatten()
            .filter(|(_, record)| record.live_at(at) && record.namespace.starts_with(prefix))
            .collect())
    }
}
