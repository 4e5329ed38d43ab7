//! Writers that do not share memory, racing on one thread: each saver here has its own view of
//! the logs, as separate processes would, on one local directory and on one S3 bucket. Lost
//! updates are detected, stale owners fenced, and a writer racing a prune or a deletion
//! neither loses a write it was told succeeded nor resurrects a deleted generation.

mod support;

use std::future::Future;
use std::sync::Arc;

use serde_json::json;
use stategraph_object_store::ObjectStoreSaver;
use stategraph_runtime::testing::fixtures::{checkpoint, child, must_get, thread};
use stategraph_runtime::{CheckpointError, Checkpointer, ListQuery, Prune, ThreadId};
use support::Moto;

/// Runs `case` with a factory of independent savers on one local directory, then on one
/// moto bucket.
async fn on_both<F, Fut>(name: &str, case: F)
where
    F: Fn(Savers) -> Fut,
    Fut: Future<Output = ()>,
{
    let (_, dir) = support::local_saver().await;
    let local = Arc::new(move || {
        let dir = dir.clone();
        Box::pin(async move { ObjectStoreSaver::local(&dir).await.unwrap() })
            as futures::future::BoxFuture<'static, ObjectStoreSaver>
    });
    case(local).await;
    let Some(moto) = Moto::start_or_skip(name) else {
        return;
    };
    let moto = Arc::new(moto);
    let s3 = Arc::new(move || {
        let moto = moto.clone();
        Box::pin(async move { moto.saver("races").await })
            as futures::future::BoxFuture<'static, ObjectStoreSaver>
    });
    case(s3).await;
}

type Savers = Arc<dyn Fn() -> futures::future::BoxFuture<'static, ObjectStoreSaver> + Send + Sync>;

#[track_caller]
fn expect_conflict<T: std::fmt::Debug>(result: Result<T, CheckpointError>, what: &str) {
    assert!(
        matches!(result, Err(CheckpointError::Conflict { .. })),
        "{what}: expected a conflict, got {result:?}"
    );
}

/// Two savers continue the same checkpoint at once, many times: exactly one wins each round,
/// the loser is told, and the history is a single line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_one_parent_exactly_one_wins() {
    on_both("racing writers", |savers: Savers| async move {
        let (a, b) = (savers().await, savers().await);
        let t = thread("os-race");
        let mut head = checkpoint(&t, "").snapshot("n", json!(0)).put_ok(&a).await;
        for round in 1..=10 {
            let mine = child(&head).snapshot("n", json!(round)).build();
            let theirs = child(&head).snapshot("n", json!(-round)).build();
            let (x, y) = tokio::join!(a.put(mine.clone()), b.put(theirs.clone()));
            let winner = match (x, y) {
                (Ok(()), Err(CheckpointError::Conflict { .. })) => mine,
                (Err(CheckpointError::Conflict { .. }), Ok(())) => theirs,
                other => panic!("round {round}: exactly one put must win, got {other:?}"),
            };
            let got = must_get(&b, &t, "", None).await;
            assert_eq!(got.checkpoint.id, winner.checkpoint.id);
            head = winner.checkpoint;
        }
        let history = a.list(&ListQuery::thread(t.clone())).await.unwrap();
        assert_eq!(history.len(), 11, "one checkpoint per round, no fork");
    })
    .await;
}

/// A saver whose view is behind (another process advanced the thread) is refused when it
/// continues the checkpoint it last saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_writer_conflicts() {
    on_both("stale writer", |savers: Savers| async move {
        let (a, b) = (savers().await, savers().await);
        let t = thread("os-stale");
        let first = checkpoint(&t, "").snapshot("n", json!(1)).put_ok(&a).await;
        assert_eq!(must_get(&b, &t, "", None).await.checkpoint.id, first.id);
        let second = child(&first).snapshot("n", json!(2)).put_ok(&b).await;
        expect_conflict(
            child(&first).snapshot("n", json!(3)).put(&a).await,
            "continuing a checkpoint another process already continued",
        );
        assert_eq!(must_get(&a, &t, "", None).await.checkpoint.id, second.id);
    })
    .await;
}

/// A claim by another process fences the first owner's puts and writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_in_another_process_fences_the_old_owner() {
    on_both("fencing across processes", |savers: Savers| async move {
        let (a, b) = (savers().await, savers().await);
        let t = thread("os-fence");
        let old = a.claim(&t).await.unwrap();
        let root = checkpoint(&t, "")
            .epoch(old)
            .snapshot("n", json!(1))
            .put_ok(&a)
            .await;
        let new = b.claim(&t).await.unwrap();
        assert!(new > old);
        let refused = child(&root)
            .epoch(old)
            .snapshot("n", json!(2))
            .put(&a)
            .await;
        assert!(
            matches!(refused, Err(CheckpointError::Fenced { current: Some(c), .. }) if c == new),
            "the old owner's put must be fenced by the new epoch, got {refused:?}"
        );
        child(&root)
            .epoch(new)
            .snapshot("n", json!(2))
            .put_ok(&b)
            .await;
    })
    .await;
}

