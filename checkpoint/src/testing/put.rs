//! `put`: storing a checkpoint and the blobs of the channels it changed (LangGraph's 17 PUT
//! cases adapted to stategraph's contract, plus blob carry-over and timestamps).
//!
//! A channel's version is the id of the checkpoint that wrote it; a checkpoint carries blobs
//! only for the channels it changed, and `get` returns, for every channel in
//! `channel_versions` (and only those), the blobs that rebuild it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::limits::LimitError;
use crate::{
    BlobKind, ChannelBlob, CheckpointError, CheckpointId, Checkpointer, ListQuery, Source,
    from_micros,
};

use super::fixtures::*;

/// A stored checkpoint is found again by its own thread, namespace and id, and comes back
/// naming exactly that thread, namespace and id (LangGraph `put_returns_config`).
pub async fn returns_config<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-config");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(got.checkpoint.id, cp.id, "get by id should return that id");
    assert_eq!(
        got.checkpoint.thread_id, t,
        "the stored checkpoint should keep its thread id"
    );
    assert_eq!(
        got.checkpoint.ns, "",
        "the stored checkpoint should keep its namespace"
    );
}

/// A checkpoint with one channel `msg = "hello"` reads back with the same id and exactly that
/// channel and value, at version = its own id.
pub async fn roundtrip<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-roundtrip");
    let cp = checkpoint(&t, "")
        .snapshot("msg", json!("hello"))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(got.checkpoint.id, cp.id);
    assert_eq!(
        values(&got),
        BTreeMap::from([("msg".to_owned(), json!("hello"))]),
        "the channel values should be exactly {{msg: \"hello\"}}"
    );
    assert_eq!(
        got.checkpoint.channel_versions,
        BTreeMap::from([("msg".to_owned(), cp.id)]),
        "channel_versions should be exactly {{msg: <the checkpoint's id>}}"
    );
    assert_eq!(
        got.channels["msg"][0].version, cp.id,
        "the blob's version should be the id of the checkpoint that wrote it"
    );
}

/// Strings (with unicode and quotes), integers (including i64 extremes), floats, booleans,
/// null, lists and nested objects all round-trip by JSON equality.
pub async fn preserves_channel_values<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-values");
    let cases = [
        ("str", json!("héllo \"wörld\" ✓ \\ ' ;--")),
        ("int", json!(42)),
        ("big", json!(i64::MAX)),
        ("neg", json!(i64::MIN)),
        ("float", json!(1.5)),
        ("bool", json!(true)),
        ("null", Value::Null),
        ("list", json!([1, "two", [3], {"four": 4}])),
        ("dict", json!({"k": "v", "nested": {"a": [1, 2]}, "e": {}})),
        ("empty_str", json!("")),
    ];
    let mut builder = checkpoint(&t, "");
    for (channel, value) in &cases {
        builder = builder.snapshot(channel, value.clone());
    }
    let cp = builder.put_ok(saver).await;
    let got = values(&must_get(saver, &t, "", Some(cp.id)).await);
    for (channel, value) in cases {
        assert_eq!(
            got.get(channel),
            Some(&value),
            "channel `{channel}` should round-trip"
        );
    }
    assert_eq!(
        got.len(),
        10,
        "exactly the 10 channels written should come back"
    );
}

/// `channel_versions` round-trips exactly: after a child rewrites `b`, the child reads
/// `{a: first, b: child}` (LangGraph `put_preserves_channel_versions`).
pub async fn preserves_channel_versions<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-versions");
    let first = checkpoint(&t, "")
        .snapshot("a", json!(1))
        .snapshot("b", json!(1))
        .put_ok(saver)
        .await;
    let second = child(&first).snapshot("b", json!(2)).put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(second.id)).await;
    assert_eq!(
        got.checkpoint.channel_versions,
        BTreeMap::from([("a".to_owned(), first.id), ("b".to_owned(), second.id)]),
        "channel_versions should be a at the first checkpoint, b at the second"
    );
}

/// `next` (nodes to run, in order) and `barriers` (join progress) round-trip exactly — the
/// analog of LangGraph's `versions_seen` cases.
pub async fn preserves_next_and_barriers<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-next");
    let cp = checkpoint(&t, "")
        .next(&["zeta", "alpha", "mid"])
        .barrier("join", &["left", "right"])
        .barrier("other", &[])
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        got.checkpoint.next,
        ["zeta", "alpha", "mid"],
        "next should keep its nodes in their order"
    );
    assert_eq!(
        got.checkpoint.barriers, cp.barriers,
        "barriers should round-trip"
    );
}

