//! Nodes: the async functions a graph runs, and what they may see while running.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::ids::{CheckpointId, ThreadId};
use crate::state::State;

/// The error a node returns. Any error type converts into it with `?`, and so does a `String`
/// or `&str` message.
pub type NodeError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a node returns: the partial update it makes to the state, or an error.
pub type NodeResult<S> = Result<<S as State>::Update, NodeError>;

/// What a running node may know about where it runs: the thread, the step, its own name.
///
/// A node takes it as an optional second argument:
/// `async fn review(s: &ResearchState, ctx: &NodeContext) -> NodeResult<ResearchState>`.
#[derive(Debug, Clone)]
pub struct NodeContext {
    pub(crate) thread_id: Option<ThreadId>,
    pub(crate) checkpoint_id: Option<CheckpointId>,
    pub(crate) step: i64,
    pub(crate) node: &'static str,
}

impl NodeContext {
    /// The thread this run belongs to, or `None` for a graph compiled without a checkpointer.
    pub fn thread_id(&self) -> Option<&ThreadId> {
        self.thread_id.as_ref()
    }

    /// The checkpoint the current step started from, or `None` without a checkpointer.
    pub fn checkpoint_id(&self) -> Option<CheckpointId> {
        self.checkpoint_id
    }

    /// The current step (0 is the first step after the input).
    pub fn step(&self) -> i64 {
        self.step
    }

    /// The name of the running node.
    pub fn node(&self) -> &'static str {
        self.node
    }
}

/// A boxed node future.
pub type NodeFuture<S> = Pin<Box<dyn Future<Output = NodeResult<S>> + Send + 'static>>;

/// A node as the runtime holds it: called with a shared snapshot of the state.
pub trait NodeFn<S: State>: Send + Sync + 'static {
    /// Runs the node on `state`.
    fn call(&self, state: Arc<S>, ctx: NodeContext) -> NodeFuture<S>;
}

/// An `async fn(&S) -> NodeResult<S>`; implemented for every such function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a node of a graph over `{S}`",
    label = "a node must be `async fn(&{S}) -> NodeResult<{S}>`",
    note = "a node takes the state by reference and returns `NodeResult<{S}>`; it may take `&NodeContext` as a second argument"
)]
pub trait StateNode<'a, S: State>: Send + Sync + 'static {
    /// The node's future.
    type Future: Future<Output = NodeResult<S>> + Send + 'a;
    /// Calls the node.
    fn call(&self, state: &'a S) -> Self::Future;
}

impl<'a, S, F, Fut> StateNode<'a, S> for F
where
    S: State,
    F: Fn(&'a S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = NodeResult<S>> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, state: &'a S) -> Fut {
        self(state)
    }
}

/// An `async fn(&S, &NodeContext) -> NodeResult<S>`; implemented for every such function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a node of a graph over `{S}`",
    label = "a node with a context must be `async fn(&{S}, &NodeContext) -> NodeResult<{S}>`",
    note = "a node takes the state by reference and returns `NodeResult<{S}>`"
)]
pub trait ContextNode<'a, S: State>: Send + Sync + 'static {
    /// The node's future.
    type Future: Future<Output = NodeResult<S>> + Send + 'a;
    /// Calls the node.
    fn call(&self, state: &'a S, ctx: &'a NodeContext) -> Self::Future;
}

impl<'a, S, F, Fut> ContextNode<'a, S> for F
where
    S: State,
    F: Fn(&'a S, &'a NodeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = NodeResult<S>> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, state: &'a S, ctx: &'a NodeContext) -> Fut {
        self(state, ctx)
    }
}

struct Plain<F>(F);

impl<S: State, F: for<'a> StateNode<'a, S>> NodeFn<S> for Plain<Arc<F>> {
    fn call(&self, state: Arc<S>, _ctx: NodeContext) -> NodeFuture<S> {
        let f = Arc::clone(&self.0);
        Box::pin(async move { f.call(&state).await })
    }
}

struct WithContext<F>(F);

impl<S: State, F: for<'a> ContextNode<'a, S>> NodeFn<S> for WithContext<Arc<F>> {
    fn call(&self, state: Arc<S>, ctx: NodeContext) -> NodeFuture<S> {
        let f = Arc::clone(&self.0);
        Box::pin(async move { f.call(&state, &ctx).await })
    }
}

/// Wraps `async fn(&S) -> NodeResult<S>` for the runtime.
pub fn node<S: State, F: for<'a> StateNode<'a, S>>(f: F) -> Arc<dyn NodeFn<S>> {
    Arc::new(Plain(Arc::new(f)))
}

/// Wraps `async fn(&S, &NodeContext) -> NodeResult<S>` for the runtime.
pub fn node_with_context<S: State, F: for<'a> ContextNode<'a, S>>(f: F) -> Arc<dyn NodeFn<S>> {
    Arc::new(WithContext(Arc::new(f)))
}
