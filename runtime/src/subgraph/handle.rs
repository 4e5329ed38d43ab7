//! Reading and correcting a thread's subgraph calls: [`Thread::subgraph`] opens the call in a
//! namespace a snapshot lists ([`StateSnapshot::subgraphs`]) as a [`SubgraphThread`], whose
//! state, history, updates and forks are the call's own. The enclosing thread runs the call:
//! a correction made while it waits (paused on a question inside the call, or failed inside
//! it) is where the call continues when the enclosing thread is resumed, and inner steps that
//! finished before it are not run again.

use std::sync::Arc;

use crate::checkpoint::{Checkpoint, limits};
use crate::error::GraphError;
use crate::executor::{NS_SEP, NS_TASK, bounded, call_ns};
use crate::graph::{GraphDef, GraphSpec};
use crate::ids::{CheckpointId, TaskId};
use crate::state::State;
use crate::thread::{History, StateSnapshot, Thread, Update};

use super::SubgraphCheckpoint;

/// A subgraph call a checkpoint knows of: one its step finished, or one its next step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphCall {
    /// The subgraph node.
    pub node: String,
    /// The call's namespace, which [`Thread::subgraph`] opens.
    pub ns: String,
    /// The call's last checkpoint, for a call the step finished; `None` for one the next step
    /// runs (it may have started: a paused or crashed step).
    pub checkpoint: Option<CheckpointId>,
}

impl SubgraphCall {
    /// The calls `checkpoint` records as finished, then those its next step runs.
    pub(crate) fn of<S: State, D>(
        spec: &GraphSpec<S, D>,
        checkpoint: &Checkpoint,
        next: &[usize],
    ) -> Vec<Self> {
        let node_of = |ns: &str| {
            let level = ns.rsplit(NS_SEP).next().unwrap_or(ns);
            level.split(NS_TASK).next().unwrap_or(level).to_owned()
        };
        let mut calls: Vec<Self> = checkpoint
            .metadata
            .subgraphs
            .iter()
            .map(|(ns, id)| Self {
                node: node_of(ns),
                ns: ns.clone(),
                checkpoint: Some(*id),
            })
            .collect();
        let step = checkpoint.metadata.step + 1;
        for &index in next {
            let node = &spec.nodes[index];
            let Some(sub) = &node.subgraph else { continue };
            let task = match sub.checkpoint {
                SubgraphCheckpoint::None => continue,
                SubgraphCheckpoint::PerThread => None,
                SubgraphCheckpoint::PerCall => Some(TaskId::derive(
                    checkpoint.id,
                    &checkpoint.ns,
                    step,
                    node.name,
                )),
            };
            calls.push(Self {
                node: node.name.to_owned(),
                ns: call_ns(&checkpoint.ns, node.name, task),
                checkpoint: None,
            });
        }
        calls
    }
}

/// A subgraph call of a thread, opened with [`Thread::subgraph`]: the call's state, history,
/// updates and forks. It does not run anything; the enclosing thread does, and a resume of the
/// enclosing thread continues the call from its latest checkpoint.
pub struct SubgraphThread<G: GraphDef> {
    thread: Thread<G>,
}

impl<G: GraphDef> SubgraphThread<G> {
    pub(crate) fn new(thread: Thread<G>) -> Self {
        Self { thread }
    }

    /// The call's namespace.
    pub fn ns(&self) -> &str {
        self.thread.ns()
    }

    /// The call's latest state, or `None` if it wrote no checkpoint.
    pub async fn state(&self) -> Result<Option<StateSnapshot<G>>, GraphError> {
        self.thread.state().await
    }

    /// The call's state at its checkpoint `id`.
    pub async fn state_at(&self, id: CheckpointId) -> Result<Option<StateSnapshot<G>>, GraphError> {
        self.thread.state_at(id).await
    }

    /// The call's checkpoints, newest first.
    pub fn history(&self) -> History<'_, G> {
        self.thread.history()
    }

    /// Writes `values` to the call as if one of its nodes had written them
    /// ([`Thread::update`]): the enclosing thread's resume continues the call from there.
    pub fn update(&self, values: <G::State as State>::Update) -> Update<'_, G> {
        self.thread.update(values)
    }

    /// Makes a copy of the call's checkpoint `id` its latest ([`Thread::fork`]): the enclosing
    /// thread's resume runs the call on from there.
    pub async fn fork(&self, id: CheckpointId) -> Result<CheckpointId, GraphError> {
        self.thread.fork(id).await
    }

    /// A subgraph call of this call ([`Thread::subgraph`]).
    pub fn subgraph<I: GraphDef>(&self, ns: &str) -> Result<SubgraphThread<I>, GraphError> {
        self.thread.subgraph(ns)
    }
}

impl<G: GraphDef> Thread<G> {
    /// The subgraph call in namespace `ns` — one that [`StateSnapshot::subgraphs`] lists — as
    /// a handle on its own checkpoints, for graph `I`, the graph its node runs.
    ///
    /// ```
    /// # async fn demo<G: stategraph_runtime::GraphDef, I: stategraph_runtime::GraphDef>(
    /// #     thread: &stategraph_runtime::Thread<G>,
    /// # ) -> Result<(), stategraph_runtime::GraphError> {
    /// let snapshot = thread.state().await?.expect("the thread ran");
    /// for call in &snapshot.subgraphs {
    ///     let inner = thread.subgraph::<I>(&call.ns)?;
    ///     println!("{}: {:?}", call.node, inner.state().await?.map(|s| s.values));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn subgraph<I: GraphDef>(&self, ns: &str) -> Result<SubgraphThread<I>, GraphError> {
        limits::check_namespace(ns).map_err(crate::checkpoint::CheckpointError::from)?;
        let level = match self.ns() {
            "" => Some(ns),
            parent => ns
                .strip_prefix(parent)
                .and_then(|rest| rest.strip_prefix(NS_SEP)),
        }
        .filter(|level| !level.is_empty() && !level.contains(NS_SEP));
        let not_a_call = |why: String| GraphError::Config(why);
        let Some(level) = level else {
            return Err(not_a_call(format!(
                "namespace `{}` is not a subgraph call of this graph's namespace `{}`",
                bounded(ns),
                bounded(self.ns())
            )));
        };
        let node = level.split(NS_TASK).next().unwrap_or(level);
        let spec = self.spec();
        let info = spec
            .nodes
            .iter()
            .find(|n| n.name == node)
            .and_then(|n| n.subgraph.as_ref())
            .ok_or_else(|| {
                not_a_call(format!(
                    "graph `{}` has no subgraph node `{}`",
                    spec.name,
                    bounded(node)
                ))
            })?;
        if !info.graph.is::<I>() {
            return Err(not_a_call(format!(
                "subgraph node `{node}` of graph `{}` runs graph `{}`, not `{}`",
                spec.name,
                info.graph.name(),
                I::spec().name
            )));
        }
        let deps = (info.deps)(self.deps()).downcast::<I::Deps>().map_err(|_| {
            not_a_call(format!(
                "subgraph node `{node}` makes dependencies of another type than graph `{}` takes",
                I::spec().name
            ))
        })?;
        let inner = self.nested::<I>(ns.to_owned(), Arc::clone(&deps));
        Ok(SubgraphThread::new(inner))
    }
}
