//! Agents on stategraph: the message layer a tool-calling agent is written over.
//!
//! - [`messages`]: system, human, AI and tool messages with ids, text or multimodal content,
//!   tool calls and their results, token usage — serialised in the shape LangChain uses, so a
//!   thread's messages read the same from a LangGraph front end. They work with the
//!   `messages` reducer: add, replace by id, remove by id, remove all.
//! - [`model`]: the [`ChatModel`](model::ChatModel) trait nodes call — whole replies or
//!   streamed chunks, tools bound, a tool choice, structured output into a serde type — and
//!   [`ScriptedModel`](model::ScriptedModel), which answers from a list for tests.
//! - [`tools`]: typed tools (`#[tool]` on an async fn) and the tool node that runs each call
//!   of a model's turn as its own durable task, with optional human approval.
//! - [`hooks`]: what runs before each model call of an agent — trim what the model reads, or
//!   summarise the old part of the conversation into one message.
//! - [`trim`]: keep a conversation inside a context window, by message count or by tokens,
//!   without separating a tool call from its result.
//!
//! ```
//! use stategraph_agent::messages::{AiMessage, ChatMessage, ToolCall, ToolMessage};
//!
//! let call = ToolCall::new("search", serde_json::json!({ "query": "rust" }));
//! let conversation = vec![
//!     ChatMessage::system("You answer in one line."),
//!     ChatMessage::human("What is new in Rust?"),
//!     AiMessage::with_tool_calls("", vec![call.clone()]).into(),
//!     ToolMessage::new(&call.id, "Rust 1.95 is out.").into(),
//! ];
//! let json = serde_json::to_value(&conversation[1]).unwrap();
//! assert_eq!(json["type"], "human");
//! assert_eq!(json["content"], "What is new in Rust?");
//! ```

pub mod hooks;
pub mod messages;
pub mod model;
#[cfg(any(
    feature = "openai",
    feature = "anthropic",
    feature = "ollama",
    feature = "openai-compatible"
))]
pub mod providers;
pub mod tools;
pub mod trim;
