//! Answering interrupts: the answers are checked against the thread's pending interrupts —
//! each must name one (or be the one answer to the only one) — before anything is written,
//! then saved with the tasks that asked, and the paused step runs again.

use std::collections::BTreeMap;

use super::Executor;
use crate::error::GraphError;
use crate::ids::TaskId;
use crate::interrupt::{self, Interrupt, InterruptId, Resume};
use crate::state::State;

/// One task's interrupt and the answers given to its calls, by call number.
type TaskAnswers<'a> = (&'a Interrupt, Vec<(u32, serde_json::Value)>);

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// Answers the thread's pending interrupts with `resume` and runs on.
    pub(crate) async fn resume_with(&self, resume: Resume) -> Result<S, GraphError> {
        let p = self.persistence.as_ref().expect("answers need a thread");
        let thread_id = p.thread_id.clone();
        let epoch = p.saver.claim(&thread_id).await?;
        let Some(tuple) = p.saver.get(&thread_id, &p.ns, None).await? else {
            return Err(GraphError::NothingToResume(thread_id));
        };
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
                .push((asked.index, answer));
        }
        let at = tuple.checkpoint.id;
        let writes = by_task.into_values().map(|(asked, answers)| {
            interrupt::answers_write(asked, &tuple.pending_writes, answers)
        });
        for write in writes {
            p.saver
                .put_writes(&thread_id, &p.ns, at, vec![write], Some(epoch))
                .await?;
        }
        let tuple = p
            .saver
            .get(&thread_id, &p.ns, Some(at))
            .await?
            .ok_or(GraphError::NothingToResume(thread_id))?;
        let head = self.restore(tuple, epoch)?;
        self.run(head).await
    }
}