/// A writer whose view predates a prune continues the latest checkpoint (which the prune
/// kept): its entry lands in the generation being deleted, is noticed and taken back, and the
/// put is made in the live generation, so a third process sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_racing_a_prune_lands_in_the_live_generation() {
    on_both("write racing a prune", |savers: Savers| async move {
        let (a, b, c) = (savers().await, savers().await, savers().await);
        let t = thread("os-prune-race");
        let mut head = checkpoint(&t, "").snapshot("n", json!(0)).put_ok(&a).await;
        for n in 1..5 {
            head = child(&head).snapshot("n", json!(n)).put_ok(&a).await;
        }
        b.prune(std::slice::from_ref(&t), Prune::KeepLatest)
            .await
            .unwrap();
        assert_eq!(
            b.list(&ListQuery::thread(t.clone())).await.unwrap().len(),
            1
        );
        let next = child(&head).snapshot("n", json!(5)).put_ok(&a).await;
        let got = must_get(&c, &t, "", None).await;
        assert_eq!(
            got.checkpoint.id, next.id,
            "the write is in the live generation"
        );
        assert_eq!(
            c.list(&ListQuery::thread(t.clone())).await.unwrap().len(),
            2,
            "the kept checkpoint and the new one"
        );
    })
    .await;
}

/// After another process deletes the thread, a writer that still sees the old history is
/// refused (its parent is gone), and the deletion stays: nothing old comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_thread_stays_deleted_for_stale_writers() {
    on_both("write racing a deletion", |savers: Savers| async move {
        let (a, b, c) = (savers().await, savers().await, savers().await);
        let t = thread("os-delete-race");
        let root = checkpoint(&t, "").snapshot("n", json!(0)).put_ok(&a).await;
        b.delete_thread(&t).await.unwrap();
        expect_conflict(
            child(&root).snapshot("n", json!(1)).put(&a).await,
            "continuing a deleted thread",
        );
        assert!(c.get(&t, "", None).await.unwrap().is_none());
        let fresh = checkpoint(&t, "").snapshot("n", json!(7)).put_ok(&a).await;
        assert_eq!(must_get(&c, &t, "", None).await.checkpoint.id, fresh.id);
        assert_eq!(
            c.list(&ListQuery::thread(t.clone())).await.unwrap().len(),
            1
        );
    })
    .await;
}

/// Many processes advance one thread as fast as they can, each retrying from the head on a
/// conflict and compacting the log every few entries, while another prunes it now and then:
/// every put reported as stored is in the history, which stays one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_advances_and_prunes_lose_nothing_reported() {
    on_both("advances and prunes", |savers: Savers| async move {
        let t: ThreadId = thread("os-churn");
        let seed = savers().await;
        checkpoint(&t, "")
            .snapshot("n", json!(0))
            .put_ok(&seed)
            .await;
        let writers = (0..3).map(|w| {
            let (savers, t) = (savers.clone(), t.clone());
            tokio::spawn(async move {
                // Compacting every few entries, so seals race the writes too.
                let saver = savers().await.with_compaction_after(3 + w);
                let mut stored = Vec::new();
                while stored.len() < 6 {
                    let head = must_get(&saver, &t, "", None).await.checkpoint;
                    let next = child(&head).snapshot("n", json!(w)).build();
                    match saver.put(next.clone()).await {
                        Ok(()) => stored.push(next.checkpoint.id),
                        Err(CheckpointError::Conflict { .. }) => {}
                        Err(e) => panic!("writer {w}: {e}"),
                    }
                }
                stored
            })
        });
        let pruner = {
            let (savers, t) = (savers.clone(), t.clone());
            tokio::spawn(async move {
                let saver = savers().await;
                for _ in 0..3 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    saver
                        .prune(std::slice::from_ref(&t), Prune::KeepLatest)
                        .await
                        .unwrap();
                }
            })
        };
        let mut reported = Vec::new();
        for writer in futures::future::join_all(writers).await {
            reported.extend(writer.unwrap());
        }
        pruner.await.unwrap();
        let reader = savers().await;
        let head = must_get(&reader, &t, "", None).await.checkpoint;
        reported.sort();
        assert_eq!(
            head.id,
            *reported.last().unwrap(),
            "the newest put reported stored is the head"
        );
        let history = reader.list(&ListQuery::thread(t.clone())).await.unwrap();
        for pair in history.windows(2) {
            assert_eq!(
                pair[0].checkpoint.parent_id,
                Some(pair[1].checkpoint.id),
                "the history is one line"
            );
        }
        for kept in &history {
            assert!(
                reported.contains(&kept.checkpoint.id) || kept.checkpoint.parent_id.is_none(),
                "only reported puts are stored"
            );
        }
    })
    .await;
}
