//! Static interrupts: pauses before and after nodes, declared on the graph
//! (`#[graph(interrupt_before = [review])]`) or set on a thread and carried in its checkpoints'
//! metadata. A pause is an interrupt of a task of its own (`__before__:node` or
//! `__after__:node` at the step), so it is answered, listed and saved like any other; any answer
//! lets the run go on.

use serde_json::json;

use super::{Executor, Head};
use crate::checkpoint::Pauses;
use crate::error::GraphError;
use crate::ids::{CheckpointId, TaskId};
use crate::interrupt::{self, Interrupt, PAUSE};
use crate::state::State;

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// Whether [`pause_before`](Self::pause_before) may pause at all: a pause is configured
    /// (on the graph or the thread), or one was raised already (among the pending writes).
    pub(super) fn may_pause_before(&self, head: &Head<S>) -> bool {
        !head.pending.is_empty()
            || !self.spec.interrupt_before.is_empty()
            || !head.pauses.before.is_empty()
    }

    /// Whether [`pause_after`](Self::pause_after) may pause at all: a pause after a node is
    /// configured, on the graph or the thread.
    pub(super) fn may_pause_after(&self, head: &Head<S>) -> bool {
        !self.spec.interrupt_after.is_empty() || !head.pauses.after.is_empty()
    }

    /// Before step `step` runs from `head`: the pauses it waits on — those saved on `head` and
    /// not answered, and the before-pauses of its nodes not yet answered. New ones are saved.
    pub(super) async fn pause_before(
        &self,
        head: &mut Head<S>,
        step: i64,
    ) -> Result<(), GraphError> {
        let mut waiting: Vec<Interrupt> = interrupt::open(&head.pending)
            .into_iter()
            .filter(|i| i.index == PAUSE)
            .collect();
        let mut new = Vec::new();
        for &node in &head.next {
            let name = self.spec.nodes[node].name;
            if !self.pauses_at(&head.pauses, node, &self.spec.interrupt_before, |p| {
                &p.before
            }) {
                continue;
            }
            let task = self.pause_task(head.id, step, "before", name);
            if interrupt::is_answered(&head.pending, task, PAUSE)
                || waiting.iter().any(|i| i.task_id == task)
            {
                continue;
            }
            new.push(interrupt::pause(
                task,
                name,
                json!({ "before": name }),
                &head.pending,
            ));
        }
        self.pause(
            head,
            waiting.drain(..).chain(new.iter().cloned()).collect(),
            &new,
        )
        .await
    }

    /// After the step that wrote `head` ran the nodes `ran`: their after-pauses, saved.
    pub(super) async fn pause_after(
        &self,
        head: &mut Head<S>,
        ran: &[usize],
    ) -> Result<(), GraphError> {
        let new: Vec<Interrupt> = ran
            .iter()
            .filter(|&&node| {
                self.pauses_at(&head.pauses, node, &self.spec.interrupt_after, |p| &p.after)
            })
            .map(|&node| {
                let name = self.spec.nodes[node].name;
                let task = self.pause_task(head.id, head.step + 1, "after", name);
                interrupt::pause(task, name, json!({ "after": name }), &[])
            })
            .collect();
        self.pause(head, new.clone(), &new).await
    }

    /// Whether `node` pauses, by the graph's list or the thread's.
    fn pauses_at(
        &self,
        thread: &Pauses,
        node: usize,
        graph: &[usize],
        list: impl Fn(&Pauses) -> &Vec<String>,
    ) -> bool {
        let name = self.spec.nodes[node].name;
        graph.contains(&node) || list(thread).iter().any(|n| n == name)
    }

    /// The synthetic task of a pause `when` (`before`, `after`) node `name` at `step`.
    fn pause_task(&self, checkpoint: CheckpointId, step: i64, when: &str, name: &str) -> TaskId {
        let ns = self.persistence.as_ref().map_or("", |p| p.ns.as_str());
        TaskId::derive(checkpoint, ns, step, &format!("__{when}__:{name}"))
    }

    /// Pauses the run on `waiting` (if any), saving the `new` ones first (against the head's
    /// checkpoint, stored first).
    async fn pause(
        &self,
        head: &mut Head<S>,
        mut waiting: Vec<Interrupt>,
        new: &[Interrupt],
    ) -> Result<(), GraphError> {
        if waiting.is_empty() {
            return Ok(());
        }
        let Some(p) = &self.persistence else {
            return Err(GraphError::Config(format!(
                "node `{}` has a pause (interrupt_before/after), which needs a checkpointer to resume from",
                waiting[0].node
            )));
        };
        self.settle(head).await?;
        if !new.is_empty() {
            let writes = new.iter().map(interrupt::interrupt_write).collect();
            p.saver
                .put_writes(&p.thread_id, &p.ns, head.id, writes, head.epoch)
                .await?;
        }
        waiting.sort_by_key(|i| (i.raised_at, i.id));
        Err(GraphError::Interrupted {
            thread_id: p.thread_id.clone(),
            checkpoint: head.id,
            interrupts: waiting,
        })
    }
}
