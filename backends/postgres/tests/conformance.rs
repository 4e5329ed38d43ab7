//! The checkpointer conformance kit against the test server, one test per case, all cases of
//! a configuration sharing one schema (the kit's random thread ids keep cases apart): once
//! with unnamed statements (the default, safe behind any pooler) and once with
//! `prepared_statements(true)`.

mod support;

mod unnamed_statements {
    use super::support;

    stategraph_runtime::checkpointer_conformance!(async {
        support::conformance_saver("conformance", false).await
    });
}

mod prepared_statements {
    use super::support;

    stategraph_runtime::checkpointer_conformance!(async {
        support::conformance_saver("conformance_prepared", true).await
    });
}

mod store {
    use super::support;

    stategraph_runtime::store_conformance!(async { support::conformance_store("store").await });
}

#[tokio::test]
async fn store_times_follow_the_stores_clock() {
    let Some(url) = support::server().await else {
        eprintln!("SKIPPED: no PostgreSQL server");
        return;
    };
    let clock = stategraph_runtime::store::ManualClock::starting_now();
    let store = stategraph_postgres::PostgresSaver::builder(url)
        .pool_size(2)
        .schema("sgtest_store_clock")
        .connect_store()
        .await
        .unwrap()
        .with_clock(clock.clone());
    stategraph_runtime::Store::setup(&store).await.unwrap();
    stategraph_runtime::testing::store::times_follow_the_stores_clock(&store, &clock).await;
}
