//! Dependencies declared on a graph (`#[graph(state = S, deps = D)]`): given when the graph is
//! built or per thread, reachable from nodes (`ctx.deps()`) and routes (a `&D` argument), never
//! persisted; and nodes returning their own error types.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use stategraph::{Checkpointer, GraphError, MemorySaver, NodeContext, State};

/// What the nodes need from the outside world.
trait Llm: Send + Sync {
    fn complete(&self, prompt: &str) -> String;
}

struct Deps {
    llm: Box<dyn Llm>,
    max_drafts: u32,
    calls: AtomicUsize,
}

struct Echo;
impl Llm for Echo {
    fn complete(&self, prompt: &str) -> String {
        format!("echo: {prompt}")
    }
}

struct Shout;
impl Llm for Shout {
    fn complete(&self, prompt: &str) -> String {
        prompt.to_uppercase()
    }
}

fn deps(llm: impl Llm + 'static, max_drafts: u32) -> Deps {
    Deps {
        llm: Box::new(llm),
        max_drafts,
        calls: AtomicUsize::new(0),
    }
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Essay {
    topic: String,
    #[state(reducer = append)]
    drafts: Vec<String>,
}

/// A node's own error type.
#[derive(Debug, thiserror::Error)]
#[error("the topic is empty")]
struct EmptyTopic;

#[stategraph::graph(state = Essay, deps = Deps)]
mod writer {
    use super::*;

    #[node]
    async fn draft(s: &Essay, ctx: &NodeContext<Deps>) -> Result<EssayUpdate, EmptyTopic> {
        if s.topic.is_empty() {
            return Err(EmptyTopic);
        }
        let deps = ctx.deps();
        deps.calls.fetch_add(1, Ordering::SeqCst);
        let text = deps
            .llm
            .complete(&format!("{} #{}", s.topic, s.drafts.len()));
        Ok(EssayUpdate::new().push_drafts(text))
    }

    pub enum More {
        Again,
        Done,
    }

    #[route]
    fn more(s: &Essay, deps: &Deps) -> More {
        if (s.drafts.len() as u32) < deps.max_drafts {
            More::Again
        } else {
            More::Done
        }
    }

    edges! {
        START -> draft;
        draft -> more { Again => draft, Done => END };
    }
}

#[tokio::test]
async fn two_graphs_with_different_deps_in_one_process() {
    let echo = Arc::new(deps(Echo, 2));
    let shout = Arc::new(deps(Shout, 3));
    let quiet = writer::graph(echo.clone()).compile().unwrap();
    let loud = writer::graph(shout.clone()).compile().unwrap();
    let (a, b) = tokio::join!(
        quiet.invoke(EssayUpdate::new().topic("rust")),
        loud.invoke(EssayUpdate::new().topic("rust")),
    );
    assert_eq!(a.unwrap().drafts, ["echo: rust #0", "echo: rust #1"]);
    assert_eq!(b.unwrap().drafts, ["RUST #0", "RUST #1", "RUST #2"]);
    assert_eq!(echo.calls.load(Ordering::SeqCst), 2);
    assert_eq!(shout.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_thread_can_carry_its_own_deps_and_they_are_never_persisted() {
    let saver = Arc::new(MemorySaver::new());
    let graph = writer::graph(deps(Echo, 1))
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let double = Arc::new(deps(Shout, 2));
    let out = graph
        .thread("essay-1")
        .with_deps(double.clone())
        .invoke(EssayUpdate::new().topic("tests"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.drafts, ["TESTS #0", "TESTS #1"]);
    assert_eq!(double.calls.load(Ordering::SeqCst), 2);
    // The checkpoints hold the state's channels only.
    let head = saver
        .get(&"essay-1".into(), "", None)
        .await
        .unwrap()
        .unwrap();
    let channels: Vec<&str> = head
        .checkpoint
        .channel_versions
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(channels, ["drafts", "topic"]);
    // The graph's own deps run other threads.
    let other = graph
        .thread("essay-2")
        .invoke(EssayUpdate::new().topic("x"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(other.drafts, ["echo: x #0"]);
}

#[tokio::test]
async fn a_node_error_of_its_own_type_names_the_node_and_step_and_can_be_downcast() {
    let graph = writer::graph(deps(Echo, 1)).compile().unwrap();
    let err = graph.invoke(EssayUpdate::new()).await.unwrap_err();
    let GraphError::Node {
        node, step, source, ..
    } = &err
    else {
        panic!("expected a node error, got {err:?}");
    };
    assert_eq!((*node, *step), ("draft", 0));
    assert!(source.downcast_ref::<EmptyTopic>().is_some());
    let text = err.to_string();
    assert!(text.contains("node `draft` failed at step 0"), "{text}");
    assert!(text.contains("the topic is empty"), "{text}");
}
