//! Many processes and pools at once: `setup()` racing on a fresh schema, two pools resuming
//! one thread (exactly one wins, no fork), two pools answering one question (exactly one
//! wins), and the unique index behind the head check.

mod support;

use std::collections::HashSet;
use std::process::Command;

use serde_json::json;
use stategraph::{GraphError, NodeContext, NodeResult, Resume, State};
use stategraph_postgres::PostgresSaver;
use stategraph_runtime::{CheckpointError, Checkpointer, ListQuery, ThreadId};
use support::slow_loop::{input, slow};

async fn migrations(url: &str, schema: &str) -> Vec<i32> {
    let client = support::sql_client(url).await;
    client
        .query(
            &format!("SELECT version FROM \"{schema}\".migrations ORDER BY version"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_savers_run_setup_on_a_fresh_schema_at_once() {
    let url = require_server!();
    let schema = support::fresh_schema("setup_race");
    let connects: Vec<_> = (0..8)
        .map(|_| {
            let (url, schema) = (url.clone(), schema.clone());
            tokio::spawn(async move {
                let saver = PostgresSaver::builder(url)
                    .pool_size(2)
                    .schema(schema)
                    .connect()
                    .await?;
                saver.setup().await?;
                Ok::<_, CheckpointError>(saver)
            })
        })
        .collect();
    for connect in connects {
        connect
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("a concurrent setup failed: {e}"));
    }
    assert_eq!(migrations(&url, &schema).await, [1, 2, 3, 4, 5]);
    support::drop_schema(&url, &schema).await;
}

const CHILD_SCHEMA: &str = "STATEGRAPH_PG_CHILD_SCHEMA";

/// In a child process only: connects (running setup) and writes one checkpoint.
#[test]
fn child_process_connects_and_writes() {
    let Ok(schema) = std::env::var(CHILD_SCHEMA) else {
        return; // Not a child.
    };
    stategraph_runtime::testing::block_on(async {
        let saver = PostgresSaver::builder(support::url())
            .pool_size(1)
            .schema(schema)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("child connect failed: {e}"));
        let thread = ThreadId::new(format!("child-{}", std::process::id()));
        let step = stategraph_runtime::testing::fixtures::checkpoint(&thread, "")
            .snapshot("count", json!(1));
        step.put_ok(&saver).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_processes_run_setup_on_a_fresh_schema_at_once() {
    let url = require_server!();
    let schema = support::fresh_schema("setup_procs");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..6)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_process_connects_and_writes",
                    "--nocapture",
                ])
                .env(CHILD_SCHEMA, &schema)
                .env("STATEGRAPH_POSTGRES_URL", &url)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child process failed");
    }
    assert_eq!(migrations(&url, &schema).await, [1, 2, 3, 4, 5]);
    let saver = PostgresSaver::builder(url.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let threads = saver.list_threads(&Default::default()).await.unwrap();
    assert_eq!(threads.len(), 6, "each child wrote its thread");
    support::drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_resuming_one_thread_exactly_one_wins_and_history_does_not_fork() {
    let url = require_server!();
    let schema = support::fresh_schema("resume_race");
    let open = || {
        PostgresSaver::builder(url.clone())
            .pool_size(2)
            .schema(schema.clone())
            .connect()
    };
    let first = slow::graph()
        .checkpointer(open().await.unwrap())
        .compile()
        .unwrap();
    let second = slow::graph()
        .checkpointer(open().await.unwrap())
        .compile()
        .unwrap();
    // Stop the run after 2 steps: the thread is pending, ready to resume.
    let stopped = first
        .thread("contended")
        .recursion_limit(2)
        .invoke(input(5, 150))
        .await
        .and_then(stategraph::Outcome::into_finished);
    assert!(
        matches!(stopped, Err(GraphError::RecursionLimit { .. })),
        "{stopped:?}"
    );

    let a = first.thread("contended");
    let b = second.thread("contended");
    let (ra, rb) = tokio::join!(a.resume(), b.resume());
    let (won, lost) = match (ra, rb) {
        (Ok(state), Err(error)) | (Err(error), Ok(state)) => {
            (state.into_finished().unwrap(), error)
        }
        (ra, rb) => panic!("exactly one resume should win: {ra:?} / {rb:?}"),
    };
    assert_eq!(won.count, 5);
    // Each resume claims the thread before reading it, so the one that claimed first is
    // fenced out by the later claim: it never forks the history, and never wins late.
    match &lost {
        GraphError::Checkpoint(CheckpointError::Fenced { thread_id, .. }) => {
            assert_eq!(thread_id.as_str(), "contended");
        }
        other => panic!("the loser should be fenced out, got: {other}"),
    }
    assert!(lost.to_string().contains("taken over"), "{lost}");

    let history = first
        .checkpointer()
        .list(&ListQuery::thread(ThreadId::new("contended")))
        .await
        .unwrap();
    let mut parents = HashSet::new();
    for tuple in &history {
        assert!(
            parents.insert(tuple.checkpoint.parent_id),
            "two checkpoints continue {:?}: the history forked",
            tuple.checkpoint.parent_id
        );
    }
    // Newest first, each the parent of the one before: one straight line.
    for pair in history.windows(2) {
        assert_eq!(pair[0].checkpoint.parent_id, Some(pair[1].checkpoint.id));
    }
    assert_eq!(history.len(), 6, "input + 5 steps");
    support::drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_continuation_of_one_parent_is_refused_by_the_unique_index() {
    let url = require_server!();
    let schema = support::fresh_schema("unique_parent");
    let saver = PostgresSaver::builder(url.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let thread = ThreadId::new("t");
    let first = stategraph_runtime::testing::fixtures::checkpoint(&thread, "")
        .snapshot("count", json!(0))
        .put_ok(&saver)
        .await;
    stategraph_runtime::testing::fixtures::child(&first)
        .snapshot("count", json!(1))
        .put_ok(&saver)
        .await;
    // Bypass the head check: a raw second Advance child of `first`.
    let client = support::sql_client(&url).await;
    let error = client
        .batch_execute(&format!(
            "INSERT INTO \"{schema}\".checkpoints (thread_id, ns, id, parent_id, advance,
                 created_at, step, source, channel_versions, next, barriers, metadata)
             VALUES ('t', '', gen_random_uuid(), '{}', true, now(), 1, 'loop', '{{}}', '[]',
                 '{{}}', '{{\"source\": \"loop\", \"step\": 1}}')",
            first.id
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "23505", "{error}");
    support::drop_schema(&url, &schema).await;
}

#[derive(State, Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Answer {
    answer: String,
}

/// One question, then the end.
#[stategraph::graph(state = Answer)]
mod question {
    use super::*;

    #[node]
    async fn ask(_: &Answer, ctx: &NodeContext) -> NodeResult<Answer> {
        let answer: String = ctx.interrupt("who?").await?;
        Ok(AnswerUpdate::new().answer(answer))
    }

    edges! {
        START -> ask -> END;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_answering_one_question_exactly_one_wins() {
    let url = require_server!();
    let schema = support::fresh_schema("answer_race");
    let open = || {
        PostgresSaver::builder(url.clone())
            .pool_size(2)
            .schema(schema.clone())
            .connect()
    };
    let first = question::graph()
        .checkpointer(open().await.unwrap())
        .compile()
        .unwrap();
    let second = question::graph()
        .checkpointer(open().await.unwrap())
        .compile()
        .unwrap();
    for round in 0..10 {
        let id = format!("asked-{round}");
        let asked = first
            .thread(id.as_str())
            .invoke(AnswerUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished);
        assert!(
            matches!(asked, Err(GraphError::Interrupted { .. })),
            "{asked:?}"
        );
        let (a, b) = (first.thread(id.as_str()), second.thread(id.as_str()));
        let (ra, rb) = tokio::join!(
            a.resume_with(Resume::value("ana")),
            b.resume_with(Resume::value("ben")),
        );
        let (won, lost) = match (ra, rb) {
            (Ok(state), Err(error)) | (Err(error), Ok(state)) => {
                (state.into_finished().unwrap(), error)
            }
            (ra, rb) => panic!("round {round}: exactly one answer should win: {ra:?} / {rb:?}"),
        };
        assert!(["ana", "ben"].contains(&won.answer.as_str()));
        assert!(
            matches!(
                lost,
                GraphError::NothingPending(_) | GraphError::AlreadyAnswered(_)
            ),
            "round {round}: {lost:?}"
        );
        // The state holds the winner's answer, once.
        let state = first.thread(id.as_str()).state().await.unwrap().unwrap();
        assert_eq!(state.values.answer, won.answer);
        assert!(state.next.is_empty());
    }
    support::drop_schema(&url, &schema).await;
}
