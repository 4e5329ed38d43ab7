//! The node cache (`cache_get`, `cache_put`): what is stored comes back byte for byte until it
//! expires, a later put replaces it, an expired entry is never returned, and bad keys are
//! refused. Keys carry a fresh UUID, so runs against a shared server never meet.

use std::time::Duration;

use uuid::Uuid;

use crate::{CheckpointError, Checkpointer};

fn key(label: &str) -> String {
    format!("conf-cache/{label}/{}", Uuid::now_v7())
}

async fn get<C: Checkpointer + ?Sized>(saver: &C, key: &str) -> Option<Vec<u8>> {
    saver
        .cache_get(key)
        .await
        .expect("cache_get should succeed")
}

async fn put<C: Checkpointer + ?Sized>(saver: &C, key: &str, value: &[u8], ttl: Option<Duration>) {
    saver
        .cache_put(key, value.to_vec(), ttl)
        .await
        .expect("cache_put should succeed");
}

/// A stored value comes back exactly, every byte value included; other keys find nothing.
pub async fn round_trip<C: Checkpointer + ?Sized>(saver: &C) {
    let k = key("round-trip");
    let value: Vec<u8> = (0..=255u8).chain(b"{\"a\":1}".iter().copied()).collect();
    assert_eq!(get(saver, &k).await, None, "an absent key finds nothing");
    put(saver, &k, &value, Some(Duration::from_secs(600))).await;
    assert_eq!(get(saver, &k).await, Some(value));
    assert_eq!(get(saver, &format!("{k}-other")).await, None);
}

/// A later put under the same key replaces the value and its expiry.
pub async fn put_replaces<C: Checkpointer + ?Sized>(saver: &C) {
    let k = key("replace");
    put(saver, &k, b"first", Some(Duration::from_millis(50))).await;
    put(saver, &k, b"second", None).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        get(saver, &k).await.as_deref(),
        Some(&b"second"[..]),
        "the replacing put kept no expiry"
    );
}

/// An entry is returned until its time-to-live passes, then never again, also after other puts
/// swept expired entries; one without a time-to-live stays.
pub async fn expired_entries_are_not_returned<C: Checkpointer + ?Sized>(saver: &C) {
    let (short, kept) = (key("short"), key("kept"));
    put(
        saver,
        &short,
        b"soon gone",
        // Long enough that a stalled machine still reads it back before it expires.
        Some(Duration::from_millis(800)),
    )
    .await;
    put(saver, &kept, b"kept", None).await;
    assert_eq!(get(saver, &short).await.as_deref(), Some(&b"soon gone"[..]));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(get(saver, &short).await, None, "expired");
    put(saver, &key("sweep"), b"x", Some(Duration::from_secs(60))).await;
    assert_eq!(
        get(saver, &short).await,
        None,
        "still expired after a sweep"
    );
    assert_eq!(get(saver, &kept).await.as_deref(), Some(&b"kept"[..]));
    // The expired key is usable again.
    put(saver, &short, b"back", Some(Duration::from_secs(60))).await;
    assert_eq!(get(saver, &short).await.as_deref(), Some(&b"back"[..]));
}

/// An empty key, a key with NUL and an overlong key are refused, on get and put alike.
pub async fn bad_keys_are_refused<C: Checkpointer + ?Sized>(saver: &C) {
    let long = "k".repeat(crate::limits::MAX_CACHE_KEY_BYTES + 1);
    for bad in ["", "a\0b", long.as_str()] {
        let got = saver.cache_get(bad).await;
        assert!(
            matches!(got, Err(CheckpointError::Limit(_))),
            "cache_get of a bad key should be a limit error, got {got:?}"
        );
        let put = saver.cache_put(bad, b"v".to_vec(), None).await;
        assert!(
            matches!(put, Err(CheckpointError::Limit(_))),
            "cache_put of a bad key should be a limit error, got {put:?}"
        );
    }
    let longest = format!("{}{}", key("longest"), "k".repeat(1024));
    let longest = &longest[..crate::limits::MAX_CACHE_KEY_BYTES];
    put(saver, longest, b"fits", None).await;
    assert_eq!(get(saver, longest).await.as_deref(), Some(&b"fits"[..]));
}
