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
