//! Building a graph and running it: [`Builder`], [`CompiledGraph`], and the [`Thread`] handle.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use crate::checkpoint::{
    CheckpointError, CheckpointMetadata, CheckpointTuple, Checkpointer, ListQuery, NewCheckpoint,
    PutMode, Source,
};
use crate::error::GraphError;
use crate::executor::{Executor, Persistence, restore_state, scheduled};
use crate::graph::{GraphDef, GraphSpec, NodeId};
use crate::ids::{CheckpointId, ThreadId};
use crate::state::State;

/// The recursion limit unless set otherwise: the most steps one `invoke` or `resume` runs.
pub const DEFAULT_RECURSION_LIMIT: usize = 1000;

/// Marks a graph compiled without a checkpointer: it runs with [`CompiledGraph::invoke`] and
/// keeps nothing.
#[derive(Debug, Clone, Copy)]
pub struct Ephemeral;

/// Marks a graph compiled with a checkpointer: it runs only through a [`Thread`].
#[derive(Debug, Clone, Copy)]
pub struct Durable;

/// Configures a graph before it runs; `my_graph::graph()` returns one.
pub struct Builder<G: GraphDef, M = Ephemeral> {
    saver: Option<Arc<dyn Checkpointer>>,
    recursion_limit: usize,
    mode: PhantomData<(G, M)>,
}

impl<G: GraphDef> Builder<G, Ephemeral> {
    /// A builder for graph `G`, without a checkpointer.
    pub fn new() -> Self {
        Self {
            saver: None,
            recursion_limit: DEFAULT_RECURSION_LIMIT,
            mode: PhantomData,
        }
    }

    /// Saves a checkpoint after every step to `saver`. The compiled graph then runs only through
    /// [`CompiledGraph::thread`], so every run has a thread id.
    pub fn checkpointer(self, saver: impl Checkpointer) -> Builder<G, Durable> {
        Builder {
            saver: Some(Arc::new(saver)),
            recursion_limit: self.recursion_limit,
            mode: PhantomData,
        }
    }
}

impl<G: GraphDef> Default for Builder<G, Ephemeral> {
    fn default() -> Self {
        Self::new()
    }
}

impl<G: GraphDef, M> Builder<G, M> {
    /// The most steps one `invoke` or `resume` may run (default
    /// [`DEFAULT_RECURSION_LIMIT`]). Reaching it is an error that leaves the last checkpoint
    /// saved, so the run can be resumed with a higher limit.
    pub fn recursion_limit(mut self, limit: usize) -> Self {
        self.recursion_limit = limit;
        self
    }

    /// Builds the runnable graph.
    pub fn compile(self) -> Result<CompiledGraph<G, M>, GraphError> {
        check_limit(self.recursion_limit)?;
        Ok(CompiledGraph {
            inner: Arc::new(Inner {
                spec: G::spec(),
                saver: self.saver,
                recursion_limit: self.recursion_limit,
            }),
            mode: PhantomData,
        })
    }
}

fn check_limit(limit: usize) -> Result<(), GraphError> {
    if limit == 0 {
        return Err(GraphError::Config(
            "the recursion limit must be at least 1".to_owned(),
        ));
    }
    Ok(())
}

struct Inner<G: GraphDef> {
    spec: GraphSpec<G::State>,
    saver: Option<Arc<dyn Checkpointer>>,
    recursion_limit: usize,
}

/// A graph ready to run. Cheap to clone; share one across tasks.
pub struct CompiledGraph<G: GraphDef, M = Ephemeral> {
    inner: Arc<Inner<G>>,
    mode: PhantomData<M>,
}

impl<G: GraphDef, M> Clone for CompiledGraph<G, M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            mode: PhantomData,
        }
    }
}

impl<G: GraphDef> CompiledGraph<G, Ephemeral> {
    /// Runs the graph from START on a default state updated with `input`, and returns the
    /// final state. Nothing is saved.
    pub async fn invoke(&self, input: <G::State as State>::Update) -> Result<G::State, GraphError> {
        Executor::new(&self.inner.spec, None, self.inner.recursion_limit)
            .invoke(input)
            .await
    }
}

