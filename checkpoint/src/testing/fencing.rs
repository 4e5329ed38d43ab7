//! Ownership of a thread: [`Checkpointer::claim`] hands out growing epochs, and a put or
//! put_writes carrying an epoch that is no longer the thread's is refused with
//! [`CheckpointError::Fenced`] and stores nothing. So a process that resumes a thread never
//! loses to a write still in flight from a dead one.

use serde_json::json;

use super::fixtures::*;
use crate::{CheckpointError, Checkpointer, Epoch, ListQuery, ThreadQuery};

#[track_caller]
fn expect_fenced<T: std::fmt::Debug>(
    result: Result<T, CheckpointError>,
    epoch: Epoch,
    current: Option<Epoch>,
    what: &str,
) {
    match result {
        Err(CheckpointError::Fenced {
            epoch: got_epoch,
            current: got_current,
            ..
        }) => {
            assert_eq!(
                got_epoch, epoch,
                "{what}: the error names the write's epoch"
            );
            assert_eq!(
                got_current, current,
                "{what}: the error names the thread's epoch"
            );
        }
        other => panic!("{what} should be refused with CheckpointError::Fenced, got {other:?}"),
    }
}

async fn claim_ok<C: Checkpointer + ?Sized>(saver: &C, t: &crate::ThreadId) -> Epoch {
    saver
        .claim(t)
        .await
        .unwrap_or_else(|e| panic!("claim of thread `{t}` should succeed, but failed: {e}"))
}

/// Each claim returns a greater epoch. Claiming a thread with no checkpoint is allowed and does
/// not make it a thread with checkpoints.
pub async fn claims_grow<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-grow");
    let mut last = claim_ok(saver, &t).await;
    for _ in 0..5 {
        let next = claim_ok(saver, &t).await;
        assert!(next > last, "epoch {next} should be greater than {last}");
        last = next;
    }
    assert!(get_ok(saver, &t, "", None).await.is_none());
    assert!(
        list_ok(saver, &ListQuery::thread(t.clone()))
            .await
            .is_empty()
    );
    let threads = saver.list_threads(&ThreadQuery::default()).await.unwrap();
    assert!(
        threads.iter().all(|info| info.thread_id != t),
        "a claimed thread without checkpoints is not listed"
    );
}

/// The owner's puts and writes go through; after another claim, the old owner's put, put_writes
/// and fork are each refused, naming both epochs, and store nothing.
pub async fn stale_epoch_is_fenced_and_stores_nothing<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-stale");
    let old = claim_ok(saver, &t).await;
    let root = checkpoint(&t, "")
        .epoch(old)
        .snapshot("count", json!(1))
        .put_ok(saver)
        .await;
    saver
        .put_writes(
            &t,
            "",
            root.id,
            vec![write(task(), 0, "count", json!(2))],
            Some(old),
        )
        .await
        .unwrap_or_else(|e| panic!("the owner's writes should be stored: {e}"));
    let new = claim_ok(saver, &t).await;
    expect_fenced(
        child(&root)
            .epoch(old)
            .snapshot("count", json!(9))
            .put(saver)
            .await,
        old,
        Some(new),
        "a put with the old epoch",
    );
    expect_fenced(
        saver
            .put_writes(
                &t,
                "",
                root.id,
                vec![write(task(), 0, "count", json!(9))],
                Some(old),
            )
            .await,
        old,
        Some(new),
        "put_writes with the old epoch",
    );
    expect_fenced(
        checkpoint(&t, "")
            .epoch(old)
            .parent(Some(root.id))
            .fork()
            .put(saver)
            .await,
        old,
        Some(new),
        "a fork with the old epoch",
    );
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(
        got.checkpoint.id, root.id,
        "no fenced checkpoint was stored"
    );
    assert_eq!(got.pending_writes.len(), 1, "no fenced write was stored");
    child(&root).epoch(new).put_ok(saver).await;
}

/// A write carrying an epoch on a thread nobody claimed is refused (naming no current epoch);
/// a write without an epoch is not checked.
pub async fn unclaimed_thread_refuses_epochs<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-unclaimed");
    let made_up = Epoch::next_after(None);
    expect_fenced(
        checkpoint(&t, "").epoch(made_up).put(saver).await,
        made_up,
        None,
        "a put",
    );
    let root = checkpoint(&t, "").put_ok(saver).await;
    let owner = claim_ok(saver, &t).await;
    child(&root).put_ok(saver).await;
    let latest = must_get(saver, &t, "", None).await.checkpoint;
    child(&latest).epoch(owner).put_ok(saver).await;
}

/// Deleting a thread forgets its owner: an old owner's write is refused, and the next claim is
/// still greater than every epoch handed out before.
pub async fn delete_forgets_the_owner<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-delete");
    let old = claim_ok(saver, &t).await;
    checkpoint(&t, "").epoch(old).put_ok(saver).await;
    saver.delete_thread(&t).await.unwrap();
    expect_fenced(
        checkpoint(&t, "").epoch(old).put(saver).await,
        old,
        None,
        "a put after delete",
    );
    let next = claim_ok(saver, &t).await;
    assert!(
        next > old,
        "epoch {next} after a delete should exceed {old}"
    );
}

