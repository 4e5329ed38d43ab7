//! Subgraphs as nodes: a `#[graph]` module's `Graph` runs as one node of another graph, sharing
//! its state or mapped to it, checkpointed per call (its own namespace, resumed inside after a
//! failure, its questions pausing the enclosing thread), per thread (state kept across calls)
//! or not at all. Three levels nest here: `outer` runs `drafting`, which runs `tokens`.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stategraph::{
    Checkpointer, Durability, GraphError, ListQuery, MemorySaver, NodeContext, NodeResult, Resume,
    RetryPolicy, State, ThreadStatus,
};

/// How often each node ran, and what the nodes are told to do.
#[derive(Default)]
struct Desk {
    runs: Mutex<BTreeMap<&'static str, usize>>,
    /// Nodes that fail the next time they run.
    fail_once: Mutex<Vec<&'static str>>,
    /// How many questions `t2` asks (0: none).
    questions: usize,
}

impl Desk {
    fn ran(&self, node: &'static str) {
        *self.runs.lock().unwrap().entry(node).or_default() += 1;
    }

    fn runs(&self, node: &str) -> usize {
        self.runs.lock().unwrap().get(node).copied().unwrap_or(0)
    }

    fn fails(&self, node: &'static str) -> bool {
        let mut fail = self.fail_once.lock().unwrap();
        let hit = fail.iter().position(|n| *n == node);
        hit.map(|at| fail.remove(at)).is_some()
    }
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Doc {
    topic: String,
    #[state(reducer = append)]
    log: Vec<String>,
    answers: Vec<String>,
}

fn entry(node: &'static str, ctx: &NodeContext<Desk>) -> Result<DocUpdate, stategraph::NodeError> {
    ctx.deps().ran(node);
    if ctx.deps().fails(node) {
        return Err(format!("{node} failed").into());
    }
    Ok(DocUpdate::new().push_log(node.to_owned()))
}

/// The innermost graph: token work, which may ask questions.
#[stategraph::graph(state = Doc, deps = Desk)]
mod tokens {
    use super::*;

    #[node]
    async fn t1(_: &Doc, ctx: &NodeContext<Desk>) -> NodeResult<Doc> {
        entry("t1", ctx)
    }

    #[node]
    async fn t2(_: &Doc, ctx: &NodeContext<Desk>) -> NodeResult<Doc> {
        ctx.deps().ran("t2");
        let mut answers = Vec::new();
        for n in 0..ctx.deps().questions {
            let answer: String = ctx.interrupt(format!("question {n}")).await?;
            answers.push(answer);
        }
        if ctx.deps().fails("t2") {
            return Err("t2 failed".into());
        }
        Ok(DocUpdate::new().push_log("t2".to_owned()).answers(answers))
    }

    edges! { START -> t1 -> t2 -> END; }
}

/// The middle graph: an outline, the token work as a subgraph, a polish.
#[stategraph::graph(state = Doc, deps = Desk)]
mod drafting {
    use super::*;

    #[node]
    async fn outline(_: &Doc, ctx: &NodeContext<Desk>) -> NodeResult<Doc> {
        entry("outline", ctx)
    }

    #[subgraph]
    type stream = super::tokens::Graph;

    #[node]
    async fn polish(_: &Doc, ctx: &NodeContext<Desk>) -> NodeResult<Doc> {
        entry("polish", ctx)
    }

    edges! { START -> outline -> stream -> polish -> END; }
}

/// The outer graph: prepare, draft (a subgraph), review.
#[stategraph::graph(state = Doc, deps = Desk)]
mod outer {
    use super::*;

    #[node]
    async fn prepare(_: &Doc, ctx: &NodeContext<Desk>) -> NodeResult<Doc> {
        entry("prepare", ctx)
    }

    #[subgraph]
    type draft = super::drafting::Graph;

    #[node]
    async fn review(_: &Doc, ctx: &NodeContext<Desk>) -> NodeResult<Doc> {
        entry("review", ctx)
    }

