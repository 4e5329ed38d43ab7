//! Policies around a node — retries and a time limit per attempt — as wrappers of its
//! function (tower's layers: one concern each, composed), applied once when a graph is
//! compiled, so the executor runs every node the same way; and a cache of its results. What an
//! error handler is handed when a node fails into it (`NodeFailure`) is plain data of the
//! checkpoint contract.

mod cache;
mod retry;
mod timeout;

use std::sync::Arc;
use std::time::Duration;

pub use cache::CachePolicy;
pub(crate) use retry::TaskAttempts;
pub use retry::{Attempt, RetryPolicy};
pub(crate) use stategraph_checkpoint::truncated as cut;
pub use timeout::NodeTimeout;

use crate::node::NodeFn;
use crate::send::InputCodec;
use crate::state::State;

/// The policies in effect for one node (its own, else the graph's).
pub(crate) struct NodePolicies<'a> {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<&'a RetryPolicy>,
    pub(crate) cache: Option<CachePolicy>,
}

/// Node `name`'s function `run` with its policies around it: the time limit applies to each
/// attempt, the retry policy around the attempts, the cache around them all (a hit runs
/// nothing). `input` is how the node's sent inputs are encoded (the cache keys by them).
pub(crate) fn wrap<S: State, D: Send + Sync + 'static>(
    graph: &str,
    name: &'static str,
    mut run: Arc<dyn NodeFn<S, D>>,
    policies: NodePolicies<'_>,
    input: Option<InputCodec>,
) -> Arc<dyn NodeFn<S, D>> {
    if let Some(after) = policies.timeout {
        run = Arc::new(timeout::TimeLimited { inner: run, after });
    }
    if let Some(policy) = policies.retry.filter(|p| p.max_attempts() > 1) {
        run = Arc::new(retry::Retrying {
            inner: run,
            policy: policy.clone(),
        });
    }
    if let Some(policy) = policies.cache {
        run = Arc::new(cache::Cached {
            inner: run,
            policy,
            scope: cache::scope(graph, name, policy),
            input,
        });
    }
    run
}