/// A copy does not carry the source's owner: the source's epoch cannot write to the copy.
pub async fn copy_does_not_carry_the_owner<C: Checkpointer + ?Sized>(saver: &C) {
    let from = thread("fence-copy-from");
    let to = thread("fence-copy-to");
    let owner = claim_ok(saver, &from).await;
    let root = checkpoint(&from, "").epoch(owner).put_ok(saver).await;
    saver.copy_thread(&from, &to).await.unwrap();
    let copied = must_get(saver, &to, "", None).await.checkpoint;
    assert_eq!(copied.id, root.id);
    expect_fenced(
        child(&copied).epoch(owner).put(saver).await,
        owner,
        None,
        "a put on the copy",
    );
    child(&root).epoch(owner).put_ok(saver).await;
}

/// Many writers each claim the thread and try to advance it from the same checkpoint: exactly
/// one succeeds; every other is refused as fenced (a later claim) or as a conflict (the head
/// moved), and the history does not fork.
pub async fn racing_owners_exactly_one_wins<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-race");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let outcomes = futures::future::join_all((0..8).map(|_| {
        let t = t.clone();
        let root = root.clone();
        async move {
            let epoch = saver.claim(&t).await?;
            child(&root).epoch(epoch).put(saver).await
        }
    }))
    .await;
    let mut won = 0;
    for outcome in outcomes {
        match outcome {
            Ok(_) => won += 1,
            Err(CheckpointError::Fenced { .. } | CheckpointError::Conflict { .. }) => {}
            Err(other) => panic!("a losing writer should be fenced or in conflict, got {other}"),
        }
    }
    assert_eq!(won, 1, "exactly one writer advances the thread");
    let history = list_ok(saver, &ListQuery::thread(t)).await;
    assert_eq!(history.len(), 2, "the root and one child, no fork");
}

/// Claims from many tasks at once each get a distinct epoch.
pub async fn concurrent_claims_are_distinct<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-distinct");
    let epochs = futures::future::join_all((0..16).map(|_| saver.claim(&t))).await;
    let mut epochs: Vec<Epoch> = epochs.into_iter().map(|e| e.unwrap()).collect();
    let claimed = epochs.len();
    epochs.sort();
    epochs.dedup();
    assert_eq!(epochs.len(), claimed, "every claim got its own epoch");
}

#[track_caller]
fn expect_superseded<T: std::fmt::Debug>(
    result: Result<T, CheckpointError>,
    expected: Option<Epoch>,
    current: Option<Epoch>,
    what: &str,
) {
    match result {
        Err(CheckpointError::Superseded {
            expected: got_expected,
            current: got_current,
            ..
        }) => {
            assert_eq!(
                got_expected, expected,
                "{what}: the error names the epoch it was decided on"
            );
            assert_eq!(
                got_current, current,
                "{what}: the error names the thread's epoch"
            );
        }
        other => {
            panic!("{what} should be refused with CheckpointError::Superseded, got {other:?}")
        }
    }
}

async fn epoch_ok<C: Checkpointer + ?Sized>(saver: &C, t: &crate::ThreadId) -> Option<Epoch> {
    saver
        .epoch(t)
        .await
        .unwrap_or_else(|e| panic!("epoch of thread `{t}` should be readable, but failed: {e}"))
}

/// `epoch` reads the last claim's epoch without changing it: none before the first claim and
/// after a delete.
pub async fn epoch_reads_the_last_claim<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-read");
    assert_eq!(epoch_ok(saver, &t).await, None, "a thread never claimed");
    checkpoint(&t, "").put_ok(saver).await;
    assert_eq!(epoch_ok(saver, &t).await, None, "a put does not claim");
    let first = claim_ok(saver, &t).await;
    assert_eq!(epoch_ok(saver, &t).await, Some(first));
    assert_eq!(
        epoch_ok(saver, &t).await,
        Some(first),
        "reading changes nothing"
    );
    let second = claim_ok(saver, &t).await;
    assert_eq!(epoch_ok(saver, &t).await, Some(second));
    saver.delete_thread(&t).await.unwrap();
    assert_eq!(epoch_ok(saver, &t).await, None, "a deleted thread has none");
}

/// A claim from the thread's epoch takes it over — a greater epoch, which fences the old one —
/// and stores its writes with it; a thread never claimed is claimed from none.
pub async fn claim_if_from_the_current_epoch_stores_its_writes<C: Checkpointer + ?Sized>(
    saver: &C,
) {
    let t = thread("fence-if");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let answer = task();
    let first = saver
        .claim_if(
            &t,
            None,
            "",
            root.id,
            vec![write(answer, -3, "__resume__", json!({"0": "yes"}))],
        )
        .await
        .unwrap_or_else(|e| panic!("a claim from no epoch on an unclaimed thread: {e}"));
    assert_eq!(epoch_ok(saver, &t).await, Some(first));
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(
        writes(&got),
        vec![(answer, -3, "__resume__".to_owned(), json!({"0": "yes"}))],
        "the writes are stored with the claim"
    );
    let second = saver
        .claim_if(
            &t,
            Some(first),
            "",
            root.id,
            vec![write(answer, 0, "count", json!(2))],
        )
        .await
        .unwrap_or_else(|e| panic!("a claim from the current epoch: {e}"));
    assert!(
        second > first,
        "epoch {second} should be greater than {first}"
    );
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.pending_writes.len(), 2, "both claims' writes are kept");
    expect_fenced(
        child(&root).epoch(first).put(saver).await,
        first,
        Some(second),
        "a put with the epoch the conditional claim replaced",
    );
    child(&root).epoch(second).put_ok(saver).await;
    let empty = saver
        .claim_if(&t, Some(second), "", root.id, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("a claim without writes: {e}"));
    assert!(empty > second);
}

