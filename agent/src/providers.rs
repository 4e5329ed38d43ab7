//! Chat models of real providers, through the `genai` crate: OpenAI, Anthropic, Ollama and any
//! OpenAI-compatible server, each behind its own feature (`openai`, `anthropic`, `ollama`,
//! `openai-compatible`).
//!
//! ```no_run
//! # #[cfg(feature = "openai")]
//! # async fn demo() -> Result<(), stategraph_agent::model::ModelError> {
//! use stategraph_agent::messages::ChatMessage;
//! use stategraph_agent::model::ChatModelExt;
//! use stategraph_agent::providers::Provider;
//!
//! // The key from OPENAI_API_KEY unless `.api_key(…)` gives one.
//! let model = Provider::openai("gpt-4o-mini").build()?;
//! let reply = model.invoke(&[ChatMessage::human("Hello")]).await?;
//! println!("{}", reply.text());
//! # Ok(())
//! # }
//! # fn main() {}
//! ```

use async_trait::async_trait;
use futures::StreamExt;
use genai::adapter::AdapterKind;
use genai::chat::{self as g, ChatOptions, ChatRequest, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint};
use genai::{Client, ModelIden, ServiceTarget};
use serde_json::{Map, Value};

use crate::messages::{
    AiMessage, ChatMessage, Content, ContentPart, InvalidToolCall, MediaSource, ToolCall,
    UsageMetadata,
};
use crate::model::{AiMessageChunk, ChatModel, ChunkStream, ModelError, ModelRequest, ToolChoice};
use stategraph_runtime::store::{Embed, StoreError};

/// Which provider's protocol a model speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OpenAi,
    Anthropic,
    Ollama,
}

/// Options for a provider's model; [`build`](Self::build) makes the [`ProviderModel`].
#[derive(Debug, Clone)]
#[must_use = "a provider does nothing until built"]
pub struct Provider {
    kind: Kind,
    model: String,
    base_url: Option<String>,
    api_key: Option<String>,
    key_env: Option<&'static str>,
}

impl Provider {
    fn new(kind: Kind, model: &str, key_env: Option<&'static str>) -> Self {
        Self {
            kind,
            model: model.to_owned(),
            base_url: None,
            api_key: None,
            key_env,
        }
    }

    /// An OpenAI model (Chat Completions), keyed by `OPENAI_API_KEY` unless told otherwise.
    #[cfg(feature = "openai")]
    pub fn openai(model: &str) -> Self {
        Self::new(Kind::OpenAi, model, Some("OPENAI_API_KEY"))
    }

    /// An Anthropic model (Messages API), keyed by `ANTHROPIC_API_KEY` unless told otherwise.
    #[cfg(feature = "anthropic")]
    pub fn anthropic(model: &str) -> Self {
        Self::new(Kind::Anthropic, model, Some("ANTHROPIC_API_KEY"))
    }

    /// A model served by Ollama, at `http://localhost:11434/` unless told otherwise.
    #[cfg(feature = "ollama")]
    pub fn ollama(model: &str) -> Self {
        Self::new(Kind::Ollama, model, None)
    }

    /// A model of any server speaking OpenAI's Chat Completions at `base_url` (vLLM,
    /// LM Studio, a gateway), without a key unless [`api_key`](Self::api_key) gives one.
    #[cfg(feature = "openai-compatible")]
    pub fn openai_compatible(base_url: &str, model: &str) -> Self {
        Self::new(Kind::OpenAi, model, None).base_url(base_url)
    }

    /// Sends requests to `base_url` (ending in `/`, e.g. `https://api.openai.com/v1/`) instead
    /// of the provider's own.
    pub fn base_url(mut self, base_url: &str) -> Self {
        let mut url = base_url.to_owned();
        if !url.ends_with('/') {
            url.push('/');
        }
        self.base_url = Some(url);
        self
    }

    /// Authenticates with `key` instead of the provider's environment variable.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The model (fails only if the HTTP client cannot be set up).
    pub fn build(self) -> Result<ProviderModel, ModelError> {
        let model = self.model.clone();
        Ok(ProviderModel {
            client: self.client()?,
            model,
        })
    }

    /// The provider's embedding model of this name (`text-embedding-3-small`,
    /// `nomic-embed-text`, …), for a store's semantic index: it implements the store's
    /// [`Embed`].
    pub fn embeddings(self) -> Result<ProviderEmbeddings, ModelError> {
        let model = self.model.clone();
        Ok(ProviderEmbeddings {
            client: self.client()?,
            model,
        })
    }

