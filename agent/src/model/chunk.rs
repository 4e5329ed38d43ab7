//! A reply's pieces as a model streams them, and how they add up to the whole message.

use std::ops::AddAssign;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::messages::{AiMessage, InvalidToolCall, ToolCall, UsageMetadata};

/// A piece of a tool call: providers stream a call's id and name first, then its arguments as
/// JSON text in fragments; pieces with the same `index` belong to the same call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolCallChunk {
    /// Which call of the reply this piece belongs to.
    pub index: usize,
    /// The call's id, on the piece that carries it.
    pub id: Option<String>,
    /// The tool's name, on the piece that carries it.
    pub name: Option<String>,
    /// A fragment of the arguments' JSON text.
    pub args: String,
}

/// A piece of an AI message as it streams. Pieces add up (`+=`) to the whole reply;
/// [`into_message`](Self::into_message) then reads the tool calls' arguments.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AiMessageChunk {
    /// The reply's id, on the piece that carries it.
    pub id: Option<String>,
    /// Text.
    pub text: String,
    /// Pieces of tool calls.
    pub tool_call_chunks: Vec<ToolCallChunk>,
    /// Token usage, usually on the last piece.
    pub usage: Option<UsageMetadata>,
    /// Provider metadata (model name, finish reason), usually on the last piece.
    pub response_metadata: Map<String, Value>,
}

impl AiMessageChunk {
    /// A piece of text.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// A piece of tool call `index`: its id and name on the first piece, a fragment of its
    /// arguments' JSON text on each.
    pub fn tool_call(index: usize, id: Option<&str>, name: Option<&str>, args: &str) -> Self {
        Self {
            tool_call_chunks: vec![ToolCallChunk {
                index,
                id: id.map(str::to_owned),
                name: name.map(str::to_owned),
                args: args.to_owned(),
            }],
            ..Self::default()
        }
    }

    /// The whole message these pieces make: each call's arguments parsed as a JSON object,
    /// or kept as an invalid tool call (with the parse error) when they are not one.
    pub fn into_message(self) -> AiMessage {
        let mut message = AiMessage::new(self.text);
        if let Some(id) = self.id {
            message = message.with_id(id);
        }
        let mut calls = self.tool_call_chunks;
        calls.sort_by_key(|c| c.index);
        for call in calls {
            let parsed = match call.args.trim() {
                "" => Ok(Value::Object(Map::new())),
                args => serde_json::from_str::<Value>(args).map_err(|e| e.to_string()),
            };
            match (call.name, parsed) {
                (Some(name), Ok(Value::Object(args))) => {
                    let mut tool_call = ToolCall::new(name, Value::Object(args));
                    if let Some(id) = call.id {
                        tool_call = tool_call.with_id(id);
                    }
                    message.tool_calls.push(tool_call);
                }
                (name, parsed) => message.invalid_tool_calls.push(InvalidToolCall {
                    id: call.id,
                    error: Some(match (&name, parsed) {
                        (None, _) => "the tool call has no name".to_owned(),
                        (_, Err(error)) => format!("the arguments are not JSON: {error}"),
                        (_, Ok(_)) => "the arguments are not a JSON object".to_owned(),
                    }),
                    name,
                    args: Some(call.args),
                }),
            }
        }
        message.usage_metadata = self.usage;
        message.with_response_metadata(self.response_metadata)
    }
}

/// Written in LangChain's shape for a streamed piece (`AIMessageChunk.model_dump()`), as the
/// messages stream mode sends it: `{"type": "AIMessageChunk", "content", "id",
/// "tool_call_chunks": [{"name", "args", "id", "index", "type": "tool_call_chunk"}],
/// "usage_metadata", "response_metadata", …}`.
impl Serialize for AiMessageChunk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let chunks: Vec<Value> = self
            .tool_call_chunks
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "args": c.args,
                    "id": c.id,
                    "index": c.index,
                    "type": "tool_call_chunk",
                })
            })
            .collect();
        let mut map = serializer.serialize_map(Some(10))?;
        map.serialize_entry("type", "AIMessageChunk")?;
        map.serialize_entry("content", &self.text)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("name", &None::<String>)?;
        map.serialize_entry("additional_kwargs", &Map::new())?;
        map.serialize_entry("response_metadata", &self.response_metadata)?;
        map.serialize_entry("tool_calls", &[] as &[Value])?;
        map.serialize_entry("invalid_tool_calls", &[] as &[Value])?;
        map.serialize_entry("tool_call_chunks", &chunks)?;
        map.serialize_entry("usage_metadata", &self.usage)?;
        map.end()
    }
}

impl AddAssign for AiMessageChunk {
    fn add_assign(&mut self, later: Self) {
        if self.id.is_none() {
            self.id = later.id;
        }
        self.text.push_str(&later.text);
        for piece in later.tool_call_chunks {
            match self
                .tool_call_chunks
                .iter_mut()
                .find(|c| c.index == piece.index)
            {
                Some(call) => {
                    call.id = call.id.take().or(piece.id);
                    call.name = call.name.take().or(piece.name);
                    call.args.push_str(&piece.args);
                }
                None => self.tool_call_chunks.push(piece),
            }
        }
        self.usage = match (self.usage.take(), later.usage) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.response_metadata.extend(later.response_metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(index: usize, id: Option<&str>, name: Option<&str>, args: &str) -> AiMessageChunk {
        AiMessageChunk::tool_call(index, id, name, args)
    }

    #[test]
    fn pieces_add_up_to_calls_by_index_and_bad_arguments_become_invalid_calls() {
        let mut whole = AiMessageChunk::text("Let me ");
        whole += AiMessageChunk::text("look.");
        whole += piece(0, Some("c0"), Some("search"), "");
        whole += piece(1, Some("c1"), Some("fetch"), "{\"url\":");
        whole += piece(0, None, None, "{\"q\": \"ru");
        whole += piece(0, None, None, "st\"}");
        whole += piece(1, None, None, " \"http://x");
        whole += AiMessageChunk {
            usage: Some(UsageMetadata::new(10, 4)),
            ..AiMessageChunk::default()
        };
        let message = whole.into_message();
        assert_eq!(message.text(), "Let me look.");
        assert_eq!(message.tool_calls.len(), 1);
        assert_eq!(message.tool_calls[0].id, "c0");
        assert_eq!(message.tool_calls[0].args["q"], "rust");
        let invalid = &message.invalid_tool_calls[0];
        assert_eq!(invalid.id.as_deref(), Some("c1"));
        assert_eq!(invalid.args.as_deref(), Some("{\"url\": \"http://x"));
        assert!(invalid.error.as_deref().unwrap().contains("not JSON"));
        assert_eq!(message.usage_metadata.unwrap().total_tokens, 14);
    }

    #[test]
    fn a_call_without_arguments_has_an_empty_object() {
        let message = piece(0, Some("c"), Some("now"), "").into_message();
        assert!(message.tool_calls[0].args.is_empty());
        let message = piece(0, Some("c"), None, "{}").into_message();
        assert!(message.tool_calls.is_empty());
        assert_eq!(message.invalid_tool_calls.len(), 1);
    }
}
