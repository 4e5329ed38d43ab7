//! Error handlers: `#[node(on_error = handler)]` turns a node's failure (after its retries) into
//! a step of `handler`, which is handed the failure and decides where to go — the seed's "retry
//! count in state with a hard exit", as edges the compiler checks.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stategraph::{
    Checkpointer, GraphDef, GraphError, MemorySaver, NodeContext, NodeResult, Resume, RetryPolicy,
    State, ThreadStatus,
};

/// How many runs of `search` fail, and how often each node ran.
#[derive(Default)]
struct Searches {
    failing_runs: AtomicU32,
    search_runs: AtomicU32,
    side_runs: AtomicU32,
    /// `side` asks a question before it finishes.
    side_asks: AtomicBool,
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Research {
    retry_count: u32,
    #[state(reducer = append)]
    log: Vec<String>,
    summary: Option<String>,
}

fn two_attempts() -> RetryPolicy {
    RetryPolicy::attempts(2).backoff(Duration::from_millis(1), Duration::from_millis(1))
}

async fn search_step(ctx: &NodeContext<Searches>) -> NodeResult<Research> {
    let searches = ctx.deps();
    searches.search_runs.fetch_add(1, Ordering::SeqCst);
    let left = searches.failing_runs.load(Ordering::SeqCst);
    if left > 0 {
        searches.failing_runs.store(left - 1, Ordering::SeqCst);
        return Err("the search backend is down".into());
    }
    Ok(ResearchUpdate::new().push_log("searched"))
}

/// What a handler does: note the failure, count it.
fn recovered(s: &Research, ctx: &NodeContext<Searches>) -> NodeResult<Research> {
    let failure = ctx.failure().expect("a handler runs with the failure");
    Ok(ResearchUpdate::new()
        .retry_count(s.retry_count + 1)
        .push_log(format!(
            "{} failed at step {} after {} attempts: {}",
            failure.node, failure.step, failure.attempts, failure.error
        )))
}

#[stategraph::graph(state = Research, deps = Searches)]
mod research {
    use super::*;

    #[node(retry = two_attempts(), on_error = recover)]
    async fn search(_: &Research, ctx: &NodeContext<Searches>) -> NodeResult<Research> {
        search_step(ctx).await
    }

    #[node]
    async fn summarize(_: &Research) -> NodeResult<Research> {
        Ok(ResearchUpdate::new().summary(Some("done".to_owned())))
    }

    #[node]
    async fn recover(s: &Research, ctx: &NodeContext<Searches>) -> NodeResult<Research> {
        recovered(s, ctx)
    }

    pub enum AfterFailure {
        Retry,
        GiveUp,
    }

    #[route]
    fn after_failure(s: &Research) -> AfterFailure {
        if s.retry_count < 3 {
            AfterFailure::Retry
        } else {
            AfterFailure::GiveUp
        }
    }

    edges! {
        START -> search -> summarize -> END;
        recover -> after_failure { Retry => search, GiveUp => END };
    }
}

/// A failing node beside one that succeeds in the same step.
#[stategraph::graph(state = Research, deps = Searches)]
mod parallel {
    use super::*;

    #[node(on_error = recover)]
    async fn search(_: &Research, ctx: &NodeContext<Searches>) -> NodeResult<Research> {
        search_step(ctx).await
    }

    #[node]
    async fn side(_: &Research, ctx: &NodeContext<Searches>) -> NodeResult<Research> {
        let searches = ctx.deps();
        searches.side_runs.fetch_add(1, Ordering::SeqCst);
        if searches.side_asks.load(Ordering::SeqCst) {
            let () = ctx.interrupt("go on?").await?;
        }
        Ok(ResearchUpdate::new().push_log("side"))
    }

    #[node]
    async fn recover(s: &Research, ctx: &NodeContext<Searches>) -> NodeResult<Research> {
        recovered(s, ctx)
    }

