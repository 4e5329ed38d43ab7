//! The store conformance kit on a local directory, each case on a fresh one, and the store's
//! times by a clock the test moves.

use stategraph_object_store::ObjectStoreStore;

async fn store() -> ObjectStoreStore {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temporary directory")
        .keep();
    ObjectStoreStore::local(&dir)
        .await
        .expect("a store on a local directory")
}

stategraph_runtime::store_conformance!(async { store().await });

#[tokio::test]
async fn times_follow_the_stores_clock() {
    let clock = stategraph_runtime::store::ManualClock::starting_now();
    let store = store().await.with_clock(clock.clone());
    stategraph_runtime::testing::store::times_follow_the_stores_clock(&store, &clock).await;
}

/// A version object that is not an item is reported as corrupt, by key, not read as absent.
#[tokio::test]
async fn a_corrupt_item_is_an_error() {
    use stategraph_runtime::store::{Namespace, Store, StoreError};

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = ObjectStoreStore::local(dir.path()).await.unwrap();
    let namespace = Namespace::new(["users", "u-1"]).unwrap();
    store
        .put_value(&namespace, "profile", Default::default(), None)
        .await
        .unwrap();
    let mut versions = Vec::new();
    let mut pending = vec![dir.path().join("stategraph").join("store")];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                versions.push(path);
            }
        }
    }
    assert_eq!(versions.len(), 1, "one item, one version: {versions:?}");
    std::fs::write(&versions[0], b"not json").unwrap();
    match store.get(&namespace, "profile", false).await {
        Err(StoreError::Corrupt { .. }) => {}
        other => panic!("a corrupt item must be an error, got {other:?}"),
    }
}
