//! The tool node: every tool call of the last AI message run as a task of its own.

use std::sync::Arc;

use serde_json::Value;
use stategraph_runtime::{
    InterruptError, MessagesState, MessagesUpdate, NodeContext, NodeError, NodeFn, NodeFuture,
    OnceError, SentInput,
};

use super::approval::{ActionRequest, Answer, ApprovalRequest, Decision, ReviewConfig};
use super::{Tool, ToolContext, ToolError, ToolSpec};
use crate::messages::{ChatMessage, ToolCall, ToolMessage};
use crate::model::cut;

/// The tools of a graph, run by its tool node (`#[tools] fn tools() -> ToolNode<S, D>`): one
/// task per tool call of the last AI message, each answered by a tool message.
///
/// A call whose tool fails, whose arguments do not fit, or which names no tool is answered by
/// an error tool message the model reads (LangGraph's `handle_tool_errors=True`), unless
/// [`raise_errors`](Self::raise_errors) makes a failure fail the task. A tool added with
/// [`with_approval`](Self::with_approval) asks a person before each call.
pub struct ToolNode<S, D = ()> {
    tools: Vec<Entry<S, D>>,
    raise: bool,
    /// Where the tools are when they come with the dependencies instead.
    from_deps: Option<FromDeps<S, D>>,
}

/// Finds the tools in the dependencies.
pub type FromDeps<S, D> = fn(&D) -> &ToolNode<S, D>;

struct Entry<S, D> {
    spec: ToolSpec,
    tool: Arc<dyn Tool<S, D>>,
    approval: bool,
}

impl<S, D> Clone for Entry<S, D> {
    fn clone(&self) -> Self {
        Self {
            spec: self.spec.clone(),
            tool: Arc::clone(&self.tool),
            approval: self.approval,
        }
    }
}

impl<S, D> Clone for ToolNode<S, D> {
    fn clone(&self) -> Self {
        Self {
            tools: self.tools.clone(),
            raise: self.raise,
            from_deps: self.from_deps,
        }
    }
}

impl<S, D> Default for ToolNode<S, D> {
    fn default() -> Self {
        Self {
            tools: Vec::new(),
            raise: false,
            from_deps: None,
        }
    }
}

impl<S, D> std::fmt::Debug for ToolNode<S, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tools.iter().map(|e| e.spec.name.as_str()).collect();
        f.debug_struct("ToolNode")
            .field("tools", &names)
            .field("raise", &self.raise)
            .finish()
    }
}

impl<S: Send + Sync + 'static, D: Send + Sync + 'static> ToolNode<S, D> {
    /// A tool node with no tools yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tools held by the graph's dependencies, found by `tools`: for a graph whose tools
    /// are chosen when it is built (the prebuilt agent), not when it is written.
    pub fn from_deps(tools: FromDeps<S, D>) -> Self {
        Self {
            from_deps: Some(tools),
            ..Self::default()
        }
    }

    /// Adds `tool`; a tool of the same name added before is replaced.
    pub fn tool(self, tool: impl Tool<S, D>) -> Self {
        self.add(Arc::new(tool), false)
    }

    /// Adds `tool`, whose every call waits for a person's decision — approve, edit the
    /// arguments, or reject with a message for the model — before it runs. The question is an
    /// [`ApprovalRequest`]; resume the thread with a [`Decision`].
    pub fn with_approval(self, tool: impl Tool<S, D>) -> Self {
        self.add(Arc::new(tool), true)
    }

    /// Adds a tool already shared (`Arc<dyn Tool>`), needing approval or not.
    pub fn shared(self, tool: Arc<dyn Tool<S, D>>, approval: bool) -> Self {
        self.add(tool, approval)
    }

    /// Makes a failing tool fail its task (and so the step, after the node's retries) instead
    /// of answering the model with an error message.
    pub fn raise_errors(mut self) -> Self {
        self.raise = true;
        self
    }

    fn add(mut self, tool: Arc<dyn Tool<S, D>>, approval: bool) -> Self {
        let spec = tool.spec();
        self.tools.retain(|e| e.spec.name != spec.name);
        self.tools.push(Entry {
            spec,
            tool,
            approval,
        });
        self
    }

