//! What the prebuilt agent's loop costs around its model calls: one question answered with one
//! tool call (model → tool → model), the model a fake that answers at once, so what is timed is
//! the agent: messages, the tool node's task, routing, checkpoints. Prints the median time of
//! 1,000 runs (of 7 batches, after a warm-up) and the time per model call, without a
//! checkpointer and with `MemorySaver`.
//!
//! ```text
//! cargo bench --bench agent_loop --features agent
//! ```
//! BENCHMARKS.md records a run beside LangGraph's `create_react_agent` with a fake model of the
//! same behaviour (`benches/langgraph/agent_loop.py`), run by
//! `benches/side_by_side.sh agent` in the same invocation.

mod support;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use stategraph::agent::messages::{AiMessage, ChatMessage, ToolCall};
use stategraph::agent::model::{ChatModel, ChunkStream, ModelError, ModelRequest};
use stategraph::prebuilt::{Agent, AgentStateUpdate, react_agent};
use stategraph::{Ephemeral, MemorySaver, NodeError};

const BATCHES: usize = 7;
const RUNS: usize = 1_000;

/// Calls `add` after a question, answers after a tool's result.
struct Fake;

#[async_trait]
impl ChatModel for Fake {
    fn model_name(&self) -> &str {
        "fake"
    }

    async fn stream_with(
        &self,
        _: &[ChatMessage],
        _: &ModelRequest,
    ) -> Result<ChunkStream, ModelError> {
        unreachable!("the benchmark does not stream")
    }

    async fn invoke_with(
        &self,
        messages: &[ChatMessage],
        _: &ModelRequest,
    ) -> Result<AiMessage, ModelError> {
        Ok(match messages.last() {
            Some(ChatMessage::Human(_)) => {
                let call = ToolCall::new("add", serde_json::json!({ "a": 1, "b": 2 }));
                AiMessage::with_tool_calls("", vec![call])
            }
            _ => AiMessage::new("3"),
        })
    }
}

/// The arguments of `add`.
#[derive(Deserialize, JsonSchema)]
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

fn agent() -> Agent {
    Agent::new(Arc::new(Fake)).tool(add)
}

fn question() -> AgentStateUpdate {
    AgentStateUpdate::new().messages(ChatMessage::human("1+2?"))
}

/// The median over `BATCHES` batches of `RUNS` runs (after one warm-up batch) of one run, in µs.
async fn median<F: AsyncFnMut(usize)>(mut run: F) -> f64 {
    let mut times = Vec::with_capacity(BATCHES);
    for batch in 0..=BATCHES {
        let start = Instant::now();
        for i in 0..RUNS {
            run(batch * RUNS + i).await;
        }
        if batch > 0 {
            times.push(start.elapsed().as_secs_f64() * 1e6 / RUNS as f64);
        }
    }
    times.sort_by(f64::total_cmp);
    times[BATCHES / 2]
}

fn main() {
    support::run("agent_loop", |_dir| async move {
        println!(
            "\nstategraph: prebuilt agent, one tool call per question, median of {BATCHES} × {RUNS}\n"
        );
        println!("| configuration | µs per question | µs per model call |");
        println!("|---|---|---|");
        let ephemeral: react_agent::Compiled<Ephemeral> = agent().graph().compile().unwrap();
        let bare = median(async |_| {
            let done = ephemeral.invoke(question()).await.unwrap();
            assert_eq!(done.messages.len(), 4);
        })
        .await;
        row("no checkpointer", bare);
        let durable = agent()
            .graph()
            .checkpointer(MemorySaver::new())
            .compile()
            .unwrap();
        let saved = median(async |i| {
            let done = durable
                .thread(format!("q-{i}"))
                .invoke(question())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap();
            assert_eq!(done.messages.len(), 4);
        })
        .await;
        row("in-memory saver, sync", saved);
    });
}

fn row(configuration: &str, per_question: f64) {
    println!(
        "| {configuration} | {per_question:.1} | {:.1} |",
        per_question / 2.0
    );
}
