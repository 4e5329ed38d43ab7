//! Answering interrupts: the answers are checked against the thread's pending interrupts —
//! each must name one (or be the one answer to the only one) — before anything is written,
//! then saved with the tasks that asked, and the paused step runs again.
//!
//! A resume may carry a command: a state update and nodes to go to, applied with the paused
//! step when it completes. They are saved first, as the writes of a task of their own
//! (`__command__`) on the paused checkpoint, so a step that pauses again or a process that dies
//! keeps them for the resume that completes the step.

use std::collections::BTreeMap;

use super::{COMMAND, COMMAND_WRITER, Executor, Finished, encode_writes, saved_task};
use crate::checkpoint::{CheckpointError, PendingWrite};
use crate::error::GraphError;
use crate::ids::{CheckpointId, TaskId, ThreadId};
use crate::interrupt::{self, Interrupt, InterruptId, Resume};
use crate::state::State;

/// The channel of a command's `goto` write, and its index.
const GOTO: &str = "__goto__";
const GOTO_IDX: i32 = -4;

/// What a resume applies with the paused step: a state update, and nodes to run next.
pub(crate) struct Command<S: State> {
    pub(crate) update: Option<S::Update>,
    pub(crate) goto: Vec<usize>,
}

/// One task's interrupt and the answers given to its calls: call number, question, answer.
type TaskAnswers<'a> = (&'a Interrupt, Vec<(u32, InterruptId, serde_json::Value)>);

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// Answers the thread's pending interrupts with `resume` and runs on.
    pub(crate) async fn resume_with(
        &self,
        resume: Resume,
        command: Command<S>,
    ) -> Result<S, GraphError> {
        let p = self.persistence.as_ref().expect("answers need a thread");
        let thread_id = p.thread_id.clone();
        let epoch = p.saver.claim(&thread_id).await?;
        let Some(tuple) = p.saver.get(&thread_id, &p.ns, None).await? else {
            return Err(GraphError::NothingToResume(thread_id));
        };
        super::refuse_expired(&tuple)?;
        let pending = interrupt::open(&tuple.pending_writes);
        if pending.is_empty() {
            return Err(GraphError::NothingPending(thread_id));
        }
        let mut chosen: BTreeMap<InterruptId, serde_json::Value> = BTreeMap::new();
        for (id, answer) in resume.answers {
            let answer = answer.map_err(|source| GraphError::Encode {
                node: "__resume__",
                field: "answer",
                source,
            })?;
            let target = match id {
                Some(id) => pending.iter().find(|i| i.id == id).ok_or_else(|| {
                    GraphError::UnknownInterrupt {
                        thread_id: thread_id.clone(),
                        id,
                        pending: pending.clone(),
                    }
                })?,
                None if pending.len() == 1 => &pending[0],
                None => {
                    return Err(GraphError::AmbiguousResume { thread_id, pending });
                }
            };
            if chosen.insert(target.id, answer).is_some() {
                return Err(GraphError::AmbiguousResume { thread_id, pending });
            }
        }
        let mut by_task: BTreeMap<TaskId, TaskAnswers<'_>> = BTreeMap::new();
        for (id, answer) in chosen {
            let asked = pending.iter().find(|i| i.id == id).expect("chosen above");
            by_task
                .entry(asked.task_id)
                .or_insert_with(|| (asked, Vec::new()))
                .1
                .push((asked.index, asked.id, answer));
        }
        let at = tuple.checkpoint.id;
        let step = tuple.checkpoint.metadata.step + 1;
        let command_writes = self.command_writes(command, at, step)?;
        let writes = by_task.into_values().map(|(asked, answers)| {
            interrupt::answers_write(asked, &tuple.pending_writes, answers)
        });
        for task_writes in writes {
            p.saver
                .put_writes(&thread_id, &p.ns, at, task_writes.to_vec(), Some(epoch))
                .await?;
        }
        if !command_writes.is_empty() {
            p.saver
                .put_writes(&thread_id, &p.ns, at, command_writes, Some(epoch))
                .await?;
        }
        let tuple = p
            .saver
            .get(&thread_id, &p.ns, Some(at))
            .await?
            .ok_or(GraphError::NothingToResume(thread_id))?;
        let head = self.restore(tuple, Some(epoch))?;
        self.emit_values(&head).await;
        self.run(head).await
    }
}

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// The task that carries the command of a resume of `step` from checkpoint `at`.
    fn command_task(&self, at: CheckpointId, step: i64) -> TaskId {
        let ns = self.persistence.as_ref().map_or("", |p| p.ns.as_str());
        TaskId::derive(at, ns, step, COMMAND)
    }

    /// The pending writes saving `command` for `step` from checkpoint `at`.
    fn command_writes(
        &self,
        command: Command<S>,
        at: CheckpointId,
        step: i64,
    ) -> Result<Vec<PendingWrite>, GraphError> {
        let task_id = self.command_task(at, step);
        let mut writes = Vec::new();
        if let Some(update) = command.update {
            for (idx, (channel, value)) in encode_writes::<S>(&update, COMMAND)?
                .into_iter()
                .enumerate()
            {
                writes.push(PendingWrite {
                    task_id,
                    node: COMMAND.to_owned(),
                    idx: i32::try_from(idx).expect("a state has at most 128 channels"),
                    channel: S::CHANNELS[channel].name.to_owned(),
                    value,
                });
            }
        }
        if !command.goto.is_empty() {
            let names: Vec<&str> = command
                .goto
                .iter()
                .map(|&node| self.spec.nodes[node].name)
                .collect();
            writes.push(PendingWrite {
                task_id,
                node: COMMAND.to_owned(),
                idx: GOTO_IDX,
                channel: GOTO.to_owned(),
                value: serde_json::to_vec(&names).expect("names encode"),
            });
        }
        Ok(writes)
    }

    /// The command saved for `step` from checkpoint `at` among `pending`: its update, as a
    /// finished task, and the nodes it goes to.
    pub(super) fn saved_command(
        &self,
        pending: &[PendingWrite],
        at: CheckpointId,
        step: i64,
        thread_id: &ThreadId,
    ) -> Result<(Option<Finished<S>>, Vec<usize>), GraphError> {
        let task_id = self.command_task(at, step);
        // A command cannot run again: its update must read back, whichever version saved it.
        let update = saved_task::<S>(pending, task_id, COMMAND_WRITER, (thread_id, at), false)
            .transpose()?;
        let mut goto = Vec::new();
        if let Some(write) = pending
            .iter()
            .find(|w| w.task_id == task_id && w.channel == GOTO)
        {
            let names: Vec<String> =
                serde_json::from_slice(&write.value).map_err(|source| CheckpointError::Decode {
                    thread_id: thread_id.clone(),
                    checkpoint: at,
                    channel: GOTO.to_owned(),
                    source,
                })?;
            for name in names {
                let node = self
                    .spec
                    .index_of(&name)
                    .ok_or_else(|| GraphError::UnknownNode {
                        thread_id: thread_id.clone(),
                        checkpoint: at,
                        node: name.clone(),
                        graph: self.spec.name,
                    })?;
                goto.push(node);
            }
        }
        Ok((update, goto))
    }
}
