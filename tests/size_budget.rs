//! The checkpoint-size budget: a warning naming the thread, step, total and largest fields when
//! a step's state outgrows it (once per thread, namespace and field), a typed error in strict mode that
//! leaves the thread at its last checkpoint, nothing when off, and a thread's size per field.

mod support;

use serde::{Deserialize, Serialize};
use stategraph::{GraphError, MemorySaver, NodeResult, SizeBudget, State};
use support::trace::Recorder;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Chat {
    #[state(reducer = append)]
    messages: Vec<String>,
    turns: u32,
    title: String,
}

/// 20 KiB per turn.
const TURN: usize = 20 * 1024;

#[stategraph::graph(state = Chat)]
mod chat {
    use super::*;

    #[node]
    async fn reply(s: &Chat) -> NodeResult<Chat> {
        Ok(ChatUpdate::new()
            .push_messages("x".repeat(TURN))
            .turns(s.turns + 1)
            .title("a chat".to_owned()))
    }

    pub(super) enum More {
        Yes,
        No,
    }

    #[route]
    fn more(s: &Chat) -> More {
        if s.turns < 5 { More::Yes } else { More::No }
    }

    edges! {
        START -> reply;
        reply -> more { Yes => reply, No => END };
    }
}

fn warnings(recorder: &Recorder) -> Vec<support::trace::Seen> {
    recorder
        .0
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.name.contains("checkpoint budget"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn over_the_default_budget_a_warning_names_the_largest_fields_once_per_thread() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let graph = chat::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    // 5 turns of 20 KiB: over 50 KiB from the third on, warned about once.
    graph
        .thread("first")
        .invoke(ChatUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let seen = warnings(&recorder);
    assert_eq!(seen.len(), 1, "{seen:?}");
    let warning = &seen[0];
    assert_eq!(warning.fields["thread"], "first");
    assert_eq!(warning.fields["step"], "2", "the third turn crosses 50 KiB");
    assert!(warning.fields["total"].parse::<usize>().unwrap() > 50 * 1024);
    assert!(
        warning.fields["largest"].starts_with("messages ("),
        "{warning:?}"
    );
    // Another thread is warned about too; the same thread again is not.
    graph
        .thread("second")
        .invoke(ChatUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    graph
        .thread("first")
        .invoke(ChatUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(warnings(&recorder).len(), 2);
}

#[tokio::test]
async fn off_means_no_warning() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let graph = chat::graph()
        .checkpointer(MemorySaver::new())
        .size_budget(SizeBudget::off())
        .compile()
        .unwrap();
    graph
        .thread("quiet")
        .invoke(ChatUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert!(warnings(&recorder).is_empty());
}

#[tokio::test]
async fn in_strict_mode_the_step_fails_and_the_thread_stays_at_its_last_checkpoint() {
    let saver = std::sync::Arc::new(MemorySaver::new());
    let strict = chat::graph()
        .checkpointer(saver.clone())
        .size_budget(SizeBudget::strict(50 * 1024))
        .compile()
        .unwrap();
    let thread = strict.thread("strict");
    let error = thread
        .invoke(ChatUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let GraphError::OverBudget {
        step,
        total,
        budget,
        ref largest,
        ..
    } = error
    else {
        panic!("over budget: {error}");
    };
    assert_eq!((step, budget), (2, 50 * 1024));
    assert!(
        total > budget && largest.starts_with("messages ("),
        "{error}"
    );
    assert!(error.to_string().len() < 400, "bounded: {error}");
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.values.turns, 2, "the third turn was not checkpointed");
    assert_eq!(state.next, [chat::Node::Reply], "it runs again on resume");
    // With room enough, the resume finishes the run.
    let roomy = chat::graph()
        .checkpointer(saver)
        .size_budget(SizeBudget::strict(1024 * 1024))
        .compile()
        .unwrap();
    let done = roomy
        .thread("strict")
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.turns, 5);

    // Its size, field by field, largest first.
    let size = roomy.thread("strict").size().await.unwrap().unwrap();
    assert_eq!(size.fields[0].0, "messages");
    assert!(size.fields[0].1 >= 5 * TURN);
    assert_eq!(size.total, size.fields.iter().map(|f| f.1).sum::<usize>());
    assert_eq!(size.fields.len(), 3);
    assert!(roomy.thread("nobody").size().await.unwrap().is_none());
}

/// A small outer state that runs the chat as a subgraph, keeping only its turn count.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Desk {
    turns: u32,
}

fn to_chat(_: &Desk) -> ChatUpdate {
    ChatUpdate::new()
}

fn from_chat(chat: &Chat) -> DeskUpdate {
    DeskUpdate::new().turns(chat.turns)
}

#[stategraph::graph(state = Desk)]
mod desk {
    use super::*;

    #[subgraph(input = to_chat, output = from_chat)]
    type talk = super::chat::Graph;

    edges! { START -> talk -> END; }
}

/// A subgraph's states are weighed against the graph's budget too: the warning names the
/// call's namespace, and strict mode fails the call's step (so the subgraph node fails).
#[tokio::test]
async fn a_subgraph_call_is_weighed_against_the_budget_too() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let graph = desk::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let done = graph
        .thread("desk")
        .invoke(DeskUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.turns, 5);
    let seen = warnings(&recorder);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].fields["ns"].starts_with("talk:"), "{:?}", seen[0]);
    assert!(seen[0].fields["largest"].starts_with("messages ("));

    let strict = desk::graph()
        .checkpointer(MemorySaver::new())
        .size_budget(SizeBudget::strict(50 * 1024))
        .compile()
        .unwrap();
    let error = strict
        .thread("strict-desk")
        .invoke(DeskUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let GraphError::Node { node, source, .. } = &error else {
        panic!("the subgraph node fails: {error}");
    };
    assert_eq!(*node, "talk");
    assert!(
        matches!(
            source.downcast_ref::<GraphError>(),
            Some(GraphError::OverBudget { step: 2, .. })
        ),
        "{error}"
    );
}
