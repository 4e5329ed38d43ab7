//! What a tool returns: the content the model reads, and an artifact kept out of its context.

use serde_json::Value;

use crate::messages::Content;

/// A tool's result: the content its tool message carries to the model, and optionally an
/// artifact stored beside it that no model reads (full rows, a file, an object for later
/// nodes — LangChain's `response_format="content_and_artifact"`).
///
/// A tool function may return anything that converts into it: a `String` or `&str` (the
/// text), a [`Content`], or a `serde_json::Value` (a string as its text, anything else as
/// compact JSON).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ToolOutput {
    /// What the model reads.
    pub content: Content,
    /// What is kept beside it, never sent to a model.
    pub artifact: Option<Value>,
}

impl ToolOutput {
    /// A result with `content` and no artifact.
    pub fn new(content: impl Into<Content>) -> Self {
        Self {
            content: content.into(),
            artifact: None,
        }
    }

    /// The result with `artifact` kept beside its content.
    pub fn with_artifact(mut self, artifact: Value) -> Self {
        self.artifact = Some(artifact);
        self
    }

    /// The content's text.
    pub fn text(&self) -> String {
        self.content.text()
    }
}

impl From<String> for ToolOutput {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl From<&str> for ToolOutput {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<Content> for ToolOutput {
    fn from(content: Content) -> Self {
        Self::new(content)
    }
}

impl From<Value> for ToolOutput {
    fn from(value: Value) -> Self {
        match value {
            Value::String(text) => Self::new(text),
            other => Self::new(other.to_string()),
        }
    }
}
