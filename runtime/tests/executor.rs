//! The superstep executor on a hand-written state and graph (the macros are tested from the
//! `stategraph` crate): ordering, fan-out and joins, conflicts, limits, errors and resume.
//! The state is the testing kit's hand-written `Counter`, so these tests need the `testing`
//! feature (`cargo test --workspace --all-features` runs them).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use stategraph_runtime::testing::state::{Counter, CounterUpdate};
use stategraph_runtime::*;

/// Every node name the test graphs use (a generated node enum is per graph; one is enough here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum N {
    Incr,
    Left,
    Right,
    Summarize,
}
impl std::fmt::Display for N {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
impl NodeId for N {
    const GRAPH: &'static str = "executor";
    const ALL: &'static [Self] = &[N::Incr, N::Left, N::Right, N::Summarize];
    fn name(self) -> &'static str {
        match self {
            N::Incr => "incr",
            N::Left => "left",
            N::Right => "right",
            N::Summarize => "summarize",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// Declares a graph type whose spec is built by a function.
macro_rules! graph {
    ($name:ident, $build:expr) => {
        struct $name;
        impl GraphDef for $name {
            type State = Counter;
            type Deps = ();
            type Node = N;
            const MERMAID: &'static str = "";
            const DOT: &'static str = "";
            fn spec() -> GraphSpec<Counter> {
                $build
            }
        }
    };
}

async fn incr(s: &Counter) -> NodeResult<Counter> {
    Ok(CounterUpdate::default()
        .count(s.count + 1)
        .log(&format!("incr {}", s.count)))
}
async fn left(_: &Counter) -> NodeResult<Counter> {
    Ok(CounterUpdate::default().log("left"))
}
async fn right(_: &Counter) -> NodeResult<Counter> {
    Ok(CounterUpdate::default().log("right"))
}
async fn slow_right(_: &Counter) -> NodeResult<Counter> {
    tokio::task::yield_now().await;
    Ok(CounterUpdate::default().log("slow_right"))
}
async fn both_count(_: &Counter) -> NodeResult<Counter> {
    Ok(CounterUpdate::default().count(7))
}
async fn summarize(s: &Counter) -> NodeResult<Counter> {
    Ok(CounterUpdate::default().replace_log(vec![format!("{} lines", s.log.len())]))
}

fn loop_until(s: &Counter, _: &()) -> Target {
    if s.count >= 5 {
        Target::End
    } else {
        Target::Node(0, "incr")
    }
}

graph!(
    Loop,
    GraphSpec::new("loop")
        .node("incr", node::node(incr))
        .edge(None, Edge::To(Target::Node(0, "incr")))
        .edge(
            Some(0),
            Edge::Route {
                name: "loop_until",
                pick: loop_until
            }
        )
);

fn saver_graph<G: GraphDef<Deps = ()>>(saver: Arc<MemorySaver>) -> CompiledGraph<G, Durable> {
    Builder::<G>::new(()).checkpointer(saver).compile().unwrap()
}

mod node {
    pub use stategraph_runtime::__private::node;
}

#[tokio::test]
async fn a_loop_runs_to_end_and_keeps_every_step() {
    let saver = Arc::new(MemorySaver::new());
    let graph = saver_graph::<Loop>(saver.clone());
    let thread = graph.thread("t1");
    let out = thread
        .invoke(CounterUpdate::default().count(1))
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.count, 5);
    assert_eq!(out.log, ["incr 1", "incr 2", "incr 3", "incr 4"]);

    let history = thread.history().await.unwrap();
    let steps: Vec<i64> = history.iter().map(|s| s.metadata.step).collect();
    assert_eq!(steps, [3, 2, 1, 0, -1], "newest first, input at -1");
    assert_eq!(history[4].metadata.source, Source::Input);
    assert!(
        history[..4]
            .iter()
            .all(|s| s.metadata.source == Source::Loop)
    );
    assert_eq!(history[2].values.count, 3);
    assert!(
        history
            .windows(2)
            .all(|w| w[0].parent_id == Some(w[1].checkpoint_id))
    );
    assert!(history[0].next.is_empty());
    assert_eq!(history[1].next, [N::Incr]);

    let page = thread
        .history()
        .before(history[1].checkpoint_id)
        .limit(2)
        .await
        .unwrap();
    let ids: Vec<_> = page.iter().map(|s| s.checkpoint_id).collect();
    assert_eq!(ids, [history[2].checkpoint_id, history[3].checkpoint_id]);

    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.values, out);
    assert_eq!(
        state.metadata.writes.get("incr").unwrap(),
        &["count", "log"]
    );
}

#[tokio::test]
async fn an_ephemeral_graph_matches_a_durable_one() {
    let graph = Builder::<Loop>::new(()).compile().unwrap();
    let out = graph
        .invoke(CounterUpdate::default().count(2))
        .await
        .unwrap();
    assert_eq!(out.log, ["incr 2", "incr 3", "incr 4"]);
}

graph!(
    FanOut,
    GraphSpec::new("fan")
        .node("incr", node::node(incr))
        .node("left", node::node(left))
        .node("right", node::node(slow_right))
        .node("summarize", node::node(summarize))
        .edge(None, Edge::To(Target::Node(0, "incr")))
        .edge(Some(0), Edge::To(Target::Node(2, "right")))
        .edge(Some(0), Edge::To(Target::Node(1, "left")))
        .join(vec![1, 2], 3)
        .edge(Some(3), Edge::To(Target::End))
);

#[tokio::test]
async fn fan_out_merges_in_node_order_and_the_join_waits_for_all() {
    let saver = Arc::new(MemorySaver::new());
    let thread = saver_graph::<FanOut>(saver).thread("fan");
    let out = thread
        .invoke(CounterUpdate::default())
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.log, ["3 lines"]);
    let history = thread.history().await.unwrap();
    let before_summary = &history[1].values;
    assert_eq!(
        before_summary.log,
        ["incr 0", "left", "slow_right"],
        "node order, not finish order"
    );
    assert_eq!(history[1].next, [N::Summarize]);
    assert_eq!(
        history[2].next,
        [N::Left, N::Right],
        "fan-out schedules both in one step"
    );
}

