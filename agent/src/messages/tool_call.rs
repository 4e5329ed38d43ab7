//! What a model asks tools to do: well-formed calls, and calls whose arguments did not parse.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::new_id;

/// A tool call an AI message asks for: which tool, with which arguments, under which id (the
/// tool's result answers it by this id).
///
/// Serialised as LangChain's `{"name", "args", "id", "type": "tool_call"}`. Read from that
/// shape (`type` may be absent) or from OpenAI's `{"id", "type": "function", "function":
/// {"name", "arguments": "<JSON text>"}}`; a call without an id gets a new one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "WireCall")]
pub struct ToolCall {
    /// The tool's name.
    pub name: String,
    /// The arguments, a JSON object.
    pub args: Map<String, Value>,
    /// The call's id.
    pub id: String,
}

impl ToolCall {
    /// A call of tool `name` with `args` (a JSON object; anything else is passed as `{"input":
    /// args}`) and a new id.
    pub fn new(name: impl Into<String>, args: Value) -> Self {
        Self {
            name: name.into(),
            args: args_object(args),
            id: new_id(),
        }
    }

    /// The call with id `id`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }
}

/// Arguments as a JSON object: an object as it is, anything else as `{"input": args}`.
pub(crate) fn args_object(args: Value) -> Map<String, Value> {
    match args {
        Value::Object(args) => args,
        other => Map::from_iter([("input".to_owned(), other)]),
    }
}

/// A tool call the model produced but that could not be read (its arguments are not a JSON
/// object, say): kept with the parse error, so the model can be told and try again.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InvalidToolCall {
    /// The call's id, if the model gave one.
    #[serde(default)]
    pub id: Option<String>,
    /// The tool's name, if it could be read.
    #[serde(default)]
    pub name: Option<String>,
    /// The arguments as the model wrote them.
    #[serde(default)]
    pub args: Option<String>,
    /// Why the call could not be read.
    #[serde(default)]
    pub error: Option<String>,
}

/// A tool call as read, in LangChain's shape or OpenAI's.
#[derive(Deserialize)]
struct WireCall {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

impl TryFrom<WireCall> for ToolCall {
    type Error = String;

    fn try_from(wire: WireCall) -> Result<Self, String> {
        let (name, args) = match (wire.name, wire.function) {
            (Some(name), _) => (name, wire.args),
            (None, Some(function)) => (function.name, function.arguments),
            (None, None) => return Err("a tool call needs a `name`".into()),
        };
        let args = match args {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(args)) => args,
            // OpenAI sends the arguments as JSON text.
            Some(Value::String(text)) if text.trim().is_empty() => Map::new(),
            Some(Value::String(text)) => match serde_json::from_str(&text) {
                Ok(Value::Object(args)) => args,
                _ => return Err("a tool call's arguments must be a JSON object".into()),
            },
            Some(_) => return Err("a tool call's arguments must be a JSON object".into()),
        };
        Ok(Self {
            name,
            args,
            id: wire.id.unwrap_or_else(new_id),
        })
    }
}

impl Serialize for ToolCall {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("args", &self.args)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("type", "tool_call")?;
        map.end()
    }
}

impl Serialize for InvalidToolCall {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("type", "invalid_tool_call")?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("args", &self.args)?;
        map.serialize_entry("error", &self.error)?;
        map.end()
    }
}
