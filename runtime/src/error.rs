//! What can go wrong while running a graph.

use crate::checkpoint::CheckpointError;
use crate::ids::{CheckpointId, ThreadId};
use crate::interrupt::{Interrupt, InterruptId};
use crate::node::NodeError;

/// A graph run failed. Every variant names the thread, step, node or field involved; after
/// any of them the thread's last checkpoint is intact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// A node returned an error (or panicked).
    #[error(
        "node `{node}` failed at step {step} of {}: {}; the last checkpoint is intact, so `resume()` runs the node again",
        thread(thread_id),
        cut_error(source)
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
    /// The run paused: nodes asked questions (`ctx.interrupt`) that wait for answers. Nothing
    /// is lost: answer them with `thread.resume_with(Resume::…)`. A run returns a pause as
    /// [`Outcome::Paused`](crate::Outcome::Paused), not as this error;
    /// [`Outcome::into_finished`](crate::Outcome::into_finished) gives it to a caller that
    /// treats a pause as a failure.
    #[error(
        "thread `{thread_id}` is waiting for {} answer(s) ({}) at checkpoint {checkpoint}; answer with `resume_with(Resume::answer(id, value))`",
        interrupts.len(),
        ids(interrupts)
    )]
    Interrupted {
        /// The thread.
        thread_id: ThreadId,
        /// The checkpoint the paused step started from.
        checkpoint: CheckpointId,
        /// The questions, in the order they were asked.
        interrupts: Vec<Interrupt>,
    },
    /// New input for a thread that waits for answers: it would be silently dropped, so it is
    /// refused. Answer the interrupts first (`resume_with`).
    #[error(
        "thread `{thread_id}` is waiting for {} answer(s) ({}); answer with `resume_with` before giving it new input",
        interrupts.len(),
        ids(interrupts)
    )]
    ThreadInterrupted {
        /// The thread.
        thread_id: ThreadId,
        /// The questions waiting.
        interrupts: Vec<Interrupt>,
    },
    /// A resume answers no pending interrupt of the thread; nothing was written.
    #[error(
        "thread `{thread_id}` has no pending interrupt {id}; its pending ones are: {}",
        ids(pending)
    )]
    UnknownInterrupt {
        /// The thread.
        thread_id: ThreadId,
        /// The id the resume named.
        id: InterruptId,
        /// The interrupts that are pending.
        pending: Vec<Interrupt>,
    },
    /// A resume without an interrupt id, or with two answers to one, while which interrupt it
    /// answers is unclear; nothing was written.
    #[error(
        "a resume of thread `{thread_id}` must name which interrupt each answer is for: {} are pending ({})",
        pending.len(),
        ids(pending)
    )]
    AmbiguousResume {
        /// The thread.
        thread_id: ThreadId,
        /// The interrupts that are pending.
        pending: Vec<Interrupt>,
    },
    /// A resume of a thread with nothing waiting for an answer (the step ran on, or never
    /// asked); nothing was written.
    #[error("thread `{0}` has no interrupt waiting for an answer")]
    NothingPending(ThreadId),
    /// A resume of a thread whose questions were answered by another resume first: that one's
    /// answers are the ones the step runs with (or, if its run was cut short, `resume()` runs
    /// on with them). Nothing was written.
    #[error(
        "the questions of thread `{0}` were already answered by another resume, whose answers the step runs with; nothing was written"
    )]
    AlreadyAnswered(ThreadId),
    /// An answer did not decode as the type the node expects; answer again with the right type.
    #[error(
        "the answer to interrupt {interrupt} of node `{node}` on thread `{thread_id}` is not of the type the node expects; answer it again with a value of that type"
    )]
    ResumeValue {
        /// The thread.
        thread_id: ThreadId,
        /// The node.
        node: &'static str,
        /// The interrupt.
        interrupt: InterruptId,
        /// Why it does not decode, as serde says it (it may quote the answer, so the error's
        /// message leaves it out).
        message: String,
    },
    /// The thread waited for an answer longer than an expiry policy allows
    /// ([`expire_paused`](crate::expire_paused)) and can no longer be resumed.
    #[error(
        "thread `{0}` expired while it waited for an answer (an expiry policy marked it); it can no longer be resumed"
    )]
    Expired(ThreadId),
    /// The run was asked to stop (its [`CancellationToken`](crate::CancellationToken) was
    /// cancelled) and stopped at a step boundary: the step in flight finished and was saved,
    /// and `resume()` continues from checkpoint `checkpoint`.
    #[error(
        "thread `{thread_id}` stopped as asked at checkpoint {checkpoint}, before its next step; `resume()` continues it"
    )]
    Stopped {
        /// The thread.
        thread_id: ThreadId,
        /// The last checkpoint saved.
        checkpoint: CheckpointId,
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
    /// A setting is out of range, or a stream was asked for what it was not started with.
    #[error("invalid graph setting: {0}")]
    Config(String),
    /// A value node `node` emitted does not read as the type a stream's
    /// [`RunStream::custom`](crate::RunStream::custom) asked for, even through JSON.
    #[error(
        "node `{node}` emitted a value that does not read as `{expected}`; ask `custom::<T>` for the type it emits"
    )]
    CustomValue {
        /// The node.
        node: &'static str,
        /// The type asked for.
        expected: &'static str,
    },
    /// A step's state is larger than the graph's strict checkpoint budget
    /// ([`SizeBudget::strict`](crate::SizeBudget::strict)); its checkpoint was not written.
    #[error(
        "step {step} of thread `{thread_id}` would checkpoint {total} bytes of state, over the budget of {budget}; largest fields: {largest}. Keep large content in a store and its id in state"
    )]
    OverBudget {
        /// The thread.
        thread_id: ThreadId,
        /// The step.
        step: i64,
        /// The state's size in bytes.
        total: usize,
        /// The budget in bytes.
        budget: usize,
        /// The largest fields and their sizes.
        largest: String,
    },
    /// The task running a streamed run ended without a result (it panicked outside a node, or
    /// its runtime shut down).
    #[error("the streamed run ended without a result: {0}")]
    RunAborted(String),
    /// The checkpointer failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// The first interrupt ids, for a message of bounded length.
fn ids(interrupts: &[Interrupt]) -> String {
    let mut shown: Vec<String> = interrupts
        .iter()
        .take(5)
        .map(|i| format!("{} from `{}`", i.id, i.node))
        .collect();
    if interrupts.len() > 5 {
        shown.push(format!("and {} more", interrupts.len() - 5));
    }
    shown.join(", ")
}

/// A node's error as a message shows it: at most 1 KiB of its text (the error itself, whole,
/// is the variant's `source`).
fn cut_error(error: &crate::NodeError) -> String {
    crate::policy::cut(error.to_string(), crate::NodeFailure::MAX_ERROR_BYTES)
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
