//! One branch of a parallel step fails: the error names it, the finished branches' writes are
//! saved, and `resume()` runs only the failed branch — on every built-in durable saver.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{Checkpointer, GraphError, MemorySaver, NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Report {
    #[state(reducer = append)]
    parts: Vec<String>,
}

/// Calls per node, per saver under test (index 0: memory, 1: SQLite).
static CALLS: [[AtomicUsize; 3]; 2] = [
    [
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ],
    [
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ],
];

fn call(s: &Report, node: usize) -> usize {
    let saver = usize::from(s.parts.first().is_some_and(|p| p == "sqlite"));
    CALLS[saver][node].fetch_add(1, Ordering::SeqCst)
}

#[stategraph::graph(state = Report)]
mod report {
    use super::*;

    #[node]
    async fn intro(s: &Report) -> NodeResult<Report> {
        call(s, 0);
        Ok(ReportUpdate::new().parts(vec!["intro".to_owned()]))
    }

    #[node]
    async fn flaky_body(s: &Report) -> NodeResult<Report> {
        if call(s, 1) == 0 {
            return Err("the model provider returned 503".into());
        }
        Ok(ReportUpdate::new().parts(vec!["body".to_owned()]))
    }

    #[node]
    async fn outro(s: &Report) -> NodeResult<Report> {
        call(s, 2);
        Ok(ReportUpdate::new().parts(vec!["outro".to_owned()]))
    }

    edges! {
        START -> [intro, flaky_body, outro] -> END;
    }
}

async fn resume_reruns_only_the_failed_branch(saver: impl Checkpointer, index: usize, name: &str) {
    let graph = report::graph().checkpointer(saver).compile().unwrap();
    let thread = graph.thread(format!("branches-{name}"));
    let err = thread
        .invoke(ReportUpdate::new().parts(vec![name.to_owned()]))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Node {
                node: "flaky_body",
                step: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("503"), "{err}");
    let stopped = thread.state().await.unwrap().unwrap();
    assert_eq!(stopped.next.len(), 3, "the failed step is still scheduled");

    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.parts, [name, "intro", "body", "outro"]);
    let calls: Vec<usize> = CALLS[index]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .collect();
    assert_eq!(
        calls,
        [1, 2, 1],
        "intro and outro ran once; only the failed branch ran again"
    );
}

#[tokio::test]
async fn on_memory() {
    resume_reruns_only_the_failed_branch(MemorySaver::new(), 0, "memory").await;
}

#[tokio::test]
async fn on_sqlite() {
    let dir = std::env::temp_dir().join(format!("stategraph-branches-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saver = SqliteSaver::open(dir.join("branches.db")).await.unwrap();
    resume_reruns_only_the_failed_branch(Arc::new(saver), 1, "sqlite").await;
    let _ = std::fs::remove_dir_all(&dir);
}
