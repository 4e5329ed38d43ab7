//! Which tasks a step runs: one per scheduled node, and for a node that runs on sent inputs, one
//! per input sent to it, in the order they were sent. Each task's id is derived from the
//! checkpoint, namespace, step, node and (for a sent input) its position, so a resumed step
//! finds the writes its tasks saved.

use smallvec::SmallVec;

use super::{Executor, Head, StepTasks};
use crate::error::GraphError;
use crate::ids::TaskId;
use crate::send::SentInput;
use crate::state::State;

/// One task of a step.
pub(super) struct Planned {
    pub(super) node: usize,
    /// Its id (`None` without a checkpointer).
    pub(super) task_id: Option<TaskId>,
    /// The input it was sent, for a node that runs on sent inputs.
    pub(super) input: Option<SentInput>,
}

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// The tasks of step `step` from `head`, in node order (and send order within a node).
    pub(super) fn plan(&self, head: &Head<S>, step: i64) -> Result<StepTasks<Planned>, GraphError> {
        let ns = self.persistence.as_ref().map(|p| p.ns.as_str());
        let mut tasks = SmallVec::with_capacity(head.next.len().max(head.sends.len()));
        for &node in &head.next {
            let spec = &self.spec.nodes[node];
            if spec.input.is_none() {
                let task_id = ns.map(|ns| TaskId::derive(head.id, ns, step, spec.name));
                tasks.push(Planned {
                    node,
                    task_id,
                    input: None,
                });
                continue;
            }
            let before = tasks.len();
            for (k, (_, input)) in head
                .sends
                .iter()
                .enumerate()
                .filter(|(_, (target, _))| *target == node)
            {
                let task_id =
                    ns.map(|ns| TaskId::derive(head.id, ns, step, &format!("{}#{k}", spec.name)));
                tasks.push(Planned {
                    node,
                    task_id,
                    input: Some(input.clone()),
                });
            }
            if tasks.len() == before {
                return Err(GraphError::Config(format!(
                    "node `{}` runs on sent inputs, and step {step} sends it none (a `goto` or an \
                     update cannot schedule it on its own)",
                    spec.name
                )));
            }
        }
        Ok(tasks)
    }
}
