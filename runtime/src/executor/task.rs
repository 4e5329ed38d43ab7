//! One task of a step: running its node, saving what it did at once — its writes, or its
//! error, question and `once` results — and recognising a task whose writes were saved, so it
//! is not run again.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use crate::checkpoint::{CheckpointError, PendingWrite, limits};
use crate::error::GraphError;
use crate::ids::{CheckpointId, Epoch, TaskId, ThreadId};
use crate::interrupt::{self, Interrupt, Raised, TaskInterrupts};
use crate::node::{NodeContext, NodeError, NodeFn};
use crate::once::TaskOnce;
use crate::state::{State, StateUpdate, Stored};

use super::{Finished, Persistence, bounded};

/// Why a task did not finish.
pub(super) enum TaskFailure {
    Node(usize, NodeError),
    Graph(GraphError),
    /// The task asked a question; its interrupt is saved.
    Interrupt(Interrupt),
}

/// Where a task saves what it did.
pub(super) struct SaveTo {
    /// The thread's saver, id and namespace.
    pub(super) persistence: Persistence,
    /// The run's ownership epoch.
    pub(super) epoch: Option<Epoch>,
    /// The checkpoint its step started from.
    pub(super) checkpoint: CheckpointId,
    /// The task.
    pub(super) task_id: TaskId,
    /// Whether its writes are saved as pending writes (its error always is).
    pub(super) pending_writes: bool,
}

