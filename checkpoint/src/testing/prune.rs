//! `prune`: retention policies (LangGraph's 8 PRUNE cases, plus delta chains and continuing a
//! pruned thread).
//!
//! `KeepLatest` keeps the latest checkpoint of each namespace with its pending writes and
//! every blob it needs — including blobs written by pruned ancestors (carried channels and
//! delta chains) — so the kept checkpoint still loads. `Delete` deletes the threads.

use serde_json::json;

use crate::{Checkpointer, ListQuery, Prune, ThreadId};

use super::fixtures::*;

async fn prune_ok<C: Checkpointer + ?Sized>(saver: &C, threads: &[ThreadId], policy: Prune) {
    saver.prune(threads, policy).await.unwrap_or_else(|e| {
        panic!("prune({threads:?}, {policy:?}) should succeed, but failed: {e}")
    });
}

/// `KeepLatest` on one thread keeps only its last checkpoint, which still loads.
pub async fn keep_latest_single_thread<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("prune-one");
    let chain = linear(saver, &t, "", 4).await;
    prune_ok(saver, std::slice::from_ref(&t), Prune::KeepLatest).await;
    let got = list_ok(saver, &ListQuery::thread(t.clone())).await;
    assert_eq!(
        ids(&got),
        [chain[3].id],
        "only the latest checkpoint should remain"
    );
    assert!(get_ok(saver, &t, "", Some(chain[0].id)).await.is_none());
    assert_eq!(
        value(&must_get(saver, &t, "", None).await, "step"),
        json!(3)
    );
}

/// `KeepLatest` on several threads keeps each one's own last checkpoint.
pub async fn keep_latest_multiple_threads<C: Checkpointer + ?Sized>(saver: &C) {
    let t1 = thread("prune-multi-1");
    let t2 = thread("prune-multi-2");
    let c1 = linear(saver, &t1, "", 3).await;
    let c2 = linear(saver, &t2, "", 2).await;
    prune_ok(saver, &[t1.clone(), t2.clone()], Prune::KeepLatest).await;
    assert_eq!(
        ids(&list_ok(saver, &ListQuery::thread(t1)).await),
        [c1[2].id]
    );
    assert_eq!(
        ids(&list_ok(saver, &ListQuery::thread(t2)).await),
        [c2[1].id]
    );
}

/// `KeepLatest` keeps the latest checkpoint of each namespace.
pub async fn keep_latest_across_namespaces<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("prune-ns");
    let root = linear(saver, &t, "", 3).await;
    let sub = linear(saver, &t, "child:1", 2).await;
    prune_ok(saver, std::slice::from_ref(&t), Prune::KeepLatest).await;
    let got = list_ok(saver, &ListQuery::thread(t.clone())).await;
    assert_eq!(
        ids(&got),
        [sub[1].id, root[2].id],
        "the latest of each namespace should remain"
    );
    assert_eq!(
        value(&must_get(saver, &t, "child:1", None).await, "step"),
        json!(1)
    );
}

/// The kept checkpoint keeps its pending writes; pruned checkpoints' writes go.
pub async fn keep_latest_keeps_writes<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("prune-writes");
    let chain = linear(saver, &t, "", 3).await;
    put_writes_ok(saver, &chain[1], vec![write(task(), 0, "ch", json!("old"))]).await;
    let task = task();
    put_writes_ok(
        saver,
        &chain[2],
        vec![
            write(task, 0, "ch", json!("val")),
            error_write(task, "failed"),
        ],
    )
    .await;
    prune_ok(saver, std::slice::from_ref(&t), Prune::KeepLatest).await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(
        writes(&got),
        [
            (task, -1, "__error__".to_owned(), json!("failed")),
            (task, 0, "ch".to_owned(), json!("val"))
        ],
        "the kept checkpoint should keep its writes"
    );
}