async fn tail_a(_: &Counter) -> NodeResult<Counter> {
    Ok(CounterUpdate::default().log("a"))
}
async fn tail_b(_: &Counter) -> NodeResult<Counter> {
    Ok(CounterUpdate::default().log("b"))
}

// start -> [short, long1]; long1 -> long2; [short, long2] -> end_node: the join waits for long2.
graph!(
    Uneven,
    GraphSpec::new("uneven")
        .node("short", node::node(left))
        .node("long1", node::node(tail_a))
        .node("long2", node::node(tail_b))
        .node("end_node", node::node(right))
        .edge(None, Edge::To(Target::Node(0, "short")))
        .edge(None, Edge::To(Target::Node(1, "long1")))
        .edge(Some(1), Edge::To(Target::Node(2, "long2")))
        .join(vec![0, 2], 3)
        .edge(Some(3), Edge::To(Target::End))
);

#[tokio::test]
async fn a_join_fires_once_after_branches_of_different_length() {
    let out = Builder::<Uneven>::new(())
        .compile()
        .unwrap()
        .invoke(CounterUpdate::default())
        .await
        .unwrap();
    assert_eq!(out.log, ["left", "a", "b", "right"]);
}

graph!(
    Conflict,
    GraphSpec::new("conflict")
        .node("first", node::node(both_count))
        .node("second", node::node(both_count))
        .edge(None, Edge::To(Target::Node(0, "first")))
        .edge(None, Edge::To(Target::Node(1, "second")))
        .edge(Some(0), Edge::To(Target::End))
        .edge(Some(1), Edge::To(Target::End))
);

