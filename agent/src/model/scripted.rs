//! A model that answers from a script, for tests: no network, the same replies every run.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use super::{AiMessageChunk, ChatModel, ChunkStream, ModelError, ModelRequest};
use crate::messages::{AiMessage, ChatMessage, ToolCall};

/// A [`ChatModel`] that answers each call with the next reply of its script, streamed in
/// pieces as a provider streams them (text word by word, each tool call's arguments in two
/// fragments, usage on the last piece), and records what each call was asked.
#[derive(Debug, Default)]
pub struct ScriptedModel {
    replies: Mutex<VecDeque<AiMessage>>,
    calls: Mutex<Vec<(Vec<ChatMessage>, ModelRequest)>>,
}

impl ScriptedModel {
    /// A model with an empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// A model whose script is these text replies, in order (LangChain's `FakeListChatModel`).
    pub fn replies<T: Into<String>>(replies: impl IntoIterator<Item = T>) -> Self {
        replies.into_iter().fold(Self::new(), Self::reply)
    }

    /// Adds `message` to the script.
    pub fn message(self, message: AiMessage) -> Self {
        self.lock_replies().push_back(message);
        self
    }

    /// Adds a text reply to the script.
    pub fn reply(self, text: impl Into<String>) -> Self {
        self.message(AiMessage::new(text.into()))
    }

    /// Adds a reply that calls tool `name` with `args`.
    pub fn tool_call(self, name: impl Into<String>, args: Value) -> Self {
        self.tool_calls(vec![ToolCall::new(name, args)])
    }

    /// Adds a reply that calls several tools at once.
    pub fn tool_calls(self, calls: Vec<ToolCall>) -> Self {
        self.message(AiMessage::with_tool_calls("", calls))
    }

    /// What each call so far was asked: its messages and options, in order.
    pub fn calls(&self) -> Vec<(Vec<ChatMessage>, ModelRequest)> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The replies not given yet.
    pub fn remaining(&self) -> usize {
        self.lock_replies().len()
    }

    fn lock_replies(&self) -> std::sync::MutexGuard<'_, VecDeque<AiMessage>> {
        self.replies.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    fn model_name(&self) -> &str {
        "scripted"
    }

    async fn stream_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<ChunkStream, ModelError> {
        let reply = self.lock_replies().pop_front();
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.push((messages.to_vec(), request.clone()));
        let reply = reply.ok_or(ModelError::ScriptExhausted {
            calls: calls.len() - 1,
        })?;
        Ok(Box::pin(futures::stream::iter(
            pieces(reply).into_iter().map(Ok),
        )))
    }
}

/// `reply` in the pieces a provider would stream.
fn pieces(reply: AiMessage) -> Vec<AiMessageChunk> {
    let mut pieces = vec![AiMessageChunk {
        id: Some(reply.id().to_owned()),
        ..AiMessageChunk::default()
    }];
    pieces.extend(reply.text().split_inclusive(' ').map(AiMessageChunk::text));
    for (index, call) in reply.tool_calls.iter().enumerate() {
        let args = serde_json::to_string(&call.args).unwrap_or_default();
        let middle = args
            .char_indices()
            .nth(args.chars().count() / 2)
            .map_or(args.len(), |(at, _)| at);
        let (head, tail) = args.split_at(middle);
        pieces.push(AiMessageChunk::tool_call(
            index,
            Some(&call.id),
            Some(&call.name),
            head,
        ));
        pieces.push(AiMessageChunk::tool_call(index, None, None, tail));
    }
    pieces.push(AiMessageChunk {
        usage: reply.usage_metadata.clone(),
        response_metadata: reply.response_metadata().clone(),
        ..AiMessageChunk::default()
    });
    pieces
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use serde_json::json;

    use super::*;
    use crate::messages::UsageMetadata;
    use crate::model::ChatModelExt;

    #[tokio::test]
    async fn replies_stream_in_pieces_that_add_up_to_the_scripted_message() {
        let scripted = AiMessage::with_tool_calls(
            "Checking two sources.",
            vec![
                ToolCall::new("search", json!({"q": "rust async"})),
                ToolCall::new("fetch", json!({"url": "https://x.test"})),
            ],
        )
        .with_usage(UsageMetadata::new(30, 12));
        let model = ScriptedModel::new().message(scripted.clone());
        let pieces: Vec<AiMessageChunk> = model
            .stream(&[ChatMessage::human("go")])
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
        assert!(pieces.len() > 6, "text and calls arrive in pieces");
        let mut whole = AiMessageChunk::default();
        for piece in pieces {
            whole += piece;
        }
        assert_eq!(whole.into_message(), scripted);
    }

    #[tokio::test]
    async fn calls_are_recorded_and_an_exhausted_script_is_an_error() {
        let model = ScriptedModel::new().reply("one");
        let bound = model.with_options().temperature(0.5);
        assert_eq!(
            bound
                .invoke(&[ChatMessage::human("a")])
                .await
                .unwrap()
                .text(),
            "one"
        );
        let error = bound.invoke(&[ChatMessage::human("b")]).await.unwrap_err();
        assert_eq!(error, ModelError::ScriptExhausted { calls: 1 });
    }
}
