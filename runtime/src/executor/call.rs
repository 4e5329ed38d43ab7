//! Running a graph as a subgraph: one call, started in its namespace or continued there.
//!
//! A call's checkpoints record the checkpoint of each enclosing graph (`parents`). The latest
//! checkpoint of the namespace belongs to this call when it records the same enclosing
//! checkpoints: the enclosing step is being run again (a resume after a crash, an answer, a
//! retry), so the call continues where it stopped, and a call that had finished is not run again.
//! Otherwise the call starts: from the default state, or — for a subgraph that keeps its state
//! across calls — on top of the state its previous call ended with.
//!
//! A question asked inside the call pauses it; the enclosing task asks it in turn (`answer`),
//! under the same interrupt id, and once the enclosing thread is resumed with an answer, the
//! answer is saved for the task that asked and the call runs on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{Durability, Ended, Executor, Head, Persistence, take_state};
use crate::budget::Budget;
use crate::error::GraphError;
use crate::events::Emitter;
use crate::ids::{CheckpointId, Epoch, TaskId};
use crate::interrupt::{self, TaskInterrupts};
use crate::state::State;
use crate::store::Store;

/// How a call starts when its namespace holds no run of it.
pub(crate) struct Begin<S: State> {
    /// The whole state to start from (a subgraph that shares its graph's state starts from that
    /// graph's); `None` starts from the default state, or from where the previous call ended.
    pub(crate) state: Option<S>,
    /// The input applied on top.
    pub(crate) input: S::Update,
}

/// Where a subgraph task runs: what the enclosing run hands the call.
pub(crate) struct Scope {
    /// The enclosing run's checkpointer, thread and namespace (`None` without a checkpointer).
    pub(crate) persistence: Option<Persistence>,
    /// The enclosing checkpoints the call's checkpoints record: those of the enclosing run's
    /// own enclosing graphs, and the checkpoint its step started from.
    pub(crate) parents: BTreeMap<String, CheckpointId>,
    /// The enclosing run's ownership epoch.
    pub(crate) epoch: Option<Epoch>,
    /// The subgraph task.
    pub(crate) task_id: Option<TaskId>,
    /// The enclosing run's durability mode, which the call inherits.
    pub(crate) durability: Durability,
    /// The enclosing run's recursion limit, which the call inherits.
    pub(crate) recursion_limit: usize,
    /// Where the enclosing run's events go, when it is streamed.
    pub(crate) events: Option<Emitter>,
    /// The enclosing run's store, which the call's nodes reach too.
    pub(crate) store: Option<Arc<dyn Store>>,
    /// The enclosing graph's checkpoint-size budget, which the call's states are weighed
    /// against too.
    pub(crate) budget: Option<Arc<Budget>>,
    /// The namespace and last checkpoint of the call, once it finished.
    pub(crate) reached: Mutex<Option<(String, CheckpointId)>>,
}

impl Scope {
    /// Where the events of the call of node `node`, which runs graph `graph`, go: the
    /// stream's, under the call's namespace, when the stream includes subgraphs.
    pub(crate) fn events(&self, node: &str, graph: &'static str) -> Option<Emitter> {
        let events = self.events.as_ref()?;
        events.nested(call_ns(events.ns(), node, self.task_id), graph)
    }

    /// Where the call of node `node` keeps its checkpoints: its own namespace per call
    /// (`parent|node:task`), or one per node kept across calls (`parent|node`); `None` for a
    /// call that keeps none, or inside a run without a checkpointer.
    pub(crate) fn persistence(&self, node: &str, per_call: bool) -> Option<Persistence> {
        let parent = self.persistence.as_ref()?;
        let task = if per_call { Some(self.task_id?) } else { None };
        let ns = call_ns(&parent.ns, node, task);
        Some(Persistence {
            saver: parent.saver.clone(),
            thread_id: parent.thread_id.clone(),
            ns,
            metadata: parent.metadata.clone(),
            usage: Arc::clone(&parent.usage),
        })
    }
}

/// The namespace of a call of subgraph node `node` in a run in namespace `parent`: one per
/// task (`parent|node:task`), or with no task one per node (`parent|node`).
pub(crate) fn call_ns(parent: &str, node: &str, task: Option<TaskId>) -> String {
    let mut ns = parent.to_owned();
    if !ns.is_empty() {
        ns.push(NS_SEP);
    }
    ns.push_str(node);
    if let Some(task) = task {
        ns.push(NS_TASK);
        ns.push_str(&task.to_string());
    }
    ns
}