impl<G: GraphDef> CompiledGraph<G, Durable> {
    /// A handle on thread `id`: every run, read and resume of this graph goes through one.
    pub fn thread(&self, id: impl Into<ThreadId>) -> Thread<G> {
        Thread {
            inner: Arc::clone(&self.inner),
            id: id.into(),
            recursion_limit: self.inner.recursion_limit,
            metadata: serde_json::Map::new(),
        }
    }

    /// The checkpointer this graph saves to.
    pub fn checkpointer(&self) -> &Arc<dyn Checkpointer> {
        self.inner
            .saver
            .as_ref()
            .expect("a durable graph has a checkpointer")
    }
}

/// A graph bound to one thread id. Cheap to clone.
pub struct Thread<G: GraphDef> {
    inner: Arc<Inner<G>>,
    id: ThreadId,
    recursion_limit: usize,
    metadata: serde_json::Map<String, serde_json::Value>,
}

impl<G: GraphDef> Clone for Thread<G> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            id: self.id.clone(),
            recursion_limit: self.recursion_limit,
            metadata: self.metadata.clone(),
        }
    }
}

impl<G: GraphDef> Thread<G> {
    /// The thread id.
    pub fn id(&self) -> &ThreadId {
        &self.id
    }

    /// This handle with another recursion limit, for example to resume a run that hit it.
    pub fn recursion_limit(mut self, limit: usize) -> Self {
        self.recursion_limit = limit;
        self
    }

    /// This handle with a user metadata key stored in every checkpoint its runs write (a run
    /// id, a user, an approver), so history can be filtered on it. The keys `source`, `step`,
    /// `parents` and `writes` are reserved.
    pub fn with_metadata(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Starts a new branch of the thread's history from checkpoint `id`: a copy of it becomes
    /// the latest checkpoint (source `fork`), and `resume()` runs on from there. The later
    /// checkpoints stay in the history. This is the deliberate way to go back; a run that
    /// finds the thread advanced behind its back fails with a conflict instead.
    pub async fn fork(&self, id: CheckpointId) -> Result<CheckpointId, GraphError> {
        let saver = self.saver();
        let Some(base) = saver.get(&self.id, "", Some(id)).await? else {
            return Err(CheckpointError::MissingParent {
                thread_id: self.id.clone(),
                parent: id,
            }
            .into());
        };
        let mut checkpoint = base.checkpoint;
        checkpoint.parent_id = Some(checkpoint.id);
        checkpoint.id = CheckpointId::new();
        checkpoint.created_at = crate::checkpoint::now();
        checkpoint.metadata.source = Source::Fork;
        checkpoint.metadata.writes = Default::default();
        checkpoint.metadata.user = self.metadata.clone();
        let fork = checkpoint.id;
        saver
            .put(NewCheckpoint {
                checkpoint,
                blobs: Vec::new(),
                mode: PutMode::Fork,
            })
            .await?;
        Ok(fork)
    }

    fn saver(&self) -> &Arc<dyn Checkpointer> {
        self.inner
            .saver
            .as_ref()
            .expect("a thread belongs to a durable graph")
    }

    fn executor(&self) -> Result<Executor<'_, G::State>, GraphError> {
        check_limit(self.recursion_limit)?;
        let persistence = Persistence {
            saver: Arc::clone(self.saver()),
            thread_id: self.id.clone(),
            ns: String::new(),
            metadata: self.metadata.clone(),
        };
        Ok(Executor::new(
            &self.inner.spec,
            Some(persistence),
            self.recursion_limit,
        ))
    }

    /// Starts a run from START: `input` is applied to the thread's latest state (or a default
    /// one), then the graph runs until END. Returns the final state.
    pub async fn invoke(&self, input: <G::State as State>::Update) -> Result<G::State, GraphError> {
        self.executor()?.invoke(input).await
    }

