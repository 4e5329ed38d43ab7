//! Retry policies and time limits per node, declared in the graph: attempts with backoff,
//! which errors are retried, a limit per attempt, graph-wide defaults, and the failed attempts
//! recorded with the task's writes on every backend.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stategraph::{
    Attempt, Checkpointer, GraphError, MemorySaver, NodeContext, NodeError, NodeResult,
    NodeTimeout, PendingWrite, RetryPolicy, State,
};

/// How often each node ran, and how many of its first attempts fail.
#[derive(Default)]
struct Flaky {
    fetch_runs: AtomicU32,
    fetch_failures: AtomicU32,
    parse_runs: AtomicU32,
    slow_runs: AtomicU32,
    /// `slow` sleeps this long on its first attempt.
    slow_first_ms: AtomicU32,
    side_effects: AtomicU32,
    ask_runs: AtomicU32,
}

#[derive(Debug, thiserror::Error)]
#[error("the model is rate limited")]
struct RateLimited;

#[derive(Debug, thiserror::Error)]
#[error("the answer is not JSON")]
struct BadAnswer;

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Job {
    #[state(reducer = append)]
    log: Vec<String>,
    approved: bool,
}

fn quick() -> RetryPolicy {
    RetryPolicy::attempts(3).backoff(Duration::from_millis(1), Duration::from_millis(4))
}

#[stategraph::graph(state = Job, deps = Flaky)]
mod flaky {
    use super::*;

    /// Fails with `RateLimited` until its failures are used up; runs a side effect once.
    #[node(retry = quick().retry_on_error::<RateLimited>())]
    async fn fetch(_: &Job, ctx: &NodeContext<Flaky>) -> NodeResult<Job> {
        let lab = ctx.deps();
        lab.fetch_runs.fetch_add(1, Ordering::SeqCst);
        ctx.once(async {
            lab.side_effects.fetch_add(1, Ordering::SeqCst);
            Ok::<_, NodeError>(())
        })
        .await?;
        let left = lab.fetch_failures.load(Ordering::SeqCst);
        if left > 0 {
            lab.fetch_failures.store(left - 1, Ordering::SeqCst);
            return Err(RateLimited.into());
        }
        Ok(JobUpdate::new().push_log("fetched"))
    }

    /// Fails with an error its policy does not retry.
    #[node(retry = quick().retry_on_error::<RateLimited>())]
    async fn parse(s: &Job, ctx: &NodeContext<Flaky>) -> NodeResult<Job> {
        ctx.deps().parse_runs.fetch_add(1, Ordering::SeqCst);
        if s.log.iter().any(|l| l == "bad") {
            return Err(BadAnswer.into());
        }
        Ok(JobUpdate::new().push_log("parsed"))
    }

    /// Too slow on its first attempt.
    #[node(retry = 2, timeout = Duration::from_millis(50))]
    async fn slow(_: &Job, ctx: &NodeContext<Flaky>) -> NodeResult<Job> {
        let lab = ctx.deps();
        if lab.slow_runs.fetch_add(1, Ordering::SeqCst) == 0 {
            let ms = lab.slow_first_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
        }
        Ok(JobUpdate::new().push_log("slow"))
    }

    /// Asks a question: a retry policy never retries it.
    #[node(retry = 5)]
    async fn ask(_: &Job, ctx: &NodeContext<Flaky>) -> NodeResult<Job> {
        ctx.deps().ask_runs.fetch_add(1, Ordering::SeqCst);
        let approved: bool = ctx.interrupt("approve?").await?;
        Ok(JobUpdate::new().approved(approved))
    }

    edges! {
        START -> fetch -> parse -> slow -> ask -> END;
    }
}

/// A graph whose nodes share one policy, but one node opts out.
#[stategraph::graph(state = Job, deps = Flaky, retry = quick())]
mod defaults {
    use super::*;

    #[node]
    async fn covered(_: &Job, ctx: &NodeContext<Flaky>) -> NodeResult<Job> {
        if ctx.deps().fetch_runs.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err("transient".into());
        }
        Ok(JobUpdate::new().push_log("covered"))
    }

    #[node(retry = RetryPolicy::none())]
    async fn opted_out(_: &Job, ctx: &NodeContext<Flaky>) -> NodeResult<Job> {
        if ctx.deps().parse_runs.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err("transient".into());
        }
        Ok(JobUpdate::new().push_log("opted out"))
    }

    edges! {
        START -> covered -> opted_out -> END;
    }
}