/// Runs one node, then saves its writes (or its error) at once.
pub(super) async fn run_task<S: State, D: Send + Sync + 'static>(
    run: Arc<dyn NodeFn<S, D>>,
    state: Arc<S>,
    ctx: NodeContext<D>,
    node: usize,
    persist: Option<SaveTo>,
) -> Result<Finished<S>, TaskFailure> {
    let name = ctx.node;
    let interrupts = ctx.interrupts.clone();
    let once = ctx.once.clone();
    let thread_id = ctx.thread_id.clone();
    let result = AssertUnwindSafe(run.call(state, ctx)).catch_unwind().await;
    let result = result.unwrap_or_else(|panic| Err(panic_message(&panic).into()));
    // What its `interrupt` calls raised decides, whatever the node returned after them.
    match interrupts.as_deref().and_then(TaskInterrupts::take) {
        Some(Raised::Question(question)) => {
            if let Some(SaveTo {
                persistence: p,
                epoch,
                checkpoint,
                ..
            }) = &persist
            {
                p.saver
                    .put_writes(
                        &p.thread_id,
                        &p.ns,
                        *checkpoint,
                        std::iter::once(interrupt::interrupt_write(&question))
                            .chain(once.as_deref().and_then(TaskOnce::write))
                            .collect(),
                        *epoch,
                    )
                    .await
                    .map_err(|e| TaskFailure::Graph(e.into()))?;
            }
            return Err(TaskFailure::Interrupt(question));
        }
        Some(Raised::WrongType { id, message }) => {
            return Err(TaskFailure::Graph(GraphError::ResumeValue {
                thread_id: thread_id.expect("answers need a checkpointer"),
                node: name,
                interrupt: id,
                message,
            }));
        }
        None => {}
    }
    let Some(SaveTo {
        persistence: p,
        epoch,
        checkpoint,
        task_id,
        pending_writes,
    }) = persist
    else {
        return match result {
            Ok(update) => Ok(Finished {
                node,
                update,
                writes: Vec::new(),
            }),
            Err(error) => Err(TaskFailure::Node(node, error)),
        };
    };
    match result {
        Ok(update) => {
            let writes = encode_writes::<S>(&update, name).map_err(TaskFailure::Graph)?;
            if !pending_writes {
                return Ok(Finished {
                    node,
                    update,
                    writes,
                });
            }
            let mut saved: Vec<PendingWrite> = writes
                .iter()
                .enumerate()
                .map(|(idx, (channel, bytes))| PendingWrite {
                    task_id,
                    node: name.to_owned(),
                    idx: idx as i32,
                    channel: S::CHANNELS[*channel].name.to_owned(),
                    value: bytes.clone(),
                })
                .collect();
            if saved.is_empty() {
                saved.push(PendingWrite {
                    task_id,
                    node: name.to_owned(),
                    idx: 0,
                    channel: PendingWrite::NO_WRITES.to_owned(),
                    value: b"null".to_vec(),
                });
            }
            p.saver
                .put_writes(&p.thread_id, &p.ns, checkpoint, saved, epoch)
                .await
                .map_err(|e| TaskFailure::Graph(e.into()))?;
            Ok(Finished {
                node,
                update,
                writes,
            })
        }
        Err(error) => {
            let record = PendingWrite {
                task_id,
                node: name.to_owned(),
                idx: PendingWrite::ERROR_IDX,
                channel: PendingWrite::ERROR.to_owned(),
                value: serde_json::to_vec(&error.to_string()).unwrap_or_default(),
            };
            let mut records = vec![record];
            records.extend(once.as_deref().and_then(TaskOnce::write));
            // The node's error is what the caller needs; failing to record it is secondary.
            if let Err(e) = p
                .saver
                .put_writes(&p.thread_id, &p.ns, checkpoint, records, epoch)
                .await
            {
                tracing::warn!(node = name, error = %e, "could not record the node's error");
            }
            Err(TaskFailure::Node(node, error))
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text payload".to_owned());
    format!("node panicked: {text}")
}

/// Encodes each channel an update writes.
pub(super) fn encode_writes<S: State>(
    update: &S::Update,
    node: &'static str,
) -> Result<Vec<(usize, Vec<u8>)>, GraphError> {
    update
        .channels()
        .iter()
        .map(|channel| {
            let field = S::CHANNELS[channel].name;
            let bytes = update
                .encode_write(channel)
                .map_err(|source| GraphError::Encode {
                    node,
                    field,
                    source,
                })?;
            limits::check_value(field, &bytes)
                .map_err(|error| GraphError::Limit { node, error })?;
            Ok((channel, bytes))
        })
        .collect()
}

/// The finished task `task_id` as its saved writes describe it, if it finished.
pub(super) fn saved_task<S: State>(
    pending: &[PendingWrite],
    task_id: TaskId,
    node: usize,
    write_thread: &ThreadId,
    write_checkpoint: CheckpointId,
) -> Option<Result<Finished<S>, GraphError>> {
    // A task finished if it saved its writes (at indexes 0 and up); an error, an interrupt or
    // the answers to one (negative indexes) do not make it finished.
    let writes: Vec<&PendingWrite> = pending
        .iter()
        .filter(|w| w.task_id == task_id && w.idx >= 0)
        .collect();
    if writes.is_empty() {
        return None;
    }
    let mut update = S::Update::default();
    let mut encoded = Vec::new();
    for write in writes {
        if write.channel == PendingWrite::NO_WRITES {
            continue;
        }
        let channel = match Stored::of::<S>(&write.channel) {
            Stored::Current(channel) | Stored::Renamed(channel) => channel,
            Stored::Removed => continue,
            Stored::Unknown => {
                return Some(Err(CheckpointError::UnknownChannel {
                    thread_id: write_thread.clone(),
                    checkpoint: write_checkpoint,
                    channel: bounded(&write.channel),
                }
                .into()));
            }
        };
        if let Err(source) = update.decode_write(channel, &write.value) {
            return Some(Err(CheckpointError::Decode {
                thread_id: write_thread.clone(),
                checkpoint: write_checkpoint,
                channel: S::CHANNELS[channel].name.to_owned(),
                source,
            }
            .into()));
        }
        encoded.push((channel, write.value.clone()));
    }
    Some(Ok(Finished {
        node,
        update,
        writes: encoded,
    }))
}
