//! [`MemoryStore`]: the store in process memory, for tests and development, with the same
//! answers as the durable ones.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{Clock, Item, Namespace, NamespaceQuery, SearchQuery, Store, StoreError, expiry};

/// A store in process memory: gone when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<BTreeMap<(Namespace, String), Item>>,
    clock: Clock,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// This store, reading the time from `clock` (for tests of times to live).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = clock.into();
        self
    }

    fn items(&self) -> std::sync::MutexGuard<'_, BTreeMap<(Namespace, String), Item>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether `item` has expired at `at`.
fn expired(item: &Item, at: SystemTime) -> bool {
    item.expires_at.is_some_and(|expires| expires <= at)
}

/// Gives `item` its time to live again from `at`.
fn refreshed(item: &mut Item, at: SystemTime) {
    if item.ttl.is_some() {
        item.expires_at = expiry(at, item.ttl);
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn setup(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn read(
        &self,
        namespace: &Namespace,
        key: &str,
        refresh: bool,
    ) -> Result<Option<Item>, StoreError> {
        let at = self.clock.now();
        let mut items = self.items();
        let Some(item) = items.get_mut(&(namespace.clone(), key.to_owned())) else {
            return Ok(None);
        };
        if expired(item, at) {
            return Ok(None);
        }
        if refresh {
            refreshed(item, at);
        }
        Ok(Some(item.clone()))
    }

    async fn write(
        &self,
        namespace: &Namespace,
        key: &str,
        value: Map<String, Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let at = self.clock.now();
        let mut items = self.items();
        let slot = (namespace.clone(), key.to_owned());
        let created_at = match items.get(&slot) {
            Some(old) if !expired(old, at) => old.created_at,
            _ => at,
        };
        items.insert(
            slot,
            Item {
                namespace: namespace.clone(),
                key: key.to_owned(),
                value,
                created_at,
                updated_at: at,
                ttl,
                expires_at: expiry(at, ttl),
            },
        );
        Ok(())
    }

    async fn remove(&self, namespace: &Namespace, key: &str) -> Result<(), StoreError> {
        self.items().remove(&(namespace.clone(), key.to_owned()));
        Ok(())
    }

    async fn find(&self, query: &SearchQuery) -> Result<Vec<Item>, StoreError> {
        let at = self.clock.now();
        let mut items = self.items();
        let mut found: Vec<&mut Item> = items
            .values_mut()
            .filter(|item| !expired(item, at) && query.matches(&item.namespace, &item.value))
            .collect();
        found.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.namespace.joined().cmp(&b.namespace.joined()))
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(found
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .map(|item| {
                if query.refresh {
                    refreshed(item, at);
                }
                item.clone()
            })
            .collect())
    }

    async fn namespaces(&self, query: &NamespaceQuery) -> Result<Vec<Namespace>, StoreError> {
        let at = self.clock.now();
        let items = self.items();
        let live = items
            .values()
            .filter(|item| !expired(item, at))
            .map(|item| item.namespace.clone());
        Ok(query.page(live))
    }

    async fn sweep(&self) -> Result<u64, StoreError> {
        let at = self.clock.now();
        let mut items = self.items();
        let before = items.len();
        items.retain(|_, item| !expired(item, at));
        Ok((before - items.len()) as u64)
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::store::ManualClock;

    #[test]
    fn times_follow_the_stores_clock() {
        crate::testing::block_on(async {
            let clock = ManualClock::starting_now();
            let store = MemoryStore::new().with_clock(clock.clone());
            crate::testing::store::times_follow_the_stores_clock(&store, &clock).await;
        });
    }
}