    edges! { START -> prepare -> draft -> review -> END; }
}

const ALL: [&str; 6] = ["prepare", "outline", "t1", "t2", "polish", "review"];

fn topic() -> DocUpdate {
    DocUpdate::new().topic("tides".to_owned())
}

fn log(nodes: &[&str]) -> Vec<String> {
    nodes.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn a_shared_state_subgraph_runs_as_a_node_three_levels_deep_without_a_checkpointer() {
    let desk = Arc::new(Desk::default());
    let graph = outer::graph(desk.clone()).compile().unwrap();
    let done = graph.invoke(topic()).await.unwrap();
    // Each inner write reaches the outer state once: an `append` channel is not doubled.
    assert_eq!(done.log, log(&ALL));
    assert_eq!(done.topic, "tides");
    assert!(ALL.iter().all(|n| desk.runs(n) == 1));
}

#[test]
fn the_drawings_show_a_subgraph_node_with_a_double_border() {
    use stategraph::GraphDef;
    let mermaid = outer::Graph::MERMAID;
    assert!(mermaid.contains("draft[[\"draft\"]]"), "{mermaid}");
    assert!(mermaid.contains("prepare[\"prepare\"]"), "{mermaid}");
    assert!(mermaid.contains("prepare --> draft"), "{mermaid}");
    let dot = outer::Graph::DOT;
    assert!(
        dot.contains("\"draft\" [label=\"draft\", shape=box, peripheries=2];"),
        "{dot}"
    );
}

#[tokio::test]
async fn each_call_checkpoints_in_its_own_namespace_recorded_by_the_outer_checkpoint_on_every_backend()
 {
    let dir = std::env::temp_dir().join(format!("sg-subgraphs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let savers = support::every_saver(&dir, "subgraphs")
        .await
        .unwrap_or_else(|| vec![("memory", Arc::new(MemorySaver::new()))]);
    let run = stategraph::CheckpointId::new();
    for (backend, saver) in savers {
        let id = format!("nested-{backend}-{run}");
        let graph = outer::graph(Desk::default())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        let thread = graph.thread(id.as_str());
        let done = thread
            .invoke(topic())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(done.log, log(&ALL), "{backend}");

        // The root history holds only the root's steps: START, prepare, draft, review.
        let root = thread.history().await.unwrap();
        assert_eq!(root.len(), 4, "{backend}");
        let after_draft = &root[1];
        assert_eq!(
            after_draft.metadata.writes.keys().collect::<Vec<_>>(),
            ["draft"]
        );
        let [call] = after_draft.subgraphs.as_slice() else {
            panic!("{backend}: one call recorded: {:?}", after_draft.subgraphs);
        };
        assert_eq!(call.node, "draft", "{backend}");
        assert!(call.ns.starts_with("draft:"), "{backend}: {}", call.ns);
        assert!(call.checkpoint.is_some(), "{backend}");

        // The call's own checkpoints, reached through the thread, record the root's.
        let draft = thread.subgraph::<drafting::Graph>(&call.ns).unwrap();
        let inner = draft.state().await.unwrap().unwrap();
        assert_eq!(Some(inner.checkpoint_id), call.checkpoint, "{backend}");
        assert_eq!(inner.values.log, log(&ALL[..5]), "{backend}");
        assert!(inner.next.is_empty(), "{backend}");
        assert_eq!(
            inner.metadata.parents.get(""),
            Some(&root[2].checkpoint_id),
            "{backend}: the call ran from the checkpoint after `prepare`"
        );
        // START, outline, stream, polish.
        assert_eq!(draft.history().await.unwrap().len(), 4, "{backend}");

        // Third level: the token call inside the draft call.
        let [stream] = draft.history().await.unwrap()[1]
            .subgraphs
            .clone()
            .try_into()
            .unwrap();
        assert!(
            stream.ns.starts_with(&format!("{}|stream:", call.ns)),
            "{backend}"
        );
        let tokens = draft.subgraph::<tokens::Graph>(&stream.ns).unwrap();
        let deepest = tokens.state().await.unwrap().unwrap();
        assert_eq!(deepest.values.log, log(&ALL[..4]), "{backend}");
        assert_eq!(
            deepest.metadata.parents.len(),
            2,
            "{backend}: root and draft"
        );

        // The checkpointer lists the namespaces apart: one per level.
        for (ns, steps) in [(call.ns.as_str(), 4), (stream.ns.as_str(), 3)] {
            let query = ListQuery::thread(id.as_str().into()).ns(ns);
            assert_eq!(
                saver.list(&query).await.unwrap().len(),
                steps,
                "{backend}: {ns}"
            );
        }
        // The thread's status is the root's.
        let threads = saver
            .list_threads(&stategraph::ThreadQuery::default())
            .await
            .unwrap();
        let info = threads.iter().find(|t| t.thread_id.as_str() == id).unwrap();
        assert_eq!(info.status, ThreadStatus::Finished, "{backend}");
        saver.delete_thread(&id.as_str().into()).await.unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_failure_inside_a_call_resumes_inside_it_without_rerunning_finished_inner_steps() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let desk = Arc::new(Desk::default());
    desk.fail_once.lock().unwrap().push("t2");
    let graph = outer::graph(desk.clone())
        .checkpointer(saver)
        .compile()
        .unwrap();
    let thread = graph.thread("flaky");
    let error = thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(error, GraphError::Node { node: "draft", .. }),
        "the outer node failed: {error}"
    );
    assert!(error.to_string().contains("t2 failed"), "{error}");
    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, log(&ALL));
    for node in ["prepare", "outline", "t1", "polish", "review"] {
        assert_eq!(desk.runs(node), 1, "{node} ran once");
    }
    assert_eq!(desk.runs("t2"), 2);
}

fn asking(questions: usize) -> Arc<Desk> {
    Arc::new(Desk {
        questions,
        ..Desk::default()
    })
}

#[tokio::test]
async fn a_question_three_levels_down_pauses_the_thread_and_its_answers_resume_it() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let desk = asking(2);
    let graph = outer::graph(desk.clone())
        .checkpointer(saver)
        .compile()
        .unwrap();
    let thread = graph.thread("asks");
    let GraphError::Interrupted { interrupts, .. } = thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err()
    else {
        panic!("paused");
    };
    let [first] = interrupts.as_slice() else {
        panic!("one question: {interrupts:?}");
    };
    assert_eq!(first.payload_as::<String>().unwrap(), "question 0");
    assert_eq!(first.node, "draft", "the outer node asks it in turn");
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.status, ThreadStatus::Interrupted);
    assert_eq!(state.interrupts[0].id, first.id);
    assert_eq!(state.next, [outer::Node::Draft]);

    // The first answer: the same task asks its second question, under a new id.
    let GraphError::Interrupted { interrupts, .. } = thread
        .resume_with(Resume::answer(first.id, "yes".to_owned()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err()
    else {
        panic!("paused again");
    };
    let [second] = interrupts.as_slice() else {
        panic!("one question: {interrupts:?}");
    };
    assert_ne!(second.id, first.id);
    assert_eq!(second.payload_as::<String>().unwrap(), "question 1");

    let done = thread
        .resume_with(Resume::value("also".to_owned()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, log(&ALL));
    assert_eq!(done.answers, ["yes", "also"]);
    for node in ["prepare", "outline", "t1", "polish", "review"] {
        assert_eq!(desk.runs(node), 1, "{node} ran once");
    }
    assert_eq!(desk.runs("t2"), 3, "asked, asked again, answered");
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.status, ThreadStatus::Finished);
    // Each level's audit of answers names the questions by the ids they were answered under.
    let history = graph
        .checkpointer()
        .list(&ListQuery::thread("asks".into()))
        .await
        .unwrap();
    let audited: std::collections::BTreeSet<_> = history
        .iter()
        .flat_map(|t| t.checkpoint.metadata.answers.iter().map(|a| a.id))
        .collect();
    assert!(!audited.is_empty());
    assert!(
        audited.iter().all(|id| [first.id, second.id].contains(id)),
        "every audited answer names a question that was asked: {audited:?}"
    );
    for ns in ["", "draft"] {
        let level: std::collections::BTreeSet<_> = history
            .iter()
            .filter(|t| t.checkpoint.ns == ns || t.checkpoint.ns.starts_with(&format!("{ns}:")))
            .flat_map(|t| t.checkpoint.metadata.answers.iter().map(|a| a.id))
            .collect();
        assert_eq!(
            level,
            [first.id, second.id].into(),
            "namespace `{ns}` audits both answers"
        );
    }
}

#[tokio::test]
async fn a_correction_written_into_a_paused_call_is_where_it_continues() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let desk = asking(1);
    let graph = outer::graph(desk.clone())
        .checkpointer(saver)
        .compile()
        .unwrap();
    let thread = graph.thread("corrected");
    thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();

    // Walk down to the paused token call through the snapshots.
    let root = thread.state().await.unwrap().unwrap();
    let [call] = root.subgraphs.as_slice() else {
        panic!("the running call is listed: {:?}", root.subgraphs);
    };
    assert_eq!(call.checkpoint, None, "it has not finished");
    let draft = thread.subgraph::<drafting::Graph>(&call.ns).unwrap();
    let middle = draft.state().await.unwrap().unwrap();
    assert_eq!(middle.next, [drafting::Node::Stream]);
    let tokens = draft
        .subgraph::<tokens::Graph>(&middle.subgraphs[0].ns)
        .unwrap();
    let paused = tokens.state().await.unwrap().unwrap();
    assert_eq!(paused.next, [tokens::Node::T2]);
    assert_eq!(paused.interrupts.len(), 1);

    // Write `t2`'s result by hand: the question is settled, `t2` counts as having run.
    tokens
        .update(DocUpdate::new().push_log("t2 by hand".to_owned()))
        .as_node(tokens::Node::T2)
        .await
        .unwrap();
    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(
        done.log,
        log(&["prepare", "outline", "t1", "t2 by hand", "polish", "review"])
    );
    assert_eq!(desk.runs("t1"), 1);
    assert_eq!(desk.runs("t2"), 1, "it asked once and was not run again");
    assert_eq!(desk.runs("outline"), 1);
}

#[tokio::test]
async fn time_travel_inside_a_paused_call_reruns_only_the_inner_steps_after_the_fork() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let desk = Arc::new(Desk::default());
    desk.fail_once.lock().unwrap().push("polish");
    let graph = outer::graph(desk.clone())
        .checkpointer(saver)
        .compile()
        .unwrap();
    let thread = graph.thread("travel");
    thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let root = thread.state().await.unwrap().unwrap();
    let draft = thread
        .subgraph::<drafting::Graph>(&root.subgraphs[0].ns)
        .unwrap();
    // The draft call failed in `polish`; go back to just after `outline`.
    let history = draft.history().await.unwrap();
    let after_outline = history
        .iter()
        .find(|s| s.metadata.writes.contains_key("outline"))
        .unwrap();
    let branch = draft.fork(after_outline.checkpoint_id).await.unwrap();
    assert_ne!(branch.ns(), draft.ns(), "the fork's call is a new one");
    assert_eq!(
        branch.state().await.unwrap().unwrap().next,
        [drafting::Node::Stream]
    );
    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, log(&ALL));
    assert_eq!(desk.runs("outline"), 1, "before the fork: not run again");
    assert_eq!(desk.runs("t1"), 2, "after the fork: run again");
    assert_eq!(desk.runs("polish"), 2);
    assert_eq!(desk.runs("prepare"), 1);
}

