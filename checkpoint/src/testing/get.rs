//! `get`: one checkpoint by id, or the latest of a thread and namespace, with the blobs that
//! rebuild its channels and its pending writes (LangGraph's 10 GET_TUPLE cases, plus namespace
//! isolation and delta chains).

use std::collections::BTreeMap;

use serde_json::json;

use crate::{BlobKind, CheckpointId, Checkpointer, Source};

use super::fixtures::*;

/// An unknown thread gives `None`, not an error.
pub async fn nonexistent_thread_returns_none<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-none");
    assert!(get_ok(saver, &t, "", None).await.is_none());
    assert!(
        get_ok(saver, &t, "", Some(CheckpointId::new()))
            .await
            .is_none()
    );
}

/// Without an id, `get` returns the latest: after three chained puts, the third (step 2).
pub async fn latest_when_no_id<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-latest");
    let chain = linear(saver, &t, "", 3).await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(
        got.checkpoint.id, chain[2].id,
        "the latest should be the last put"
    );
    assert_eq!(got.checkpoint.metadata.step, 2);
}

/// With an id, `get` returns exactly that checkpoint even when newer ones exist.
pub async fn specific_id<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-by-id");
    let chain = linear(saver, &t, "", 3).await;
    let got = must_get(saver, &t, "", Some(chain[0].id)).await;
    assert_eq!(got.checkpoint.id, chain[0].id);
    assert_eq!(value(&got, "step"), json!(0));
    let got = must_get(saver, &t, "", Some(chain[1].id)).await;
    assert_eq!(got.checkpoint.id, chain[1].id);
}

/// An id the thread does not have gives `None`.
pub async fn nonexistent_id_returns_none<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-missing-id");
    linear(saver, &t, "", 2).await;
    assert!(
        get_ok(saver, &t, "", Some(CheckpointId::new()))
            .await
            .is_none(),
        "an unknown id on an existing thread should give None"
    );
}

/// An id that exists in another namespace of the thread gives `None`.
pub async fn id_from_another_namespace_returns_none<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-other-ns");
    checkpoint(&t, "").put_ok(saver).await;
    let sub = checkpoint(&t, "sub").put_ok(saver).await;
    assert!(
        get_ok(saver, &t, "", Some(sub.id)).await.is_none(),
        "checkpoint {} lives in namespace `sub`; asking the root namespace for it should give None",
        sub.id
    );
    assert!(get_ok(saver, &t, "sub", Some(sub.id)).await.is_some());
}

/// An id that exists on another thread gives `None`.
pub async fn id_from_another_thread_returns_none<C: Checkpointer + ?Sized>(saver: &C) {
    let t1 = thread("get-other-thread-1");
    let t2 = thread("get-other-thread-2");
    let cp1 = checkpoint(&t1, "").put_ok(saver).await;
    checkpoint(&t2, "").put_ok(saver).await;
    assert!(
        get_ok(saver, &t2, "", Some(cp1.id)).await.is_none(),
        "thread 2 should not see thread 1's checkpoint by id"
    );
}

/// Every field of the checkpoint round-trips: id, thread, namespace, parent, `created_at`,
/// versions, `next`, barriers and metadata.
pub async fn checkpoint_fields<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-fields");
    let first = checkpoint(&t, "")
        .snapshot("k", json!("v"))
        .put_ok(saver)
        .await;
    let second = child(&first)
        .snapshot("other", json!(1))
        .next(&["b", "a"])
        .barrier("c", &["a"])
        .user("user", "alice")
        .node_writes("a", &["other"])
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(second.id)).await;
    assert_eq!(
        got.checkpoint, second,
        "the stored checkpoint should equal the one put"
    );
    assert_eq!(
        values(&got),
        BTreeMap::from([("k".to_owned(), json!("v")), ("other".to_owned(), json!(1))])
    );
}

/// Metadata `source = input`, `step = -1` round-trips.
pub async fn metadata<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-metadata");
    checkpoint(&t, "")
        .source(Source::Input)
        .step(-1)
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.metadata.source, Source::Input);
    assert_eq!(got.checkpoint.metadata.step, -1);
}

/// A root has no parent; its child names it.
pub async fn parent_id<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-parent");
    let first = checkpoint(&t, "").put_ok(saver).await;
    assert_eq!(
        must_get(saver, &t, "", None).await.checkpoint.parent_id,
        None
    );
    child(&first).put_ok(saver).await;
    assert_eq!(
        must_get(saver, &t, "", None).await.checkpoint.parent_id,
        Some(first.id)
    );
}

