//! `StreamMode::MESSAGES`: what models called from nodes reply, piece by piece as it arrives —
//! text and tool-call deltas — each event tagged with its node, step, namespace and run; from
//! any node that calls a model, not only the prebuilt agent. And the tokens a run's model
//! calls used, recorded in its checkpoints.

use std::sync::Arc;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stategraph::agent::messages::{AiMessage, ChatMessage, ToolCall, UsageMetadata};
use stategraph::agent::model::{AiMessageChunk, ChatModel, ChatModelExt, ScriptedModel};
use stategraph::prebuilt::{Agent, AgentState, AgentStateUpdate};
use stategraph::{
    Event, EventData, MemorySaver, NodeContext, NodeError, NodeResult, State, StreamMode,
    StreamOptions,
};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Notes {
    #[state(reducer = messages)]
    messages: Vec<ChatMessage>,
    title: String,
}

struct Deps {
    model: Arc<dyn ChatModel>,
}

#[stategraph::graph(state = Notes, deps = Deps)]
mod writer {
    use super::*;

    /// A node of the user's own that calls a model: no agent, no helper.
    #[node]
    async fn draft(s: &Notes, ctx: &NodeContext<Deps>) -> NodeResult<Notes> {
        let reply = ctx.deps().model.invoke(&s.messages).await?;
        Ok(NotesUpdate::new().messages(ChatMessage::from(reply)))
    }

    #[node]
    async fn name(s: &Notes) -> NodeResult<Notes> {
        Ok(NotesUpdate::new().title(s.messages.last().map(ChatMessage::text).unwrap_or_default()))
    }

    edges! {
        START -> draft -> name -> END;
    }
}

fn pieces(events: &[Event]) -> Vec<(&Event, &AiMessageChunk)> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::Message(p) => Some((e, p.get::<AiMessageChunk>().expect("a chunk"))),
            _ => None,
        })
        .collect()
}

async fn collect<S: Send + 'static>(mut stream: stategraph::RunStream<S>) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap());
    }
    events
}

#[tokio::test]
async fn a_users_node_streams_its_models_reply_piece_by_piece_with_one_id() {
    let model = ScriptedModel::new().message(
        AiMessage::new("Three short lines about tea").with_usage(UsageMetadata::new(12, 6)),
    );
    let saver = Arc::new(MemorySaver::new());
    let graph = writer::graph(Deps {
        model: Arc::new(model),
    })
    .checkpointer(Arc::clone(&saver))
    .compile()
    .unwrap();
    let thread = graph.thread("notes");
    let input = NotesUpdate::new().messages(ChatMessage::human("write"));
    let events = collect(thread.stream(input, StreamMode::MESSAGES | StreamMode::UPDATES)).await;
    let pieces = pieces(&events);
    let text: String = pieces.iter().map(|(_, c)| c.text.as_str()).collect();
    assert_eq!(text, "Three short lines about tea");
    assert!(pieces.len() > 3, "streamed in pieces: {}", pieces.len());
    for (event, _) in &pieces {
        assert_eq!(
            (event.node.as_deref(), event.step, event.ns.as_str()),
            (Some("draft"), 0, "")
        );
        assert_eq!(event.run_id, events[0].run_id);
    }
    // The pieces share the id of the message the node stored, so a front end joins them.
    let state = thread.state().await.unwrap().unwrap();
    let stored = state.values.messages.last().unwrap();
    assert!(
        pieces
            .iter()
            .all(|(_, c)| c.id.as_deref() == Some(stored.id()))
    );
    // The pieces come before the update of the node that made them.
    let first_update = events
        .iter()
        .position(|e| matches!(e.data, EventData::Update(_)))
        .unwrap();
    let last_piece = events
        .iter()
        .rposition(|e| matches!(e.data, EventData::Message(_)))
        .unwrap();
    assert!(last_piece < first_update);
    // As JSON, a piece is LangChain's chunk.
    let json = pieces[1].0.to_json().unwrap();
    assert_eq!(json["kind"], "message");
    assert_eq!(json["data"]["type"], "AIMessageChunk");
    assert_eq!(json["run_id"], serde_json::json!(&*events[0].run_id));
    // The usage is in the run's checkpoints.
    assert_eq!(state.metadata.token_usage.unwrap().total_tokens, 18);
}

#[tokio::test]
async fn without_messages_mode_no_piece_is_sent() {
    let model = ScriptedModel::new().reply("quiet");
    let graph = writer::graph(Deps {
        model: Arc::new(model),
    })
    .checkpointer(MemorySaver::new())
    .compile()
    .unwrap();
    let input = NotesUpdate::new().messages(ChatMessage::human("write"));
    let others = StreamMode::VALUES
        | StreamMode::UPDATES
        | StreamMode::CUSTOM
        | StreamMode::TASKS
        | StreamMode::CHECKPOINTS
        | StreamMode::INTERRUPTS;
    let events = collect(graph.thread("quiet").stream(input, others)).await;
    assert!(!events.is_empty());
    assert!(pieces(&events).is_empty());
}

