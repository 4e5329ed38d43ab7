//! One task of a step: running its node, recording what it did — its writes, or its error,
//! question and `once` results — and saving that (as the task ends, or when its step fails);
//! and recognising a task whose writes were saved, so it is not run again.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use crate::checkpoint::NodeFailure;
use crate::checkpoint::{CheckpointError, PendingWrite, limits};
use crate::error::GraphError;
use crate::ids::{CheckpointId, Epoch, TaskId, ThreadId};
use crate::interrupt::{self, Interrupt, Raised, TaskInterrupts};
use crate::node::{NodeContext, NodeError, NodeFn};
use crate::once::TaskOnce;
use crate::policy::TaskAttempts;
use crate::state::{State, StateUpdate, Stored};

use super::restore::bounded;
use super::{Finished, Persistence};

/// Why a task did not finish.
pub(super) enum TaskFailure {
    Node(usize, NodeError),
    Graph(GraphError),
    /// The task asked a question; its interrupt is recorded.
    Interrupt(Interrupt),
}

/// What a task records for its step's checkpoint.
#[derive(Clone, Copy)]
pub(super) struct Recording {
    /// The task.
    pub(super) task_id: TaskId,
    /// Whether its writes are recorded as pending writes (its error always is).
    pub(super) pending_writes: bool,
}

/// Where records are saved: the checkpoint a step started from.
#[derive(Clone)]
pub(super) struct SaveTo {
    /// The thread's saver, id and namespace.
    pub(super) persistence: Persistence,
    /// The run's ownership epoch.
    pub(super) epoch: Option<Epoch>,
    /// The checkpoint.
    pub(super) checkpoint: CheckpointId,
}

impl SaveTo {
    /// Saves `records`; when `failure` is a node's error, failing to record it is only logged
    /// (the node's error is what the caller needs).
    pub(super) async fn save(
        &self,
        records: Vec<PendingWrite>,
        failure: Option<&TaskFailure>,
    ) -> Result<(), GraphError> {
        if records.is_empty() {
            return Ok(());
        }
        let p = &self.persistence;
        let saved = p
            .saver
            .put_writes(&p.thread_id, &p.ns, self.checkpoint, records, self.epoch)
            .await;
        match (saved, failure) {
            (Ok(()), _) => Ok(()),
            (Err(e), Some(TaskFailure::Node(..))) => {
                tracing::warn!(error = %e, "could not record a node's error");
                Ok(())
            }
            (Err(e), _) => Err(e.into()),
        }
    }
}

/// A task that ran: how it ended, and what it records of that (not saved yet).
pub(super) struct TaskRun<S: State> {
    pub(super) outcome: Result<Finished<S>, TaskFailure>,
    /// Its writes (when recorded as pending writes), or its error or question with its `once`
    /// results.
    pub(super) records: Vec<PendingWrite>,
}

impl<S: State> TaskRun<S> {
    /// Saves the records to `to` now, as the task ends.
    pub(super) async fn save_now(mut self, to: &SaveTo) -> Self {
        let records = std::mem::take(&mut self.records);
        if let Err(error) = to.save(records, self.outcome.as_ref().err()).await {
            self.outcome = Err(TaskFailure::Graph(error));
        }
        self
    }
}

