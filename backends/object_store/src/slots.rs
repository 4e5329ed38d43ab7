//! The logs a process keeps in memory, one lock each, at most a set number of threads: the
//! least recently used idle ones are dropped first (and read from the store again if needed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::log::Log;

/// One thread's log in this process: `None` until it is first read.
type Slot = Arc<tokio::sync::Mutex<Option<Log>>>;

#[derive(Debug)]
pub(crate) struct Slots {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    slots: HashMap<String, (Slot, u64)>,
    clock: u64,
    capacity: usize,
}

impl Slots {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                slots: HashMap::new(),
                clock: 0,
                capacity: capacity.max(1),
            }),
        }
    }

    /// How many threads' logs are kept.
    pub(crate) fn capacity(&self) -> usize {
        self.lock().capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lock of thread `key`'s log, waiting for other calls on the thread to finish.
    pub(crate) async fn lock_thread(&self, key: &str) -> OwnedMutexGuard<Option<Log>> {
        let slot = {
            let mut inner = self.lock();
            inner.clock += 1;
            let now = inner.clock;
            let slot = match inner.slots.get_mut(key) {
                Some((slot, used)) => {
                    *used = now;
                    slot.clone()
                }
                None => {
                    let slot = Slot::default();
                    inner.slots.insert(key.to_owned(), (slot.clone(), now));
                    slot
                }
            };
            inner.evict();
            slot
        };
        slot.lock_owned().await
    }
}

impl Inner {
    /// Drops the least recently used idle logs until at most `capacity` are kept (a log in use
    /// stays; it is counted again on its next use).
    fn evict(&mut self) {
        let over = self.slots.len().saturating_sub(self.capacity);
        if over == 0 {
            return;
        }
        let mut idle: Vec<(u64, String)> = self
            .slots
            .iter()
            .filter(|(_, (slot, _))| Arc::strong_count(slot) == 1)
            .map(|(key, (_, used))| (*used, key.clone()))
            .collect();
        idle.sort_unstable();
        for (_, key) in idle.into_iter().take(over) {
            self.slots.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_most_recent_and_those_in_use() {
        let slots = Slots::new(2);
        let held = slots.lock_thread("a").await;
        drop(slots.lock_thread("b").await);
        drop(slots.lock_thread("c").await);
        let kept: Vec<String> = {
            let mut keys: Vec<_> = slots.lock().slots.keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(kept, ["a", "c"], "b is the least recently used idle log");
        drop(held);
    }
}
