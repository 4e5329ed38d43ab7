//! Chat models: the [`ChatModel`] trait nodes call, the options of a call, streamed chunks, and
//! structured output into a serde type.
//!
//! A node holds a model as `Arc<dyn ChatModel>` (usually in the graph's dependencies) and calls
//! [`invoke`](ChatModelExt::invoke) for a whole reply or [`stream`](ChatModelExt::stream) for its
//! chunks as they arrive. [`ScriptedModel`] answers from a list, chunk by chunk, for tests.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use stategraph_agent::messages::ChatMessage;
//! use stategraph_agent::model::{ChatModel, ChatModelExt, ScriptedModel, ToolSpec};
//!
//! let model = ScriptedModel::new()
//!     .tool_call("search", serde_json::json!({ "query": "rust" }))
//!     .reply("Rust 1.95 is out.");
//! let tools = [ToolSpec::new("search", "Searches the web.", serde_json::json!({ "type": "object" }))];
//! let with_tools = model.bind_tools(tools);
//! let first = with_tools.invoke(&[ChatMessage::human("News?")]).await?;
//! assert_eq!(first.tool_calls[0].name, "search");
//! let second = with_tools.invoke(&[ChatMessage::human("News?")]).await?;
//! assert_eq!(second.text(), "Rust 1.95 is out.");
//! # Ok::<(), stategraph_agent::model::ModelError>(())
//! # }).unwrap();
//! ```

mod bound;
mod chunk;
mod in_node;
mod scripted;
mod structured;

pub use bound::{Bound, ChatModelExt};
pub use chunk::{AiMessageChunk, ToolCallChunk};
pub use scripted::ScriptedModel;
pub use structured::Structured;

use std::pin::Pin;

use async_trait::async_trait;
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::messages::{AiMessage, ChatMessage};

/// A tool as a model sees it: its name, what it does, and the JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model to decide when to call it.
    pub description: String,
    /// The JSON Schema of its arguments (an object schema).
    pub parameters: Value,
}

impl ToolSpec {
    /// A tool named `name`, described by `description`, taking arguments of schema
    /// `parameters`.
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolChoice {
    /// The model decides (the default).
    #[default]
    Auto,
    /// The model must not call a tool.
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Tool(String),
}

/// A reply constrained to a JSON Schema (structured output).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResponseFormat {
    /// The schema's name, as providers ask for one.
    pub name: String,
    /// The JSON Schema the reply must follow.
    pub schema: Value,
}

/// What a call asks of the model besides the messages.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ModelRequest {
    /// The tools the model may call.
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool it must call.
    pub tool_choice: ToolChoice,
    /// A schema the reply must follow.
    pub response_format: Option<ResponseFormat>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// The most tokens to generate.
    pub max_tokens: Option<u32>,
}

/// Why a model call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The provider refused the call or failed (its message, cut to 1,000 bytes).
    #[error("the model provider failed: {0}")]
    Provider(String),
    /// A structured reply did not match its type (serde's error, cut to 1,000 bytes).
    #[error("the model's reply does not match the expected type: {0}")]
    Parse(String),
    /// A scripted model was called more times than it has replies.
    #[error("the scripted model has no reply left (it was called {calls} times)")]
    ScriptExhausted {
        /// How many calls it answered.
        calls: usize,
    },
}

impl ModelError {
    /// A provider error with `message` cut to a bounded length.
    pub fn provider(message: impl AsRef<str>) -> Self {
        Self::Provider(cut(message.as_ref()))
    }
}

/// `text` cut to at most 1,000 bytes (the contract's [`truncated`]), marked when cut.
///
/// [`truncated`]: stategraph_runtime::truncated
pub(crate) fn cut(text: &str) -> String {
    let kept = stategraph_runtime::truncated(text.to_owned(), 1000);
    if kept.len() < text.len() {
        kept + "… (cut)"
    } else {
        kept
    }
}

/// A reply streamed chunk by chunk.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<AiMessageChunk, ModelError>> + Send>>;

/// A chat model: messages in, an AI message out, whole or streamed.
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// The model's name (for traces and usage records).
    fn model_name(&self) -> &str;

    /// Streams the reply to `messages` under `request`, chunk by chunk.
    async fn stream_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<ChunkStream, ModelError>;

    /// The whole reply to `messages` under `request`. By default the stream, gathered.
    async fn invoke_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<AiMessage, ModelError> {
        let mut stream = self.stream_with(messages, request).await?;
        let mut whole = AiMessageChunk::default();
        while let Some(chunk) = stream.next().await {
            whole += chunk?;
        }
        Ok(whole.into_message())
    }
}
