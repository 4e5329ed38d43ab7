//! `copy_thread`: every checkpoint, blob and write of a thread, all namespaces, ids kept, into
//! an empty thread (LangGraph's 8 COPY_THREAD cases, plus delta chains and the destination
//! rules).

use serde_json::json;

use crate::{BlobKind, CheckpointError, CheckpointTuple, Checkpointer, ListQuery, ThreadId};

use super::fixtures::*;

async fn copy_ok<C: Checkpointer + ?Sized>(saver: &C, from: &ThreadId, to: &ThreadId) {
    saver.copy_thread(from, to).await.unwrap_or_else(|e| {
        panic!("copy_thread(`{from}` → `{to}`) should succeed, but failed: {e}")
    });
}

/// A source thread with three checkpoints (channel `step`, a carried channel `keep`), a
/// write on the head, and one checkpoint in namespace `child:1`.
async fn source<C: Checkpointer + ?Sized>(saver: &C) -> ThreadId {
    let t = thread("copy-src");
    let first = checkpoint(&t, "")
        .snapshot("keep", json!("from the first"))
        .snapshot("step", json!(0))
        .user("run_id", "run-1")
        .user("owner", json!({"name": "ann"}))
        .put_ok(saver)
        .await;
    let second = child(&first)
        .snapshot("step", json!(1))
        .next(&["n"])
        .put_ok(saver)
        .await;
    let third = child(&second)
        .snapshot("step", json!(2))
        .user("run_id", "run-2")
        .put_ok(saver)
        .await;
    put_writes_ok(
        saver,
        &third,
        vec![write(task(), 0, "ch", json!("write_val"))],
    )
    .await;
    checkpoint(&t, "child:1")
        .snapshot("sub", json!("sub value"))
        .parent_ns("", third.id)
        .put_ok(saver)
        .await;
    t
}

fn all(query_thread: &ThreadId) -> ListQuery {
    ListQuery::thread(query_thread.clone())
}

/// The destination gets all the source's checkpoints.
pub async fn basic<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    let got = list_ok(saver, &all(&dst).ns("")).await;
    assert_eq!(
        got.len(),
        3,
        "the destination should have the 3 root checkpoints"
    );
    assert!(got.iter().all(|c| c.checkpoint.thread_id == dst));
}

/// Ids are kept and each copy equals its source checkpoint (thread id aside): parent,
/// `created_at`, versions, `next`, metadata and channel values.
pub async fn keeps_ids_and_values<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    let from = list_ok(saver, &all(&src)).await;
    let to = list_ok(saver, &all(&dst)).await;
    assert_eq!(ids(&from), ids(&to), "ids should be kept");
    for (a, b) in from.iter().zip(&to) {
        let mut expected = a.checkpoint.clone();
        expected.thread_id = dst.clone();
        assert_eq!(
            b.checkpoint, expected,
            "the copy of {} should be equal",
            a.checkpoint.id
        );
        assert_eq!(
            values(a),
            values(b),
            "channel values of {}",
            a.checkpoint.id
        );
    }
}

/// Every metadata key is kept, user keys included.
pub async fn preserves_metadata<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    let from = list_ok(saver, &all(&src)).await;
    let to = list_ok(saver, &all(&dst)).await;
    let meta = |t: &[CheckpointTuple]| -> Vec<_> {
        t.iter().map(|c| c.checkpoint.metadata.clone()).collect()
    };
    assert_eq!(meta(&from), meta(&to));
    let filtered = list_ok(saver, &all(&dst).filter("run_id", "run-1")).await;
    assert_eq!(
        ids(&filtered),
        [from[from.len() - 1].checkpoint.id],
        "copied user metadata should be filterable"
    );
}

/// Both namespaces are copied.
pub async fn preserves_namespaces<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    let sub = must_get(saver, &dst, "child:1", None).await;
    assert_eq!(sub.checkpoint.ns, "child:1");
    assert_eq!(value(&sub, "sub"), json!("sub value"));
    assert!(get_ok(saver, &dst, "", None).await.is_some());
}

/// Pending writes are copied: the destination's head has `("ch", "write_val")`.
pub async fn preserves_writes<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    let head = must_get(saver, &dst, "", None).await;
    let from = must_get(saver, &src, "", None).await;
    assert_eq!(writes(&head), writes(&from));
    assert_eq!(head.pending_writes.len(), 1);
    assert_eq!(head.pending_writes[0].channel, "ch");
    assert_eq!(decode(&head.pending_writes[0].value), json!("write_val"));
}

