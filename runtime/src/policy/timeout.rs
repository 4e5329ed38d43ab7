//! A time limit on each attempt of a node: [`NodeTimeout`] and the wrapper that applies it.

use std::sync::Arc;
use std::time::Duration;

use crate::node::{NodeContext, NodeFn, NodeFuture};
use crate::state::State;

/// A node attempt ran longer than its limit (`#[node(timeout = …)]`). Retried like any error
/// when the node has a retry policy; the attempt's future is dropped at the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("node `{node}` did not finish within {after:?}")]
pub struct NodeTimeout {
    /// The node.
    pub node: &'static str,
    /// Its limit.
    pub after: Duration,
}

/// A node run with a time limit on each attempt.
pub(crate) struct TimeLimited<S: State, D> {
    pub(crate) inner: Arc<dyn NodeFn<S, D>>,
    pub(crate) after: Duration,
}

impl<S: State, D: Send + Sync + 'static> NodeFn<S, D> for TimeLimited<S, D> {
    fn call(&self, state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S> {
        let node = ctx.node;
        let after = self.after;
        let attempt = self.inner.call(state, ctx);
        Box::pin(async move {
            match tokio::time::timeout(after, attempt).await {
                Ok(result) => result,
                Err(_) => Err(NodeTimeout { node, after }.into()),
            }
        })
    }
}
