//! `apply_retention` over the contract: the sweep of a retention policy, built on
//! `list_threads(updated_before, status)` and `prune`, gives the same result on every backend.
//!
//! A sweep reaches every thread of the store, so these cases date their threads in 1990 and
//! sweep as of 1990: no other case's threads are that old, and the cases delete their own
//! threads when they end.

use std::time::{Duration, SystemTime};

use crate::{
    Checkpoint, Checkpointer, ListQuery, Retention, ThreadId, apply_retention, from_micros,
};

use super::fixtures::*;

const DAY: Duration = Duration::from_secs(86_400);

/// 1990-06-01T00:00:00Z, the time the sweeps run at.
fn june_1990() -> SystemTime {
    from_micros(644_198_400_000_000)
}

/// A thread of three checkpoints, all written at `at`; finished or still scheduled.
async fn dated<C: Checkpointer + ?Sized>(
    saver: &C,
    thread_id: &ThreadId,
    at: SystemTime,
    finished: bool,
) -> Vec<Checkpoint> {
    let mut chain = vec![checkpoint(thread_id, "").created_at(at).put_ok(saver).await];
    for n in 0..2 {
        let last = chain.last().expect("one checkpoint");
        let step = child(last).created_at(at);
        let step = if finished || n == 0 {
            step
        } else {
            step.next(&["n"])
        };
        chain.push(step.put_ok(saver).await);
    }
    chain
}

async fn count<C: Checkpointer + ?Sized>(saver: &C, thread_id: &ThreadId) -> usize {
    saver
        .list(&ListQuery::thread(thread_id.clone()))
        .await
        .expect("list should succeed")
        .len()
}

/// Old finished threads are deleted, old unfinished ones keep only their latest checkpoint,
/// recent ones are untouched; a dry run reports the same and changes nothing; two sweeps at
/// once end where one does; batches of one walk every thread.
pub async fn deletes_finished_and_keeps_latest_of_old<C: Checkpointer + ?Sized>(saver: &C) {
    let base = thread("retention");
    let ids: Vec<ThreadId> = ["old-finished", "old-pending", "new-finished", "new-pending"]
        .iter()
        .map(|name| ThreadId::new(format!("{base}-{name}")))
        .collect();
    let old = june_1990() - 60 * DAY;
    let recent = june_1990() - DAY;
    dated(saver, &ids[0], old, true).await;
    let pending = dated(saver, &ids[1], old, false).await;
    dated(saver, &ids[2], recent, true).await;
    dated(saver, &ids[3], recent, false).await;
    let policy = Retention {
        delete_finished_after: Some(30 * DAY),
        keep_latest_after: Some(30 * DAY),
        batch: 1,
    };
    let own = |found: &[ThreadId]| -> Vec<ThreadId> {
        found
            .iter()
            .filter(|t| t.as_str().starts_with(base.as_str()))
            .cloned()
            .collect()
    };

    let dry = apply_retention(saver, &policy, june_1990(), true)
        .await
        .expect("a dry run should succeed");
    assert!(dry.dry_run);
    assert_eq!(
        own(&dry.deleted),
        [ids[0].clone()],
        "the dry run's deletions"
    );
    assert_eq!(own(&dry.pruned), [ids[1].clone()], "the dry run's prunes");
    for id in &ids {
        assert_eq!(
            count(saver, id).await,
            3,
            "a dry run must not change `{id}`"
        );
    }

    let (a, b) = futures::join!(
        apply_retention(saver, &policy, june_1990(), false),
        apply_retention(saver, &policy, june_1990(), false),
    );
    let (a, b) = (a.expect("a sweep"), b.expect("a concurrent sweep"));
    assert!(
        own(&a.deleted).len() + own(&b.deleted).len() >= 1,
        "one of the sweeps should report the deletion"
    );
    assert_eq!(
        count(saver, &ids[0]).await,
        0,
        "the old finished thread is deleted"
    );
    assert_eq!(
        count(saver, &ids[1]).await,
        1,
        "the old pending thread keeps one"
    );
    let kept = get_ok(saver, &ids[1], "", None).await;
    assert_eq!(
        kept.map(|t| t.checkpoint.id),
        Some(pending[2].id),
        "the one kept is the latest"
    );
    assert_eq!(
        count(saver, &ids[2]).await,
        3,
        "a recent finished thread stays whole"
    );
    assert_eq!(
        count(saver, &ids[3]).await,
        3,
        "a recent pending thread stays whole"
    );

    for id in &ids {
        saver
            .delete_thread(id)
            .await
            .expect("cleanup should succeed");
    }
}
