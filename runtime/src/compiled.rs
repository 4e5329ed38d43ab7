//! Building a graph: [`Builder`] and [`CompiledGraph`]. A durable graph runs through a
//! [`Thread`](crate::Thread), in `thread.rs`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::budget::{Budget, SizeBudget};
use crate::checkpoint::Checkpointer;
use crate::checkpoint::ThreadQuery;
use crate::error::GraphError;
use crate::events::StreamOptions;
use crate::executor::{Durability, Executor, Migrated, bounded};
use crate::graph::{GraphDef, GraphSpec, NodeId};
use crate::ids::ThreadId;
use crate::state::State;
use crate::store::Store;
use crate::stream::RunStream;
use crate::subgraph::GraphName;
use crate::thread::Thread;

/// The recursion limit unless set otherwise: the most steps one `invoke` or `resume` runs.
pub const DEFAULT_RECURSION_LIMIT: usize = 1000;

/// Marks a graph compiled without a checkpointer: it runs with [`CompiledGraph::invoke`] and
/// keeps nothing.
#[derive(Debug, Clone, Copy)]
pub struct Ephemeral;

/// Marks a graph compiled with a checkpointer: it runs only through a [`Thread`].
#[derive(Debug, Clone, Copy)]
pub struct Durable;

/// Configures a graph before it runs; `my_graph::graph()` returns one (`my_graph::graph(deps)`
/// for a graph declared with dependencies).
pub struct Builder<G: GraphDef, M = Ephemeral> {
    saver: Option<Arc<dyn Checkpointer>>,
    recursion_limit: usize,
    deps: Arc<G::Deps>,
    stop: Option<CancellationToken>,
    durability: Durability,
    store: Option<Arc<dyn Store>>,
    budget: SizeBudget,
    mode: PhantomData<(G, M)>,
}

impl<G: GraphDef> Builder<G, Ephemeral> {
    /// A builder for graph `G` whose nodes and routes use `deps`, without a checkpointer.
    pub fn new(deps: impl Into<Arc<G::Deps>>) -> Self {
        Self {
            saver: None,
            recursion_limit: DEFAULT_RECURSION_LIMIT,
            deps: deps.into(),
            stop: None,
            durability: Durability::Sync,
            store: None,
            budget: SizeBudget::default(),
            mode: PhantomData,
        }
    }

    /// Saves a checkpoint after every step to `saver`. The compiled graph then runs only through
    /// [`CompiledGraph::thread`], so every run has a thread id.
    pub fn checkpointer(self, saver: impl Checkpointer) -> Builder<G, Durable> {
        Builder {
            saver: Some(Arc::new(saver)),
            recursion_limit: self.recursion_limit,
            deps: self.deps,
            stop: self.stop,
            durability: self.durability,
            store: self.store,
            budget: self.budget,
            mode: PhantomData,
        }
    }
}

impl<G: GraphDef> Builder<G, Durable> {
    /// Stops every run of the compiled graph at its next step boundary once `stop` is
    /// cancelled — what a server does on SIGTERM: the step in flight finishes and is saved, the
    /// call returns [`GraphError::Stopped`], and `resume()` continues later. A thread may have
    /// its own token ([`Thread::stop_on`](crate::Thread::stop_on)).
    pub fn stop_on(mut self, stop: CancellationToken) -> Self {
        self.stop = Some(stop);
        self
    }

