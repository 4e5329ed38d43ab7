//! What can go wrong while running a graph.

use crate::checkpoint::CheckpointError;
use crate::ids::{CheckpointId, ThreadId};
use crate::node::NodeError;

/// A graph run failed. Every variant names the thread, step, node or field involved; after
/// any of them the thread's last checkpoint is intact.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A node returned an error (or panicked).
    #[error(
        "node `{node}` failed at step {step} of {}: {source}; the last checkpoint is intact, so `resume()` runs the node again",
        thread(thread_id)
    )]
    Node {
        /// The thread, or `None` without a checkpointer.
        thread_id: Option<ThreadId>,
        /// The node.
        node: &'static str,
        /// The step.
        step: i64,
        /// The node's error.
        #[source]
        source: NodeError,
    },
    /// Two nodes of one step replaced the same field.
    #[error(
        "nodes `{first}` and `{second}` both wrote field `{field}` in step {step} of {}; a plain field takes one write per step: give `{field}` a reducer such as `#[state(reducer = append)]`, or let one node write it",
        thread(thread_id)
    )]
    ConflictingWrites {
        /// The thread, or `None` without a checkpointer.
        thread_id: Option<ThreadId>,
        /// The step.
        step: i64,
        /// The field.
        field: &'static str,
        /// The first node that wrote it, in node order.
        first: &'static str,
        /// The second node that wrote it.
        second: &'static str,
    },
    /// The run took more steps than the recursion limit allows.
    #[error(
        "{} ran {limit} steps without reaching END (the recursion limit); {}: raise the limit with `.recursion_limit(n)` on the graph builder or the thread and call `resume()` to continue",
        thread(thread_id),
        saved(checkpoint)
    )]
    RecursionLimit {
        /// The thread, or `None` without a checkpointer.
        thread_id: Option<ThreadId>,
        /// The limit in force.
        limit: usize,
        /// The last checkpoint written, from which `resume()` continues.
        checkpoint: Option<CheckpointId>,
    },
    /// `resume()` on a thread that has no checkpoint.
    #[error("thread `{0}` has no checkpoint to resume; start it with `invoke(input)`")]
    NothingToResume(ThreadId),
    /// A checkpoint names a node the graph does not have (the graph changed since).
    #[error(
        "checkpoint {checkpoint} of thread `{thread_id}` schedules node `{node}`, which graph `{graph}` does not have; resume it with the graph that wrote it"
    )]
    UnknownNode {
        /// The thread.
        thread_id: ThreadId,
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// The node name stored in the checkpoint.
        node: String,
        /// The graph's name.
        graph: &'static str,
    },
    /// An update named no node, and the checkpoint it applies to was written by several: say
    /// which one it is written as (`.as_node(…)`).
    #[error(
        "checkpoint {checkpoint} of thread `{thread_id}` was written by several nodes ({}); say which one the update is written as with `.as_node(…)`",
        nodes.join(", ")
    )]
    AmbiguousUpdate {
        /// The thread.
        thread_id: ThreadId,
        /// The checkpoint the update applies to.
        checkpoint: CheckpointId,
        /// The nodes that wrote it.
        nodes: Vec<String>,
    },
    /// A node's update could not be encoded for the checkpoint.
    #[error("the write of node `{node}` to field `{field}` cannot be encoded as JSON: {source}")]
    Encode {
        /// The node.
        node: &'static str,
        /// The field.
        field: &'static str,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A node's write to a field is outside the limits of what a checkpoint stores (nested
    /// deeper than it could be read back); nothing of the step was saved.
    #[error("the write of node `{node}` cannot be saved: {error}")]
    Limit {
        /// The node (`__input__` for an `invoke`'s input).
        node: &'static str,
        /// The limit it broke.
        #[source]
        error: crate::checkpoint::limits::LimitError,
    },
    /// A setting is out of range.
    #[error("invalid graph setting: {0}")]
    Config(String),
    /// The checkpointer failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

fn thread(thread_id: &Option<ThreadId>) -> String {
    match thread_id {
        Some(id) => format!("thread `{id}`"),
        None => "a run without a checkpointer".to_owned(),
    }
}

fn saved(checkpoint: &Option<CheckpointId>) -> String {
    match checkpoint {
        Some(id) => format!("its last checkpoint {id} is saved"),
        None => "nothing was saved (no checkpointer)".to_owned(),
    }
}
