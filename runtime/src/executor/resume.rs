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
use crate::outcome::Outcome;
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
type TaskAnswers = (Interrupt, Vec<(u32, InterruptId, serde_json::Value)>);

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// Answers the thread's pending interrupts with `resume` and runs on.
    ///
    /// Answering is decided on what was read: the thread's epoch, then its open questions.
    /// The answers (and the command) are stored with a claim from that epoch in one atomic
    /// step ([`Checkpointer::claim_if`](crate::Checkpointer::claim_if)), so of several
    /// resumers racing on one question exactly one stores its answer and runs the step; a
    /// loser claims nothing, so it never fences the winner, and reads the thread again to say
    /// what happened.
    pub(crate) async fn resume_with(
        &self,
        resume: Resume,
        command: Command<S>,
    ) -> Result<Outcome<S>, GraphError> {
        let p = self.persistence.as_ref().expect("answers need a thread");
        let thread_id = p.thread_id.clone();
        let mut given = Vec::with_capacity(resume.answers.len());
        for (id, answer) in resume.answers {
            let answer = answer.map_err(|source| GraphError::Encode {
                node: "__resume__",
                field: "answer",
                source,
            })?;
            given.push((id, answer));
        }
        let mut attempts = 0;
        let (epoch, at) = loop {
            let expected = p.saver.epoch(&thread_id).await?;
            let Some(tuple) = p.saver.get(&thread_id, &p.ns, None).await? else {
                return Err(GraphError::NothingToResume(thread_id));
            };
            super::refuse_expired(&tuple)?;
            let by_task = choose(&thread_id, &tuple.pending_writes, &given)?;
            let at = tuple.checkpoint.id;
            let step = tuple.checkpoint.metadata.step + 1;
            let mut writes: Vec<PendingWrite> = by_task
                .into_values()
                .flat_map(|(asked, answers)| {
                    interrupt::answers_write(&asked, &tuple.pending_writes, answers)
                })
                .collect();
            writes.extend(self.command_writes(&command, at, step)?);
            match p
                .saver
                .claim_if(&thread_id, expected, &p.ns, at, writes)
                .await
            {
                Ok(epoch) => break (epoch, at),
                // Another run claimed the thread since it was read: read it again, and say
                // what happened (the question answered, the step run on) or answer again.
                Err(CheckpointError::Superseded { .. }) if attempts < CLAIM_ATTEMPTS => {
                    attempts += 1;
                }
                Err(error) => return Err(error.into()),
            }
        };
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

/// How many times a resume reads the thread again after another run claimed it in between,
/// before it gives up with [`CheckpointError::Superseded`].
const CLAIM_ATTEMPTS: usize = 5;

/// The answers `given` matched to the open questions among `pending`, by the task that asked:
/// each must name an open question (or be the one answer to the only one); an error otherwise,
/// before anything is written.
fn choose(
    thread_id: &ThreadId,
    pending: &[PendingWrite],
    given: &[(Option<InterruptId>, serde_json::Value)],
) -> Result<BTreeMap<TaskId, TaskAnswers>, GraphError> {
    let open = interrupt::open(pending);
    if open.is_empty() {
        return Err(if interrupt::raised(pending).is_empty() {
            GraphError::NothingPending(thread_id.clone())
        } else {
            GraphError::AlreadyAnswered(thread_id.clone())
        });
    }
    let mut chosen: BTreeMap<InterruptId, serde_json::Value> = BTreeMap::new();
    for (id, answer) in given {
        let target =
            match id {
                Some(id) => open.iter().find(|i| i.id == *id).ok_or_else(|| {
                    GraphError::UnknownInterrupt {
                        thread_id: thread_id.clone(),
                        id: *id,
                        pending: open.clone(),
                    }
                })?,
                None if open.len() == 1 => &open[0],
                None => {
                    return Err(GraphError::AmbiguousResume {
                        thread_id: thread_id.clone(),
                        pending: open,
                    });
                }
            };
        if chosen.insert(target.id, answer.clone()).is_some() {
            return Err(GraphError::AmbiguousResume {
                thread_id: thread_id.clone(),
                pending: open,
            });
        }
    }
    let mut by_task: BTreeMap<TaskId, TaskAnswers> = BTreeMap::new();
    for (id, answer) in chosen {
        let asked = open.iter().find(|i| i.id == id).expect("chosen above");
        by_task
            .entry(asked.task_id)
            .or_insert_with(|| (asked.clone(), Vec::new()))
            .1
            .push((asked.index, asked.id, answer));
    }
    Ok(by_task)
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
        command: &Command<S>,
        at: CheckpointId,
        step: i64,
    ) -> Result<Vec<PendingWrite>, GraphError> {
        let task_id = self.command_task(at, step);
        let mut writes = Vec::new();
        if let Some(update) = &command.update {
            for (idx, (channel, value)) in
                encode_writes::<S>(update, COMMAND)?.into_iter().enumerate()
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
        // The usual step: nothing saved against its checkpoint, so no id to derive.
        if pending.is_empty() {
            return Ok((None, Vec::new()));
        }
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
