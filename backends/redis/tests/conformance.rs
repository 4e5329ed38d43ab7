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

#[tokio::test]
async fn store_times_follow_the_stores_clock() {
    let Some(url) = support::shared_server_or_skip("store clock").await else {
        return;
    };
    let clock = stategraph_runtime::store::ManualClock::starting_now();
    // A prefix of its own: sweeping by a clock that runs ahead must not touch other cases.
    let store = stategraph_redis::RedisSaver::builder(&url)
        .key_prefix(format!("{}-clock", support::prefix()))
        .allow_volatile(true)
        .connect_store()
        .await
        .expect("a store on the shared server")
        .with_clock(clock.clone());
    stategraph_runtime::Store::setup(&store).await.unwrap();
    stategraph_runtime::testing::store::times_follow_the_stores_clock(&store, &clock).await;
}
