//! Static interrupts: pauses before and after nodes, declared on the graph or set on a thread
//! (and then saved with its checkpoints, so a resume in another process keeps them).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stategraph::{GraphError, MemorySaver, NodeResult, Resume, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Post {
    text: String,
    #[state(reducer = append)]
    ran: Vec<String>,
}

#[stategraph::graph(state = Post, interrupt_before = [publish], interrupt_after = [draft])]
mod gated {
    use super::*;

    #[node]
    async fn draft(s: &Post) -> NodeResult<Post> {
        Ok(PostUpdate::new()
            .text(format!("{}!", s.text))
            .push_ran("draft"))
    }

    #[node]
    async fn check(_: &Post) -> NodeResult<Post> {
        Ok(PostUpdate::new().push_ran("check"))
    }

    #[node]
    async fn publish(_: &Post) -> NodeResult<Post> {
        Ok(PostUpdate::new().push_ran("publish"))
    }

    edges! {
        START -> draft -> check -> publish -> END;
    }
}

#[stategraph::graph(state = Post)]
mod plain {
    use super::*;

    #[node]
    async fn draft(_: &Post) -> NodeResult<Post> {
        Ok(PostUpdate::new().push_ran("draft"))
    }

    #[node]
    async fn publish(_: &Post) -> NodeResult<Post> {
        Ok(PostUpdate::new().push_ran("publish"))
    }

    edges! {
        START -> draft -> publish -> END;
    }
}

fn paused_at(err: GraphError) -> (String, serde_json::Value) {
    match err {
        GraphError::Interrupted { mut interrupts, .. } => {
            assert_eq!(interrupts.len(), 1, "{interrupts:?}");
            let pause = interrupts.remove(0);
            (pause.node, pause.payload)
        }
        other => panic!("expected a pause, got {other:?}"),
    }
}

#[tokio::test]
async fn declared_pauses_stop_after_and_before_their_nodes_until_answered() {
    let graph = gated::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("gated");
    let err = thread
        .invoke(PostUpdate::new().text("hi"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(
        paused_at(err),
        ("draft".to_owned(), serde_json::json!({"after": "draft"}))
    );
    // After: draft's step is saved, check is next.
    let at = thread.state().await.unwrap().unwrap();
    assert_eq!(at.values.ran, ["draft"]);
    assert_eq!(at.next, [gated::Node::Check]);
    assert_eq!(at.interrupts.len(), 1);
    // A plain resume waits on the same pause.
    let again = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(paused_at(again).0, "draft");

    let err = thread
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(
        paused_at(err),
        (
            "publish".to_owned(),
            serde_json::json!({"before": "publish"})
        )
    );
    // Before: publish has not run.
    let at = thread.state().await.unwrap().unwrap();
    assert_eq!(at.values.ran, ["draft", "check"]);
    assert_eq!(at.next, [gated::Node::Publish]);

    let done = thread
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.ran, ["draft", "check", "publish"]);
    assert_eq!(done.text, "hi!");
}

#[tokio::test]
async fn a_threads_pauses_are_saved_and_survive_a_new_handle() {
    let saver = Arc::new(MemorySaver::new());
    let graph = plain::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph
        .thread("set-on-thread")
        .interrupt_before([plain::Node::Publish]);
    let err = thread
        .invoke(PostUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(paused_at(err).0, "publish");
    let head = thread.state().await.unwrap().unwrap();
    assert_eq!(head.metadata.pauses.before, ["publish"]);

    // Another process: a graph and handle that know nothing of the pause.
    let other = plain::graph().checkpointer(saver).compile().unwrap();
    let fresh = other.thread("set-on-thread");
    assert_eq!(
        paused_at(
            fresh
                .resume()
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap_err()
        )
        .0,
        "publish"
    );
    let done = fresh
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.ran, ["draft", "publish"]);

    // The next run still pauses; a handle with an empty list clears the pause.
    let err = fresh
        .invoke(PostUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(paused_at(err).0, "publish");
    let cleared = fresh.interrupt_before([]);
    let err = cleared
        .invoke(PostUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(err, GraphError::ThreadInterrupted { .. }),
        "{err:?}"
    );
    cleared
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let done = cleared
        .invoke(PostUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.ran.len(), 6, "no pause after clearing");
}

#[tokio::test]
async fn without_a_checkpointer_a_declared_pause_is_a_clear_error() {
    let graph = gated::graph().compile().unwrap();
    let err = graph.invoke(PostUpdate::new()).await.unwrap_err();
    assert!(
        matches!(err, GraphError::Config(ref m) if m.contains("checkpointer")),
        "{err:?}"
    );
}

/// An after-pause answered with "go on", then a before-pause at the same checkpoint: only the
/// new pause is open — in the error, in `state()`, in the thread's status — and one "go on"
/// answers it (LangGraph #5952 is this class of bug). Per-thread and declared pauses alike.
#[tokio::test]
async fn an_answered_pause_is_never_open_again_when_another_fires_at_its_checkpoint() {
    let saver = Arc::new(MemorySaver::new());
    let per_thread = plain::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let declared_after = gated::graph().checkpointer(saver).compile().unwrap();
    let plain_thread = per_thread
        .thread("both-per-thread")
        .interrupt_after([plain::Node::Draft])
        .interrupt_before([plain::Node::Publish]);
    let err = plain_thread
        .invoke(PostUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(paused_at(err).1, serde_json::json!({ "after": "draft" }));
    let err = plain_thread
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(paused_at(err).1, serde_json::json!({ "before": "publish" }));
    let state = plain_thread.state().await.unwrap().unwrap();
    assert_eq!(state.interrupts.len(), 1, "{:?}", state.interrupts);
    assert_eq!(
        state.interrupts[0].payload,
        serde_json::json!({ "before": "publish" })
    );
    assert_eq!(state.status, stategraph::ThreadStatus::Interrupted);
    let done = plain_thread
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.ran, ["draft", "publish"]);

    let declared = declared_after
        .thread("declared-after")
        .interrupt_before([gated::Node::Check]);
    let err = declared
        .invoke(PostUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(paused_at(err).1, serde_json::json!({ "after": "draft" }));
    let err = declared
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(paused_at(err).1, serde_json::json!({ "before": "check" }));
    let state = declared.state().await.unwrap().unwrap();
    assert_eq!(state.interrupts.len(), 1, "{:?}", state.interrupts);
    let err = declared
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert_eq!(paused_at(err).1, serde_json::json!({ "before": "publish" }));
    let done = declared
        .resume_with(Resume::value(()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.ran, ["draft", "check", "publish"]);
}
