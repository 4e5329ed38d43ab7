//! Going back in a thread's history on purpose (a fork), and two writers advancing one thread
//! at once (a conflict, never a silent fork).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use stategraph::{CheckpointError, GraphError, MemorySaver, NodeResult, Source, State};
use tokio::sync::Notify;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Tally {
    n: u32,
    #[state(reducer = append)]
    seen: Vec<u32>,
}

#[stategraph::graph(state = Tally)]
mod counting {
    use super::*;

    #[node]
    async fn bump(s: &Tally) -> NodeResult<Tally> {
        Ok(TallyUpdate::new().n(s.n + 1).seen(vec![s.n]))
    }

    pub(super) enum Next {
        Again,
        Stop,
    }

    #[route]
    fn next(s: &Tally) -> Next {
        if s.n < 4 { Next::Again } else { Next::Stop }
    }

    edges! {
        START -> bump;
        bump -> next { Again => bump, Stop => END };
    }
}

static HOLD: AtomicBool = AtomicBool::new(false);
static ENTERED: Notify = Notify::const_new();
static RELEASE: Notify = Notify::const_new();

/// The same loop, whose first step can be held open while another writer runs.
#[stategraph::graph(state = Tally)]
mod racing {
    use super::*;

    #[node]
    async fn bump(s: &Tally) -> NodeResult<Tally> {
        if HOLD.swap(false, Ordering::SeqCst) {
            ENTERED.notify_one();
            RELEASE.notified().await;
        }
        Ok(TallyUpdate::new().n(s.n + 1).seen(vec![s.n]))
    }

    pub(super) enum Next {
        Again,
        Stop,
    }

    #[route]
    fn next(s: &Tally) -> Next {
        if s.n < 4 { Next::Again } else { Next::Stop }
    }

    edges! {
        START -> bump;
        bump -> next { Again => bump, Stop => END };
    }
}

#[tokio::test]
async fn a_fork_resumes_from_an_old_checkpoint_and_keeps_the_later_history() {
    let graph = counting::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("fork-me").with_metadata("run", "first");
    thread
        .invoke(TallyUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let history = thread.history().await.unwrap();
    assert_eq!(history.len(), 5, "the input and four steps");
    let at_step_1 = history.iter().find(|s| s.metadata.step == 1).unwrap();
    assert_eq!(at_step_1.values.n, 2);

    let thread = thread.with_metadata("run", "second");
    let fork = thread.fork(at_step_1.checkpoint_id).await.unwrap();
    let head = thread.state().await.unwrap().unwrap();
    assert_eq!(head.checkpoint_id, fork);
    assert_eq!(head.parent_id, Some(at_step_1.checkpoint_id));
    assert_eq!(head.metadata.source, Source::Fork);
    assert_eq!(head.values.n, 2);
    assert_eq!(head.next, [counting::Node::Bump]);

    let out = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(
        out.seen,
        [0, 1, 2, 3],
        "the fork replays steps 2 and 3 on the old state"
    );
    let all = thread.history().await.unwrap();
    assert_eq!(
        all.len(),
        5 + 1 + 2,
        "the old branch stays, the fork and its two steps follow"
    );
    let second = thread.history().filter("run", "second").await.unwrap();
    assert_eq!(
        second.len(),
        3,
        "the fork and its two steps carry the second run's key"
    );
    assert!(second.iter().all(|s| s.checkpoint_id >= fork));
}

#[tokio::test]
async fn forking_from_a_missing_checkpoint_is_an_error() {
    let graph = counting::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("no-such");
    let err = thread
        .fork(stategraph::CheckpointId::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Checkpoint(CheckpointError::MissingParent { .. })
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_whose_thread_was_taken_over_is_fenced_and_the_history_has_no_fork() {
    let saver = Arc::new(MemorySaver::new());
    let graph = racing::graph().checkpointer(saver).compile().unwrap();
    let first = graph.thread("race");
    let second = graph.thread("race");

    HOLD.store(true, Ordering::SeqCst);
    let slow = tokio::spawn(async move {
        first
            .invoke(TallyUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
    });
    ENTERED.notified().await; // the slow run read the head and is inside its first step
    second
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .expect("the other writer runs to the end");
    RELEASE.notify_one();

    let err = slow.await.unwrap().unwrap_err();
    match &err {
        GraphError::Checkpoint(CheckpointError::Fenced {
            thread_id,
            epoch,
            current,
        }) => {
            assert_eq!(thread_id.as_str(), "race");
            assert!(current.is_some_and(|c| c > *epoch), "{err}");
        }
        other => panic!("expected the slow run to be fenced, got {other}"),
    }
    assert!(err.to_string().contains("was taken over"), "{err}");

    let history = second.history().await.unwrap();
    let children: Vec<_> = history.iter().filter_map(|s| s.parent_id).collect();
    let mut unique = children.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        children.len(),
        "no checkpoint has two children: no fork"
    );
    assert_eq!(history[0].values.seen, [0, 1, 2, 3]);
}