/// `KeepLatest` keeps every blob the kept checkpoint needs: a channel carried from the first
/// checkpoint and a delta chain snapshot → delta → delta. The kept checkpoint returns the
/// same blobs as before.
pub async fn keep_latest_keeps_delta_chain<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("prune-chain");
    let [_, _, cp3] = counter_chain(saver, &t, 7).await;
    let task = task();
    put_writes_ok(
        saver,
        &cp3,
        vec![write(task, 0, "log", json!({"reduce": ["e"]}))],
    )
    .await;
    let before = must_get(saver, &t, "", None).await;
    prune_ok(saver, std::slice::from_ref(&t), Prune::KeepLatest).await;
    let after = must_get(saver, &t, "", None).await;
    assert_eq!(after.checkpoint.id, cp3.id);
    let blobs = |tuple: &crate::CheckpointTuple| -> Vec<_> {
        tuple
            .channels
            .iter()
            .flat_map(|(c, bs)| {
                bs.iter()
                    .map(move |b| (c.clone(), b.version, b.kind, decode(&b.data)))
            })
            .collect()
    };
    assert_eq!(
        blobs(&after),
        blobs(&before),
        "the kept checkpoint should return the same blobs (the delta chain and the carried count)"
    );
    assert_eq!(after.pending_writes.len(), 1, "and keep its pending writes");
    assert_eq!(list_ok(saver, &ListQuery::thread(t)).await.len(), 1);
}

/// A pruned thread continues: a put whose parent is the kept checkpoint succeeds and loads
/// the channels it carries.
pub async fn keep_latest_then_advance<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("prune-advance");
    let first = checkpoint(&t, "")
        .snapshot("keep", json!("carried"))
        .put_ok(saver)
        .await;
    let mut head = first;
    for n in 0..3 {
        head = child(&head).snapshot("n", json!(n)).put_ok(saver).await;
    }
    prune_ok(saver, std::slice::from_ref(&t), Prune::KeepLatest).await;
    let next = child(&head).snapshot("n", json!(3)).put_ok(saver).await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.id, next.id);
    assert_eq!(value(&got, "keep"), json!("carried"));
    assert_eq!(value(&got, "n"), json!(3));
    assert_eq!(list_ok(saver, &ListQuery::thread(t)).await.len(), 2);
}

/// `Delete` leaves nothing.
pub async fn delete_removes_all<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("prune-delete");
    linear(saver, &t, "", 3).await;
    linear(saver, &t, "child:1", 1).await;
    prune_ok(saver, std::slice::from_ref(&t), Prune::Delete).await;
    assert!(
        list_ok(saver, &ListQuery::thread(t.clone()))
            .await
            .is_empty()
    );
    assert!(get_ok(saver, &t, "", None).await.is_none());
    assert!(get_ok(saver, &t, "child:1", None).await.is_none());
}

/// Threads not named keep an identical history.
pub async fn other_threads_untouched<C: Checkpointer + ?Sized>(saver: &C) {
    let pruned = thread("prune-target");
    let other = thread("prune-other");
    linear(saver, &pruned, "", 3).await;
    let kept = linear(saver, &other, "", 3).await;
    for policy in [Prune::KeepLatest, Prune::Delete] {
        prune_ok(saver, std::slice::from_ref(&pruned), policy).await;
        let got = list_ok(saver, &ListQuery::thread(other.clone())).await;
        assert_eq!(
            ids(&got),
            checkpoint_ids(&kept).into_iter().rev().collect::<Vec<_>>(),
            "prune {policy:?} of another thread should leave this one whole"
        );
    }
}

/// Pruning an empty list changes nothing.
pub async fn empty_list_is_noop<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("prune-empty");
    linear(saver, &t, "", 3).await;
    prune_ok(saver, &[], Prune::KeepLatest).await;
    prune_ok(saver, &[], Prune::Delete).await;
    assert_eq!(list_ok(saver, &ListQuery::thread(t)).await.len(), 3);
}

/// Threads that do not exist are skipped, alongside one that does.
pub async fn nonexistent_thread_is_noop<C: Checkpointer + ?Sized>(saver: &C) {
    let missing = thread("prune-missing");
    let t = thread("prune-real");
    let chain = linear(saver, &t, "", 2).await;
    prune_ok(saver, std::slice::from_ref(&missing), Prune::KeepLatest).await;
    prune_ok(saver, std::slice::from_ref(&missing), Prune::Delete).await;
    prune_ok(saver, &[missing.clone(), t.clone()], Prune::KeepLatest).await;
    assert_eq!(
        ids(&list_ok(saver, &ListQuery::thread(t)).await),
        [chain[1].id]
    );
    assert!(get_ok(saver, &missing, "", None).await.is_none());
}
