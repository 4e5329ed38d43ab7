//! Time travel: writing to a thread as if a node had run (`update … as_node`), on the latest
//! checkpoint or on an earlier one (a fork), replaying from a checkpoint, and walking a long
//! history page by page.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{
    CheckpointError, GraphError, MemorySaver, NodeContext, NodeResult, Source, State,
};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Research {
    query: String,
    retry_count: u32,
    #[state(reducer = append)]
    log: Vec<String>,
}

/// Node runs on threads whose id starts with `counted` (tests run in parallel).
static RUNS: AtomicU32 = AtomicU32::new(0);

fn count(ctx: &NodeContext) {
    if ctx
        .thread_id()
        .is_some_and(|t| t.as_str().starts_with("counted"))
    {
        RUNS.fetch_add(1, Ordering::SeqCst);
    }
}

#[stategraph::graph(state = Research)]
mod research {
    use super::*;

    #[node]
    async fn search(s: &Research, ctx: &NodeContext) -> NodeResult<Research> {
        count(ctx);
        Ok(ResearchUpdate::new().push_log(format!("search {} #{}", s.query, s.retry_count)))
    }

    #[node]
    async fn review(s: &Research, ctx: &NodeContext) -> NodeResult<Research> {
        count(ctx);
        Ok(ResearchUpdate::new()
            .retry_count(s.retry_count + 1)
            .push_log(format!("review #{}", s.retry_count)))
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn next(s: &Research) -> Next {
        if s.retry_count < 3 {
            Next::Again
        } else {
            Next::Done
        }
    }

    edges! {
        START -> search -> review;
        review -> next { Again => search, Done => END };
    }
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Pair {
    #[state(reducer = append)]
    seen: Vec<String>,
}

#[stategraph::graph(state = Pair)]
mod pair {
    use super::*;

    #[node]
    async fn left(_: &Pair) -> NodeResult<Pair> {
        Ok(PairUpdate::new().push_seen("left"))
    }
    #[node]
    async fn right(_: &Pair) -> NodeResult<Pair> {
        Ok(PairUpdate::new().push_seen("right"))
    }
    #[node]
    async fn merge(_: &Pair) -> NodeResult<Pair> {
        Ok(PairUpdate::new().push_seen("merge"))
    }

    edges! {
        START -> [left, right] -> merge -> END;
    }
}

async fn the_seeds_replay_with_modified_state(
    graph: &stategraph::CompiledGraph<research::Graph, stategraph::Durable>,
    id: &str,
) {
    let thread = graph.thread(id);
    let first = thread
        .invoke(ResearchUpdate::new().query("rust"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(first.retry_count, 3);

    // The seed: pick the third most recent checkpoint, correct `query` and `retry_count` as
    // `search`, run on.
    let history = thread.history().limit(3).await.unwrap();
    let past = &history[2];
    let fork = thread
        .update(ResearchUpdate::new().query("durable rust").retry_count(2))
        .as_node(research::Node::Search)
        .at(past.checkpoint_id)
        .await
        .unwrap();
    let corrected = thread.state().await.unwrap().unwrap();
    assert_eq!(corrected.checkpoint_id, fork);
    assert_eq!(corrected.parent_id, Some(past.checkpoint_id));
    assert_eq!(corrected.metadata.source, Source::Update);
    assert_eq!(corrected.metadata.step, past.metadata.step + 1);
    assert_eq!(
        corrected.next,
        [research::Node::Review],
        "search's edge decides what is next"
    );
    assert_eq!(corrected.values.query, "durable rust");

    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.retry_count, 3);
    assert_eq!(done.log.last().unwrap(), "review #2");
    assert!(done.log.iter().any(|l| l == "search rust #0"));

    // The later history of the first run stays listed.
    let all = thread.history().await.unwrap();
    let ids: Vec<_> = all.iter().map(|s| s.checkpoint_id).collect();
    for old in &history {
        assert!(ids.contains(&old.checkpoint_id));
    }
}

#[tokio::test]
async fn the_seeds_replay_with_modified_state_in_memory_and_on_sqlite() {
    let memory = research::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    the_seeds_replay_with_modified_state(&memory, "seed-memory").await;

    let dir = std::env::temp_dir().join(format!("sg-time-travel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saver = SqliteSaver::open(dir.join("t.db")).await.unwrap();
    let sqlite = research::graph().checkpointer(saver).compile().unwrap();
    the_seeds_replay_with_modified_state(&sqlite, "seed-sqlite").await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_update_as_a_node_goes_through_its_reducers_and_routes() {
    let graph = research::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("as-node");
    thread
        .invoke(ResearchUpdate::new().query("q"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    // As `review` on the finished thread: the append reducer adds, the route picks again.
    thread
        .update(
            ResearchUpdate::new()
                .retry_count(1)
                .push_log("human review"),
        )
        .as_node(research::Node::Review)
        .await
        .unwrap();
    let now = thread.state().await.unwrap().unwrap();
    assert_eq!(now.values.log.last().unwrap(), "human review");
    assert_eq!(now.values.log.len(), 7);
    assert_eq!(now.next, [research::Node::Search]);
    assert_eq!(now.metadata.writes["review"], ["retry_count", "log"]);
    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.retry_count, 3);

    // Without a node named, the node that wrote the checkpoint is taken: `review` again.
    thread
        .update(ResearchUpdate::new().retry_count(3))
        .await
        .unwrap();
    let now = thread.state().await.unwrap().unwrap();
    assert!(now.next.is_empty(), "review's route leads to END at 3");

    // As the input: the graph starts over. To the end: nothing is scheduled.
    thread
        .update(ResearchUpdate::new().retry_count(0))
        .as_input()
        .await
        .unwrap();
    assert_eq!(
        thread.state().await.unwrap().unwrap().next,
        [research::Node::Search]
    );
    thread
        .update(ResearchUpdate::new().query("closed"))
        .to_end()
        .await
        .unwrap();
    let end = thread.state().await.unwrap().unwrap();
    assert!(end.next.is_empty());
    assert_eq!(end.values.query, "closed");
    assert!(end.metadata.writes.contains_key("__end__"));
}

#[tokio::test]
async fn an_update_as_one_side_of_a_join_waits_for_the_other() {
    let graph = pair::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("join");
    // The input alone, nothing run: left and right are scheduled.
    thread.update(PairUpdate::new()).as_input().await.unwrap();
    let id = thread
        .update(PairUpdate::new().push_seen("left by hand"))
        .as_node(pair::Node::Left)
        .await
        .unwrap();
    let now = thread.state_at(id).await.unwrap().unwrap();
    assert_eq!(now.next, [pair::Node::Right], "merge waits for right");
    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.seen, ["left by hand", "right", "merge"]);

    // After a step where both ran, an update naming no node is ambiguous.
    let other = graph.thread("join-2");
    other.update(PairUpdate::new()).as_input().await.unwrap();
    other
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let history = other.history().await.unwrap();
    let both = history
        .iter()
        .find(|s| s.metadata.writes.len() == 2)
        .expect("the step where left and right ran");
    let err = other
        .update(PairUpdate::new())
        .at(both.checkpoint_id)
        .await
        .unwrap_err();
    match &err {
        GraphError::AmbiguousUpdate { nodes, .. } => assert_eq!(nodes, &["left", "right"]),
        other => panic!("expected an ambiguous update, got {other:?}"),
    }
    assert!(err.to_string().contains(".as_node("), "{err}");
}

#[tokio::test]
async fn an_update_at_a_checkpoint_of_another_thread_is_refused() {
    let saver = Arc::new(MemorySaver::new());
    let graph = research::graph().checkpointer(saver).compile().unwrap();
    let a = graph.thread("thread-a");
    let b = graph.thread("thread-b");
    a.invoke(ResearchUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    b.invoke(ResearchUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let of_a = a.state().await.unwrap().unwrap().checkpoint_id;
    let err = b
        .update(ResearchUpdate::new().query("x"))
        .as_node(research::Node::Search)
        .at(of_a)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Checkpoint(CheckpointError::MissingParent { ref thread_id, parent })
                if thread_id.as_str() == "thread-b" && parent == of_a
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn replay_runs_again_from_a_past_checkpoint() {
    let graph = research::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("counted-replay");
    thread
        .invoke(ResearchUpdate::new().query("q"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let runs = RUNS.swap(0, Ordering::SeqCst);
    assert_eq!(runs, 6);
    let history = thread.history().await.unwrap();
    // Two steps before the end: the last search and review run again.
    let past = &history[2];
    let again = thread
        .replay(past.checkpoint_id)
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(again.retry_count, 3);
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    let head = thread.state().await.unwrap().unwrap();
    let fork = thread.state_at(head.checkpoint_id).await.unwrap().unwrap();
    assert_eq!(fork.values.log.len(), 6);
}

#[tokio::test]
async fn a_long_history_is_walked_page_by_page() {
    let graph = research::graph()
        .checkpointer(MemorySaver::new())
        .recursion_limit(10_000)
        .compile()
        .unwrap();
    let thread = graph.thread("long").with_metadata("run_id", "r-1");
    // 41 runs of 7 checkpoints: 287 in all.
    for _ in 0..41 {
        thread
            .invoke(ResearchUpdate::new().retry_count(0))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
    }
    let listed = thread.history().await.unwrap();
    assert_eq!(listed.len(), 287);
    let streamed: Vec<_> = thread
        .history()
        .page_size(7)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let ids = |s: &[stategraph::StateSnapshot<research::Graph>]| {
        s.iter().map(|s| s.checkpoint_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&streamed),
        ids(&listed),
        "every checkpoint once, newest first"
    );

    let limited: Vec<_> = thread
        .history()
        .limit(20)
        .page_size(6)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids(&limited), ids(&listed[..20]));

    let before: Vec<_> = thread
        .history()
        .before(listed[100].checkpoint_id)
        .filter("source", "input")
        .page_size(5)
        .stream()
        .try_collect()
        .await
        .unwrap();
    let expected: Vec<_> = listed[101..]
        .iter()
        .filter(|s| s.metadata.source == Source::Input)
        .map(|s| s.checkpoint_id)
        .collect();
    assert_eq!(ids(&before), expected);
}