    /// When this graph's runs write their checkpoints (default [`Durability::Sync`]: each step
    /// is stored before the next starts). A thread handle may choose its own
    /// ([`Thread::durability`](crate::Thread::durability)).
    ///
    /// ```
    /// # use stategraph_runtime::{Builder, Durable, GraphDef};
    /// # fn demo<G: GraphDef>(builder: Builder<G, Durable>) {
    /// use stategraph_runtime::Durability;
    /// // Steps overlap their checkpoint writes; a crash re-runs at most the last two steps.
    /// let builder = builder.durability(Durability::Async);
    /// # }
    /// ```
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

impl<G: GraphDef, M> Builder<G, M> {
    /// Gives the graph's nodes a long-term store ([`NodeContext::store`](crate::NodeContext::store))
    /// for content that state refers to by id. It may live on another backend than the
    /// checkpointer.
    ///
    /// ```
    /// # use stategraph_runtime::{Builder, GraphDef};
    /// # fn demo<G: GraphDef>(builder: Builder<G>) {
    /// use stategraph_runtime::MemoryStore;
    /// let builder = builder.store(MemoryStore::new());
    /// # }
    /// ```
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How large a step's state may grow before the graph warns, or fails the step in strict
    /// mode (default: a warning above 50 KiB, [`SizeBudget::default`]). The warning names the
    /// thread, step, total and largest fields, once per thread and field.
    ///
    /// ```
    /// # use stategraph_runtime::{Builder, GraphDef};
    /// # fn demo<G: GraphDef>(builder: Builder<G>) {
    /// use stategraph_runtime::SizeBudget;
    /// let builder = builder.size_budget(SizeBudget::strict(200 * 1024));
    /// # }
    /// ```
    pub fn size_budget(mut self, budget: SizeBudget) -> Self {
        self.budget = budget;
        self
    }

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
        crate::subgraph::check_nesting(GraphName::of::<G>()).map_err(GraphError::Config)?;
        Ok(CompiledGraph {
            inner: Arc::new(Inner {
                spec: G::spec().with_policies(),
                saver: self.saver,
                recursion_limit: self.recursion_limit,
                deps: self.deps,
                stop: self.stop,
                durability: self.durability,
                store: self.store,
                budget: Arc::new(Budget::new(self.budget)),
            }),
            mode: PhantomData,
        })
    }
}

pub(crate) fn check_limit(limit: usize) -> Result<(), GraphError> {
    if limit == 0 {
        return Err(GraphError::Config(
            "the recursion limit must be at least 1".to_owned(),
        ));
    }
    Ok(())
}

/// What a compiled graph and its thread handles share.
pub(crate) struct Inner<G: GraphDef> {
    pub(crate) spec: GraphSpec<G::State, G::Deps>,
    pub(crate) saver: Option<Arc<dyn Checkpointer>>,
    pub(crate) recursion_limit: usize,
    /// The dependencies threads use unless they are given their own.
    pub(crate) deps: Arc<G::Deps>,
    /// The token that stops runs at a step boundary, unless a thread has its own.
    pub(crate) stop: Option<CancellationToken>,
    /// When runs write their checkpoints, unless a thread chooses otherwise.
    pub(crate) durability: Durability,
    /// The store nodes reach through their context.
    pub(crate) store: Option<Arc<dyn Store>>,
    /// The checkpoint-size budget, with what it warned about.
    pub(crate) budget: Arc<Budget>,
}

/// What [`CompiledGraph::migrate_threads`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MigrationReport {
    /// Threads whose latest checkpoint was migrated.
    pub migrated: usize,
    /// Threads already of the current version.
    pub current: usize,
    /// Threads left for their next resume: their latest checkpoint has writes saved against it
    /// (a paused or failed step).
    pub pending: Vec<ThreadId>,
    /// Threads whose migration failed, with the error.
    pub failed: Vec<(ThreadId, String)>,
    /// Namespaces of per-thread subgraphs (`checkpoint = per_thread`, at any depth) whose
    /// latest checkpoint was migrated to the current version of their graph's state type.
    pub subgraphs: usize,
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

/// The mode of a compiled graph that runs without a thread: [`Ephemeral`], compiled without a
/// checkpointer. A graph with one runs through [`CompiledGraph::thread`], so every run it
/// saves belongs to a thread id; calling `invoke` on it is a compile error saying so.
#[diagnostic::on_unimplemented(
    message = "a graph with a checkpointer runs through a thread, so every run it saves has a thread id",
    label = "this graph was compiled with a checkpointer",
    note = "call `graph.thread(id).invoke(input)` (or `.stream(input, modes)`); to run without saving anything, compile the graph without `.checkpointer(…)`"
)]
pub trait RunsWithoutThread {}

impl RunsWithoutThread for Ephemeral {}