/// Separates the levels of a namespace: `outer:task|inner:task`.
pub(crate) const NS_SEP: char = '|';
/// Separates a node from its task within a level of a namespace.
pub(crate) const NS_TASK: char = ':';

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// Runs one call: continues it if its namespace holds it, else starts it with `begin`
    /// (on top of the namespace's latest state when `keep`). A question the call waits on is
    /// answered with the answer `enclosing` (the subgraph task's interrupts) was given, or else
    /// asked by it in turn. Returns the final state and the call's last checkpoint.
    pub(crate) async fn call(
        &self,
        begin: Begin<S>,
        parents: BTreeMap<String, CheckpointId>,
        keep: bool,
        enclosing: Option<&TaskInterrupts>,
    ) -> Result<(S, Option<CheckpointId>), GraphError> {
        let Some(p) = &self.persistence else {
            let head = self.begin(None, None, begin, parents).await?;
            return match self.drive(head).await? {
                Ended::Finished(head) => Ok((take_state(head.state), None)),
                Ended::Paused(..) => Err(super::paused_without_checkpointer()),
            };
        };
        let epoch = self.claimed;
        let latest = p.saver.get(&p.thread_id, &p.ns, None).await?;
        let ongoing = match latest {
            Some(tuple) if tuple.checkpoint.metadata.parents == parents => {
                Some(self.restore(tuple, epoch)?)
            }
            latest => {
                let previous = match latest.filter(|_| keep) {
                    Some(tuple) => Some(self.restore(tuple, epoch)?),
                    None => None,
                };
                let head = self.begin(epoch, previous, begin, parents).await?;
                match self.drive(head).await? {
                    Ended::Paused(..) => None,
                    Ended::Finished(head) => return Ok(finished(head)),
                }
            }
        };
        let mut head = match ongoing {
            Some(head) => head,
            None => self.waiting(p, enclosing).await?,
        };
        loop {
            // Answers given to the enclosing task go to the tasks inside that asked.
            let answered: Vec<_> = interrupt::open(&head.pending)
                .into_iter()
                .filter_map(|asked| Some((enclosing?.answer_to(&asked)?, asked)))
                .flat_map(|(value, asked)| {
                    interrupt::answers_write(
                        &asked,
                        &head.pending,
                        [(asked.index, asked.id, value)],
                    )
                })
                .collect();
            if !answered.is_empty() {
                p.saver
                    .put_writes(&p.thread_id, &p.ns, head.id, answered, epoch)
                    .await?;
                head = self.reread(p, Some(head.id)).await?;
            }
            if head.next.is_empty() {
                return Ok(finished(head));
            }
            match self.drive(head).await? {
                Ended::Paused(..) => head = self.waiting(p, enclosing).await?,
                Ended::Finished(head) => return Ok(finished(head)),
            }
        }
    }

    /// The call's latest checkpoint after it paused: to run on, when the enclosing task has an
    /// answer to its question; otherwise the enclosing task asks the question in turn.
    async fn waiting(
        &self,
        p: &Persistence,
        enclosing: Option<&TaskInterrupts>,
    ) -> Result<Head<S>, GraphError> {
        let head = self.reread(p, None).await?;
        let open = interrupt::open(&head.pending);
        let Some(asked) = open.first() else {
            return Ok(head);
        };
        match enclosing {
            Some(enclosing) if enclosing.answer_to(asked).is_some() => Ok(head),
            enclosing => {
                if let Some(enclosing) = enclosing {
                    enclosing.relay(asked);
                }
                Err(GraphError::Interrupted {
                    thread_id: p.thread_id.clone(),
                    checkpoint: head.id,
                    interrupts: open,
                })
            }
        }
    }

    /// Checkpoint `id` (the latest when `None`) of the call's namespace, read back with the
    /// writes saved against it.
    async fn reread(
        &self,
        p: &Persistence,
        id: Option<CheckpointId>,
    ) -> Result<Head<S>, GraphError> {
        let tuple = p.saver.get(&p.thread_id, &p.ns, id).await?;
        let tuple = tuple.ok_or_else(|| GraphError::NothingToResume(p.thread_id.clone()))?;
        self.restore(tuple, self.claimed)
    }
}

/// The final state of a call and its last checkpoint.
fn finished<S: State>(head: Head<S>) -> (S, Option<CheckpointId>) {
    let id = head.id;
    (take_state(head.state), Some(id))
}
