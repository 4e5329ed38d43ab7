//! The store conformance kit against SQLite: on a database file (a reader and a writer
//! connection) and in memory (one connection).

use std::time::Duration;

use async_trait::async_trait;
use stategraph_runtime::store::{Item, Namespace, NamespaceQuery, SearchQuery};
use stategraph_runtime::{Store, StoreError};
use stategraph_sqlite::SqliteStore;
use tempfile::TempDir;

/// A [`SqliteStore`] on a file in a temporary directory that lives as long as it.
struct TempStore {
    store: SqliteStore,
    _dir: TempDir,
}

impl TempStore {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(dir.path().join("store.db"))
            .await
            .expect("the store opens");
        Self { store, _dir: dir }
    }
}

#[async_trait]
impl Store for TempStore {
    async fn setup(&self) -> Result<(), StoreError> {
        self.store.setup().await
    }
    async fn sweep(&self) -> Result<u64, StoreError> {
        self.store.sweep().await
    }
    async fn read(
        &self,
        ns: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        self.store.read(ns, key, refresh).await
    }
    async fn write(
        &self,
        ns: &Namespace,
        key: &str,
        value: serde_json::Map<String, serde_json::Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        self.store.write(ns, key, value, ttl).await
    }
    async fn remove(&self, ns: &Namespace, key: &str) -> Result<(), StoreError> {
        self.store.remove(ns, key).await
    }
    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        self.store.find(query).await
    }
    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        self.store.namespaces(query).await
    }
}

mod file {
    use super::TempStore;
    stategraph_runtime::store_conformance!(async { TempStore::new().await });
}

mod memory {
    stategraph_runtime::store_conformance!(async {
        stategraph_sqlite::SqliteStore::open_in_memory()
            .await
            .unwrap()
    });
}

#[tokio::test]
async fn times_follow_the_stores_clock() {
    let clock = stategraph_runtime::store::ManualClock::starting_now();
    let store = stategraph_sqlite::SqliteStore::open_in_memory()
        .await
        .unwrap()
        .with_clock(clock.clone());
    stategraph_runtime::testing::store::times_follow_the_stores_clock(&store, &clock).await;
}
