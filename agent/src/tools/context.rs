//! What a running tool may see: the graph's state, its dependencies and Store, and the call.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use stategraph_runtime::store::Store;
use stategraph_runtime::{InterruptError, NodeContext};

use crate::messages::ToolCall;

/// The context of one tool call: the state of the step the call was made in, the graph's
/// dependencies and Store, the call itself, and the node context beneath (for `once`,
/// `emit` and the rest).
///
/// A tool takes it as its second argument, naming the graph's state and dependencies
/// (`ctx: &ToolContext<Chat, Deps>`); the documentation of `stategraph::tool` has a compiled
/// example.
pub struct ToolContext<S, D = ()> {
    state: Arc<S>,
    node: NodeContext<D>,
    call: ToolCall,
}

impl<S, D> ToolContext<S, D> {
    /// The context of `call`, made in a step over `state`, run by the node context `node`.
    pub fn new(state: Arc<S>, node: NodeContext<D>, call: ToolCall) -> Self {
        Self { state, node, call }
    }

    /// The graph's state as of the step whose AI message made the call.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The graph's dependencies.
    pub fn deps(&self) -> &D {
        self.node.deps()
    }

    /// The graph's Store, when it has one.
    pub fn store(&self) -> Option<&dyn Store> {
        self.node.store()
    }

    /// The call being run: its id, the tool's name, the arguments as the model sent them.
    pub fn call(&self) -> &ToolCall {
        &self.call
    }

    /// The context of the task running this call: thread, step, `once`, `emit`.
    pub fn node(&self) -> &NodeContext<D> {
        &self.node
    }

    /// Asks a person and pauses this call until the thread is resumed with an answer
    /// ([`NodeContext::interrupt`]); the other calls of the step go on and are not run again.
    pub async fn interrupt<Q: Serialize, A: DeserializeOwned>(
        &self,
        payload: Q,
    ) -> Result<A, InterruptError> {
        self.node.interrupt(payload).await
    }
}

impl<S, D> std::fmt::Debug for ToolContext<S, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("call", &self.call)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}