#[tokio::test]
async fn two_nodes_replacing_one_field_in_a_step_is_an_error_naming_both() {
    let err = Builder::<Conflict>::new(())
        .compile()
        .unwrap()
        .invoke(CounterUpdate::default())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            GraphError::ConflictingWrites {
                field: "count",
                first: "first",
                second: "second",
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("give `count` a reducer"), "{text}");
}

#[tokio::test]
async fn the_recursion_limit_stops_a_run_that_resumes_with_a_higher_limit() {
    let saver = Arc::new(MemorySaver::new());
    let graph = Builder::<Loop>::new(())
        .checkpointer(saver)
        .recursion_limit(2)
        .compile()
        .unwrap();
    let thread = graph.thread("limited");
    let err = thread
        .invoke(CounterUpdate::default())
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(
        err,
        GraphError::RecursionLimit {
            limit: 2,
            checkpoint: Some(_),
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("raise the limit with `.recursion_limit(n)`"),
        "{err}"
    );
    assert_eq!(thread.state().await.unwrap().unwrap().values.count, 2);
    let out = thread
        .recursion_limit(10)
        .resume()
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.count, 5);
}

static FLAKY_CALLS: AtomicUsize = AtomicUsize::new(0);
static STEADY_CALLS: AtomicUsize = AtomicUsize::new(0);

async fn flaky(_: &Counter) -> NodeResult<Counter> {
    if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err("upstream timed out".into());
    }
    Ok(CounterUpdate::default().log("flaky"))
}
async fn steady(_: &Counter) -> NodeResult<Counter> {
    STEADY_CALLS.fetch_add(1, Ordering::SeqCst);
    Ok(CounterUpdate::default().log("steady"))
}

graph!(
    Branches,
    GraphSpec::new("branches")
        .node("flaky", node::node(flaky))
        .node("steady", node::node(steady))
        .edge(None, Edge::To(Target::Node(0, "flaky")))
        .edge(None, Edge::To(Target::Node(1, "steady")))
        .edge(Some(0), Edge::To(Target::End))
        .edge(Some(1), Edge::To(Target::End))
);

#[tokio::test]
async fn a_failed_branch_is_the_only_task_a_resume_runs_again() {
    let saver = Arc::new(MemorySaver::new());
    let thread = saver_graph::<Branches>(saver.clone()).thread("branches");
    let err = thread
        .invoke(CounterUpdate::default())
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Node {
                node: "flaky",
                step: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upstream timed out"));
    let head = saver
        .get(&ThreadId::new("branches"), "", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        head.checkpoint.metadata.source,
        Source::Input,
        "the failed step wrote no checkpoint"
    );
    let channels: Vec<&str> = head
        .pending_writes
        .iter()
        .map(|w| w.channel.as_str())
        .collect();
    assert!(
        channels.contains(&"__error__") && channels.contains(&"log"),
        "{channels:?}"
    );

    let out = thread
        .resume()
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.log, ["flaky", "steady"]);
    assert_eq!(
        STEADY_CALLS.load(Ordering::SeqCst),
        1,
        "the finished branch did not run again"
    );
    assert_eq!(FLAKY_CALLS.load(Ordering::SeqCst), 2);
}

async fn panics(_: &Counter) -> NodeResult<Counter> {
    panic!("index out of bounds")
}
graph!(
    Panics,
    GraphSpec::new("panics")
        .node("panics", node::node(panics))
        .edge(None, Edge::To(Target::Node(0, "panics")))
        .edge(Some(0), Edge::To(Target::End))
);

#[tokio::test]
async fn a_panicking_node_is_an_error_not_a_crash() {
    let err = Builder::<Panics>::new(())
        .compile()
        .unwrap()
        .invoke(CounterUpdate::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("node panicked: index out of bounds"),
        "{err}"
    );
}

