//! Retention: finished threads older than an age are deleted and older threads keep only their
//! latest checkpoint, swept in batches, reported by a dry run, safe with two sweepers at once,
//! and run by a background task.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{
    CancellationToken, Checkpointer, ListQuery, MemorySaver, NodeResult, Retention, State,
    ThreadId, ThreadQuery, apply_retention, spawn_retention,
};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Work {
    steps: u32,
}

#[stategraph::graph(state = Work)]
mod work {
    use super::*;

    #[node]
    async fn step(s: &Work) -> NodeResult<Work> {
        Ok(WorkUpdate::new().steps(s.steps + 1))
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn next(s: &Work) -> Next {
        if s.steps < 3 { Next::Again } else { Next::Done }
    }

    edges! {
        START -> step;
        step -> next { Again => step, Done => END };
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Five finished threads and two stopped half way (pending), on `saver`.
async fn threads(saver: Arc<dyn Checkpointer>, prefix: &str) {
    let graph = work::graph().checkpointer(saver).compile().unwrap();
    for n in 0..5 {
        graph
            .thread(format!("{prefix}-done-{n}"))
            .invoke(WorkUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
    }
    for n in 0..2 {
        graph
            .thread(format!("{prefix}-open-{n}"))
            .recursion_limit(2)
            .invoke(WorkUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
    }
}

async fn names(saver: &dyn Checkpointer, prefix: &str) -> Vec<String> {
    saver
        .list_threads(&ThreadQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.thread_id.as_str().to_owned())
        .filter(|t| t.starts_with(prefix))
        .collect()
}

async fn checkpoints(saver: &dyn Checkpointer, thread: &str) -> usize {
    saver
        .list(&ListQuery::thread(ThreadId::new(thread)))
        .await
        .unwrap()
        .len()
}

async fn retention_on(saver: Arc<dyn Checkpointer>, prefix: &str) {
    threads(saver.clone(), prefix).await;
    let policy = Retention::new()
        .delete_finished_after(30 * DAY)
        .keep_latest_after(7 * DAY)
        .batch(2);
    let now = SystemTime::now();

    // Nothing is a week old yet.
    let report = apply_retention(&*saver, &policy, now, false).await.unwrap();
    assert!(report.deleted.is_empty() && report.pruned.is_empty());

    // Ten days on, a dry run reports every thread to prune and changes nothing.
    let report = apply_retention(&*saver, &policy, now + 10 * DAY, true)
        .await
        .unwrap();
    assert!(report.dry_run && report.deleted.is_empty());
    let mine: Vec<_> = report
        .pruned
        .iter()
        .filter(|t| t.as_str().starts_with(prefix))
        .collect();
    assert_eq!(mine.len(), 7, "every thread, across batches of 2");
    assert_eq!(checkpoints(&*saver, &format!("{prefix}-done-0")).await, 4);

    // Two sweepers at once: both succeed, the result is the same as one.
    let (a, b) = tokio::join!(
        apply_retention(&*saver, &policy, now + 10 * DAY, false),
        apply_retention(&*saver, &policy, now + 10 * DAY, false),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(checkpoints(&*saver, &format!("{prefix}-done-0")).await, 1);
    assert_eq!(checkpoints(&*saver, &format!("{prefix}-open-1")).await, 1);
    // A pruned pending thread still resumes.
    let graph = work::graph().checkpointer(saver.clone()).compile().unwrap();
    let done = graph
        .thread(format!("{prefix}-open-1"))
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.steps, 3);

    // A month and more on, the finished threads go (the other open one is kept).
    let report = apply_retention(&*saver, &policy, now + 40 * DAY, false)
        .await
        .unwrap();
    let deleted: Vec<_> = report
        .deleted
        .iter()
        .filter(|t| t.as_str().starts_with(prefix))
        .collect();
    assert_eq!(deleted.len(), 6, "five finished, and the one just resumed");
    assert_eq!(names(&*saver, prefix).await, [format!("{prefix}-open-0")]);
}

#[tokio::test]
async fn retention_deletes_and_prunes_in_batches_in_memory_and_on_sqlite() {
    retention_on(Arc::new(MemorySaver::new()), "mem").await;
    let dir = std::env::temp_dir().join(format!("sg-retention-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saver = SqliteSaver::open(dir.join("r.db")).await.unwrap();
    retention_on(Arc::new(saver), "sqlite").await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_background_task_sweeps_until_stopped() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    threads(saver.clone(), "bg").await;
    // Every finished thread is "older" than zero seconds.
    let policy = Retention::new().delete_finished_after(Duration::ZERO);
    let stop = CancellationToken::new();
    let task = spawn_retention(
        saver.clone(),
        policy,
        Duration::from_millis(10),
        stop.clone(),
    );
    // Finished threads disappear; the two open ones stay.
    let mut left = names(&*saver, "bg").await;
    for _ in 0..500 {
        if left.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = names(&*saver, "bg").await;
    }
    assert_eq!(left, ["bg-open-0", "bg-open-1"]);
    stop.cancel();
    task.await.unwrap();
}
