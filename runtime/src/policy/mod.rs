//! Policies around a node — retries and a time limit per attempt — as wrappers of its
//! function (tower's layers: one concern each, composed), applied once when a graph is
//! compiled, so the executor runs every node the same way; and a cache of its results. What an
//! error handler is handed when a node fails into it (`NodeFailure`) is plain data of the
//! checkpoint contract.

mod cache;
mod retry;
mod timeout;

use std::sync::Arc;

pub use cache::CachePolicy;
pub(crate) use retry::TaskAttempts;
pub use retry::{Attempt, RetryPolicy};
pub(crate) use stategraph_checkpoint::truncated as cut;
pub use timeout::NodeTimeout;

use crate::graph::NodeSpec;
use crate::node::NodeFn;
use crate::state::State;

/// A node's function with its policies around it: the time limit applies to each attempt, the
/// retry policy around the attempts, the cache around them all (a hit runs nothing).
pub(crate) fn wrap<S: State, D: Send + Sync + 'static>(
    graph: &str,
    node: &NodeSpec<S, D>,
) -> Arc<dyn NodeFn<S, D>> {
    let mut run = Arc::clone(&node.run);
    if let Some(after) = node.timeout {
        run = Arc::new(timeout::TimeLimited { inner: run, after });
    }
    if let Some(policy) = node.retry.as_ref().filter(|p| p.max_attempts() > 1) {
        run = Arc::new(retry::Retrying {
            inner: run,
            policy: policy.clone(),
        });
    }
    if let Some(policy) = node.cache {
        run = Arc::new(cache::Cached {
            inner: run,
            policy,
            scope: cache::scope(graph, node.name, policy),
            input: node.input,
        });
    }
    run
}