/// The newest-first id lists of source and destination are equal, and the same head is latest.
pub async fn preserves_ordering<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    assert_eq!(
        ids(&list_ok(saver, &all(&src).ns("")).await),
        ids(&list_ok(saver, &all(&dst).ns("")).await)
    );
    assert_eq!(
        must_get(saver, &src, "", None).await.checkpoint.id,
        must_get(saver, &dst, "", None).await.checkpoint.id
    );
}

/// The source is unchanged.
pub async fn source_unchanged<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let before: Vec<_> = list_ok(saver, &all(&src))
        .await
        .iter()
        .map(|c| (c.checkpoint.clone(), values(c), writes(c)))
        .collect();
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    let after: Vec<_> = list_ok(saver, &all(&src))
        .await
        .iter()
        .map(|c| (c.checkpoint.clone(), values(c), writes(c)))
        .collect();
    assert_eq!(before, after, "copying should not change the source");
}

/// Copying a thread that does not exist succeeds and copies nothing.
pub async fn nonexistent_source<C: Checkpointer + ?Sized>(saver: &C) {
    let src = thread("copy-missing");
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    assert!(get_ok(saver, &dst, "", None).await.is_none());
    assert!(list_ok(saver, &all(&dst)).await.is_empty());
}

/// A delta chain (snapshot → delta → delta) is copied whole: the destination returns the
/// same chain.
pub async fn preserves_delta_chains<C: Checkpointer + ?Sized>(saver: &C) {
    let src = thread("copy-chain");
    let cp1 = checkpoint(&src, "")
        .snapshot("log", json!(["a"]))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1)
        .delta("log", json!([{"reduce": ["b"]}]))
        .put_ok(saver)
        .await;
    child(&cp2)
        .delta("log", json!([{"reduce": ["c"]}]))
        .put_ok(saver)
        .await;
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    let chain = |t: &CheckpointTuple| -> Vec<_> {
        t.channels["log"]
            .iter()
            .map(|b| (b.version, b.kind, decode(&b.data)))
            .collect()
    };
    let from = must_get(saver, &src, "", None).await;
    let to = must_get(saver, &dst, "", None).await;
    assert_eq!(
        chain(&to),
        chain(&from),
        "the copied chain should be the same"
    );
    assert_eq!(chain(&to).len(), 3);
    assert_eq!(chain(&to)[0].1, BlobKind::Snapshot);
}

/// Copying into a thread that has checkpoints fails with `ThreadExists` and changes neither
/// thread.
pub async fn into_existing_thread_fails<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let dst = thread("copy-dst");
    let existing = checkpoint(&dst, "")
        .snapshot("mine", json!(1))
        .put_ok(saver)
        .await;
    match saver.copy_thread(&src, &dst).await {
        Err(CheckpointError::ThreadExists(t)) => {
            assert_eq!(t, dst, "ThreadExists should name the destination")
        }
        Err(e) => {
            panic!("copying into a thread with checkpoints should fail with ThreadExists, got: {e}")
        }
        Ok(()) => panic!("copying into a thread with checkpoints should fail with ThreadExists"),
    }
    let got = list_ok(saver, &all(&dst)).await;
    assert_eq!(
        ids(&got),
        [existing.id],
        "the destination should be unchanged"
    );
    assert_eq!(value(&got[0], "mine"), json!(1));
    assert_eq!(list_ok(saver, &all(&src)).await.len(), 4);
}

/// The copy is independent: advancing the destination leaves the source's head, and deleting
/// the source leaves the destination whole.
pub async fn copy_is_independent<C: Checkpointer + ?Sized>(saver: &C) {
    let src = source(saver).await;
    let dst = thread("copy-dst");
    copy_ok(saver, &src, &dst).await;
    let head = must_get(saver, &dst, "", None).await;
    let next = child(&head.checkpoint)
        .snapshot("step", json!(3))
        .put_ok(saver)
        .await;
    assert_eq!(
        must_get(saver, &src, "", None).await.checkpoint.id,
        head.checkpoint.id,
        "advancing the copy should not move the source"
    );
    saver
        .delete_thread(&src)
        .await
        .unwrap_or_else(|e| panic!("delete_thread failed: {e}"));
    let got = must_get(saver, &dst, "", None).await;
    assert_eq!(got.checkpoint.id, next.id);
    assert_eq!(
        value(&got, "keep"),
        json!("from the first"),
        "a carried channel of the copy should load after the source is deleted"
    );
    assert_eq!(list_ok(saver, &all(&dst)).await.len(), 5);
}