#[tokio::test]
async fn tool_call_deltas_stream_and_both_turns_count_in_the_runs_usage() {
    let call = ToolCall::new("add", serde_json::json!({ "a": 1, "b": 2 })).with_id("c1");
    let model = ScriptedModel::new()
        .message(AiMessage::with_tool_calls("", vec![call]).with_usage(UsageMetadata::new(10, 5)))
        .message(AiMessage::new("3").with_usage(UsageMetadata::new(20, 1)));
    let graph = Agent::new(Arc::new(model))
        .tool(add)
        .graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("deltas");
    let input = AgentStateUpdate::new().messages(ChatMessage::human("1+2?"));
    let events = collect(thread.stream(input, StreamMode::MESSAGES)).await;
    let pieces = pieces(&events);
    let args: String = pieces
        .iter()
        .flat_map(|(_, c)| &c.tool_call_chunks)
        .map(|c| c.args.as_str())
        .collect();
    assert_eq!(args, r#"{"a":1,"b":2}"#);
    assert!(
        pieces
            .iter()
            .filter(|(_, c)| !c.tool_call_chunks.is_empty())
            .count()
            >= 2
    );
    let steps: Vec<i64> = pieces.iter().map(|(e, _)| e.step).collect();
    assert_eq!(
        (steps.first(), steps.last()),
        (Some(&0), Some(&2)),
        "the model's two turns"
    );
    // Both turns' tokens are the run's.
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.metadata.token_usage.unwrap().total_tokens, 36);
}

/// The arguments of `add`.
#[derive(Deserialize, schemars::JsonSchema)]
struct Pair {
    /// The first number.
    a: i64,
    /// The second number.
    b: i64,
}

/// Adds two numbers.
#[stategraph::tool]
async fn add(args: Pair) -> Result<String, NodeError> {
    Ok((args.a + args.b).to_string())
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Desk {
    question: String,
    answer: String,
}

fn to_agent(desk: &Desk) -> AgentStateUpdate {
    AgentStateUpdate::new().messages(ChatMessage::human(desk.question.as_str()))
}

fn from_agent(agent: &AgentState) -> DeskUpdate {
    DeskUpdate::new().answer(
        agent
            .messages
            .last()
            .map(ChatMessage::text)
            .unwrap_or_default(),
    )
}

#[stategraph::graph(state = Desk, deps = Agent)]
mod desk {
    use super::*;

    #[subgraph(input = to_agent, output = from_agent)]
    type assistant = stategraph::prebuilt::react_agent::Graph;

    edges! {
        START -> assistant -> END;
    }
}

#[tokio::test]
async fn a_subgraphs_model_pieces_carry_its_namespace() {
    let agent = Arc::new(Agent::new(Arc::new(
        ScriptedModel::new().reply("forty two"),
    )));
    let graph = desk::graph(agent)
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let input = DeskUpdate::new().question("?".to_owned());
    let options = StreamOptions::new(StreamMode::MESSAGES).subgraphs();
    let events = collect(graph.thread("desk").stream(input, options)).await;
    let pieces = pieces(&events);
    assert!(!pieces.is_empty());
    for (event, _) in &pieces {
        assert!(event.ns.starts_with("assistant:"), "{}", event.ns);
        assert_eq!(
            (event.graph, event.node.as_deref()),
            ("react_agent", Some("model"))
        );
    }
    // Without subgraphs, the subgraph's pieces stay inside it.
    let agent = Arc::new(Agent::new(Arc::new(
        ScriptedModel::new().reply("forty two"),
    )));
    let graph = desk::graph(agent)
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let input = DeskUpdate::new().question("?".to_owned());
    let events = collect(graph.thread("desk").stream(input, StreamMode::MESSAGES)).await;
    assert!(events.is_empty(), "{events:?}");
}

#[stategraph::graph(state = Notes, deps = Deps)]
mod pair {
    use super::*;

    #[node]
    async fn left(s: &Notes, ctx: &NodeContext<Deps>) -> NodeResult<Notes> {
        let reply = ctx.deps().model.invoke(&s.messages).await?;
        Ok(NotesUpdate::new().messages(reply))
    }

    #[node]
    async fn right(s: &Notes, ctx: &NodeContext<Deps>) -> NodeResult<Notes> {
        let reply = ctx.deps().model.invoke(&s.messages).await?;
        Ok(NotesUpdate::new().messages(reply))
    }

    edges! {
        START -> [left, right] -> END;
    }
}

#[tokio::test]
async fn parallel_model_calls_each_count_in_the_runs_usage() {
    let model = ScriptedModel::new()
        .message(AiMessage::new("one").with_usage(UsageMetadata::new(10, 5)))
        .message(AiMessage::new("two").with_usage(UsageMetadata::new(20, 7)));
    let graph = pair::graph(Deps {
        model: Arc::new(model),
    })
    .checkpointer(MemorySaver::new())
    .compile()
    .unwrap();
    let thread = graph.thread("pair");
    let input = NotesUpdate::new().messages(ChatMessage::human("go"));
    thread.invoke(input).await.unwrap().into_finished().unwrap();
    let state = thread.state().await.unwrap().unwrap();
    let usage = state.metadata.token_usage.unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens),
        (30, 12, 42)
    );
    // Without a checkpointer nothing records it, and nothing fails.
    let model = ScriptedModel::replies(["a", "b"]);
    let bare = pair::graph(Deps {
        model: Arc::new(model),
    })
    .compile()
    .unwrap();
    bare.invoke(NotesUpdate::new()).await.unwrap();
}