/// Metadata `source = loop`, `step = 3` and a user key `custom_key = "custom_value"` round-trip.
pub async fn preserves_metadata<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-metadata");
    let cp = checkpoint(&t, "")
        .source(Source::Loop)
        .step(3)
        .user("custom_key", "custom_value")
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(got.checkpoint.metadata.source, Source::Loop);
    assert_eq!(got.checkpoint.metadata.step, 3);
    assert_eq!(
        got.checkpoint.metadata.user.get("custom_key"),
        Some(&json!("custom_value")),
        "user metadata key custom_key should round-trip"
    );
    assert_eq!(
        got.checkpoint.metadata, cp.metadata,
        "metadata should round-trip whole"
    );
}

/// A user `run_id` round-trips.
pub async fn preserves_run_id<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-run-id");
    let cp = checkpoint(&t, "")
        .user("run_id", "run-7f3a")
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        got.checkpoint.metadata.user.get("run_id"),
        Some(&json!("run-7f3a"))
    );
}

/// `metadata.parents` (ns → checkpoint) and `metadata.writes` (node → channels) round-trip.
pub async fn preserves_parents_and_writes_metadata<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-parents");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let cp = checkpoint(&t, "sub")
        .parent_ns("", root.id)
        .node_writes("left", &["a", "b"])
        .node_writes("right", &[])
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "sub", Some(cp.id)).await;
    assert_eq!(
        got.checkpoint.metadata.parents,
        BTreeMap::from([(String::new(), root.id)]),
        "metadata.parents should round-trip"
    );
    assert_eq!(
        got.checkpoint.metadata.writes, cp.metadata.writes,
        "metadata.writes should round-trip"
    );
}

/// The root namespace `""` is kept and is where `get(.., "", None)` looks.
pub async fn root_namespace<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-root-ns");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.id, cp.id);
    assert_eq!(got.checkpoint.ns, "");
}

/// A child namespace `child:abc` is kept, found under that namespace only.
pub async fn child_namespace<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-child-ns");
    let cp = checkpoint(&t, "child:abc").put_ok(saver).await;
    let got = must_get(saver, &t, "child:abc", None).await;
    assert_eq!(got.checkpoint.id, cp.id);
    assert_eq!(
        got.checkpoint.ns, "child:abc",
        "the namespace should round-trip"
    );
    assert!(
        get_ok(saver, &t, "", None).await.is_none(),
        "a checkpoint in namespace child:abc should not be the root namespace's latest"
    );
}

/// Three chained puts are each retrievable by id, each with its own value.
pub async fn multiple_checkpoints_same_thread<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-multi");
    let chain = linear(saver, &t, "", 3).await;
    for (step, cp) in chain.iter().enumerate() {
        let got = must_get(saver, &t, "", Some(cp.id)).await;
        assert_eq!(got.checkpoint.id, cp.id);
        assert_eq!(
            value(&got, "step"),
            json!(step),
            "checkpoint {step} of the chain should hold its own value"
        );
    }
}

/// The same channel on two threads: each thread's latest has its own value.
pub async fn multiple_threads_isolated<C: Checkpointer + ?Sized>(saver: &C) {
    let t1 = thread("put-iso-1");
    let t2 = thread("put-iso-2");
    checkpoint(&t1, "")
        .snapshot("x", json!("one"))
        .put_ok(saver)
        .await;
    checkpoint(&t2, "")
        .snapshot("x", json!("two"))
        .put_ok(saver)
        .await;
    assert_eq!(
        value(&must_get(saver, &t1, "", None).await, "x"),
        json!("one")
    );
    assert_eq!(
        value(&must_get(saver, &t2, "", None).await, "x"),
        json!("two")
    );
}

/// The second put's `parent_id` is the first id; the first's is `None`.
pub async fn parent_id<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-parent");
    let chain = linear(saver, &t, "", 2).await;
    let first = must_get(saver, &t, "", Some(chain[0].id)).await;
    let second = must_get(saver, &t, "", Some(chain[1].id)).await;
    assert_eq!(first.checkpoint.parent_id, None, "a root has no parent");
    assert_eq!(
        second.checkpoint.parent_id,
        Some(chain[0].id),
        "the second checkpoint's parent should be the first"
    );
}

