//! The prebuilt tool-calling agent (LangGraph's `create_react_agent`, LangChain 1.x's
//! `create_agent`): a model that calls tools until it answers, written in the same DSL as any
//! graph — so checkpointers, interrupts, time travel, streaming and subgraphs work as they do
//! everywhere else.
//!
//! [`Agent`] holds what the graph is built with: the model, the tools (some needing a person's
//! approval), a system prompt, an optional structured response, and hooks before and after
//! each model call. [`Agent::graph`] starts the builder of [`react_agent::Graph`]:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use stategraph::agent::messages::ChatMessage;
//! use stategraph::agent::model::ScriptedModel;
//! use stategraph::prebuilt::{Agent, AgentStateUpdate};
//! use stategraph::{MemorySaver, NodeError};
//!
//! /// Tells the time in a city.
//! #[stategraph::tool]
//! async fn clock(args: City) -> Result<String, NodeError> {
//!     Ok(format!("It is noon in {}.", args.city))
//! }
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct City {
//!     /// The city.
//!     city: String,
//! }
//!
//! let model = ScriptedModel::new()
//!     .tool_call("clock", serde_json::json!({ "city": "Oslo" }))
//!     .reply("Noon in Oslo.");
//! let graph = Agent::new(Arc::new(model))
//!     .prompt("Answer in one line.")
//!     .tool(clock)
//!     .graph()
//!     .checkpointer(MemorySaver::new())
//!     .compile()?;
//! let done = graph
//!     .thread("time")
//!     .invoke(AgentStateUpdate::new().messages(ChatMessage::human("Time in Oslo?")))
//!     .await?
//!     .into_finished()?;
//! assert_eq!(done.messages.last().unwrap().text(), "Noon in Oslo.");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::agent::hooks::ModelHook;
use crate::agent::messages::{AiMessage, ChatMessage};
use crate::agent::model::{ChatModel, ChatModelExt, ModelError};
use crate::agent::tools::{Tool, ToolNode};
use crate::{MessagesUpdate, NodeContext, NodeError, NodeResult, State};

/// The prebuilt agent's state: the conversation, and the structured response when one was
/// asked for (LangGraph's `AgentState`).
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AgentState {
    /// The conversation.
    #[state(reducer = messages)]
    pub messages: Vec<ChatMessage>,
    /// The final answer as JSON of the type given to [`Agent::response_format`].
    pub structured_response: Option<serde_json::Value>,
}

impl AgentState {
    /// The structured response read as a `T`; `None` when there is none.
    pub fn structured<T: DeserializeOwned>(&self) -> Option<Result<T, serde_json::Error>> {
        self.structured_response.clone().map(serde_json::from_value)
    }
}

type Respond = Arc<
    dyn Fn(
            Arc<dyn ChatModel>,
            Vec<ChatMessage>,
            u32,
        ) -> Pin<Box<dyn Future<Output = Result<serde_json::Value, ModelError>> + Send>>
        + Send
        + Sync,
>;
type AfterModel = Arc<dyn Fn(AiMessage) -> Result<AiMessage, NodeError> + Send + Sync>;

/// What the prebuilt agent is built with; its graph's dependencies (never persisted).
pub struct Agent {
    model: Arc<dyn ChatModel>,
    tools: ToolNode<AgentState, Agent>,
    prompt: Option<String>,
    respond: Option<Respond>,
    retries: u32,
    before: Option<Arc<dyn ModelHook>>,
    after: Option<AfterModel>,
    context: Option<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("model", &self.model.model_name())
            .field("tools", &self.tools)
            .field("prompt", &self.prompt)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent on `model`, with no tools yet.
    pub fn new(model: Arc<dyn ChatModel>) -> Self {
        Self {
            model,
            tools: ToolNode::new(),
            prompt: None,
            respond: None,
            retries: 1,
            before: None,
            after: None,
            context: None,
        }
    }

    /// Adds a tool.
    pub fn tool(mut self, tool: impl Tool<AgentState, Agent>) -> Self {
        self.tools = self.tools.tool(tool);
        self
    }

    /// Adds a tool whose every call waits for a person to approve, edit or reject it (see
    /// [`ToolNode::with_approval`]).
    pub fn with_approval(mut self, tool: impl Tool<AgentState, Agent>) -> Self {
        self.tools = self.tools.with_approval(tool);
        self
    }

    /// Makes a failing tool fail the run instead of answering the model with an error.
    pub fn raise_tool_errors(mut self) -> Self {
        self.tools = self.tools.raise_errors();
        self
    }

    /// The system prompt, put before the conversation on every model call (not stored).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Once the model answers without calling a tool, asks it once more for the answer as a
    /// `T` (its JSON Schema given), stored in [`AgentState::structured_response`]. A reply that
    /// does not parse is shown to the model and asked for again up to
    /// [`response_retries`](Self::response_retries) times (once by default), then fails the
    /// run with [`ModelError::Parse`].
    pub fn response_format<T: JsonSchema + DeserializeOwned + Serialize + 'static>(
        mut self,
    ) -> Self {
        self.respond = Some(Arc::new(|model, messages, retries| {
            Box::pin(async move {
                let answer: T = model
                    .with_structured_output::<T>()
                    .retries(retries)
                    .invoke(&messages)
                    .await?;
                serde_json::to_value(answer).map_err(|e| ModelError::Parse(e.to_string()))
            })
        }));
        self
    }

    /// How many times a structured response that does not parse is asked for again.
    pub fn response_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Runs `hook` before each model call: it picks what the model reads (e.g. a
    /// [`Trim`](crate::agent::trim::Trim)) and may rewrite the stored conversation (e.g.
    /// [`Summarize`](crate::agent::hooks::Summarize)).
    pub fn pre_model_hook(mut self, hook: impl ModelHook + 'static) -> Self {
        self.before = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` on each reply before it is stored: to check, redact or reject it (an error
    /// fails the step).
    pub fn post_model_hook(
        mut self,
        hook: impl Fn(AiMessage) -> Result<AiMessage, NodeError> + Send + Sync + 'static,
    ) -> Self {
        self.after = Some(Arc::new(hook));
        self
    }

    /// Keeps `context` for the tools: a client, a pool, settings, read back with
    /// [`Agent::context`] from a tool's `ctx.deps()`.
    pub fn with_context<C: Any + Send + Sync>(mut self, context: C) -> Self {
        self.context = Some(Arc::new(context));
        self
    }

    /// The context given to [`with_context`](Self::with_context), if it is a `C`.
    pub fn context<C: Any>(&self) -> Option<&C> {
        self.context.as_deref()?.downcast_ref()
    }

    /// The model.
    pub fn model(&self) -> &Arc<dyn ChatModel> {
        &self.model
    }

    /// The tools.
    pub fn tools(&self) -> &ToolNode<AgentState, Agent> {
        &self.tools
    }

    /// Starts building the agent's graph: set a checkpointer and other options, then
    /// `compile()`.
    pub fn graph(self) -> crate::__private::Builder<react_agent::Graph> {
        react_agent::graph(self)
    }

    /// One turn of the model: the hook, the call with the tools bound, the reply checked, and
    /// the structured response once the model is done with tools.
    async fn turn(&self, state: &AgentState) -> NodeResult<AgentState> {
        let mut conversation = MessagesUpdate::new();
        let mut input = state.messages.clone();
        if let Some(hook) = &self.before {
            let prepared = hook.before_model(&state.messages).await?;
            if let Some(rewrite) = prepared.rewrite {
                conversation = conversation.remove_all();
                for message in rewrite {
                    conversation = conversation.push(message);
                }
            }
            input = prepared.messages;
        }
        if let Some(prompt) = &self.prompt {
            input.insert(0, ChatMessage::system(prompt.as_str()));
        }
        let mut reply = Arc::clone(&self.model)
            .bind_tools(self.tools.specs())
            .invoke(&input)
            .await?;
        if let Some(after) = &self.after {
            reply = after(reply)?;
        }
        let mut update = AgentStateUpdate::new();
        if reply.tool_calls.is_empty()
            && let Some(respond) = &self.respond
        {
            input.push(reply.clone().into());
            let answer = respond(Arc::clone(&self.model), input, self.retries).await?;
            update = update.structured_response(Some(answer));
        }
        Ok(update.messages(conversation.push(reply.into())))
    }
}

/// The prebuilt agent's graph: `model` calls the model; while its reply calls tools, `tools`
/// runs each call as its own task and the model is called again.
#[crate::graph(state = AgentState, deps = Agent)]
pub mod react_agent {
    use super::*;

    #[node]
    async fn model(s: &AgentState, ctx: &NodeContext<Agent>) -> NodeResult<AgentState> {
        ctx.deps().turn(s).await
    }

    #[tools]
    fn tools() -> ToolNode<AgentState, Agent> {
        ToolNode::from_deps(Agent::tools)
    }

    edges! {
        START -> model;
        model -> tools_condition { Tools => tools, End => END };
        tools -> model;
    }
}
