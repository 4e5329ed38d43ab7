//! Error handlers: a node declared `#[node(on_error = handler)]` that fails (after its retries)
//! does not fail the run; its step completes without its writes, and `handler` runs next,
//! handed the [`NodeFailure`], and decides where to go with its own edges and routes.

use serde::{Deserialize, Serialize};

use crate::checkpoint::PendingWrite;
use crate::ids::TaskId;
use crate::node::NodeError;

/// A node's failure, as its error handler receives it
/// ([`NodeContext::failure`](crate::NodeContext::failure)) and the checkpoint of its step
/// records it (`metadata.failures`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFailure {
    /// The node that failed.
    pub node: String,
    /// The node handling the failure.
    pub handler: String,
    /// The step it failed in.
    pub step: i64,
    /// Its attempts (more than one under a retry policy).
    pub attempts: u32,
    /// Its last error, as text (cut at [`NodeFailure::MAX_ERROR_BYTES`]).
    pub error: String,
}

impl NodeFailure {
    /// The longest error text a failure keeps.
    pub const MAX_ERROR_BYTES: usize = 1024;

    pub(crate) fn new(
        node: &str,
        handler: &str,
        step: i64,
        attempts: u32,
        error: &NodeError,
    ) -> Self {
        Self {
            node: node.to_owned(),
            handler: handler.to_owned(),
            step,
            attempts,
            error: cut(error.to_string(), Self::MAX_ERROR_BYTES),
        }
    }

    /// The write recording that task `task_id` failed into its handler.
    pub(crate) fn write(&self, task_id: TaskId) -> PendingWrite {
        PendingWrite {
            task_id,
            node: self.node.clone(),
            idx: 0,
            channel: PendingWrite::FAILED.to_owned(),
            value: serde_json::to_vec(self).expect("a failure encodes as JSON"),
        }
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub(crate) fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    text
}