/// A claim from an epoch that is no longer the thread's (or from none, on a claimed thread)
/// is refused with `Superseded`, naming both epochs, and changes nothing: no writes, same epoch.
pub async fn claim_if_from_another_epoch_changes_nothing<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-if-stale");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let old = claim_ok(saver, &t).await;
    let new = claim_ok(saver, &t).await;
    expect_superseded(
        saver
            .claim_if(
                &t,
                Some(old),
                "",
                root.id,
                vec![write(task(), 0, "count", json!(9))],
            )
            .await,
        Some(old),
        Some(new),
        "a claim from a replaced epoch",
    );
    expect_superseded(
        saver
            .claim_if(
                &t,
                None,
                "",
                root.id,
                vec![write(task(), 0, "count", json!(9))],
            )
            .await,
        None,
        Some(new),
        "a claim from no epoch on a claimed thread",
    );
    assert_eq!(
        epoch_ok(saver, &t).await,
        Some(new),
        "the epoch did not change"
    );
    let got = must_get(saver, &t, "", None).await;
    assert!(got.pending_writes.is_empty(), "no refused write was stored");
    let other = thread("fence-if-none");
    expect_superseded(
        saver
            .claim_if(&other, Some(new), "", root.id, Vec::new())
            .await,
        Some(new),
        None,
        "a claim from an epoch on a thread never claimed",
    );
    assert_eq!(epoch_ok(saver, &other).await, None);
}

/// Many writers claim from the same epoch at once, each with its own write: exactly one
/// succeeds, and only its write is stored.
pub async fn racing_conditional_claims_exactly_one_wins<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-if-race");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let from = claim_ok(saver, &t).await;
    let outcomes = futures::future::join_all((0..8).map(|i| {
        let t = t.clone();
        async move {
            let mine = write(task(), 0, "answer", json!(i));
            saver
                .claim_if(&t, Some(from), "", root.id, vec![mine.clone()])
                .await
                .map(|e| (e, mine))
        }
    }))
    .await;
    let mut won = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(win) => won.push(win),
            Err(CheckpointError::Superseded { .. }) => {}
            Err(other) => panic!("a losing claim should be superseded, got {other}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one claim from one epoch succeeds");
    let (epoch, mine) = won.pop().expect("one winner");
    assert_eq!(epoch_ok(saver, &t).await, Some(epoch));
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(
        got.pending_writes,
        vec![mine],
        "only the winner's write is stored"
    );
}

/// A delete decided on an epoch happens only while the thread still has it: after another
/// claim it is refused with `Superseded` and the thread stays whole.
pub async fn delete_thread_if_only_from_the_current_epoch<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("fence-delete-if");
    let root = checkpoint(&t, "").put_ok(saver).await;
    saver
        .delete_thread_if(&t, Some(Epoch::next_after(None)))
        .await
        .expect_err("a delete from an epoch the thread never had is refused");
    assert!(
        get_ok(saver, &t, "", None).await.is_some(),
        "the thread stays"
    );
    let seen = claim_ok(saver, &t).await;
    let later = claim_ok(saver, &t).await;
    child(&root).epoch(later).put_ok(saver).await;
    expect_superseded(
        saver.delete_thread_if(&t, Some(seen)).await,
        Some(seen),
        Some(later),
        "a delete decided before another claim",
    );
    expect_superseded(
        saver.delete_thread_if(&t, None).await,
        None,
        Some(later),
        "a delete from no epoch on a claimed thread",
    );
    let kept = list_ok(saver, &ListQuery::thread(t.clone())).await;
    assert_eq!(kept.len(), 2, "nothing of the thread was deleted");
    saver
        .delete_thread_if(&t, Some(later))
        .await
        .unwrap_or_else(|e| panic!("a delete from the current epoch: {e}"));
    assert!(
        get_ok(saver, &t, "", None).await.is_none(),
        "the thread is gone"
    );
    assert_eq!(epoch_ok(saver, &t).await, None);
    let never = thread("fence-delete-if-none");
    checkpoint(&never, "").put_ok(saver).await;
    saver
        .delete_thread_if(&never, None)
        .await
        .unwrap_or_else(|e| panic!("a delete from no epoch on a thread never claimed: {e}"));
    assert!(get_ok(saver, &never, "", None).await.is_none());
}