    /// The HTTP client, resolving every call to this provider, model, URL and key.
    fn client(self) -> Result<Client, ModelError> {
        let adapter = match self.kind {
            Kind::OpenAi => AdapterKind::OpenAI,
            Kind::Anthropic => AdapterKind::Anthropic,
            Kind::Ollama => AdapterKind::Ollama,
        };
        let model = self.model.clone();
        let (base_url, api_key, key_env) = (self.base_url, self.api_key, self.key_env);
        Client::builder()
            .with_service_target_resolver_fn(move |mut target: ServiceTarget| {
                target.model = ModelIden::new(adapter, model.as_str());
                if let Some(url) = &base_url {
                    target.endpoint = Endpoint::from_owned(url.as_str());
                }
                target.auth = match (&api_key, key_env) {
                    (Some(key), _) => AuthData::from_single(key.as_str()),
                    (None, Some(env)) => AuthData::from_env(env),
                    (None, None) => AuthData::from_single(""),
                };
                Ok(target)
            })
            .build()
            .map_err(|error| ModelError::provider(error.to_string()))
    }
}

/// A provider's embedding model, called over HTTP through `genai`.
#[derive(Debug, Clone)]
pub struct ProviderEmbeddings {
    client: Client,
    model: String,
}

#[async_trait]
impl Embed for ProviderEmbeddings {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, StoreError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let response = self
            .client
            .embed_batch(self.model.as_str(), texts.to_vec(), None)
            .await
            .map_err(|error| StoreError::Embed(crate::model::cut(&error.to_string())))?;
        let vectors = response.into_vectors();
        if vectors.len() != texts.len() {
            return Err(StoreError::Embed(format!(
                "asked for {} vectors, the model returned {}",
                texts.len(),
                vectors.len()
            )));
        }
        Ok(vectors)
    }
}

/// A provider's chat model, called over HTTP through `genai`.
#[derive(Debug, Clone)]
pub struct ProviderModel {
    client: Client,
    model: String,
}

#[async_trait]
impl ChatModel for ProviderModel {
    fn model_name(&self) -> &str {
        &self.model
    }

    async fn invoke_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<AiMessage, ModelError> {
        let (chat, options) = to_request(messages, request);
        let response = self
            .client
            .exec_chat(self.model.as_str(), chat, Some(&options))
            .await
            .map_err(|error| ModelError::provider(error.to_string()))?;
        let mut reply = AiMessage::new(response.content.texts().concat());
        for call in response.content.tool_calls() {
            match from_tool_call(call) {
                Ok(call) => reply.tool_calls.push(call),
                Err(invalid) => reply.invalid_tool_calls.push(invalid),
            }
        }
        reply.usage_metadata = Some(from_usage(&response.usage));
        let mut metadata = Map::new();
        metadata.insert(
            "model_name".into(),
            response.provider_model_iden.model_name.to_string().into(),
        );
        if let Some(reason) = &response.stop_reason {
            metadata.insert("finish_reason".into(), format!("{reason:?}").into());
        }
        Ok(reply.with_response_metadata(metadata))
    }

    async fn stream_with(
        &self,
        messages: &[ChatMessage],
        request: &ModelRequest,
    ) -> Result<ChunkStream, ModelError> {
        let (chat, options) = to_request(messages, request);
        let options = options
            .with_capture_usage(true)
            .with_capture_tool_calls(true);
        let response = self
            .client
            .exec_chat_stream(self.model.as_str(), chat, Some(&options))
            .await
            .map_err(|error| ModelError::provider(error.to_string()))?;
        let mut calls = CallTracker::default();
        let chunks = response.stream.filter_map(move |event| {
            let chunk = match event {
                Err(error) => Some(Err(ModelError::provider(error.to_string()))),
                Ok(ChatStreamEvent::Chunk(text)) => Some(Ok(AiMessageChunk::text(text.content))),
                Ok(ChatStreamEvent::ToolCallChunk(piece)) => Some(Ok(calls.piece(piece.tool_call))),
                Ok(ChatStreamEvent::End(end)) => Some(Ok(AiMessageChunk {
                    usage: end.captured_usage.as_ref().map(from_usage),
                    ..AiMessageChunk::default()
                })),
                Ok(_) => None,
            };
            std::future::ready(chunk)
        });
        Ok(Box::pin(chunks))
    }
}

/// Turns `genai`'s tool-call pieces — each the call so far, arguments accumulated — into
/// deltas by index, as [`AiMessageChunk`]s add up.
#[derive(Default)]
struct CallTracker {
    /// Each call's id and the length of the arguments already passed on.
    seen: Vec<(String, usize)>,
}