    /// Continues from the latest checkpoint: after a crash, a node error or the recursion
    /// limit. Tasks of the interrupted step whose writes were saved are not run again.
    pub async fn resume(&self) -> Result<G::State, GraphError> {
        self.executor()?.resume().await
    }

    /// The thread's latest state, or `None` if it has no checkpoint.
    pub async fn state(&self) -> Result<Option<StateSnapshot<G>>, GraphError> {
        match self.saver().get(&self.id, "", None).await? {
            Some(tuple) => Ok(Some(StateSnapshot::from_tuple(&self.inner.spec, tuple)?)),
            None => Ok(None),
        }
    }

    /// The thread's checkpoints, newest first; narrow with `.before(id)`, `.limit(n)` and
    /// `.filter(key, value)`, then `.await`.
    pub fn history(&self) -> History<'_, G> {
        History {
            thread: self,
            query: ListQuery::thread(self.id.clone()).ns(""),
        }
    }
}

/// A page of a thread's history being asked for; `.await` it.
pub struct History<'t, G: GraphDef> {
    thread: &'t Thread<G>,
    query: ListQuery,
}

impl<'t, G: GraphDef> History<'t, G> {
    /// Only checkpoints older than `id`.
    pub fn before(mut self, id: CheckpointId) -> Self {
        self.query = self.query.before(id);
        self
    }

    /// At most `n` checkpoints.
    pub fn limit(mut self, n: usize) -> Self {
        self.query = self.query.limit(n);
        self
    }

    /// Only checkpoints whose metadata has `key` equal to `value` (`source`, `step`, or a key
    /// set with [`Thread::with_metadata`]).
    pub fn filter(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.query = self.query.filter(key, value);
        self
    }
}

impl<'t, G: GraphDef> IntoFuture for History<'t, G> {
    type Output = Result<Vec<StateSnapshot<G>>, GraphError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 't>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let tuples = self.thread.saver().list(&self.query).await?;
            let spec = &self.thread.inner.spec;
            tuples
                .into_iter()
                .map(|tuple| StateSnapshot::from_tuple(spec, tuple))
                .collect()
        })
    }
}

/// A thread's state at one checkpoint.
pub struct StateSnapshot<G: GraphDef> {
    /// The state.
    pub values: G::State,
    /// The nodes that run next; empty when the run reached END.
    pub next: Vec<G::Node>,
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// The checkpoint it continued from.
    pub parent_id: Option<CheckpointId>,
    /// When it was written.
    pub created_at: SystemTime,
    /// Source, step, node writes and user keys.
    pub metadata: CheckpointMetadata,
}

impl<G: GraphDef> std::fmt::Debug for StateSnapshot<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSnapshot")
            .field("values", &self.values)
            .field("next", &self.next)
            .field("checkpoint_id", &self.checkpoint_id)
            .field("parent_id", &self.parent_id)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<G: GraphDef> StateSnapshot<G> {
    fn from_tuple(spec: &GraphSpec<G::State>, tuple: CheckpointTuple) -> Result<Self, GraphError> {
        let (values, _) = restore_state::<G::State>(&tuple)?;
        let checkpoint = tuple.checkpoint;
        let mut next = Vec::new();
        for index in scheduled(spec, &checkpoint)? {
            let name = spec.nodes[index].name;
            let node = G::Node::ALL
                .iter()
                .find(|n| n.name() == name)
                .ok_or_else(|| GraphError::UnknownNode {
                    thread_id: checkpoint.thread_id.clone(),
                    checkpoint: checkpoint.id,
                    node: name.to_owned(),
                    graph: spec.name,
                })?;
            next.push(*node);
        }
        Ok(Self {
            values,
            next,
            checkpoint_id: checkpoint.id,
            parent_id: checkpoint.parent_id,
            created_at: checkpoint.created_at,
            metadata: checkpoint.metadata,
        })
    }
}
