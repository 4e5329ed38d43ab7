//! Durability modes and per-node checkpointing, on every backend: what each mode writes, that a
//! run stopped by an error, a question or a pause stores the state it stopped at, and that a
//! resume from there re-runs only what was not saved.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use stategraph::{
    BlobKind, Checkpointer, Durability, GraphError, ListQuery, MemorySaver, NodeContext,
    NodeResult, Resume, State, ThreadStatus,
};

/// What the nodes did, and the faults to inject.
#[derive(Default)]
struct Lab {
    runs: Mutex<Vec<String>>,
    /// These nodes fail once (by name).
    fail_once: Mutex<Vec<&'static str>>,
    /// `d` asks a question.
    ask: AtomicBool,
    /// `b` takes the thread over (as a second process resuming it would) before it returns.
    steal_in_b: AtomicBool,
    /// The saver, for `steal_in_b`.
    saver: Mutex<Option<Arc<dyn Checkpointer>>>,
    /// `generate` fails once at this token (0: never).
    fail_at_token: AtomicU32,
}

impl Lab {
    fn ran(&self, node: &str) {
        self.runs.lock().unwrap().push(node.to_owned());
    }

    fn fails(&self, node: &'static str) -> bool {
        let mut fail = self.fail_once.lock().unwrap();
        match fail.iter().position(|n| *n == node) {
            Some(at) => {
                fail.remove(at);
                true
            }
            None => false,
        }
    }

    fn runs(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for node in self.runs.lock().unwrap().iter() {
            *counts.entry(node.clone()).or_default() += 1;
        }
        counts
    }
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Work {
    #[state(reducer = append)]
    log: Vec<String>,
    #[state(reducer = add)]
    total: u64,
    tokens: u32,
    approved: bool,
}

#[stategraph::graph(state = Work, deps = Lab)]
mod flat {
    use super::*;

    #[node]
    async fn a(_: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        ctx.deps().ran("a");
        Ok(WorkUpdate::new().push_log("a").total(1))
    }

    #[node]
    async fn b(_: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        let lab = ctx.deps();
        lab.ran("b");
        if lab.fails("b") {
            return Err("b failed".into());
        }
        if lab.steal_in_b.swap(false, Ordering::SeqCst) {
            let saver = lab.saver.lock().unwrap().clone().unwrap();
            let thread = ctx.thread_id().unwrap();
            // Once `a`'s checkpoint has landed (in Async mode it is written while `b` runs).
            for _ in 0..500 {
                let query = ListQuery::thread(thread.clone());
                if saver.list(&query).await?.len() >= 2 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            saver.claim(thread).await?;
        }
        Ok(WorkUpdate::new().push_log("b").total(10))
    }

    #[node]
    async fn c(_: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        ctx.deps().ran("c");
        Ok(WorkUpdate::new().push_log("c").total(100))
    }

    #[node]
    async fn d(_: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        let lab = ctx.deps();
        lab.ran("d");
        if lab.fails("d") {
            return Err("d failed".into());
        }
        let mut approved = false;
        if lab.ask.load(Ordering::SeqCst) {
            approved = ctx.interrupt("approve?").await?;
        }
        Ok(WorkUpdate::new()
            .push_log("d")
            .total(1000)
            .approved(approved))
    }

    edges! {
        START -> a -> [b, c] -> d -> END;
    }
}

/// Two steps of one node each: `second` waits, while it runs, for `first`'s checkpoint to be
/// listed — in `Async` mode that write is in flight as `second` starts.
#[stategraph::graph(state = Work, deps = Lab)]
mod overlap {
    use super::*;

    #[node]
    async fn first(_: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        ctx.deps().ran("first");
        Ok(WorkUpdate::new().push_log("first"))
    }