impl CallTracker {
    fn piece(&mut self, call: g::ToolCall) -> AiMessageChunk {
        let args = match &call.fn_arguments {
            Value::String(text) => text.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let known = self.seen.iter().position(|(id, _)| *id == call.call_id);
        let (index, delta, first) = match known {
            Some(index) => {
                let sent = self.seen[index].1;
                let delta = args.get(sent..).unwrap_or_default().to_owned();
                self.seen[index].1 = args.len();
                (index, delta, false)
            }
            None => {
                self.seen.push((call.call_id.clone(), args.len()));
                (self.seen.len() - 1, args, true)
            }
        };
        AiMessageChunk::tool_call(
            index,
            first.then_some(call.call_id.as_str()),
            first.then_some(call.fn_name.as_str()),
            &delta,
        )
    }
}

/// The messages and options as `genai` takes them.
fn to_request(messages: &[ChatMessage], request: &ModelRequest) -> (ChatRequest, ChatOptions) {
    let chat = ChatRequest::new(messages.iter().map(to_message).collect()).with_tools(
        request.tools.iter().map(|tool| {
            g::Tool::new(tool.name.as_str())
                .with_description(tool.description.as_str())
                .with_schema(tool.parameters.clone())
        }),
    );
    let mut options = ChatOptions::default();
    if !request.tools.is_empty() {
        options = options.with_tool_choice(match &request.tool_choice {
            ToolChoice::Auto => g::ToolChoice::Auto,
            ToolChoice::None => g::ToolChoice::None,
            ToolChoice::Required => g::ToolChoice::Required,
            ToolChoice::Tool(name) => g::ToolChoice::tool(name.as_str()),
        });
    }
    if let Some(format) = &request.response_format {
        options = options.with_response_format(g::JsonSpec::new(
            format.name.as_str(),
            format.schema.clone(),
        ));
    }
    if let Some(temperature) = request.temperature {
        options = options.with_temperature(temperature);
    }
    if let Some(max) = request.max_tokens {
        options = options.with_max_tokens(max);
    }
    (chat, options)
}

fn to_message(message: &ChatMessage) -> g::ChatMessage {
    match message {
        ChatMessage::System(m) => g::ChatMessage::system(m.text()),
        ChatMessage::Human(m) => g::ChatMessage::user(to_content(m.content())),
        ChatMessage::Ai(m) => {
            let mut content = g::MessageContent::from_text(m.text());
            for call in &m.tool_calls {
                content.push(g::ToolCall {
                    call_id: call.id.clone(),
                    fn_name: call.name.clone(),
                    fn_arguments: Value::Object(call.args.clone()),
                    thought_signatures: None,
                });
            }
            g::ChatMessage::assistant(content)
        }
        // The artifact stays out of the model's context: only the content is sent.
        ChatMessage::Tool(m) => {
            g::ChatMessage::from(g::ToolResponse::new(m.tool_call_id.as_str(), m.text()))
        }
    }
}

fn to_content(content: &Content) -> g::MessageContent {
    let parts = match content {
        Content::Text(text) => return g::MessageContent::from_text(text.as_str()),
        Content::Parts(parts) => parts,
    };
    let mut out = g::MessageContent::from_parts(Vec::<g::ContentPart>::new());
    for part in parts {
        match part {
            ContentPart::Text(text) => out.push(text.as_str()),
            ContentPart::Image { source, mime_type }
            | ContentPart::File {
                source, mime_type, ..
            } => {
                let mime = mime_type.clone().unwrap_or_else(|| "image/png".to_owned());
                match source {
                    MediaSource::Url(url) => {
                        out.push(g::Binary::from_url(mime, url.as_str(), None))
                    }
                    MediaSource::Base64(data) => {
                        out.push(g::Binary::from_base64(mime, data.as_str(), None))
                    }
                    // A provider file id has no portable form here; the model is told.
                    MediaSource::FileId(id) => out.push(format!("[file {id}]")),
                }
            }
            ContentPart::Other(_) => {}
        }
    }
    out
}

/// A whole tool call of a reply; arguments that are not a JSON object make it invalid.
fn from_tool_call(call: &g::ToolCall) -> Result<ToolCall, InvalidToolCall> {
    let args = match &call.fn_arguments {
        Value::Object(args) => Ok(args.clone()),
        Value::Null => Ok(Map::new()),
        Value::String(text) if text.trim().is_empty() => Ok(Map::new()),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(args)) => Ok(args),
            _ => Err(text.clone()),
        },
        other => Err(other.to_string()),
    };
    match args {
        Ok(args) => Ok(ToolCall::new(call.fn_name.as_str(), Value::Object(args))
            .with_id(call.call_id.as_str())),
        Err(args) => Err(InvalidToolCall {
            id: Some(call.call_id.clone()),
            name: Some(call.fn_name.clone()),
            args: Some(args),
            error: Some("the arguments are not a JSON object".to_owned()),
        }),
    }
}

fn from_usage(usage: &g::Usage) -> UsageMetadata {
    let n = |v: Option<i32>| v.map_or(0, |v| u64::try_from(v).unwrap_or(0));
    let mut out = UsageMetadata::new(n(usage.prompt_tokens), n(usage.completion_tokens));
    if let Some(total) = usage.total_tokens {
        out.total_tokens = n(Some(total));
    }
    if let Some(details) = &usage.prompt_tokens_details {
        if let Some(cached) = details.cached_tokens {
            out.input_token_details
                .insert("cache_read".into(), n(Some(cached)));
        }
        if let Some(created) = details.cache_creation_tokens {
            out.input_token_details
                .insert("cache_creation".into(), n(Some(created)));
        }
    }
    if let Some(reasoning) = usage
        .completion_tokens_details
        .as_ref()
        .and_then(|d| d.reasoning_tokens)
    {
        out.output_token_details
            .insert("reasoning".into(), n(Some(reasoning)));
    }
    out
}
