//! Moving a thread between checkpointers — MemorySaver → SQLite → PostgreSQL → Redis — with
//! its ids, history, forks, namespaces, delta chains and pending writes; it resumes on the
//! destination to the state an uninterrupted run reaches, and a thread that exists there is
//! never overwritten.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod support;

use serde::{Deserialize, Serialize};
use stategraph::testing::fixtures::checkpoint;
use stategraph::{
    CheckpointError, CheckpointTuple, Checkpointer, ListQuery, MemorySaver, NodeResult, State,
    ThreadId, transfer_thread,
};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Work {
    rounds: u32,
    #[state(reducer = append)]
    log: Vec<String>,
}

/// `right` fails while this is set, leaving `left`'s write pending.
static FAIL: AtomicBool = AtomicBool::new(false);

#[stategraph::graph(state = Work)]
mod work {
    use super::*;

    #[node]
    async fn fan(_: &Work) -> NodeResult<Work> {
        Ok(WorkUpdate::new())
    }

    #[node]
    async fn left(s: &Work) -> NodeResult<Work> {
        Ok(WorkUpdate::new().push_log(format!("left {}", s.rounds)))
    }

    #[node]
    async fn right(s: &Work) -> NodeResult<Work> {
        if FAIL.load(Ordering::SeqCst) {
            return Err("right is down".into());
        }
        Ok(WorkUpdate::new().push_log(format!("right {}", s.rounds)))
    }

    #[node]
    async fn tally(s: &Work) -> NodeResult<Work> {
        Ok(WorkUpdate::new().rounds(s.rounds + 1))
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn next(s: &Work) -> Next {
        if s.rounds < 4 {
            Next::Again
        } else {
            Next::Done
        }
    }

    edges! {
        START -> fan -> [left, right] -> tally;
        tally -> next { Again => fan, Done => END };
    }
}

/// Everything a thread holds, as the backend returns it, oldest first.
async fn everything(saver: &dyn Checkpointer, thread: &ThreadId) -> Vec<CheckpointTuple> {
    let mut all = saver
        .list(&ListQuery::thread(thread.clone()))
        .await
        .unwrap();
    all.reverse();
    all
}

fn same(a: &[CheckpointTuple], b: &[CheckpointTuple], hop: &str) {
    assert_eq!(a.len(), b.len(), "{hop}: every checkpoint moves");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.checkpoint, y.checkpoint, "{hop}: checkpoints equal");
        // Values as JSON: PostgreSQL's `jsonb` returns them re-spaced.
        let writes = |t: &CheckpointTuple| {
            t.pending_writes
                .iter()
                .map(|w| {
                    let value: serde_json::Value = serde_json::from_slice(&w.value).unwrap();
                    (w.task_id, w.node.clone(), w.idx, w.channel.clone(), value)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(writes(x), writes(y), "{hop}: pending writes equal");
        let values = |t: &CheckpointTuple| {
            t.channels
                .iter()
                .map(|(name, blobs)| {
                    let data: Vec<serde_json::Value> = blobs
                        .iter()
                        .map(|b| serde_json::from_slice(&b.data).unwrap())
                        .collect();
                    (name.clone(), data)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(values(x), values(y), "{hop}: channel chains equal");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_moves_across_every_backend_and_resumes_on_the_last() {
    let dir = std::env::temp_dir().join(format!("sg-transfer-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some(hops) = support::every_saver(&dir, "transfer").await else {
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    };
    let thread = ThreadId::new(format!("moving-{}", uuid_like()));
    let memory = Arc::new(MemorySaver::new());
    let graph = work::graph()
        .checkpointer(memory.clone())
        .compile()
        .unwrap();
    let run = graph.thread(thread.clone());
    run.invoke(WorkUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    // A fork from an early checkpoint, then a run whose parallel step fails half way: `left`'s
    // write is pending, `right`'s error is recorded.
    let early = run.history().await.unwrap()[5].checkpoint_id;
    run.fork(early).await.unwrap();
    FAIL.store(true, Ordering::SeqCst);
    run.resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    FAIL.store(false, Ordering::SeqCst);
    // A child namespace, as a subgraph writes one.
    checkpoint(&thread, "child:1")
        .snapshot("n", serde_json::json!(1))
        .put_ok(&*memory)
        .await;
    let source = everything(&*memory, &thread).await;
    assert!(source.iter().any(|t| !t.pending_writes.is_empty()));

    let mut from: Arc<dyn Checkpointer> = memory.clone();
    for (hop, to) in hops {
        to.delete_thread(&thread).await.unwrap();
        let moved = transfer_thread(&*from, &*to, &thread).await.unwrap();
        assert_eq!(moved.checkpoints, source.len(), "{hop}");
        same(&source, &everything(&*to, &thread).await, hop);
        // The source is left as it was, and a second move is refused.
        same(&source, &everything(&*from, &thread).await, hop);
        let again = transfer_thread(&*from, &*to, &thread).await.unwrap_err();
        assert!(
            matches!(again, CheckpointError::ThreadExists(_)),
            "{hop}: {again}"
        );
        from = to;
    }

    // On the last backend the pending run resumes to the state an uninterrupted run reaches.
    let moved = work::graph().checkpointer(from.clone()).compile().unwrap();
    let done = moved
        .thread(thread.clone())
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let reference = work::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap()
        .thread("reference");
    reference
        .invoke(WorkUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let early = reference.history().await.unwrap()[5].checkpoint_id;
    reference.fork(early).await.unwrap();
    let expected = reference
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, expected.log);
    assert_eq!(done.rounds, expected.rounds);
    from.delete_thread(&thread).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn moving_a_thread_the_source_lacks_copies_nothing() {
    let from = MemorySaver::new();
    let to = MemorySaver::new();
    let moved = transfer_thread(&from, &to, &ThreadId::new("nobody"))
        .await
        .unwrap();
    assert_eq!(moved.checkpoints, 0);
    let err = transfer_thread(&from, &to, &ThreadId::new("bad\0id"))
        .await
        .unwrap_err();
    assert!(matches!(err, CheckpointError::Limit(_)), "{err}");
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