#[tokio::test]
async fn resume_without_a_checkpoint_says_how_to_start() {
    let thread = saver_graph::<Loop>(Arc::new(MemorySaver::new())).thread("empty");
    let err = thread
        .resume()
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "thread `empty` has no checkpoint to resume; start it with `invoke(input)`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_threads_never_see_each_others_state() {
    let saver = Arc::new(MemorySaver::new());
    let graph = saver_graph::<Loop>(saver.clone());
    let runs = (0..32).map(|i| {
        let thread = graph.thread(format!("iso-{i}"));
        tokio::spawn(async move {
            let out = thread
                .invoke(CounterUpdate::default().count(i % 5))
                .await
                .and_then(stategraph_runtime::Outcome::into_finished)
                .unwrap();
            (i, out, thread.history().await.unwrap().len())
        })
    });
    for run in runs {
        let (i, out, checkpoints) = run.await.unwrap();
        let start = i % 5;
        assert_eq!(out.count, 5);
        let expected: Vec<String> = (start..5).map(|n| format!("incr {n}")).collect();
        assert_eq!(out.log, expected, "thread iso-{i}");
        assert_eq!(checkpoints, expected.len() + 1);
    }
}

#[tokio::test]
async fn a_second_invoke_continues_from_the_threads_state() {
    let thread = saver_graph::<Loop>(Arc::new(MemorySaver::new())).thread("again");
    thread
        .invoke(CounterUpdate::default().count(3))
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap();
    let out = thread
        .invoke(CounterUpdate::default().count(0))
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap();
    assert_eq!(
        out.log,
        [
            "incr 3", "incr 4", "incr 0", "incr 1", "incr 2", "incr 3", "incr 4"
        ]
    );
}

#[tokio::test]
async fn append_channels_are_stored_as_deltas_and_rebuilt_exactly() {
    let saver = Arc::new(MemorySaver::new());
    let thread = saver_graph::<Loop>(saver.clone())
        .thread("deltas")
        .recursion_limit(100);
    thread
        .invoke(CounterUpdate::default().count(-300))
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap_err();
    let head = saver
        .get(&ThreadId::new("deltas"), "", None)
        .await
        .unwrap()
        .unwrap();
    let log = &head.channels["log"];
    assert_eq!(log[0].kind, BlobKind::Snapshot);
    assert!(
        log.len() > 2,
        "the log is a snapshot plus deltas: {}",
        log.len()
    );
    assert!(
        log[1..]
            .iter()
            .all(|b| matches!(b.kind, BlobKind::Delta { .. }))
    );
    assert!(
        log[1..].iter().all(|b| b.data.len() < 64),
        "a delta holds only its step's writes"
    );
    assert_eq!(
        head.channels["count"].len(),
        1,
        "a plain field is one snapshot"
    );
    let state = thread.state().await.unwrap().unwrap().values;
    let expected: Vec<String> = (-300..-200).map(|n| format!("incr {n}")).collect();
    assert_eq!(state.log, expected);
}

/// Works with any checkpointer a caller names generically.
async fn latest_count<C: Checkpointer + ?Sized>(saver: &C, thread: &str) -> Option<usize> {
    let tuple = saver.get(&ThreadId::new(thread), "", None).await.unwrap()?;
    Some(tuple.channels.len())
}

#[tokio::test]
async fn a_checkpointer_works_generically_and_as_a_trait_object() {
    let shared: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let graph = Builder::<Loop>::new(())
        .checkpointer(Arc::clone(&shared))
        .compile()
        .unwrap();
    graph
        .thread("dyn")
        .invoke(CounterUpdate::default().count(4))
        .await
        .and_then(stategraph_runtime::Outcome::into_finished)
        .unwrap();
    assert_eq!(latest_count(&shared, "dyn").await, Some(2));
    assert_eq!(latest_count(&*shared, "dyn").await, Some(2));
    shared.delete_thread(&ThreadId::new("dyn")).await.unwrap();
    assert_eq!(latest_count(&shared, "dyn").await, None);
    shared
        .delete_thread(&ThreadId::new("never-existed"))
        .await
        .unwrap();
}
