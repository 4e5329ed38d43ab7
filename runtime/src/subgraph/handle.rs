//! Reading and correcting a thread's subgraph calls: [`Thread::subgraph`] opens the call in a
//! namespace a snapshot lists ([`StateSnapshot::subgraphs`]) as a [`SubgraphThread`], whose
//! state, history, updates and forks are the call's own. The enclosing thread runs the call:
//! a correction made while it waits (paused on a question inside the call, or failed inside
//! it) is where the call continues when the enclosing thread is resumed, and inner steps that
//! finished before it are not run again.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::checkpoint::{
    Checkpoint, CheckpointError, CheckpointTuple, Checkpointer, NewCheckpoint, PutMode, Source,
    limits,
};
use crate::error::GraphError;
use crate::executor::{NS_SEP, NS_TASK, bounded, call_ns};
use crate::graph::{GraphDef, GraphSpec};
use crate::ids::{CheckpointId, Epoch, TaskId};
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

    /// Starts a new branch of the thread's history at the call's checkpoint `id`: the
    /// enclosing checkpoint that ran the call is forked (and its own enclosing ones, up to the
    /// root), and a copy of checkpoint `id` becomes the latest of the call the fork runs.
    /// Returns that call; [`Thread::resume`] then runs on from `id` — the call's steps after it,
    /// then the enclosing graphs' — and the inner steps before `id` are not run again, whether
    /// the call had finished or not.
    ///
    /// ```
    /// # async fn demo<G: stategraph_runtime::GraphDef, I: stategraph_runtime::GraphDef>(
    /// #     thread: &stategraph_runtime::Thread<G>,
    /// #     call: &stategraph_runtime::SubgraphThread<I>,
    /// #     id: stategraph_runtime::CheckpointId,
    /// # ) -> Result<(), stategraph_runtime::GraphError> {
    /// let branch = call.fork(id).await?;       // optionally: branch.update(fix).await?
    /// thread.resume().await?;
    /// # Ok(()) }
    /// ```
    pub async fn fork(&self, id: CheckpointId) -> Result<SubgraphThread<G>, GraphError> {
        let ns = self.thread.branch(id).await?;
        Ok(Self::new(self.thread.at_ns(ns)))
    }

    /// A subgraph call of this call ([`Thread::subgraph`]).
    pub fn subgraph<I: GraphDef>(&self, ns: &str) -> Result<SubgraphThread<I>, GraphError> {
        self.thread.subgraph(ns)
    }
}

impl<G: GraphDef> Thread<G> {
    /// Forks this handle's checkpoint `id` and every checkpoint enclosing it: from the root
    /// down, each level's copy becomes the latest of the call the level above's copy runs.
    /// Returns the namespace of the innermost copy.
    async fn branch(&self, id: CheckpointId) -> Result<String, GraphError> {
        let saver = Arc::clone(self.saver());
        let thread_id = self.id();
        let missing = |parent| CheckpointError::MissingParent {
            thread_id: thread_id.clone(),
            parent,
        };
        let epoch = saver.claim(thread_id).await?;
        // The checkpoint, then the one enclosing it, up to the root's.
        let base = saver.get(thread_id, self.ns(), Some(id)).await?;
        let mut chain = vec![base.ok_or_else(|| missing(id))?];
        loop {
            let inner = &chain[chain.len() - 1].checkpoint;
            let Some((parent_ns, _)) = split_ns(&inner.ns) else {
                break;
            };
            let Some(&at) = inner.metadata.parents.get(parent_ns) else {
                return Err(CheckpointError::corrupt(
                    thread_id,
                    inner.id,
                    format!(
                        "the checkpoint of namespace `{}` does not record its enclosing one",
                        bounded(&inner.ns)
                    ),
                )
                .into());
            };
            let enclosing = saver.get(thread_id, parent_ns, Some(at)).await?;
            chain.push(enclosing.ok_or_else(|| missing(at))?);
        }
        // Copy from the root down.
        let mut ns = String::new();
        let mut parents: BTreeMap<String, CheckpointId> = BTreeMap::new();
        let mut above: Option<(CheckpointId, i64)> = None;
        for tuple in chain.into_iter().rev() {
            let target = match (split_ns(&tuple.checkpoint.ns), above) {
                (Some((_, level)), Some((enclosing, step))) => {
                    parents.insert(ns.clone(), enclosing);
                    let (node, per_call) = match level.split_once(NS_TASK) {
                        Some((node, _)) => (node, true),
                        None => (level, false),
                    };
                    let task = per_call.then(|| TaskId::derive(enclosing, &ns, step + 1, node));
                    call_ns(&ns, node, task)
                }
                _ => String::new(),
            };
            let step = tuple.checkpoint.metadata.step;
            let copy = self
                .copy_into(&saver, tuple, &target, parents.clone(), epoch)
                .await?;
            above = Some((copy, step));
            ns = target;
        }
        Ok(ns)
    }

    /// Stores a copy of `tuple` as the latest checkpoint of namespace `ns` (source `fork`),
    /// recording `parents` as its enclosing checkpoints.
    async fn copy_into(
        &self,
        saver: &Arc<dyn Checkpointer>,
        tuple: CheckpointTuple,
        ns: &str,
        parents: BTreeMap<String, CheckpointId>,
        epoch: Epoch,
    ) -> Result<CheckpointId, GraphError> {
        let mut checkpoint = tuple.checkpoint;
        let latest = saver
            .get(self.id(), ns, None)
            .await?
            .map(|t| t.checkpoint.id);
        checkpoint.parent_id = if checkpoint.ns == ns {
            Some(checkpoint.id)
        } else {
            latest
        };
        // The copy becomes the latest: its id sorts after the namespace's head as well.
        checkpoint.id = CheckpointId::after(latest.max(checkpoint.parent_id));
        checkpoint.ns = ns.to_owned();
        checkpoint.created_at = crate::checkpoint::now();
        checkpoint.metadata.source = Source::Fork;
        checkpoint.metadata.writes = Default::default();
        checkpoint.metadata.subgraphs = Default::default();
        checkpoint.metadata.parents = parents;
        let id = checkpoint.id;
        // The blobs come along: the copy may live in another namespace.
        let blobs = tuple.channels.into_values().flatten().collect();
        saver
            .put(NewCheckpoint {
                checkpoint,
                blobs,
                mode: PutMode::Fork,
                epoch: Some(epoch),
            })
            .await?;
        Ok(id)
    }

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

/// A call's namespace as its enclosing namespace and its own level (`node:task` or `node`);
/// `None` for the root's.
fn split_ns(ns: &str) -> Option<(&str, &str)> {
    if ns.is_empty() {
        return None;
    }
    Some(ns.rsplit_once(NS_SEP).unwrap_or(("", ns)))
}
