//! Optimistic concurrency on `put`: an [`Advance`](crate::PutMode::Advance) put must continue
//! the latest checkpoint of its thread and namespace, or fail with
//! [`CheckpointError::Conflict`] and store nothing; a [`Fork`](crate::PutMode::Fork) may start
//! from any existing checkpoint and becomes the latest.
//!
//! LangGraph has no such check (two writers silently fork a thread's history); these cases
//! pin stategraph's.

use serde_json::json;

use crate::{Checkpoint, CheckpointError, CheckpointId, Checkpointer, ListQuery};

use super::fixtures::*;

#[track_caller]
fn expect_conflict(
    result: Result<Checkpoint, CheckpointError>,
    at: &Checkpoint,
    expected: Option<CheckpointId>,
    latest: Option<CheckpointId>,
) {
    match result {
        Err(CheckpointError::Conflict {
            thread_id,
            ns,
            expected: e,
            latest: l,
        }) => {
            assert_eq!(thread_id, at.thread_id, "Conflict should name the thread");
            assert_eq!(ns, at.ns, "Conflict should name the namespace");
            assert_eq!(e, expected, "Conflict.expected should be the put's parent");
            assert_eq!(
                l, latest,
                "Conflict.latest should be the thread's latest checkpoint"
            );
        }
        Err(e) => panic!(
            "a put continuing {expected:?} while the latest is {latest:?} should fail with Conflict, got: {e}"
        ),
        Ok(cp) => panic!(
            "a put continuing {expected:?} while the latest is {latest:?} should fail with Conflict, but checkpoint {} was stored",
            cp.id
        ),
    }
}

/// An Advance put whose parent is an older checkpoint (not the latest) fails with `Conflict`
/// naming the thread, namespace, the expected parent and the actual latest.
pub async fn stale_parent_conflicts<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-stale");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let head = child(&root).put_ok(saver).await;
    let stale = child(&root);
    let at = stale.checkpoint().clone();
    expect_conflict(stale.put(saver).await, &at, Some(root.id), Some(head.id));
}

/// A conflicting put stores nothing: its checkpoint is not found, the latest is unchanged,
/// listings do not show it, its writes' checkpoint does not exist, and its blob was not
/// kept (a later successful put of the same id and channel reads its own value).
pub async fn stale_parent_stores_nothing<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-nothing");
    let root = checkpoint(&t, "")
        .snapshot("a", json!("root"))
        .put_ok(saver)
        .await;
    let head = child(&root).put_ok(saver).await;
    let stale = child(&root)
        .snapshot("a", json!("loser"))
        .snapshot("b", json!("loser"));
    let loser = stale.checkpoint().id;
    assert!(stale.put(saver).await.is_err(), "the stale put should fail");
    assert!(
        get_ok(saver, &t, "", Some(loser)).await.is_none(),
        "the conflicting checkpoint should not be stored"
    );
    assert_eq!(must_get(saver, &t, "", None).await.checkpoint.id, head.id);
    assert_eq!(
        ids(&list_ok(saver, &ListQuery::thread(t.clone())).await),
        [head.id, root.id]
    );
    // Retry correctly under the same id: the loser's blobs must not shadow the new values.
    let retry = child(&head)
        .id(loser)
        .snapshot("a", json!("winner"))
        .snapshot("b", json!("winner"))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(retry.id)).await;
    assert_eq!(
        value(&got, "a"),
        json!("winner"),
        "a failed put's blob should not have been stored"
    );
    assert_eq!(value(&got, "b"), json!("winner"));
}

/// A first put (parent `None`) on a thread that already has checkpoints conflicts:
/// `expected: None`, `latest: Some(head)`.
pub async fn first_put_on_existing_thread_conflicts<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-first");
    let head = checkpoint(&t, "").put_ok(saver).await;
    let again = checkpoint(&t, "");
    let at = again.checkpoint().clone();
    expect_conflict(again.put(saver).await, &at, None, Some(head.id));
    assert_eq!(
        ids(&list_ok(saver, &ListQuery::thread(t)).await),
        [head.id],
        "nothing should be added"
    );
}

/// An Advance put naming a parent on an empty thread conflicts: `expected: Some(parent)`,
/// `latest: None`.
pub async fn missing_parent_in_advance_conflicts<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-empty");
    let ghost = CheckpointId::new();
    let put = checkpoint(&t, "").parent(Some(ghost));
    let at = put.checkpoint().clone();
    expect_conflict(put.put(saver).await, &at, Some(ghost), None);
    assert!(get_ok(saver, &t, "", None).await.is_none());
}

