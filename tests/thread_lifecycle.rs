//! One call that runs a job to the end whatever state an earlier attempt left it in
//! (`start_or_resume`), and reading a thread at any checkpoint (`state_at`).

use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use stategraph::{GraphError, MemorySaver, NodeContext, NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Job {
    input: String,
    #[state(reducer = append)]
    done: Vec<String>,
}

/// Node runs on thread `job-42` (tests run in parallel; only one uses that thread).
static RUNS: AtomicU32 = AtomicU32::new(0);
static FAIL_ONCE: AtomicU32 = AtomicU32::new(0);

fn count(ctx: &NodeContext) {
    if ctx.thread_id().is_some_and(|t| t.as_str() == "job-42") {
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[stategraph::graph(state = Job)]
mod job {
    use super::*;

    #[node]
    async fn fetch(s: &Job, ctx: &NodeContext) -> NodeResult<Job> {
        count(ctx);
        Ok(JobUpdate::new().push_done(format!("fetched {}", s.input)))
    }

    #[node]
    async fn report(s: &Job, ctx: &NodeContext) -> NodeResult<Job> {
        count(ctx);
        if s.input == "q1" && FAIL_ONCE.swap(0, Ordering::SeqCst) == 1 {
            return Err("the report service is down".into());
        }
        Ok(JobUpdate::new().push_done(format!("reported {}", s.input)))
    }

    edges! {
        START -> fetch -> report -> END;
    }
}

#[tokio::test]
async fn start_or_resume_starts_continues_and_never_runs_a_finished_job_again() {
    let graph = job::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("job-42");

    // The first attempt fails in its second step.
    FAIL_ONCE.store(1, Ordering::SeqCst);
    let err = thread
        .start_or_resume(JobUpdate::new().input("q1"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Node { node: "report", .. }),
        "{err}"
    );
    assert_eq!(RUNS.swap(0, Ordering::SeqCst), 2);

    // The retry continues the pending run: `fetch` is not run again, the new input is not
    // applied (the job already has its input).
    let done = thread
        .start_or_resume(JobUpdate::new().input("ignored"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.input, "q1");
    assert_eq!(done.done, ["fetched q1", "reported q1"]);
    assert_eq!(RUNS.swap(0, Ordering::SeqCst), 1, "only `report` ran again");

    // A finished job returns its result without running anything.
    let again = thread
        .start_or_resume(JobUpdate::new().input("q2"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(again.done, done.done);
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);

    // `invoke` is the call for a new input on a finished thread.
    let next = thread
        .invoke(JobUpdate::new().input("q2"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(next.done.len(), 4);
}

#[tokio::test]
async fn state_at_reads_the_thread_at_any_checkpoint() {
    let graph = job::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("job-7");
    thread
        .invoke(JobUpdate::new().input("x"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let history = thread.history().await.unwrap();
    assert_eq!(history.len(), 3);
    for snapshot in &history {
        let at = thread
            .state_at(snapshot.checkpoint_id)
            .await
            .unwrap()
            .expect("every listed checkpoint is readable by id");
        assert_eq!(at.checkpoint_id, snapshot.checkpoint_id);
        assert_eq!(at.values.done, snapshot.values.done);
        assert_eq!(at.next, snapshot.next);
    }
    let oldest = history.last().unwrap();
    let first = thread
        .state_at(oldest.checkpoint_id)
        .await
        .unwrap()
        .unwrap();
    assert!(first.values.done.is_empty());
    assert_eq!(first.next, [job::Node::Fetch]);
    let missing = thread
        .state_at(stategraph::CheckpointId::new())
        .await
        .unwrap();
    assert!(missing.is_none());
}
