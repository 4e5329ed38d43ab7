//! Stopping a running graph at a step boundary (what a server does on SIGTERM): the step in
//! flight finishes and is saved, the call returns `GraphError::Stopped`, and a later resume
//! continues with nothing lost or run twice.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stategraph::{CancellationToken, GraphError, MemorySaver, NodeResult, State};
use tokio::sync::Notify;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Count {
    n: u32,
    #[state(reducer = append)]
    steps: Vec<u32>,
}

/// Notified as step 3 starts; step 3 then waits for `GO`.
static AT_THREE: Notify = Notify::const_new();
static GO: Notify = Notify::const_new();

#[stategraph::graph(state = Count)]
mod counter {
    use super::*;

    #[node]
    async fn step(s: &Count) -> NodeResult<Count> {
        if s.n == 3 {
            AT_THREE.notify_one();
            GO.notified().await;
        }
        Ok(CountUpdate::new().n(s.n + 1).push_steps(s.n))
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn next(s: &Count) -> Next {
        if s.n < 8 { Next::Again } else { Next::Done }
    }

    edges! {
        START -> step;
        step -> next { Again => step, Done => END };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_finishes_its_step_and_resumes_later() {
    let saver = Arc::new(MemorySaver::new());
    let stop = CancellationToken::new();
    let graph = counter::graph()
        .checkpointer(saver)
        .stop_on(stop.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("stopping");
    let run = {
        let thread = thread.clone();
        tokio::spawn(async move {
            thread
                .invoke(CountUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
        })
    };
    AT_THREE.notified().await;
    // SIGTERM arrives while step 3 runs: it still finishes and is saved.
    stop.cancel();
    GO.notify_one();
    let err = run.await.unwrap().unwrap_err();
    let GraphError::Stopped { checkpoint, .. } = err else {
        panic!("expected the run to stop, got {err:?}");
    };
    let saved = thread.state().await.unwrap().unwrap();
    assert_eq!(saved.checkpoint_id, checkpoint);
    assert_eq!(
        saved.values.steps,
        [0, 1, 2, 3],
        "the step in flight was saved"
    );
    assert_eq!(saved.next, [counter::Node::Step]);

    // A handle with its own, fresh token (a restarted server) resumes to the end.
    let done = graph
        .thread("stopping")
        .stop_on(CancellationToken::new())
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.steps, [0, 1, 2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn a_run_asked_to_stop_before_it_starts_saves_its_input_and_stops() {
    let stop = CancellationToken::new();
    stop.cancel();
    let graph = counter::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("stopped-early").stop_on(stop);
    let err = thread
        .invoke(CountUpdate::new().n(5))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(err, GraphError::Stopped { .. }), "{err:?}");
    assert!(err.to_string().contains("resume()"), "{err}");
    let saved = thread.state().await.unwrap().unwrap();
    assert_eq!(saved.values.n, 5);
    assert!(saved.values.steps.is_empty());
}