/// cp1 writes `a = v1`, `b = v2`; cp2 writes only `a = v1_updated` and carries `b`'s version.
/// cp2 reads `a = v1_updated, b = v2` (b from cp1's blob); cp1 still reads `v1`, `v2`.
pub async fn incremental_channel_update<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-incremental");
    let cp1 = checkpoint(&t, "")
        .snapshot("a", json!("v1"))
        .snapshot("b", json!("v2"))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1)
        .snapshot("a", json!("v1_updated"))
        .put_ok(saver)
        .await;
    let got2 = must_get(saver, &t, "", Some(cp2.id)).await;
    assert_eq!(value(&got2, "a"), json!("v1_updated"));
    assert_eq!(
        value(&got2, "b"),
        json!("v2"),
        "b was not rewritten, so cp2 should load it through cp1's blob"
    );
    assert_eq!(got2.channels["b"][0].version, cp1.id, "b's blob is cp1's");
    let got1 = must_get(saver, &t, "", Some(cp1.id)).await;
    assert_eq!(
        value(&got1, "a"),
        json!("v1"),
        "cp1 should still read its own a"
    );
    assert_eq!(value(&got1, "b"), json!("v2"));
}

/// cp2 adds channel `b`: it has the carried `a` plus the new `b`; cp1 still has only `a`.
pub async fn new_channel_added<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-new-channel");
    let cp1 = checkpoint(&t, "")
        .snapshot("a", json!("a1"))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1).snapshot("b", json!("b1")).put_ok(saver).await;
    let got2 = must_get(saver, &t, "", Some(cp2.id)).await;
    assert_eq!(
        values(&got2),
        BTreeMap::from([("a".to_owned(), json!("a1")), ("b".to_owned(), json!("b1"))])
    );
    let got1 = must_get(saver, &t, "", Some(cp1.id)).await;
    assert_eq!(
        values(&got1),
        BTreeMap::from([("a".to_owned(), json!("a1"))]),
        "cp1 should not see a channel its child added"
    );
}

/// A channel missing from cp2's `channel_versions` is absent from cp2 (values follow
/// `channel_versions`), though its blob still serves cp1.
pub async fn channel_removed<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-removed");
    let cp1 = checkpoint(&t, "")
        .snapshot("a", json!(1))
        .snapshot("b", json!(2))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1)
        .remove("b")
        .snapshot("a", json!(3))
        .put_ok(saver)
        .await;
    let got2 = must_get(saver, &t, "", Some(cp2.id)).await;
    assert!(
        !got2.channels.contains_key("b"),
        "b is not in cp2's channel_versions, so cp2 should return no blobs for it"
    );
    assert_eq!(values(&got2), BTreeMap::from([("a".to_owned(), json!(3))]));
    let got1 = must_get(saver, &t, "", Some(cp1.id)).await;
    assert_eq!(value(&got1, "b"), json!(2), "cp1 should still read b");
}

/// A channel written once and unchanged for five steps still loads at the head through the
/// old version's blob (the JS suite's carry-over check).
pub async fn unchanged_channel_loads_through_old_version<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-carry");
    let first = checkpoint(&t, "")
        .snapshot("messages", json!(["hi", "there"]))
        .snapshot("step_count", json!(0))
        .put_ok(saver)
        .await;
    let mut head = first.clone();
    for n in 1..=5 {
        head = child(&head)
            .snapshot("step_count", json!(n))
            .put_ok(saver)
            .await;
    }
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.id, head.id);
    assert_eq!(
        value(&got, "messages"),
        json!(["hi", "there"]),
        "messages, unchanged since the first checkpoint, should load from its blob"
    );
    assert_eq!(got.checkpoint.channel_versions["messages"], first.id);
    assert_eq!(value(&got, "step_count"), json!(5));
}