    edges! {
        START -> [search, side];
        search -> END;
        side -> END;
        recover -> END;
    }
}

#[tokio::test]
async fn a_failure_goes_to_its_handler_which_routes_back_for_another_try() {
    let searches = Arc::new(Searches::default());
    // The first task's two attempts fail, and the first attempt of the second.
    searches.failing_runs.store(3, Ordering::SeqCst);
    let graph = research::graph(searches.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("recovers");
    let done = thread
        .invoke(ResearchUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(
        done.log,
        [
            "search failed at step 0 after 2 attempts: the search backend is down",
            "searched"
        ]
    );
    assert_eq!(done.retry_count, 1);
    assert_eq!(done.summary.as_deref(), Some("done"));
    assert_eq!(searches.search_runs.load(Ordering::SeqCst), 4);
    // The failure is on the record of the step it happened in.
    let history = thread.history().limit(20).await.unwrap();
    let failed_step = history.iter().find(|s| s.metadata.step == 0).unwrap();
    assert_eq!(failed_step.metadata.failures.len(), 1);
    assert_eq!(failed_step.metadata.failures[0].handler, "recover");
    assert_eq!(failed_step.next, [research::Node::Recover]);
}

#[tokio::test]
async fn a_node_that_keeps_failing_ends_the_run_through_the_hard_exit() {
    let searches = Arc::new(Searches::default());
    searches.failing_runs.store(u32::MAX, Ordering::SeqCst);
    let graph = research::graph(searches.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("gives-up");
    let done = thread
        .invoke(ResearchUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.retry_count, 3);
    assert_eq!(done.summary, None);
    assert_eq!(searches.search_runs.load(Ordering::SeqCst), 6);
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.status, ThreadStatus::Finished);
    assert!(state.errors.is_empty());
}

#[tokio::test]
async fn the_failure_survives_a_new_process_on_every_backend() {
    let dir = std::env::temp_dir().join(format!("sg-handlers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let savers = support::every_saver(&dir, "handlers")
        .await
        .unwrap_or_else(|| vec![("memory", Arc::new(MemorySaver::new()))]);
    let run = stategraph::CheckpointId::new();
    for (backend, saver) in savers {
        let id = format!("handler-{backend}-{run}");
        let searches = Arc::new(Searches::default());
        searches.failing_runs.store(2, Ordering::SeqCst);
        let graph = research::graph(searches.clone())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        // Paused before the handler: the failure is stored with the step, not held in memory.
        let paused = graph
            .thread(id.as_str())
            .interrupt_before([research::Node::Recover])
            .invoke(ResearchUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
        assert!(
            matches!(paused, GraphError::Interrupted { .. }),
            "{backend}: {paused}"
        );
        let later = research::graph(Searches::default())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        let thread = later.thread(id.as_str());
        let state = thread.state().await.unwrap().unwrap();
        assert_eq!(state.metadata.failures[0].node, "search", "{backend}");
        let done = thread
            .resume_with(Resume::value(()))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(
            done.log,
            [
                "search failed at step 0 after 2 attempts: the search backend is down",
                "searched"
            ],
            "{backend}"
        );
        saver.delete_thread(&id.as_str().into()).await.unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_sibling_that_succeeded_keeps_its_writes_and_runs_once() {
    for saver in [
        Some(Arc::new(MemorySaver::new()) as Arc<dyn Checkpointer>),
        None,
    ] {
        let searches = Arc::new(Searches::default());
        searches.failing_runs.store(1, Ordering::SeqCst);
        let done = match saver {
            Some(saver) => {
                let graph = parallel::graph(searches.clone())
                    .checkpointer(saver)
                    .compile()
                    .unwrap();
                graph
                    .thread("parallel")
                    .invoke(ResearchUpdate::new())
                    .await
                    .and_then(stategraph::Outcome::into_finished)
                    .unwrap()
            }
            None => parallel::graph(searches.clone())
                .compile()
                .unwrap()
                .invoke(ResearchUpdate::new())
                .await
                .unwrap(),
        };
        assert_eq!(
            done.log,
            [
                "side",
                "search failed at step 0 after 1 attempts: the search backend is down"
            ]
        );
        assert_eq!(searches.side_runs.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test]
async fn a_failure_saved_in_a_paused_step_is_not_run_again_on_resume() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let searches = Arc::new(Searches::default());
    searches.failing_runs.store(1, Ordering::SeqCst);
    searches.side_asks.store(true, Ordering::SeqCst);
    let graph = parallel::graph(searches.clone())
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    // `side` pauses the step; `search`'s failure is saved as its task's result meanwhile.
    let thread = graph.thread("paused-step");
    let paused = thread
        .invoke(ResearchUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(paused, GraphError::Interrupted { .. }), "{paused}");
    let done = thread
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(
        done.log,
        [
            "side",
            "search failed at step 0 after 1 attempts: the search backend is down"
        ]
    );
    assert_eq!(searches.search_runs.load(Ordering::SeqCst), 1);
    assert_eq!(searches.side_runs.load(Ordering::SeqCst), 2);
}

#[test]
fn the_drawing_shows_the_handler() {
    assert!(
        research::Graph::MERMAID.contains("search -. on error .-> recover"),
        "{}",
        research::Graph::MERMAID
    );
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Batch {
    #[state(reducer = append)]
    done: Vec<u32>,
    #[state(reducer = append)]
    failed: Vec<String>,
}

/// Sent tasks with a handler: the tasks that fail go to it, the others merge as usual.
#[stategraph::graph(state = Batch)]
mod batch {
    use super::*;

    #[node]
    async fn plan(_: &Batch) -> NodeResult<Batch> {
        Ok(BatchUpdate::new())
    }

    #[send]
    fn per_item(_: &Batch) -> Vec<u32> {
        (0..6).collect()
    }

    #[node(on_error = report)]
    async fn item(i: &u32) -> NodeResult<Batch> {
        if i % 3 == 1 {
            return Err(format!("item {i} is malformed").into());
        }
        Ok(BatchUpdate::new().push_done(*i))
    }

    #[node]
    async fn report(_: &Batch, ctx: &NodeContext) -> NodeResult<Batch> {
        let failed: Vec<String> = ctx.failures().iter().map(|f| f.error.clone()).collect();
        Ok(BatchUpdate::new().failed(failed))
    }

    edges! {
        START -> plan;
        plan -> per_item => item;
        item -> END;
        report -> END;
    }
}

#[tokio::test]
async fn failing_sent_tasks_go_to_the_handler_together_and_the_rest_merge() {
    for durable in [false, true] {
        let done = if durable {
            batch::graph()
                .checkpointer(MemorySaver::new())
                .compile()
                .unwrap()
                .thread("batch")
                .invoke(BatchUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap()
        } else {
            batch::graph()
                .compile()
                .unwrap()
                .invoke(BatchUpdate::new())
                .await
                .unwrap()
        };
        assert_eq!(done.done, [0, 2, 3, 5]);
        assert_eq!(
            done.failed,
            ["item 1 is malformed", "item 4 is malformed"],
            "the handler ran once, handed both failures in send order"
        );
    }
}
