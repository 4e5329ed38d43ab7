//! Chat messages: what a conversation with a model is made of.
//!
//! A [`ChatMessage`] is one of four kinds, each its own type: [`SystemMessage`] (instructions),
//! [`HumanMessage`] (the user's turn), [`AiMessage`] (the model's turn: text, tool calls, token
//! usage) and [`ToolMessage`] (a tool's result, answering one tool call by its id). Every
//! message has an id, generated when it is made or read without one, so the `messages`
//! reducer can replace or remove it later.
//!
//! Serialised, a message is LangChain's flat shape (`message.model_dump()` in Python):
//! `{"type": "human", "content": "…", "id": "…", "name": null, "additional_kwargs": {},
//! "response_metadata": {}}`, with `tool_calls`, `invalid_tool_calls` and `usage_metadata` on
//! `ai` messages and `tool_call_id`, `status` and `artifact` on `tool` messages. Reading, it
//! also takes what clients send: `role` in place of `type` (`user`, `assistant`, `system`,
//! `developer`, `tool`), a bare string for a human message, OpenAI's `image_url` content
//! blocks.
//!
//! ```
//! use stategraph_agent::messages::ChatMessage;
//!
//! let from_client: ChatMessage =
//!     serde_json::from_str(r#"{"role": "user", "content": "hi"}"#).unwrap();
//! assert_eq!(from_client.text(), "hi");
//! assert!(!from_client.id().is_empty(), "an id is generated");
//! let stored = serde_json::to_value(&from_client).unwrap();
//! assert_eq!(stored["type"], "human");
//! ```

mod content;
mod kinds;
mod tool_call;
mod usage;
mod wire;

pub use content::{Content, ContentPart, MediaSource};
pub use kinds::{AiMessage, HumanMessage, SystemMessage, ToolMessage, ToolStatus};
pub(crate) use tool_call::args_object;
pub use tool_call::{InvalidToolCall, ToolCall};
pub use usage::UsageMetadata;

use serde_json::{Map, Value};

/// A new message id: a UUIDv7 (they sort by creation time), as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// What kind a message is: its `type` when serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions to the model (`system`).
    System,
    /// The user's turn (`human`).
    Human,
    /// The model's turn (`ai`).
    Ai,
    /// A tool's result (`tool`).
    Tool,
}

impl Role {
    /// The name LangChain gives this kind (`type`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Human => "human",
            Self::Ai => "ai",
            Self::Tool => "tool",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    /// Instructions to the model.
    System(SystemMessage),
    /// The user's turn.
    Human(HumanMessage),
    /// The model's turn.
    Ai(AiMessage),
    /// A tool's result.
    Tool(ToolMessage),
}

impl ChatMessage {
    /// A system message with text `content` and a new id.
    pub fn system(content: impl Into<Content>) -> Self {
        Self::System(SystemMessage::new(content))
    }

    /// A human message with `content` (text, or parts) and a new id.
    pub fn human(content: impl Into<Content>) -> Self {
        Self::Human(HumanMessage::new(content))
    }

    /// An AI message with text `content`, no tool calls, and a new id.
    pub fn ai(content: impl Into<Content>) -> Self {
        Self::Ai(AiMessage::new(content))
    }

    /// What kind of message this is.
    pub fn role(&self) -> Role {
        match self {
            Self::System(_) => Role::System,
            Self::Human(_) => Role::Human,
            Self::Ai(_) => Role::Ai,
            Self::Tool(_) => Role::Tool,
        }
    }

    /// The message's id.
    pub fn id(&self) -> &str {
        &self.common().id
    }

    /// The message's content.
    pub fn content(&self) -> &Content {
        &self.common().content
    }

    /// The message's text: its text content, or its text parts joined.
    pub fn text(&self) -> String {
        self.content().text()
    }

    /// The name of the message's author, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.common().name.as_deref()
    }

    /// Provider-specific fields LangChain keeps beside the content (`additional_kwargs`).
    pub fn additional_kwargs(&self) -> &Map<String, Value> {
        &self.common().additional_kwargs
    }

    /// What the provider said about the response (model name, finish reason, …).
    pub fn response_metadata(&self) -> &Map<String, Value> {
        &self.common().response_metadata
    }

    /// The message with its id replaced by `id` (to replace an earlier message through the
    /// `messages` reducer).
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.common_mut().id = id.into();
        self
    }

    /// The message with its author's name set.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.common_mut().name = Some(name.into());
        self
    }

    /// The AI message, if this is one.
    pub fn as_ai(&self) -> Option<&AiMessage> {
        match self {
            Self::Ai(message) => Some(message),
            _ => None,
        }
    }

    /// The tool message, if this is one.
    pub fn as_tool(&self) -> Option<&ToolMessage> {
        match self {
            Self::Tool(message) => Some(message),
            _ => None,
        }
    }

    /// The tool calls this message asks for: an AI message's, none for the others.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.as_ai().map_or(&[], |ai| &ai.tool_calls)
    }

    fn common(&self) -> &Common {
        match self {
            Self::System(m) => &m.common,
            Self::Human(m) => &m.common,
            Self::Ai(m) => &m.common,
            Self::Tool(m) => &m.common,
        }
    }

    fn common_mut(&mut self) -> &mut Common {
        match self {
            Self::System(m) => &mut m.common,
            Self::Human(m) => &mut m.common,
            Self::Ai(m) => &mut m.common,
            Self::Tool(m) => &mut m.common,
        }
    }
}

impl stategraph_runtime::Message for ChatMessage {
    fn id(&self) -> Option<&str> {
        Some(ChatMessage::id(self))
    }
}

/// What every kind of message has.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Common {
    pub(crate) id: String,
    pub(crate) content: Content,
    pub(crate) name: Option<String>,
    pub(crate) additional_kwargs: Map<String, Value>,
    pub(crate) response_metadata: Map<String, Value>,
}

impl Common {
    pub(crate) fn new(content: Content) -> Self {
        Self {
            id: new_id(),
            content,
            name: None,
            additional_kwargs: Map::new(),
            response_metadata: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests;