/// Storing a blob that already exists (same channel and version) keeps the stored one.
pub async fn existing_blob_is_kept<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-blob-kept");
    let cp1 = checkpoint(&t, "")
        .snapshot("a", json!("first"))
        .put_ok(saver)
        .await;
    // The child carries `a` at cp1's version and re-sends a different blob for it.
    let cp2 = child(&cp1)
        .blob(ChannelBlob {
            channel: "a".to_owned(),
            version: cp1.id,
            kind: BlobKind::Snapshot,
            data: encode(&json!("second")),
        })
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp2.id)).await;
    assert_eq!(got.checkpoint.channel_versions["a"], cp1.id);
    assert_eq!(
        value(&got, "a"),
        json!("first"),
        "a blob re-sent for an existing (channel, version) should not replace the stored one"
    );
}

/// A checkpoint with no channels comes back with no channels, no versions and no writes.
pub async fn empty_checkpoint<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-empty");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert!(got.channels.is_empty(), "no channels were written");
    assert!(got.checkpoint.channel_versions.is_empty());
    assert!(got.pending_writes.is_empty(), "no writes were stored");
    assert!(got.checkpoint.next.is_empty());
}

/// `created_at` (from [`crate::now`], microsecond precision) round-trips exactly.
pub async fn created_at_round_trips<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-created-at");
    let at = crate::now();
    let cp = checkpoint(&t, "").created_at(at).put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        got.checkpoint.created_at, at,
        "created_at should round-trip to the microsecond"
    );
}

/// `created_at` is stored as given, not replaced by the time of the put: a checkpoint copied
/// in from 2001 keeps its time to the microsecond.
pub async fn created_at_is_not_restamped<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-old-time");
    let at = from_micros(978_307_200_123_456);
    let cp = checkpoint(&t, "").created_at(at).put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        got.checkpoint.created_at, at,
        "created_at should be stored as given (2001-01-01T00:00:00.123456Z)"
    );
}

/// A 1 MiB string value and a 10 000-element list round-trip.
pub async fn large_value_round_trips<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-large");
    let big = "x".repeat(1 << 20);
    let list: Vec<u32> = (0..10_000).collect();
    let cp = checkpoint(&t, "")
        .snapshot("big", json!(big))
        .snapshot("list", json!(list))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        value(&got, "big"),
        json!(big),
        "a 1 MiB value should round-trip"
    );
    assert_eq!(value(&got, "list"), json!(list));
}

/// A checkpoint whose id does not sort after its parent's is refused before anything is
/// stored (`LimitError::IdNotAfterParent`): a history listed newest first must follow parent
/// links. The same id as the parent's is refused too.
pub async fn id_not_after_parent_is_refused<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-id-order");
    let earlier = CheckpointId::new();
    let root = checkpoint(&t, "").put_ok(saver).await;
    for id in [earlier, root.id] {
        match child(&root).id(id).put(saver).await {
            Err(CheckpointError::Limit(LimitError::IdNotAfterParent { id: got, parent })) => {
                assert_eq!((got, parent), (id, root.id), "the error names both ids");
            }
            other => panic!("a child whose id sorts before its parent's: {other:?}"),
        }
    }
    let history = list_ok(saver, &ListQuery::thread(t.clone())).await;
    assert_eq!(ids(&history), vec![root.id], "nothing was stored");
    child(&root).put_ok(saver).await;
}

/// A parent drawn by a process whose clock is an hour ahead: its children, drawn with
/// `CheckpointId::after`, still sort after it, so the history listed newest first is the chain
/// of parent links, and the latest is the last child.
pub async fn history_follows_parents_when_a_parent_is_ahead<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("put-clock-ahead");
    let ahead = {
        let now = crate::to_micros(crate::now()) / 1000 + 3_600_000;
        let bits = (u128::try_from(now).expect("after 1970") << 80) | 0x7 << 76 | 0b10 << 62;
        CheckpointId::from_uuid(uuid::Uuid::from_u128(bits))
    };
    let mut last = checkpoint(&t, "").id(ahead).put_ok(saver).await;
    for _ in 0..5 {
        last = child(&last).put_ok(saver).await;
    }
    let history = list_ok(saver, &ListQuery::thread(t.clone())).await;
    assert_eq!(history.len(), 6);
    assert_eq!(
        history[0].checkpoint.id, last.id,
        "the last child is newest"
    );
    for pair in history.windows(2) {
        assert_eq!(
            pair[0].checkpoint.parent_id,
            Some(pair[1].checkpoint.id),
            "each checkpoint is listed right before its parent"
        );
    }
    assert_eq!(must_get(saver, &t, "", None).await.checkpoint.id, last.id);
}