/// Runs one node, and prepares what it records: its writes, or its error, or its question.
pub(super) async fn run_task<S: State, D: Send + Sync + 'static>(
    run: Arc<dyn NodeFn<S, D>>,
    state: Arc<S>,
    ctx: NodeContext<D>,
    node: usize,
    handler: Option<&'static str>,
    recording: Option<Recording>,
) -> TaskRun<S> {
    let name = ctx.node;
    let step = ctx.step;
    let interrupts = ctx.interrupts.clone();
    let once = ctx.once.clone();
    let attempts = ctx.attempts.clone();
    let thread_id = ctx.thread_id.clone();
    let result = AssertUnwindSafe(run.call(state, ctx)).catch_unwind().await;
    let result = result.unwrap_or_else(|panic| Err(panic_message(&panic).into()));
    let tries = attempts.as_deref().map_or(0, TaskAttempts::failed) + 1;
    // Whatever else the task records, its failed attempts go with it.
    let attempts = recording.and_then(|r| attempts.as_deref()?.write(r.task_id, name));
    let ended = |outcome, mut records: Vec<PendingWrite>| {
        records.extend(attempts.clone());
        TaskRun { outcome, records }
    };
    // What its `interrupt` calls raised decides, whatever the node returned after them.
    match interrupts.as_deref().and_then(TaskInterrupts::take) {
        Some(Raised::Question(question)) => {
            let records = std::iter::once(interrupt::interrupt_write(&question))
                .chain(once.as_deref().and_then(TaskOnce::write))
                .collect();
            return ended(Err(TaskFailure::Interrupt(question)), records);
        }
        Some(Raised::WrongType {
            id,
            message,
            withdrawn,
        }) => {
            let error = GraphError::ResumeValue {
                thread_id: thread_id.expect("answers need a checkpointer"),
                node: name,
                interrupt: id,
                message,
            };
            // The answer is withdrawn, so the question is open again for the right one.
            return ended(Err(TaskFailure::Graph(error)), withdrawn.to_vec());
        }
        None => {}
    }
    // A failure its handler takes: the task is done, without writes; the handler runs next.
    let result = match (result, handler) {
        (Err(error), Some(handler)) => {
            let failure = NodeFailure::new(name, handler, step, tries, &error.to_string());
            let records = match recording {
                Some(r) if r.pending_writes => vec![failure.write(r.task_id)],
                _ => Vec::new(),
            };
            let finished = Finished {
                node,
                update: S::Update::default(),
                writes: Vec::new(),
                failure: Some(failure),
            };
            return ended(Ok(finished), records);
        }
        (result, _) => result,
    };
    let Some(Recording {
        task_id,
        pending_writes,
    }) = recording
    else {
        let outcome = match result {
            Ok(update) => Ok(Finished {
                node,
                update,
                writes: Vec::new(),
                failure: None,
            }),
            Err(error) => Err(TaskFailure::Node(node, error)),
        };
        return ended(outcome, Vec::new());
    };
    match result {
        Ok(update) => {
            let writes = match encode_writes::<S>(&update, name) {
                Ok(writes) => writes,
                Err(error) => return ended(Err(TaskFailure::Graph(error)), Vec::new()),
            };
            let mut records = Vec::new();
            if pending_writes {
                records = writes
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
                if records.is_empty() {
                    records.push(PendingWrite {
                        task_id,
                        node: name.to_owned(),
                        idx: 0,
                        channel: PendingWrite::NO_WRITES.to_owned(),
                        value: b"null".to_vec(),
                    });
                }
            }
            let finished = Finished {
                node,
                update,
                writes,
                failure: None,
            };
            ended(Ok(finished), records)
        }
        Err(error) => {
            let record = PendingWrite {
                task_id,
                node: name.to_owned(),
                idx: PendingWrite::ERROR_IDX,
                channel: PendingWrite::ERROR.to_owned(),
                // Cut like every stored error text: a node's error can be as long as it likes.
                value: serde_json::to_vec(&crate::policy::cut(
                    error.to_string(),
                    NodeFailure::MAX_ERROR_BYTES,
                ))
                .unwrap_or_default(),
            };
            let records = std::iter::once(record)
                .chain(once.as_deref().and_then(TaskOnce::write))
                .collect();
            ended(Err(TaskFailure::Node(node, error)), records)
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

/// The finished task `task_id` as its saved writes describe it, if it finished. Writes saved
/// against checkpoint `at` that do not read back as `S`'s fields are an error — unless an
/// earlier version of the state type saved them (`older`): then the task is not finished, and
/// runs again on the migrated state.
pub(super) fn saved_task<S: State>(
    pending: &[PendingWrite],
    task_id: TaskId,
    node: usize,
    at: (&ThreadId, CheckpointId),
    older: bool,
) -> Option<Result<Finished<S>, GraphError>> {
    let (write_thread, write_checkpoint) = at;
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
    let mut failure = None;
    for write in writes {
        if write.channel == PendingWrite::NO_WRITES {
            continue;
        }
        if write.channel == PendingWrite::FAILED {
            match serde_json::from_slice(&write.value) {
                Ok(saved) => failure = Some(saved),
                Err(_) => {
                    let detail = format!(
                        "the failure saved for node `{}` is unreadable",
                        bounded(&write.node)
                    );
                    let corrupt = CheckpointError::corrupt(write_thread, write_checkpoint, detail);
                    return Some(Err(corrupt.into()));
                }
            }
            continue;
        }
        let channel = match Stored::of::<S>(&write.channel) {
            Stored::Current(channel) | Stored::Renamed(channel) => channel,
            Stored::Removed => continue,
            Stored::Unknown if older => return None,
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
            if older {
                return None;
            }
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
        failure,
    }))
}