/// The latest checkpoint comes with its pending writes: exactly `(task, "ch", "val")`.
pub async fn pending_writes<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-writes");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    put_writes_ok(saver, &cp, vec![write(task, 0, "ch", json!("val"))]).await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(writes(&got), [(task, 0, "ch".to_owned(), json!("val"))]);
}

/// The root and a child namespace each return their own latest, whichever was written last.
pub async fn respects_namespace<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-ns");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let sub = checkpoint(&t, "child:1").put_ok(saver).await;
    let root2 = child(&root).put_ok(saver).await;
    assert_eq!(must_get(saver, &t, "", None).await.checkpoint.id, root2.id);
    assert_eq!(
        must_get(saver, &t, "child:1", None).await.checkpoint.id,
        sub.id,
        "a later root checkpoint should not change the child namespace's latest"
    );
    assert!(get_ok(saver, &t, "child:2", None).await.is_none());
}

/// `channels` has exactly the channels of `channel_versions`, and each chain ends at the
/// channel's version.
pub async fn channels_follow_versions<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-follow");
    let cp1 = checkpoint(&t, "")
        .snapshot("a", json!(1))
        .snapshot("b", json!(1))
        .snapshot("c", json!(1))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1)
        .snapshot("b", json!(2))
        .remove("c")
        .put_ok(saver)
        .await;
    let cp3 = child(&cp2).snapshot("d", json!(3)).put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(cp3.id)).await;
    assert_eq!(
        got.channels.keys().collect::<Vec<_>>(),
        ["a", "b", "d"],
        "channels should be exactly those of channel_versions"
    );
    for (channel, version) in &got.checkpoint.channel_versions {
        let last = got.channels[channel].last().map(|b| b.version);
        assert_eq!(
            last,
            Some(*version),
            "channel `{channel}`'s blobs should end at its version"
        );
        assert!(got.channels[channel].iter().all(|b| &b.channel == channel));
    }
    assert_eq!(
        got.checkpoint.channel_versions,
        BTreeMap::from([
            ("a".to_owned(), cp1.id),
            ("b".to_owned(), cp2.id),
            ("d".to_owned(), cp3.id)
        ])
    );
}

/// A chain snapshot → delta → delta comes back for that channel as exactly
/// `[snapshot, delta, delta]`, oldest first, each with its version, base and data; an older
/// checkpoint of the chain gets the chain up to its own version.
pub async fn delta_chain_in_order<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-delta");
    let cp1 = checkpoint(&t, "")
        .snapshot("log", json!(["a"]))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1)
        .delta("log", json!([{"reduce": ["b"]}]))
        .put_ok(saver)
        .await;
    let cp3 = child(&cp2)
        .delta("log", json!([{"reduce": ["c"]}, {"reduce": ["d"]}]))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    let chain: Vec<_> = got.channels["log"]
        .iter()
        .map(|b| (b.version, b.kind, decode(&b.data)))
        .collect();
    assert_eq!(
        chain,
        [
            (cp1.id, BlobKind::Snapshot, json!(["a"])),
            (
                cp2.id,
                BlobKind::Delta { base: cp1.id },
                json!([{"reduce": ["b"]}])
            ),
            (
                cp3.id,
                BlobKind::Delta { base: cp2.id },
                json!([{"reduce": ["c"]}, {"reduce": ["d"]}])
            ),
        ],
        "the log should come back as [snapshot, delta, delta], oldest first"
    );
    let older = must_get(saver, &t, "", Some(cp2.id)).await;
    let versions: Vec<_> = older.channels["log"].iter().map(|b| b.version).collect();
    assert_eq!(
        versions,
        [cp1.id, cp2.id],
        "checkpoint 2 should get the chain up to its own version only"
    );
}

/// A chain stops at the nearest snapshot: snapshot → delta → snapshot → delta comes back as
/// `[snapshot 3, delta 4]`.
pub async fn delta_chain_after_new_snapshot<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("get-resnapshot");
    let cp1 = checkpoint(&t, "")
        .snapshot("log", json!(["a"]))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1)
        .delta("log", json!([{"reduce": ["b"]}]))
        .put_ok(saver)
        .await;
    let cp3 = child(&cp2)
        .snapshot("log", json!(["a", "b", "c"]))
        .put_ok(saver)
        .await;
    let cp4 = child(&cp3)
        .delta("log", json!([{"reduce": ["d"]}]))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp4.id)).await;
    let chain: Vec<_> = got.channels["log"]
        .iter()
        .map(|b| (b.version, b.kind))
        .collect();
    assert_eq!(
        chain,
        [
            (cp3.id, BlobKind::Snapshot),
            (cp4.id, BlobKind::Delta { base: cp3.id })
        ],
        "the chain should start at the nearest snapshot"
    );
}
