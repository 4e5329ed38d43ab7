//! The four kinds of message and what each carries beyond the common fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use stategraph_runtime::MessagesUpdate;

use super::{ChatMessage, Common, Content, InvalidToolCall, ToolCall, UsageMetadata};

macro_rules! common_accessors {
    ($kind:ident, $variant:ident) => {
        impl $kind {
            /// The message's id.
            pub fn id(&self) -> &str {
                &self.common.id
            }

            /// The message's content.
            pub fn content(&self) -> &Content {
                &self.common.content
            }

            /// The message's text: its text content, or its text parts joined.
            pub fn text(&self) -> String {
                self.common.content.text()
            }

            /// The message with id `id`.
            pub fn with_id(mut self, id: impl Into<String>) -> Self {
                self.common.id = id.into();
                self
            }

            /// The name of its author (a tool message: the tool's), when set.
            pub fn name(&self) -> Option<&str> {
                self.common.name.as_deref()
            }

            /// The message with its author's name set.
            pub fn with_name(mut self, name: impl Into<String>) -> Self {
                self.common.name = Some(name.into());
                self
            }

            /// The message with provider metadata (model name, finish reason, …) set.
            pub fn with_response_metadata(mut self, metadata: Map<String, Value>) -> Self {
                self.common.response_metadata = metadata;
                self
            }
        }

        impl From<$kind> for ChatMessage {
            fn from(message: $kind) -> Self {
                ChatMessage::$variant(message)
            }
        }

        /// A write of one message to a `messages` field: `update.messages(reply)`.
        impl From<$kind> for MessagesUpdate<ChatMessage> {
            fn from(message: $kind) -> Self {
                MessagesUpdate::from(ChatMessage::$variant(message))
            }
        }
    };
}

/// A kind of message that carries nothing beyond the common fields.
macro_rules! plain_kind {
    ($(#[$doc:meta])* $kind:ident, $variant:ident, $new_doc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $kind {
            pub(crate) common: Common,
        }

        impl $kind {
            #[doc = $new_doc]
            pub fn new(content: impl Into<Content>) -> Self {
                Self {
                    common: Common::new(content.into()),
                }
            }
        }

        common_accessors!($kind, $variant);
    };
}

plain_kind!(
    /// Instructions to the model.
    SystemMessage,
    System,
    "A system message with `content` and a new id."
);

plain_kind!(
    /// The user's turn.
    HumanMessage,
    Human,
    "A human message with `content` (text, or parts such as images) and a new id."
);

/// The model's turn: text, the tools it calls, and what the call cost.
#[derive(Debug, Clone, PartialEq)]
pub struct AiMessage {
    pub(crate) common: Common,
    /// The tool calls the model asks for, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Tool calls the model wrote that could not be read.
    pub invalid_tool_calls: Vec<InvalidToolCall>,
    /// The tokens the call consumed, when the provider reports them.
    pub usage_metadata: Option<UsageMetadata>,
}

impl AiMessage {
    /// An AI message with `content`, no tool calls and a new id.
    pub fn new(content: impl Into<Content>) -> Self {
        Self {
            common: Common::new(content.into()),
            tool_calls: Vec::new(),
            invalid_tool_calls: Vec::new(),
            usage_metadata: None,
        }
    }

    /// An AI message with `content` that calls `tool_calls`.
    pub fn with_tool_calls(content: impl Into<Content>, tool_calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls,
            ..Self::new(content)
        }
    }

    /// The message with its token usage set.
    pub fn with_usage(mut self, usage: UsageMetadata) -> Self {
        self.usage_metadata = Some(usage);
        self
    }

    /// Provider metadata (model name, finish reason, …).
    pub fn response_metadata(&self) -> &Map<String, Value> {
        &self.common.response_metadata
    }
}

common_accessors!(AiMessage, Ai);

/// Whether a tool did what it was called for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolStatus {
    /// It did; the content is its result.
    #[default]
    Success,
    /// It failed; the content says why, for the model to read.
    Error,
}

/// A tool's result, answering one tool call by its id.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolMessage {
    pub(crate) common: Common,
    /// The id of the tool call this answers.
    pub tool_call_id: String,
    /// Whether the tool succeeded.
    pub status: ToolStatus,
    /// What the tool produced beyond what the model reads (full rows, a file, an object for
    /// later nodes): stored with the message, never sent to a model.
    pub artifact: Option<Value>,
}

impl ToolMessage {
    /// The successful result `content` of tool call `tool_call_id`, with a new id.
    pub fn new(tool_call_id: impl Into<String>, content: impl Into<Content>) -> Self {
        Self {
            common: Common::new(content.into()),
            tool_call_id: tool_call_id.into(),
            status: ToolStatus::Success,
            artifact: None,
        }
    }

    /// A failure of tool call `tool_call_id`, explained by `content` for the model.
    pub fn error(tool_call_id: impl Into<String>, content: impl Into<Content>) -> Self {
        Self {
            status: ToolStatus::Error,
            ..Self::new(tool_call_id, content)
        }
    }

    /// The message with an artifact kept beside it.
    pub fn with_artifact(mut self, artifact: Value) -> Self {
        self.artifact = Some(artifact);
        self
    }
}

common_accessors!(ToolMessage, Tool);
