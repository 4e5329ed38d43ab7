//! A node's failure as a checkpoint records it: plain data the runtime writes and reads.

use serde::{Deserialize, Serialize};

use crate::checkpointer::PendingWrite;
use crate::ids::TaskId;

/// A node's failure, as its error handler receives it
/// (`NodeContext::failure` in the runtime) and the checkpoint of its step
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

    /// The failure of `node` (handled by `handler`) in `step` after `attempts`, its error's
    /// text cut at [`NodeFailure::MAX_ERROR_BYTES`].
    pub fn new(node: &str, handler: &str, step: i64, attempts: u32, error: &str) -> Self {
        Self {
            node: node.to_owned(),
            handler: handler.to_owned(),
            step,
            attempts,
            error: truncated(error.to_owned(), Self::MAX_ERROR_BYTES),
        }
    }

    /// The write recording that task `task_id` failed into its handler.
    pub fn write(&self, task_id: TaskId) -> PendingWrite {
        PendingWrite {
            task_id,
            node: self.node.clone(),
            idx: 0,
            channel: PendingWrite::FAILED.to_owned(),
            value: serde_json::to_vec(self).expect("a failure encodes as JSON"),
        }
    }
}

/// `text` cut to at most `max` bytes, on a character boundary: how every error text kept in a
/// checkpoint is bounded.
pub fn truncated(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    text
}