/// The check is per namespace: a first put in namespace `sub` of a thread with root
/// checkpoints succeeds, and a stale put in `sub` conflicts naming `sub`.
pub async fn conflict_is_per_namespace<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-ns");
    let root = linear(saver, &t, "", 2).await;
    let sub = checkpoint(&t, "sub").put_ok(saver).await;
    let sub2 = child(&sub).put_ok(saver).await;
    let stale = child(&sub);
    let at = stale.checkpoint().clone();
    expect_conflict(stale.put(saver).await, &at, Some(sub.id), Some(sub2.id));
    child(&root[1]).put_ok(saver).await;
}

/// A Fork from an older checkpoint succeeds and becomes the latest; Advance then continues
/// the fork, and continuing the abandoned head conflicts.
pub async fn fork_from_older_becomes_latest<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-fork");
    let chain = linear(saver, &t, "", 3).await;
    let fork = child(&chain[0])
        .fork()
        .snapshot("step", json!("forked"))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.id, fork.id, "the fork should be the latest");
    assert_eq!(got.checkpoint.parent_id, Some(chain[0].id));
    assert_eq!(value(&got, "step"), json!("forked"));
    let next = child(&fork).put_ok(saver).await;
    let abandoned = child(&chain[2]);
    let at = abandoned.checkpoint().clone();
    expect_conflict(
        abandoned.put(saver).await,
        &at,
        Some(chain[2].id),
        Some(next.id),
    );
    assert!(
        get_ok(saver, &t, "", Some(chain[2].id)).await.is_some(),
        "the abandoned branch stays in history"
    );
}

/// A Fork naming a parent that does not exist fails with `MissingParent` naming the thread
/// and parent, and stores nothing.
pub async fn fork_missing_parent<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-fork-missing");
    let head = checkpoint(&t, "").put_ok(saver).await;
    let ghost = CheckpointId::new();
    let fork = checkpoint(&t, "").parent(Some(ghost)).fork();
    let id = fork.checkpoint().id;
    match fork.put(saver).await {
        Err(CheckpointError::MissingParent { thread_id, parent }) => {
            assert_eq!(thread_id, t);
            assert_eq!(
                parent, ghost,
                "MissingParent should name the missing parent"
            );
        }
        Err(e) => panic!("a fork from a missing parent should fail with MissingParent, got: {e}"),
        Ok(_) => panic!("a fork from a missing parent should fail with MissingParent"),
    }
    assert!(get_ok(saver, &t, "", Some(id)).await.is_none());
    assert_eq!(must_get(saver, &t, "", None).await.checkpoint.id, head.id);
    // A parent that exists only in another namespace is missing too.
    let sub = checkpoint(&t, "sub").put_ok(saver).await;
    let cross = checkpoint(&t, "").parent(Some(sub.id)).fork();
    assert!(
        matches!(
            cross.put(saver).await,
            Err(CheckpointError::MissingParent { .. })
        ),
        "a fork's parent must exist in the fork's own namespace"
    );
}

/// A Fork without a parent (a root copied in from elsewhere) is accepted on a thread that has
/// checkpoints and becomes the latest. (The contract lets a Fork start "from any earlier
/// checkpoint, or be copied in from elsewhere"; only Advance checks the head.)
pub async fn fork_without_parent<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-fork-root");
    linear(saver, &t, "", 2).await;
    let root = checkpoint(&t, "").fork().put_ok(saver).await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.id, root.id);
    assert_eq!(got.checkpoint.parent_id, None);
}

/// Racing Advance puts with the same parent: exactly one succeeds, every other fails with
/// `Conflict` whose `latest` is the winner, and the winner is the latest. 50 rounds,
/// alternating 2 and 8 racers.
pub async fn concurrent_advance_exactly_one_wins<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("conflict-race");
    let mut head = checkpoint(&t, "").put_ok(saver).await;
    for round in 0..50 {
        let racers = if round % 2 == 0 { 2 } else { 8 };
        let builders: Vec<_> = (0..racers)
            .map(|n| child(&head).snapshot("winner", json!(n)))
            .collect();
        let results = futures::future::join_all(builders.into_iter().map(|b| b.put(saver))).await;
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for result in results {
            match result {
                Ok(cp) => winners.push(cp),
                Err(CheckpointError::Conflict {
                    expected, latest, ..
                }) => losers.push((expected, latest)),
                Err(e) => panic!(
                    "round {round}: a racing put should succeed or fail with Conflict, got: {e}"
                ),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one of {racers} racing puts with the same parent should win, {} did",
            winners.len()
        );
        let winner = winners.remove(0);
        for (expected, latest) in losers {
            assert_eq!(expected, Some(head.id));
            assert_eq!(
                latest,
                Some(winner.id),
                "round {round}: a loser's Conflict.latest should be the winner"
            );
        }
        let got = must_get(saver, &t, "", None).await;
        assert_eq!(
            got.checkpoint.id, winner.id,
            "round {round}: the winner is the latest"
        );
        head = winner;
    }
    assert_eq!(list_ok(saver, &ListQuery::thread(t)).await.len(), 51);
}
