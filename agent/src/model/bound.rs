//! A model with options attached: tools bound to it, a tool choice, sampling settings.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::{
    ChatModel, ChunkStream, ModelError, ModelRequest, ResponseFormat, Structured, ToolChoice,
    ToolSpec,
};
use crate::messages::{AiMessage, ChatMessage};

/// A call with no options.
static NO_OPTIONS: ModelRequest = ModelRequest {
    tools: Vec::new(),
    tool_choice: ToolChoice::Auto,
    response_format: None,
    temperature: None,
    max_tokens: None,
};

type Reply<'a, T> = Pin<Box<dyn Future<Output = Result<T, ModelError>> + Send + 'a>>;

/// Calling a model without building a [`ModelRequest`], and attaching options to it.
pub trait ChatModelExt: ChatModel + Sized {
    /// The whole reply to `messages`, with no options (or the ones bound).
    ///
    /// Called from a graph's node, the call shows in the run: when the run is streamed in
    /// messages mode (`StreamMode::MESSAGES`) the reply is streamed and each piece sent to the
    /// stream as it arrives, and its token usage is added to the run's total in its
    /// checkpoints (`CheckpointMetadata::token_usage`).
    fn invoke<'a>(&'a self, messages: &'a [ChatMessage]) -> Reply<'a, AiMessage> {
        Box::pin(super::in_node::call(self, messages, &NO_OPTIONS))
    }

    /// The reply to `messages` chunk by chunk, with no options (or the ones bound).
    fn stream<'a>(&'a self, messages: &'a [ChatMessage]) -> Reply<'a, ChunkStream> {
        self.stream_with(messages, &NO_OPTIONS)
    }

    /// The model with `tools` offered on every call (LangChain's `bind_tools`).
    fn bind_tools(self, tools: impl IntoIterator<Item = ToolSpec>) -> Bound<Self> {
        Bound::new(self).tools(tools)
    }

    /// The model with options to set ([`Bound::tool_choice`], [`Bound::temperature`], …).
    fn with_options(self) -> Bound<Self> {
        Bound::new(self)
    }

    /// The model asked to reply with JSON following `T`'s schema, read into a `T`
    /// (LangChain's `with_structured_output`).
    fn with_structured_output<T: JsonSchema + DeserializeOwned>(self) -> Structured<Self, T> {
        let schema = schemars::schema_for!(T);
        let name = T::schema_name().into_owned();
        let format = ResponseFormat {
            name,
            schema: serde_json::to_value(schema).unwrap_or_default(),
        };
        Structured::new(self, format)
    }
}

impl<M: ChatModel> ChatModelExt for M {}

/// A model with options attached; itself a [`ChatModel`], whose calls add these options to the
/// ones they are given.
#[derive(Debug, Clone)]
pub struct Bound<M> {
    model: M,
    request: ModelRequest,
}

impl<M: ChatModel> Bound<M> {
    fn new(model: M) -> Self {
        Self {
            model,
            request: ModelRequest::default(),
        }
    }

    /// Offers `tools` too.
    pub fn tools(mut self, tools: impl IntoIterator<Item = ToolSpec>) -> Self {
        self.request.tools.extend(tools);
        self
    }

    /// Whether and which tool the model must call.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.request.tool_choice = choice;
        self
    }

    /// The sampling temperature.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.request.temperature = Some(temperature);
        self
    }

    /// The most tokens to generate.
    pub fn max_tokens(mut self, max: u32) -> Self {
        self.request.max_tokens = Some(max);
        self
    }

    /// The options attached.
    pub fn request(&self) -> &ModelRequest {
        &self.request
    }

    /// The bound options, with a call's own on top: its tools added, its other settings
    /// winning where set.
    fn merged(&self, call: &ModelRequest) -> ModelRequest {
        let mut merged = self.request.clone();
        merged.tools.extend(call.tools.iter().cloned());
        if call.tool_choice != ToolChoice::Auto {
            merged.tool_choice = call.tool_choice.clone();
        }
        merged.response_format = call.response_format.clone().or(merged.response_format);
        merged.temperature = call.temperature.or(merged.temperature);
        merged.max_tokens = call.max_tokens.or(merged.max_tokens);
        merged
    }
}

#[async_trait]
impl<M: ChatModel> ChatModel for Bound<M> {
    fn model_name(&self) -> &str {
        self.model.model_name()
    }

    async fn stream_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<ChunkStream, ModelError> {
        self.model
            .stream_with(messages, &self.merged(request))
            .await
    }

    async fn invoke_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<AiMessage, ModelError> {
        self.model
            .invoke_with(messages, &self.merged(request))
            .await
    }
}

#[async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Arc<M> {
    fn model_name(&self) -> &str {
        (**self).model_name()
    }

    async fn stream_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<ChunkStream, ModelError> {
        (**self).stream_with(messages, request).await
    }

    async fn invoke_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<AiMessage, ModelError> {
        (**self).invoke_with(messages, request).await
    }
}