impl<G: GraphDef, M> CompiledGraph<G, M> {
    /// Runs the graph from START on a default state updated with `input`, and returns the
    /// final state. Nothing is saved. Only a graph compiled without a checkpointer runs this
    /// way; one with a checkpointer runs through [`CompiledGraph::thread`].
    pub fn invoke(
        &self,
        input: <G::State as State>::Update,
    ) -> Pin<Box<dyn Future<Output = Result<G::State, GraphError>> + Send + '_>>
    where
        M: RunsWithoutThread,
    {
        // A boxed future, not an `async fn`: a graph with a checkpointer is then one error,
        // at the call, not one more at its `.await`.
        let inner = &*self.inner;
        Box::pin(async move {
            Executor::new(
                &inner.spec,
                None,
                inner.recursion_limit,
                Arc::clone(&inner.deps),
            )
            .with_store(inner.store.clone())
            .invoke(input)
            .await?
            .into_finished()
        })
    }
}

impl<G: GraphDef, M> CompiledGraph<G, M> {
    /// Runs the graph as [`CompiledGraph::invoke`] does, streaming its events as
    /// [`Thread::stream`](crate::Thread::stream) does. Nothing is saved, so dropping the
    /// stream stops the run at its next step boundary and nothing of it is kept.
    pub fn stream(
        &self,
        input: <G::State as State>::Update,
        options: impl Into<StreamOptions>,
    ) -> RunStream<G::State>
    where
        M: RunsWithoutThread,
    {
        let inner = Arc::clone(&self.inner);
        let stop = CancellationToken::new();
        RunStream::spawn(
            options.into(),
            <G::Node as NodeId>::GRAPH,
            stop.clone(),
            move |events| async move {
                Executor::new(
                    &inner.spec,
                    None,
                    inner.recursion_limit,
                    Arc::clone(&inner.deps),
                )
                .stop_on(Some(stop))
                .events(Some(events))
                .with_store(inner.store.clone())
                .invoke(input)
                .await
            },
        )
    }
}

impl<G: GraphDef> CompiledGraph<G, Durable> {
    /// A handle on thread `id`: every run, read and resume of this graph goes through one.
    pub fn thread(&self, id: impl Into<ThreadId>) -> Thread<G> {
        Thread::new(Arc::clone(&self.inner), id.into())
    }

    /// Migrates every thread of the checkpointer whose latest checkpoint an earlier version of
    /// the state type wrote ([`Thread::migrate`]), a page of threads at a time, and the state
    /// each thread keeps for its per-thread subgraphs (`checkpoint = per_thread`, at any depth)
    /// to the current version of their graphs' state types. Threads that fail are listed with
    /// their errors; the others go on. A per-call subgraph's namespaces (each holds one call)
    /// migrate when they are read.
    ///
    /// Every thread the checkpointer holds is read as this graph's: run it on a checkpointer
    /// (or schema, or key prefix) of this graph's threads only.
    pub async fn migrate_threads(&self) -> Result<MigrationReport, GraphError> {
        let saver = self.checkpointer();
        let mut report = MigrationReport::default();
        let mut after = None;
        loop {
            let mut query = ThreadQuery::default().limit(100);
            if let Some(last) = after.take() {
                query = query.after(last);
            }
            let page = saver.list_threads(&query).await?;
            let Some(last) = page.last().map(|t| t.thread_id.clone()) else {
                return Ok(report);
            };
            for info in page {
                let thread = self.thread(info.thread_id.clone());
                let root = thread.executor()?.migrate_latest().await;
                let nested = crate::subgraph::migrate::nested::<G>(
                    Arc::clone(saver),
                    info.thread_id.clone(),
                    String::new(),
                    Arc::clone(&self.inner.deps),
                )
                .await;
                for done in nested {
                    match done.outcome {
                        Ok(Migrated::To(_)) => report.subgraphs += 1,
                        Ok(Migrated::Current | Migrated::Pending) => {}
                        Err(error) => report.failed.push((
                            info.thread_id.clone(),
                            format!("subgraph namespace `{}`: {error}", bounded(&done.ns)),
                        )),
                    }
                }
                match root {
                    Ok(Migrated::To(_)) => report.migrated += 1,
                    Ok(Migrated::Current) => report.current += 1,
                    Ok(Migrated::Pending) => report.pending.push(info.thread_id),
                    Err(error) => report.failed.push((info.thread_id, error.to_string())),
                }
            }
            after = Some(last);
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