    /// The tools as a model sees them, to bind to it.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|e| e.spec.clone()).collect()
    }

    /// Runs `call` made in a step over `state`: the tool message that answers it, or an error
    /// when the call asked a question or (with `raise_errors`) failed.
    pub async fn run(
        &self,
        call: ToolCall,
        state: Arc<S>,
        node: NodeContext<D>,
    ) -> Result<ToolMessage, NodeError> {
        let Some(entry) = self.find(&call.name) else {
            return Ok(ToolMessage::error(&call.id, self.unknown(&call.name))
                .with_name(cut_name(&call.name)));
        };
        let mut call = call;
        let mut entry = entry;
        if entry.approval {
            match ask(&call, &entry.spec, &node).await? {
                Decision::Approve => {}
                Decision::Edit { edited_action } => {
                    let Some(edited) = self.find(&edited_action.name) else {
                        return Ok(
                            ToolMessage::error(&call.id, self.unknown(&edited_action.name))
                                .with_name(cut_name(&call.name)),
                        );
                    };
                    entry = edited;
                    call.name = edited_action.name;
                    call.args = edited_action.args;
                }
                Decision::Reject { message } => {
                    let text = message.unwrap_or_else(|| {
                        format!(
                            "The user rejected the call to `{}` (id {}); it did not run.",
                            cut_name(&call.name),
                            cut_name(&call.id)
                        )
                    });
                    return Ok(ToolMessage::error(&call.id, text).with_name(cut_name(&call.name)));
                }
            }
        }
        let name = entry.spec.name.clone();
        let id = call.id.clone();
        let args = Value::Object(call.args.clone());
        let ctx = ToolContext::new(state, node, call);
        match entry.tool.call(args, &ctx).await {
            Ok(output) => {
                let message = ToolMessage::new(&id, output.content).with_name(name);
                Ok(match output.artifact {
                    Some(artifact) => message.with_artifact(artifact),
                    None => message,
                })
            }
            Err(ToolError::Failed(error)) if stops_the_task(&error) || self.raise => Err(error),
            Err(ToolError::InvalidArgs(reason)) if self.raise => {
                Err(ToolError::InvalidArgs(reason).into())
            }
            Err(error) => Ok(ToolMessage::error(
                &id,
                format!(
                    "Error: {}\n Please fix your mistakes.",
                    cut(&error.to_string())
                ),
            )
            .with_name(name)),
        }
    }

    fn find(&self, name: &str) -> Option<&Entry<S, D>> {
        self.tools.iter().find(|e| e.spec.name == name)
    }

    /// What the model reads when it calls a tool that is not there.
    fn unknown(&self, name: &str) -> String {
        let names: Vec<&str> = self.tools.iter().map(|e| e.spec.name.as_str()).collect();
        format!(
            "Error: `{}` is not a valid tool, try one of [{}].",
            cut_name(name),
            names.join(", ")
        )
    }
}

/// Errors that end the task whatever the tool node is told: a question being asked, a saved
/// result that no longer decodes.
fn stops_the_task(error: &NodeError) -> bool {
    error.is::<InterruptError>() || error.is::<OnceError>()
}

/// A name or id from the model, cut to 100 bytes for messages.
fn cut_name(name: &str) -> String {
    stategraph_runtime::truncated(name.to_owned(), 100)
}

/// Asks for a decision about `call`.
async fn ask<D>(
    call: &ToolCall,
    spec: &ToolSpec,
    node: &NodeContext<D>,
) -> Result<Decision, NodeError> {
    let request = ApprovalRequest {
        action_requests: vec![ActionRequest {
            name: call.name.clone(),
            args: call.args.clone(),
            id: Some(call.id.clone()),
            description: Some(format!("Tool execution requires approval: {}", spec.name)),
        }],
        review_configs: vec![ReviewConfig {
            action_name: spec.name.clone(),
            allowed_decisions: ["approve", "edit", "reject"].map(str::to_owned).to_vec(),
        }],
    };
    let answer: Answer = node.interrupt(request).await?;
    answer.into_decision().ok_or_else(|| {
        "an approval answer holds one decision per call asked about; this one holds several".into()
    })
}

/// One sent input per tool call of the last message, when it is an AI message (what
/// `tools_condition` sends to the tool node); none otherwise, and the run goes the other way.
pub fn tool_calls<S: MessagesState<Message = ChatMessage>>(state: &S) -> Vec<SentInput> {
    match state.messages().last() {
        Some(ChatMessage::Ai(ai)) => ai
            .tool_calls
            .iter()
            .map(|call| Arc::new(call.clone()) as SentInput)
            .collect(),
        _ => Vec::new(),
    }
}

/// The tool node as the runtime holds it: each task runs the tool call it was sent.
pub fn node<S, D>(tools: ToolNode<S, D>) -> Arc<dyn NodeFn<S, D>>
where
    S: MessagesState<Message = ChatMessage>,
    D: Send + Sync + 'static,
{
    Arc::new(Runner(Arc::new(tools)))
}

struct Runner<S, D>(Arc<ToolNode<S, D>>);

impl<S, D> NodeFn<S, D> for Runner<S, D>
where
    S: MessagesState<Message = ChatMessage>,
    D: Send + Sync + 'static,
{
    fn call(&self, state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S> {
        let tools = Arc::clone(&self.0);
        Box::pin(async move {
            let call = ctx
                .sent_input::<ToolCall>()
                .cloned()
                .ok_or("a tool node runs on the tool calls `tools_condition` sends it; this task was sent none")?;
            let tools = match tools.from_deps {
                Some(found) => found(ctx.deps()),
                None => &*tools,
            };
            let message = tools.run(call, state, ctx.clone()).await?;
            Ok(S::messages_update(
                MessagesUpdate::new().push(message.into()),
            ))
        })
    }
}