#[tokio::test]
async fn time_travel_three_levels_down_into_a_finished_run_reruns_only_what_follows() {
    let dir = std::env::temp_dir().join(format!("sg-subgraph-travel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let savers = support::every_saver(&dir, "subtravel")
        .await
        .unwrap_or_else(|| vec![("memory", Arc::new(MemorySaver::new()))]);
    let run = stategraph::CheckpointId::new();
    for (backend, saver) in savers {
        let id = format!("travel-{backend}-{run}");
        let desk = Arc::new(Desk::default());
        let graph = outer::graph(desk.clone())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        let thread = graph.thread(id.as_str());
        thread
            .invoke(topic())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();

        // Down to the finished token call, to the checkpoint after `t1`.
        let root = thread.history().await.unwrap();
        let draft_call = &root[1].subgraphs[0];
        let draft = thread.subgraph::<drafting::Graph>(&draft_call.ns).unwrap();
        let stream_call = draft.history().await.unwrap()[1].subgraphs[0].clone();
        let tokens = draft.subgraph::<tokens::Graph>(&stream_call.ns).unwrap();
        let history = tokens.history().await.unwrap();
        let after_t1 = history
            .iter()
            .find(|s| s.metadata.writes.contains_key("t1"))
            .unwrap();
        assert_eq!(after_t1.values.log, log(&ALL[..3]), "{backend}");

        // Fork there, correct what `t1` wrote, and run on.
        let branch = tokens.fork(after_t1.checkpoint_id).await.unwrap();
        assert_eq!(
            branch.state().await.unwrap().unwrap().next,
            [tokens::Node::T2]
        );
        branch
            .update(DocUpdate::new().replace_log(log(&["prepare", "outline", "t1 fixed"])))
            .as_node(tokens::Node::T1)
            .await
            .unwrap();
        let state = thread.state().await.unwrap().unwrap();
        assert_eq!(
            state.next,
            [outer::Node::Draft],
            "{backend}: the root forked too"
        );
        let done = thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(
            done.log,
            log(&["prepare", "outline", "t1 fixed", "t2", "polish", "review"]),
            "{backend}"
        );
        for (node, runs) in [
            ("prepare", 1),
            ("outline", 1),
            ("t1", 1),
            ("t2", 2),
            ("polish", 2),
            ("review", 2),
        ] {
            assert_eq!(desk.runs(node), runs, "{backend}: {node}");
        }
        // The earlier branch stays in the history.
        assert_eq!(thread.history().await.unwrap().len(), 4 + 3, "{backend}");
        saver.delete_thread(&id.as_str().into()).await.unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_call_inherits_its_thread_durability_mode() {
    for mode in [Durability::Sync, Durability::Async, Durability::Exit] {
        let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
        let graph = outer::graph(Desk::default())
            .checkpointer(saver.clone())
            .durability(mode)
            .compile()
            .unwrap();
        let thread = graph.thread("modes");
        let done = thread
            .invoke(topic())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(done.log, log(&ALL), "{mode:?}");
        let all = saver
            .list(&ListQuery::thread("modes".into()))
            .await
            .unwrap();
        let inner = all.iter().filter(|t| !t.checkpoint.ns.is_empty()).count();
        let root = all.len() - inner;
        match mode {
            // Each level writes its final state only.
            Durability::Exit => assert_eq!((root, inner), (1, 2), "{mode:?}"),
            _ => assert_eq!((root, inner), (4, 4 + 3), "{mode:?}"),
        }
    }
}

#[stategraph::graph(state = Doc, deps = Desk, retry = RetryPolicy::attempts(2).backoff(Duration::ZERO, Duration::ZERO))]
mod retried {
    use super::*;

    #[subgraph]
    type draft = super::drafting::Graph;

    edges! { START -> draft -> END; }
}

#[tokio::test]
async fn a_retried_subgraph_node_continues_its_call_where_the_failure_left_it() {
    let desk = Arc::new(Desk::default());
    desk.fail_once.lock().unwrap().push("polish");
    let graph = retried::graph(desk.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let done = graph
        .thread("retried")
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, log(&["outline", "t1", "t2", "polish"]));
    assert_eq!(desk.runs("polish"), 2, "failed, then retried");
    assert_eq!(desk.runs("outline"), 1, "the retry continued the call");
    assert_eq!(desk.runs("t1"), 1);
}

#[stategraph::graph(state = Doc, deps = Desk, interrupt_before = [t2])]
mod gated_tokens {
    use super::*;

    #[node]
    async fn t1(_: &Doc, ctx: &NodeContext<Desk>) -> NodeResult<Doc> {
        entry("t1", ctx)
    }

    #[node]
    async fn t2(_: &Doc, ctx: &NodeContext<Desk>) -> NodeResult<Doc> {
        entry("t2", ctx)
    }

    edges! { START -> t1 -> t2 -> END; }
}

#[stategraph::graph(state = Doc, deps = Desk)]
mod gated {
    use super::*;

    #[subgraph]
    type tokens = super::gated_tokens::Graph;

    edges! { START -> tokens -> END; }
}

#[tokio::test]
async fn a_pause_declared_inside_a_subgraph_pauses_the_thread_until_answered() {
    let desk = Arc::new(Desk::default());
    let graph = gated::graph(desk.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("gated");
    let GraphError::Interrupted { interrupts, .. } = thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err()
    else {
        panic!("paused");
    };
    assert_eq!(interrupts[0].payload, serde_json::json!({"before": "t2"}));
    assert_eq!(desk.runs("t2"), 0);
    let done = thread
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, log(&["t1", "t2"]));
    assert_eq!(desk.runs("t1"), 1);
}

/// A chat over a state of its own, mapped to and from `Doc`.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Chat {
    prompt: String,
    #[state(reducer = append)]
    tokens: Vec<String>,
}

#[stategraph::graph(state = Chat, deps = Desk)]
mod chat {
    use super::*;

    #[node]
    async fn speak(s: &Chat, ctx: &NodeContext<Desk>) -> NodeResult<Chat> {
        ctx.deps().ran("speak");
        if ctx.deps().fails("speak") {
            return Err("speak failed".into());
        }
        if ctx.deps().questions > 0 {
            let _: String = ctx.interrupt("may I speak?").await?;
        }
        let n = s.tokens.len();
        Ok(ChatUpdate::new().push_tokens(format!("{}#{n}", s.prompt)))
    }

    #[node]
    async fn listen(_: &Chat, ctx: &NodeContext<Desk>) -> NodeResult<Chat> {
        ctx.deps().ran("listen");
        if ctx.deps().fails("listen") {
            return Err("listen failed".into());
        }
        Ok(ChatUpdate::new())
    }

    edges! { START -> speak -> listen -> END; }
}

fn to_chat(doc: &Doc) -> ChatUpdate {
    ChatUpdate::new().prompt(doc.topic.clone())
}

fn from_chat(chat: &Chat) -> DocUpdate {
    DocUpdate::new().push_log(chat.tokens.join(" "))
}

#[stategraph::graph(state = Doc, deps = Desk)]
mod per_call {
    use super::*;

    #[subgraph(input = to_chat, output = from_chat)]
    type talk = super::chat::Graph;

    edges! { START -> talk -> END; }
}

#[stategraph::graph(state = Doc, deps = Desk)]
mod per_thread {
    use super::*;

    #[subgraph(input = to_chat, output = from_chat, checkpoint = per_thread)]
    type talk = super::chat::Graph;

    edges! { START -> talk -> END; }
}

#[stategraph::graph(state = Doc, deps = Desk)]
mod unchecked {
    use super::*;

    #[subgraph(input = to_chat, output = from_chat, checkpoint = none)]
    type talk = super::chat::Graph;

    edges! { START -> talk -> END; }
}

#[tokio::test]
async fn a_mapped_subgraph_per_call_starts_fresh_and_per_thread_keeps_its_state() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let fresh = per_call::graph(Desk::default())
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = fresh.thread("fresh");
    thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let done = thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, ["tides#0", "tides#0"], "each call starts anew");

    let kept = per_thread::graph(Desk::default())
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = kept.thread("kept");
    thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let done = thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(
        done.log,
        ["tides#0", "tides#0 tides#1"],
        "the second call continues the first's state"
    );
    // One namespace, `talk`, holds both calls' history.
    let talk = thread.subgraph::<chat::Graph>("talk").unwrap();
    let state = talk.state().await.unwrap().unwrap();
    assert_eq!(state.values.tokens, ["tides#0", "tides#1"]);
    assert_eq!(talk.history().await.unwrap().len(), 6, "two calls of three");
}

#[tokio::test]
async fn a_per_thread_call_that_finished_is_not_run_again_when_its_step_is() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let desk = asking(1);
    let graph = per_thread::graph(desk.clone())
        .checkpointer(saver)
        .compile()
        .unwrap();
    let thread = graph.thread("answered");
    thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let done = thread
        .resume_with(Resume::value("go".to_owned()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, ["tides#0"]);
    assert_eq!(desk.runs("speak"), 2);
    assert_eq!(desk.runs("listen"), 1);
}

#[tokio::test]
async fn an_unchecked_subgraph_writes_nothing_reruns_whole_and_cannot_ask() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let desk = Arc::new(Desk::default());
    desk.fail_once.lock().unwrap().push("listen");
    let graph = unchecked::graph(desk.clone())
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("coarse");
    thread
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log, ["tides#0"]);
    assert_eq!(desk.runs("speak"), 2, "the whole call ran again");
    let inner = ListQuery::thread("coarse".into());
    let all = saver.list(&inner).await.unwrap();
    assert!(
        all.iter().all(|t| t.checkpoint.ns.is_empty()),
        "no inner checkpoint"
    );
    assert!(thread.state().await.unwrap().unwrap().subgraphs.is_empty());

    let graph = unchecked::graph(asking(1))
        .checkpointer(saver)
        .compile()
        .unwrap();
    let error = graph
        .thread("asks")
        .invoke(topic())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        error.to_string().contains("interrupts need a checkpointer"),
        "{error}"
    );
}