fn attempts_in(pending: &[PendingWrite], node: &str) -> Vec<Attempt> {
    pending
        .iter()
        .find(|w| w.node == node && w.channel == PendingWrite::ATTEMPTS)
        .map(|w| serde_json::from_slice(&w.value).unwrap())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_flaky_node_is_retried_and_its_attempts_are_recorded_on_every_backend() {
    let dir = std::env::temp_dir().join(format!("sg-retries-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let savers = support::every_saver(&dir, "retries")
        .await
        .unwrap_or_else(|| vec![("memory", Arc::new(MemorySaver::new()))]);
    let run = stategraph::CheckpointId::new();
    for (backend, saver) in savers {
        let lab = Arc::new(Flaky::default());
        lab.fetch_failures.store(2, Ordering::SeqCst);
        // Exactly the graph's steps: retries are not steps.
        let graph = flaky::graph(lab.clone())
            .checkpointer(saver.clone())
            .recursion_limit(4)
            .compile()
            .unwrap();
        let id = format!("retries-{backend}-{run}");
        let thread = graph.thread(id.as_str());
        let asked = thread
            .invoke(JobUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
        assert!(
            matches!(asked, GraphError::Interrupted { .. }),
            "{backend}: {asked}"
        );
        assert_eq!(lab.fetch_runs.load(Ordering::SeqCst), 3, "{backend}");
        assert_eq!(
            lab.side_effects.load(Ordering::SeqCst),
            1,
            "{backend}: `once` work is not redone by a retry"
        );
        assert_eq!(
            lab.ask_runs.load(Ordering::SeqCst),
            1,
            "{backend}: a question is not retried"
        );
        // `fetch`'s failed attempts are saved with its task, on the checkpoint its step began.
        let history = thread.history().limit(10).await.unwrap();
        let fetch_step = history
            .iter()
            .find(|s| s.metadata.step == -1)
            .expect("the input checkpoint");
        let tuple = saver
            .get(&id.as_str().into(), "", Some(fetch_step.checkpoint_id))
            .await
            .unwrap()
            .unwrap();
        let attempts = attempts_in(&tuple.pending_writes, "fetch");
        assert_eq!(
            attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
            [1, 2],
            "{backend}"
        );
        assert!(
            attempts
                .iter()
                .all(|a| a.error == "the model is rate limited"),
            "{backend}: {attempts:?}"
        );
        let done = thread
            .resume_with(stategraph::Resume::value(true))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(done.log, ["fetched", "parsed", "slow"], "{backend}");
        assert!(done.approved, "{backend}");
        saver.delete_thread(&id.as_str().into()).await.unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_node_that_keeps_failing_fails_the_run_after_its_attempts() {
    let saver = Arc::new(MemorySaver::new());
    let lab = Arc::new(Flaky::default());
    lab.fetch_failures.store(5, Ordering::SeqCst);
    let graph = flaky::graph(lab.clone())
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("exhausted");
    let error = thread
        .invoke(JobUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let GraphError::Node { node, source, .. } = &error else {
        panic!("expected the node's error, got {error}");
    };
    assert_eq!(*node, "fetch");
    assert!(source.is::<RateLimited>());
    assert_eq!(lab.fetch_runs.load(Ordering::SeqCst), 3);
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.errors.len(), 1);
    let tuple = saver
        .get(&"exhausted".into(), "", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempts_in(&tuple.pending_writes, "fetch").len(), 2);
    // A resume starts a fresh round of attempts: two more failures, then success.
    let asked = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(asked, GraphError::Interrupted { .. }), "{asked}");
    assert_eq!(lab.fetch_runs.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn an_error_the_policy_does_not_name_is_not_retried() {
    let lab = Arc::new(Flaky::default());
    let graph = flaky::graph(lab.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let error = graph
        .thread("bad")
        .invoke(JobUpdate::new().push_log("bad"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(&error, GraphError::Node { node: "parse", source, .. } if source.is::<BadAnswer>()),
        "{error}"
    );
    assert_eq!(lab.parse_runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_attempt_past_its_time_limit_is_cut_and_retried() {
    let lab = Arc::new(Flaky::default());
    lab.slow_first_ms.store(10_000, Ordering::SeqCst);
    let saver = Arc::new(MemorySaver::new());
    let graph = flaky::graph(lab.clone())
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("slow");
    let asked = thread
        .invoke(JobUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(asked, GraphError::Interrupted { .. }), "{asked}");
    assert_eq!(lab.slow_runs.load(Ordering::SeqCst), 2);
    let history = thread.history().limit(10).await.unwrap();
    let slow_base = history.iter().find(|s| s.metadata.step == 1).unwrap();
    let tuple = saver
        .get(&"slow".into(), "", Some(slow_base.checkpoint_id))
        .await
        .unwrap()
        .unwrap();
    let attempts = attempts_in(&tuple.pending_writes, "slow");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].error, "node `slow` did not finish within 50ms");
}

#[tokio::test]
async fn a_time_limit_without_retries_fails_the_node_with_a_typed_error() {
    #[stategraph::graph(state = Job)]
    mod limited {
        use super::*;

        #[node(timeout = Duration::from_millis(20))]
        async fn hang(_: &Job) -> NodeResult<Job> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(JobUpdate::new())
        }

        edges! {
            START -> hang -> END;
        }
    }
    let error = limited::graph()
        .compile()
        .unwrap()
        .invoke(JobUpdate::new())
        .await
        .unwrap_err();
    let GraphError::Node { source, .. } = &error else {
        panic!("expected the node's error, got {error}");
    };
    let timeout = source.downcast_ref::<NodeTimeout>().expect("a NodeTimeout");
    assert_eq!(
        (timeout.node, timeout.after),
        ("hang", Duration::from_millis(20))
    );
}

#[tokio::test]
async fn a_graph_wide_policy_covers_every_node_but_those_that_opt_out() {
    let lab = Arc::new(Flaky::default());
    let graph = defaults::graph(lab.clone()).compile().unwrap();
    let error = graph.invoke(JobUpdate::new()).await.unwrap_err();
    assert!(
        matches!(
            error,
            GraphError::Node {
                node: "opted_out",
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(lab.fetch_runs.load(Ordering::SeqCst), 2, "covered: retried");
    assert_eq!(
        lab.parse_runs.load(Ordering::SeqCst),
        1,
        "opted out: not retried"
    );
}
