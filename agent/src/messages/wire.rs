//! A message's serialised shape: LangChain's flat dict, written exactly, read leniently.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Error as _, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{
    AiMessage, ChatMessage, Common, Content, HumanMessage, InvalidToolCall, SystemMessage,
    ToolCall, ToolMessage, ToolStatus, UsageMetadata, new_id,
};

impl Serialize for ChatMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let common = self.common();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("content", &common.content)?;
        map.serialize_entry("additional_kwargs", &common.additional_kwargs)?;
        map.serialize_entry("response_metadata", &common.response_metadata)?;
        map.serialize_entry("type", self.role().as_str())?;
        map.serialize_entry("name", &common.name)?;
        map.serialize_entry("id", &common.id)?;
        match self {
            Self::Ai(ai) => {
                map.serialize_entry("tool_calls", &ai.tool_calls)?;
                map.serialize_entry("invalid_tool_calls", &ai.invalid_tool_calls)?;
                map.serialize_entry("usage_metadata", &ai.usage_metadata)?;
            }
            Self::Tool(tool) => {
                map.serialize_entry("tool_call_id", &tool.tool_call_id)?;
                map.serialize_entry("artifact", &tool.artifact)?;
                map.serialize_entry("status", &tool.status)?;
            }
            Self::System(_) | Self::Human(_) => {}
        }
        map.end()
    }
}

/// Every field any kind of message may carry, as read.
#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type", alias = "role", default)]
    kind: Option<String>,
    #[serde(default)]
    content: Content,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    additional_kwargs: Option<Map<String, Value>>,
    #[serde(default)]
    response_metadata: Option<Map<String, Value>>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
    #[serde(default)]
    invalid_tool_calls: Option<Vec<InvalidToolCall>>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    status: Option<ToolStatus>,
    #[serde(default)]
    artifact: Option<Value>,
}

impl Wire {
    fn into_message<E: de::Error>(self) -> Result<ChatMessage, E> {
        let kind = self
            .kind
            .ok_or_else(|| E::custom("a message needs a `type` (or a `role`)"))?;
        let common = Common {
            id: self.id.filter(|id| !id.is_empty()).unwrap_or_else(new_id),
            content: self.content,
            name: self.name,
            additional_kwargs: self.additional_kwargs.unwrap_or_default(),
            response_metadata: self.response_metadata.unwrap_or_default(),
        };
        Ok(match kind.as_str() {
            "system" | "developer" => ChatMessage::System(SystemMessage { common }),
            "human" | "user" => ChatMessage::Human(HumanMessage { common }),
            "ai" | "assistant" | "AIMessageChunk" => ChatMessage::Ai(AiMessage {
                common,
                tool_calls: self.tool_calls.unwrap_or_default(),
                invalid_tool_calls: self.invalid_tool_calls.unwrap_or_default(),
                usage_metadata: self.usage_metadata,
            }),
            "tool" => ChatMessage::Tool(ToolMessage {
                common,
                tool_call_id: self
                    .tool_call_id
                    .ok_or_else(|| E::custom("a tool message needs a `tool_call_id`"))?,
                status: self.status.unwrap_or_default(),
                artifact: self.artifact,
            }),
            _ => {
                return Err(E::custom(
                    "unknown message type (expected system, human, ai or tool; or the roles \
                     user, assistant, developer)",
                ));
            }
        })
    }
}

impl<'de> Deserialize<'de> for ChatMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = ChatMessage;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message: an object with a `type` or `role`, a [role, content] pair, or text")
    }

    /// Bare text is the user's turn, as in LangGraph's `add_messages`.
    fn visit_str<E: de::Error>(self, text: &str) -> Result<ChatMessage, E> {
        Ok(ChatMessage::human(text))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ChatMessage, A::Error> {
        Wire::deserialize(MapAccessDeserializer::new(map))?.into_message()
    }

    /// `["user", "hi"]`: a role and its content.
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ChatMessage, A::Error> {
        let (role, content): (String, Content) =
            Deserialize::deserialize(SeqAccessDeserializer::new(seq))
                .map_err(|_| A::Error::custom("a message pair must be [role, content]"))?;
        if role == "tool" {
            return Err(A::Error::custom(
                "a tool message needs a `tool_call_id`, which a [role, content] pair cannot give",
            ));
        }
        Wire {
            kind: Some(role),
            content,
            id: None,
            name: None,
            additional_kwargs: None,
            response_metadata: None,
            tool_calls: None,
            invalid_tool_calls: None,
            usage_metadata: None,
            tool_call_id: None,
            status: None,
            artifact: None,
        }
        .into_message()
    }
}
