//! `tracing`: a span per run, step and task carrying the graph, thread, checkpoint, step and
//! node; events for retried attempts, questions and checkpoint writes (with their duration and
//! size). Captured here by a minimal subscriber that records every span and event.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stategraph::{MemorySaver, NodeContext, NodeResult, Resume, RetryPolicy, State};
use support::trace::{Recorder, Seen};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Job {
    #[state(reducer = append)]
    log: Vec<String>,
}

static FAILS: AtomicU64 = AtomicU64::new(0);

#[stategraph::graph(state = Job)]
mod job {
    use super::*;

    #[node(retry = RetryPolicy::attempts(2).backoff(Duration::ZERO, Duration::ZERO))]
    async fn fetch(_: &Job) -> NodeResult<Job> {
        if FAILS.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err("the backend is down".into());
        }
        Ok(JobUpdate::new().push_log("fetched".to_owned()))
    }

    #[node]
    async fn approve(_: &Job, ctx: &NodeContext) -> NodeResult<Job> {
        let ok: bool = ctx.interrupt("approve?").await?;
        Ok(JobUpdate::new().push_log(format!("approved {ok}")))
    }

    edges! { START -> fetch -> approve -> END; }
}

fn spans_named<'a>(seen: &'a [Seen], name: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|s| s.name == name).collect()
}

#[tokio::test]
async fn runs_steps_and_tasks_have_spans_and_retries_questions_and_writes_have_events() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let graph = job::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("traced");
    thread
        .invoke(JobUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();

    let spans = recorder.0.spans.lock().unwrap().clone();
    let runs = spans_named(&spans, "run");
    assert_eq!(runs.len(), 2, "the first run and the resume: {runs:?}");
    for run in &runs {
        assert_eq!(run.fields["graph"], "job");
        assert_eq!(run.fields["thread"], "traced");
        assert!(run.fields.contains_key("checkpoint") && run.fields.contains_key("step"));
    }
    let steps = spans_named(&spans, "step");
    assert!(steps.len() >= 3, "{steps:?}");
    assert!(steps.iter().all(|s| s.fields.contains_key("checkpoint")));
    let tasks = spans_named(&spans, "task");
    let nodes: Vec<&str> = tasks.iter().map(|t| t.fields["node"].as_str()).collect();
    assert_eq!(nodes, ["fetch", "approve", "approve"]);
    for task in &tasks {
        for field in ["thread", "checkpoint", "step", "task"] {
            assert!(task.fields.contains_key(field), "{field}: {task:?}");
        }
    }

    let events = recorder.0.events.lock().unwrap().clone();
    let retry = events.iter().find(|e| e.name.contains("retrying")).unwrap();
    assert_eq!(retry.fields["attempt"], "1");
    assert!(retry.fields["error"].contains("the backend is down"));
    let asked = events
        .iter()
        .find(|e| e.name.contains("waits for an answer"))
        .unwrap();
    assert_eq!(asked.fields["node"], "approve");
    let writes: Vec<&Seen> = events
        .iter()
        .filter(|e| e.name == "checkpoint written")
        .collect();
    // The input, fetch, the paused state (already stored: none), approve.
    assert_eq!(writes.len(), 3, "{writes:?}");
    let bytes: Vec<usize> = writes
        .iter()
        .map(|w| w.fields["bytes"].parse().unwrap())
        .collect();
    // The input wrote no channel; `fetch` and `approve` each appended to `log`.
    assert_eq!(bytes[0], 0);
    assert!(bytes[1..].iter().all(|&b| b > 0), "{bytes:?}");
    for write in writes {
        assert!(write.fields["micros"].parse::<u64>().is_ok());
        assert!(write.fields.contains_key("checkpoint"));
    }
}
