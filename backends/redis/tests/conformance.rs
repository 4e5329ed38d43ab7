//! The checkpointer conformance kit against the shared Redis server (which runs without
//! persistence, hence `allow_volatile`), under a key prefix unique to this run.
//!
//! Without a server (and without `STATEGRAPH_REQUIRE_SERVICES`) each case prints a skip
//! message and runs against `MemorySaver` instead, so the binary stays green.

mod support;

use std::sync::Arc;

use stategraph_runtime::{Checkpointer, MemorySaver};

async fn saver() -> Arc<dyn Checkpointer> {
    match support::shared_server_or_skip("conformance").await {
        Some(url) => Arc::new(support::volatile_saver(&url).await),
        None => Arc::new(MemorySaver::new()),
    }
}

stategraph_runtime::checkpointer_conformance!(async { saver().await });

mod store {
    use std::sync::Arc;

    use stategraph_runtime::{MemoryStore, Store};

    use super::support;

    async fn store() -> Arc<dyn Store> {
        match support::shared_server_or_skip("store conformance").await {
            Some(url) => Arc::new(support::volatile_store(&url).await),
            None => Arc::new(MemoryStore::new()),
        }
    }

    stategraph_runtime::store_conformance!(async { store().await });
}