    #[node]
    async fn second(_: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        let saver = ctx.deps().saver.lock().unwrap().clone().unwrap();
        let thread = ctx.thread_id().unwrap();
        for _ in 0..500 {
            // The input's checkpoint and `first`'s.
            if saver.list(&ListQuery::thread(thread.clone())).await?.len() >= 2 {
                return Ok(WorkUpdate::new().push_log("second"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Err("the previous step's checkpoint did not land while this node ran".into())
    }

    edges! {
        START -> first -> second -> END;
    }
}

/// The seed's selective checkpointing as node policy: `generate` streams tokens in a loop of
/// uncheckpointed steps; `prepare` and `review` are checkpointed.
#[stategraph::graph(state = Work, deps = Lab)]
mod stream {
    use super::*;

    #[node]
    async fn prepare(_: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        ctx.deps().ran("prepare");
        Ok(WorkUpdate::new().push_log("prepared"))
    }

    #[node(checkpoint = false)]
    async fn generate(s: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        let lab = ctx.deps();
        let token = s.tokens + 1;
        lab.ran(&format!("generate {token}"));
        if lab.fail_at_token.load(Ordering::SeqCst) == token {
            lab.fail_at_token.store(0, Ordering::SeqCst);
            return Err("the model connection dropped".into());
        }
        Ok(WorkUpdate::new()
            .tokens(token)
            .push_log(format!("token {token}")))
    }

    #[node]
    async fn review(_: &Work, ctx: &NodeContext<Lab>) -> NodeResult<Work> {
        ctx.deps().ran("review");
        Ok(WorkUpdate::new().push_log("reviewed").approved(true))
    }

    pub enum More {
        Token,
        Done,
    }

    #[route]
    fn more(s: &Work) -> More {
        if s.tokens < 4 {
            More::Token
        } else {
            More::Done
        }
    }

    edges! {
        START -> prepare -> generate;
        generate -> more { Token => generate, Done => review };
        review -> END;
    }
}

const MODES: [Durability; 3] = [Durability::Sync, Durability::Async, Durability::Exit];

/// The flat graph on `saver` in durability mode `mode`.
fn flat_graph(
    lab: impl Into<Arc<Lab>>,
    saver: &Arc<dyn Checkpointer>,
    mode: Durability,
) -> stategraph::CompiledGraph<flat::Graph, stategraph::Durable> {
    flat::graph(lab)
        .checkpointer(saver.clone())
        .durability(mode)
        .compile()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sg-durability-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every backend (memory alone when the servers are unreachable and not required), each with a
/// thread-id prefix unique to this run.
async fn savers(name: &str) -> (PathBuf, Vec<(String, Arc<dyn Checkpointer>)>) {
    let dir = temp_dir(name);
    let run = stategraph::CheckpointId::new();
    let savers = match support::every_saver(&dir, "durability").await {
        Some(all) => all,
        None => vec![(
            "memory",
            Arc::new(MemorySaver::new()) as Arc<dyn Checkpointer>,
        )],
    };
    let savers = savers
        .into_iter()
        .map(|(backend, saver)| (format!("{name}-{backend}-{run}"), saver))
        .collect();
    (dir, savers)
}

async fn checkpoints(saver: &Arc<dyn Checkpointer>, thread: &str) -> Vec<stategraph::Checkpoint> {
    saver
        .list(&ListQuery::thread(thread.into()))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.checkpoint)
        .collect()
}

fn expected_flat() -> Work {
    Work {
        log: vec!["a".into(), "b".into(), "c".into(), "d".into()],
        total: 1111,
        tokens: 0,
        approved: false,
    }
}

#[tokio::test]
async fn each_mode_reaches_the_same_state_and_writes_what_it_promises() {
    let (dir, savers) = savers("modes").await;
    for (thread_id, saver) in savers {
        for mode in MODES {
            let lab = Arc::new(Lab::default());
            let graph = flat_graph(lab.clone(), &saver, mode);
            let id = format!("{thread_id}-{mode:?}");
            let thread = graph.thread(id.as_str());
            let done = thread
                .invoke(WorkUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap();
            assert_eq!(done, expected_flat(), "{id}");
            let stored = checkpoints(&saver, &id).await;
            // Sync and Async: the input and each of the three steps; Exit: the end only.
            let expected = if mode == Durability::Exit { 1 } else { 4 };
            assert_eq!(stored.len(), expected, "{id}: checkpoints written");
            // The history is one chain, newest first, whatever overlapped.
            for pair in stored.windows(2) {
                assert_eq!(pair[0].parent_id, Some(pair[1].id), "{id}");
            }
            assert_eq!(stored.last().unwrap().parent_id, None, "{id}");
            let state = thread.state().await.unwrap().unwrap();
            assert_eq!(
                state.values, done,
                "{id}: the stored state is the final one"
            );
            assert_eq!(state.status, ThreadStatus::Finished, "{id}");
            if mode == Durability::Exit {
                let writers: Vec<&String> = state.metadata.writes.keys().collect();
                assert_eq!(
                    writers,
                    ["__input__", "a", "b", "c", "d"],
                    "{id}: the one checkpoint records every step's writers"
                );
                assert_eq!(state.metadata.step, 2, "{id}");
            }
            assert_eq!(
                lab.runs().values().copied().collect::<Vec<_>>(),
                [1, 1, 1, 1]
            );
            saver.delete_thread(&id.as_str().into()).await.unwrap();
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_error_stores_the_state_it_stopped_at_and_a_resume_reruns_only_the_failed_task() {
    let (dir, savers) = savers("errors").await;
    for (thread_id, saver) in savers {
        for mode in MODES {
            // `b` fails in the parallel step: `c`'s finished writes are kept for the resume.
            let lab = Arc::new(Lab::default());
            lab.fail_once.lock().unwrap().push("b");
            let graph = flat_graph(lab.clone(), &saver, mode);
            let id = format!("{thread_id}-{mode:?}");
            let thread = graph.thread(id.as_str());
            let error = thread
                .invoke(WorkUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap_err();
            assert!(
                matches!(error, GraphError::Node { node: "b", .. }),
                "{id}: {error}"
            );
            let state = thread.state().await.unwrap().unwrap();
            assert_eq!(state.status, ThreadStatus::Errored, "{id}");
            assert_eq!(state.values.log, ["a"], "{id}: the state after `a`");
            assert_eq!(state.errors.len(), 1, "{id}");
            assert_eq!(state.errors[0].node, "b", "{id}");
            let expected = if mode == Durability::Exit { 1 } else { 2 };
            assert_eq!(checkpoints(&saver, &id).await.len(), expected, "{id}");
            let done = thread
                .resume()
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap();
            assert_eq!(done, expected_flat(), "{id}");
            let runs = lab.runs();
            assert_eq!(
                (runs["a"], runs["b"], runs["c"], runs["d"]),
                (1, 2, 1, 1),
                "{id}: only the failed task runs again"
            );
            saver.delete_thread(&id.as_str().into()).await.unwrap();
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_question_stores_the_state_it_was_asked_at_in_every_mode() {
    let (dir, savers) = savers("questions").await;
    for (thread_id, saver) in savers {
        for mode in MODES {
            let lab = Arc::new(Lab::default());
            lab.ask.store(true, Ordering::SeqCst);
            let graph = flat_graph(lab.clone(), &saver, mode);
            let id = format!("{thread_id}-{mode:?}");
            let thread = graph.thread(id.as_str());
            let asked = thread
                .invoke(WorkUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap_err();
            let GraphError::Interrupted { checkpoint, .. } = asked else {
                panic!("{id}: expected a question, got {asked}");
            };
            let state = thread.state().await.unwrap().unwrap();
            assert_eq!(state.checkpoint_id, checkpoint, "{id}");
            assert_eq!(state.status, ThreadStatus::Interrupted, "{id}");
            assert_eq!(state.values.total, 111, "{id}");
            // Another process answers: a new graph over the same saver.
            let later = flat_graph(lab.clone(), &saver, mode);
            let done = later
                .thread(id.as_str())
                .resume_with(Resume::value(true))
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap();
            assert!(done.approved, "{id}");
            assert_eq!(done.total, 1111, "{id}");
            let runs = lab.runs();
            assert_eq!((runs["a"], runs["b"], runs["d"]), (1, 1, 2), "{id}");
            saver.delete_thread(&id.as_str().into()).await.unwrap();
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_pause_before_a_node_stores_the_state_in_exit_mode() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let lab = Arc::new(Lab::default());
    let graph = flat_graph(lab.clone(), &saver, Durability::Exit);
    let thread = graph.thread("paused").interrupt_before([flat::Node::D]);
    let paused = thread
        .invoke(WorkUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(paused, GraphError::Interrupted { .. }), "{paused}");
    assert_eq!(checkpoints(&saver, "paused").await.len(), 1);
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.next, [flat::Node::D]);
    assert_eq!(state.values.total, 111);
    let done = thread
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done, expected_flat());
}

#[tokio::test]
async fn a_handle_overrides_the_graph_mode() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let graph = flat_graph(Lab::default(), &saver, Durability::Exit);
    graph
        .thread("exit")
        .invoke(WorkUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    graph
        .thread("sync")
        .durability(Durability::Sync)
        .invoke(WorkUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(checkpoints(&saver, "exit").await.len(), 1);
    assert_eq!(checkpoints(&saver, "sync").await.len(), 4);
}

#[tokio::test]
async fn an_async_write_lands_while_the_next_node_runs() {
    let (dir, savers) = savers("overlap").await;
    for (thread_id, saver) in savers {
        let lab = Arc::new(Lab::default());
        *lab.saver.lock().unwrap() = Some(saver.clone());
        let graph = overlap::graph(lab)
            .checkpointer(saver.clone())
            .durability(Durability::Async)
            .compile()
            .unwrap();
        let done = graph
            .thread(thread_id.as_str())
            .invoke(WorkUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_or_else(|error| panic!("{thread_id}: {error}"));
        assert_eq!(done.log, ["first", "second"], "{thread_id}");
        assert_eq!(
            checkpoints(&saver, &thread_id).await.len(),
            3,
            "{thread_id}"
        );
        saver
            .delete_thread(&thread_id.as_str().into())
            .await
            .unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_write_refused_in_async_mode_fails_the_run() {
    for mode in [Durability::Sync, Durability::Async] {
        let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
        let lab = Arc::new(Lab::default());
        lab.steal_in_b.store(true, Ordering::SeqCst);
        *lab.saver.lock().unwrap() = Some(saver.clone());
        let graph = flat_graph(lab.clone(), &saver, mode);
        let error = graph
            .thread("stolen")
            .invoke(WorkUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
        assert!(
            matches!(
                error,
                GraphError::Checkpoint(stategraph::CheckpointError::Fenced { .. })
            ),
            "{mode:?}: {error}"
        );
        // The new owner's history stops at the last write the old one was allowed.
        let stored = checkpoints(&saver, "stolen").await;
        assert_eq!(stored.len(), 2, "{mode:?}: the input and `a`'s step");
    }
}

fn expected_stream() -> Work {
    Work {
        log: vec![
            "prepared".into(),
            "token 1".into(),
            "token 2".into(),
            "token 3".into(),
            "token 4".into(),
            "reviewed".into(),
        ],
        total: 0,
        tokens: 4,
        approved: true,
    }
}

#[tokio::test]
async fn uncheckpointed_steps_are_saved_with_the_next_checkpointed_one() {
    let (dir, savers) = savers("stretch").await;
    for (id, saver) in savers {
        let lab = Arc::new(Lab::default());
        let graph = stream::graph(lab.clone())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        let done = graph
            .thread(id.as_str())
            .invoke(WorkUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(done, expected_stream(), "{id}");
        let stored = checkpoints(&saver, &id).await;
        let steps: Vec<i64> = stored.iter().map(|c| c.metadata.step).collect();
        // The input, `prepare` (step 0) and `review` (step 5); the four token steps between are
        // recorded by `review`'s checkpoint.
        assert_eq!(steps, [5, 0, -1], "{id}");
        let writers: Vec<&String> = stored[0].metadata.writes.keys().collect();
        assert_eq!(writers, ["generate", "review"], "{id}");
        assert_eq!(
            stored[0].metadata.writes["generate"],
            ["log", "tokens"],
            "{id}"
        );
        // The stretch's appends are stored as one delta on `prepare`'s snapshot.
        let tuple = saver
            .get(&id.as_str().into(), "", Some(stored[0].id))
            .await
            .unwrap()
            .unwrap();
        let log = &tuple.channels["log"];
        assert_eq!(
            log.iter().map(|b| b.kind).collect::<Vec<_>>(),
            [BlobKind::Snapshot, BlobKind::Delta { base: stored[1].id }],
            "{id}"
        );
        let delta: Vec<serde_json::Value> = serde_json::from_slice(&log[1].data).unwrap();
        assert_eq!(delta.len(), 5, "{id}: four tokens and the review");
        assert_eq!(
            delta[0],
            serde_json::json!({ "reduce": ["token 1"] }),
            "{id}"
        );
        saver.delete_thread(&id.as_str().into()).await.unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_error_inside_an_uncheckpointed_stretch_stores_the_state_before_it() {
    let (dir, savers) = savers("stretch-error").await;
    for (id, saver) in savers {
        let lab = Arc::new(Lab::default());
        lab.fail_at_token.store(3, Ordering::SeqCst);
        let graph = stream::graph(lab.clone())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        let thread = graph.thread(id.as_str());
        let error = thread
            .invoke(WorkUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
        assert!(
            matches!(
                error,
                GraphError::Node {
                    node: "generate",
                    step: 3,
                    ..
                }
            ),
            "{id}: {error}"
        );
        let state = thread.state().await.unwrap().unwrap();
        assert_eq!(
            state.values.tokens, 2,
            "{id}: the tokens before the failure"
        );
        assert_eq!(state.metadata.step, 2, "{id}");
        assert_eq!(state.status, ThreadStatus::Errored, "{id}");
        let done = thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(done, expected_stream(), "{id}");
        let runs = lab.runs();
        let twice: Vec<&String> = runs
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            twice,
            ["generate 3"],
            "{id}: only the failed token runs again"
        );
        saver.delete_thread(&id.as_str().into()).await.unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}