#[tokio::test]
async fn a_subgraph_handle_names_a_call_of_this_graph_and_its_graph() {
    let graph = outer::graph(Desk::default())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("handles");
    for (ns, why) in [
        ("review:x", "has no subgraph node `review`"),
        ("nothing", "has no subgraph node `nothing`"),
        ("draft:x|stream:y", "is not a subgraph call of"),
        ("", "is not a subgraph call of"),
    ] {
        let Err(error) = thread.subgraph::<drafting::Graph>(ns) else {
            panic!("{ns} opened");
        };
        assert!(error.to_string().contains(why), "{ns}: {error}");
    }
    let Err(error) = thread.subgraph::<tokens::Graph>("draft:x") else {
        panic!("the wrong graph opened");
    };
    assert!(
        error
            .to_string()
            .contains("runs graph `drafting`, not `tokens`"),
        "{error}"
    );
    let long = "draft:".to_owned() + &"x".repeat(10_000);
    let Err(error) = thread.subgraph::<drafting::Graph>(&long) else {
        panic!("an overlong namespace opened");
    };
    assert!(error.to_string().len() < 400, "bounded: {error}");
}

#[stategraph::graph(state = Doc, deps = Desk)]
mod loop_a {
    use super::*;

    #[subgraph]
    type b = super::loop_b::Graph;

    edges! { START -> b -> END; }
}

#[stategraph::graph(state = Doc, deps = Desk)]
mod loop_b {
    use super::*;

    #[subgraph]
    type a = super::loop_a::Graph;

    edges! { START -> a -> END; }
}

#[test]
fn a_graph_that_contains_itself_through_another_is_refused_when_compiled() {
    let Err(error) = loop_a::graph(Desk::default()).compile() else {
        panic!("compiled");
    };
    let text = error.to_string();
    assert!(text.contains("loop_a -> loop_b -> loop_a"), "{text}");
}
