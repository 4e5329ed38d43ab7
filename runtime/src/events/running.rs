//! What a running task offers the code it calls without a context in hand — a model layer's
//! calls, deep inside a node: streaming their replies as they arrive
//! ([`StreamMode::MESSAGES`](super::StreamMode::MESSAGES)) and reporting the tokens they used
//! (recorded in the run's checkpoints as
//! [`CheckpointMetadata::token_usage`](crate::CheckpointMetadata::token_usage)).
//!
//! A run that checkpoints runs inside a scope holding its token count; a task of a run
//! streamed in messages mode runs inside a scope of its own, naming its node and step. Outside
//! them (a spawned future, code outside a graph) these functions do nothing.

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::Either;
use serde::Serialize;
use tokio::task::futures::TaskLocalFuture;

use super::{Emitter, EventData, Payload};
use crate::checkpoint::TokenUsage;
use crate::ids::CheckpointId;

tokio::task_local! {
    static TASK: TaskScope;
}

/// The tokens a run's model calls used so far, shared by the run and its subgraph calls.
pub(crate) type RunUsage = Arc<Mutex<Option<TokenUsage>>>;

/// What the running task's callees may reach.
pub(crate) struct TaskScope {
    /// The run's stream, when it carries messages.
    pub(crate) events: Option<Emitter>,
    pub(crate) step: i64,
    pub(crate) node: &'static str,
    pub(crate) checkpoint_id: Option<CheckpointId>,
    /// The run's token count, when it writes checkpoints.
    pub(crate) usage: Option<RunUsage>,
}

/// The scope of a whole run that checkpoints: its tasks' model calls add to `usage`.
pub(crate) fn run_scope(usage: &RunUsage) -> TaskScope {
    TaskScope {
        events: None,
        step: -1,
        node: "",
        checkpoint_id: None,
        usage: Some(Arc::clone(usage)),
    }
}

/// `task` run inside `scope`.
pub(crate) fn scope<F: Future>(scope: TaskScope, task: F) -> TaskLocalFuture<TaskScope, F> {
    TASK.scope(scope, task)
}

/// `task` run inside `scope`, or as it is without one.
pub(crate) fn scoped<F: Future>(
    scope: Option<TaskScope>,
    task: F,
) -> Either<F, TaskLocalFuture<TaskScope, F>> {
    match scope {
        None => Either::Left(task),
        Some(scope) => Either::Right(TASK.scope(scope, task)),
    }
}

/// Whether the running task's run is streamed in messages mode: a model called from it then
/// streams its reply and sends each piece with [`emit_message`].
pub fn streams_messages() -> bool {
    TASK.try_with(|task| task.events.is_some()).unwrap_or(false)
}

/// Sends `message` — a piece of a model's reply as it arrives, or the whole reply of a model
/// that does not stream — to the run's stream in messages mode, as an event of the running
/// node ([`EventData::Message`]), waiting for room in the stream's buffer. Does nothing outside
/// a task, or when the run is not streamed in that mode.
pub async fn emit_message<T: Serialize + Send + Sync + 'static>(message: T) {
    let target = TASK.try_with(|task| {
        let events = task.events.clone()?;
        Some((events, task.step, task.node, task.checkpoint_id))
    });
    if let Ok(Some((events, step, node, checkpoint))) = target {
        let data = EventData::Message(Payload::new(message));
        events.send(step, Some(node), checkpoint, data).await;
    }
}

/// Adds `usage` to the running task's run: its checkpoints record the run's total so far.
/// Does nothing outside a task, or in a run without a checkpointer.
pub fn record_usage(usage: TokenUsage) {
    let _ = TASK.try_with(|task| {
        if let Some(total) = &task.usage {
            let mut total = total
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *total.get_or_insert_default() += usage;
        }
    });
}
