//! Policies around a node — retries and a time limit per attempt — as wrappers of its
//! function (tower's layers: one concern each, composed), applied once when a graph is
//! compiled, so the executor runs every node the same way; and what an error handler is handed
//! when a node fails into it.

mod handler;
mod retry;
mod timeout;

use std::sync::Arc;
use std::time::Duration;

pub use handler::NodeFailure;
pub(crate) use retry::TaskAttempts;
pub use retry::{Attempt, RetryPolicy};
pub use timeout::NodeTimeout;

use crate::node::NodeFn;
use crate::state::State;

/// A node's function with its policies around it: the time limit applies to each attempt, the
/// retry policy around the attempts.
pub(crate) fn wrap<S: State, D: Send + Sync + 'static>(
    run: Arc<dyn NodeFn<S, D>>,
    retry: Option<&RetryPolicy>,
    timeout: Option<Duration>,
) -> Arc<dyn NodeFn<S, D>> {
    let run = match timeout {
        Some(after) => Arc::new(timeout::TimeLimited { inner: run, after }),
        None => run,
    };
    match retry.filter(|policy| policy.max_attempts() > 1) {
        Some(policy) => Arc::new(retry::Retrying {
            inner: run,
            policy: policy.clone(),
        }),
        None => run,
    }
}
