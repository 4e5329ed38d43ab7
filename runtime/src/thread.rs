//! The [`Thread`] handle: a durable graph bound to one thread id, through which every run, read
//! and fork goes; with the [`History`] query and the [`StateSnapshot`] it returns.

use std::future::{Future, IntoFuture};

use futures::{Stream, TryStreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

use crate::budget::StateSize;
use crate::checkpoint::{
    CheckpointError, CheckpointMetadata, CheckpointTuple, Checkpointer, ListQuery, NewCheckpoint,
    Pauses, PendingWrite, PutMode, Source, ThreadStatus, limits,
};
use crate::compiled::{Inner, check_limit};
use crate::error::GraphError;
use crate::events::StreamOptions;
use crate::executor::{
    Command, Durability, Executor, Migrated, Persistence, Writer, restore_state, scheduled,
};
use crate::graph::{GraphDef, GraphSpec, NodeId};
use crate::ids::{CheckpointId, ThreadId};
use crate::interrupt::{self, Interrupt, Resume};
use crate::outcome::Outcome;
use crate::state::State;
use crate::stream::{RunStream, Streamed};
use crate::subgraph::SubgraphCall;

/// A graph bound to one thread id, through which every run, read, update and fork of that
/// thread goes. Cheap to clone. A graph with a checkpointer runs only through one, so a run
/// without a thread id cannot be written.
///
/// ```
/// # async fn demo<G: stategraph_runtime::GraphDef>(
/// #     graph: &stategraph_runtime::CompiledGraph<G, stategraph_runtime::Durable>,
/// #     input: <G::State as stategraph_runtime::State>::Update,
/// # ) -> Result<(), stategraph_runtime::GraphError> {
/// let thread = graph.thread("research-42").with_metadata("tenant", "acme");
/// let run = thread.invoke(input).await?;        // finished, or paused for an answer
/// let now = thread.state().await?;              // values, next nodes, questions, status
/// let last_five = thread.history().limit(5).await?;
/// if let Some(earlier) = last_five.get(2) {
///     thread.fork(earlier.checkpoint_id).await?; // go back on purpose
///     thread.resume().await?;                    // and run on from there
/// }
/// # let _ = (run.is_finished(), now); Ok(()) }
/// ```
pub struct Thread<G: GraphDef> {
    inner: Arc<Inner<G>>,
    id: ThreadId,
    /// `""` for the root graph; a subgraph call's namespace for a [`SubgraphThread`].
    ns: String,
    recursion_limit: usize,
    metadata: serde_json::Map<String, serde_json::Value>,
    deps: Arc<G::Deps>,
    stop: Option<CancellationToken>,
    pauses: Option<Pauses>,
    durability: Durability,
}

impl<G: GraphDef> Clone for Thread<G> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            id: self.id.clone(),
            ns: self.ns.clone(),
            recursion_limit: self.recursion_limit,
            metadata: self.metadata.clone(),
            deps: Arc::clone(&self.deps),
            stop: self.stop.clone(),
            pauses: self.pauses.clone(),
            durability: self.durability,
        }
    }
}

impl<G: GraphDef> Thread<G> {
    pub(crate) fn new(inner: Arc<Inner<G>>, id: ThreadId) -> Self {
        let recursion_limit = inner.recursion_limit;
        let deps = Arc::clone(&inner.deps);
        let stop = inner.stop.clone();
        let durability = inner.durability;
        Self {
            inner,
            id,
            ns: String::new(),
            recursion_limit,
            metadata: serde_json::Map::new(),
            deps,
            stop,
            pauses: None,
            durability,
        }
    }

    /// The thread id.
    pub fn id(&self) -> &ThreadId {
        &self.id
    }

    /// The namespace this handle reads and writes: `""` for the root graph.
    pub(crate) fn ns(&self) -> &str {
        &self.ns
    }

    /// This handle on namespace `ns` of the same thread and graph.
    pub(crate) fn at_ns(&self, ns: String) -> Self {
        Self { ns, ..self.clone() }
    }

    /// The token that stops this handle's runs, if it has one.
    pub(crate) fn stop_token(&self) -> Option<&CancellationToken> {
        self.stop.as_ref()
    }

    /// The graph as it runs.
    pub(crate) fn spec(&self) -> &GraphSpec<G::State, G::Deps> {
        &self.inner.spec
    }

    /// The dependencies this handle's runs use.
    pub(crate) fn deps(&self) -> &Arc<G::Deps> {
        &self.deps
    }

    /// A handle on graph `I` in namespace `ns` of this thread, with dependencies `deps`: a
    /// subgraph call's.
    pub(crate) fn nested<I: GraphDef>(&self, ns: String, deps: Arc<I::Deps>) -> Thread<I> {
        let inner = Inner {
            spec: I::spec().with_policies(),
            saver: self.inner.saver.clone(),
            recursion_limit: self.recursion_limit,
            deps: Arc::clone(&deps),
            stop: None,
            durability: self.durability,
            store: self.inner.store.clone(),
            budget: Arc::clone(&self.inner.budget),
        };
        Thread {
            inner: Arc::new(inner),
            id: self.id.clone(),
            ns,
            recursion_limit: self.recursion_limit,
            metadata: self.metadata.clone(),
            deps,
            stop: None,
            pauses: None,
            durability: self.durability,
        }
    }

    /// This handle with another recursion limit, for example to resume a run that hit it.
    pub fn recursion_limit(mut self, limit: usize) -> Self {
        self.recursion_limit = limit;
        self
    }

    /// This handle's runs write their checkpoints as `durability` says, in place of the graph's
    /// mode ([`Builder::durability`](crate::Builder::durability)): for example a bulk backfill
    /// that only needs its end state, `thread.durability(Durability::Exit).invoke(input)`.
    /// Reads, updates and forks are not affected; they always write at once.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// This handle with its own dependencies, in place of the ones the graph was compiled with
    /// (a per-tenant client, a test double). Dependencies are never persisted: a resume uses
    /// whatever the handle that resumes holds.
    pub fn with_deps(mut self, deps: impl Into<Arc<G::Deps>>) -> Self {
        self.deps = deps.into();
        self
    }

    /// Pauses this thread's runs before each of `nodes` runs (on top of the graph's own
    /// `interrupt_before`), until the pause is answered (`resume_with(Resume::value(()))`).
    /// The list is saved with the thread's checkpoints, so a resume from another process keeps
    /// it; an empty list clears it.
    pub fn interrupt_before(mut self, nodes: impl IntoIterator<Item = G::Node>) -> Self {
        let pauses = self.pauses.get_or_insert_with(Default::default);
        pauses.before = nodes.into_iter().map(|n| n.name().to_owned()).collect();
        self
    }

    /// Pauses this thread's runs after each of `nodes` ran and its step was saved, as
    /// [`Thread::interrupt_before`] does before.
    pub fn interrupt_after(mut self, nodes: impl IntoIterator<Item = G::Node>) -> Self {
        let pauses = self.pauses.get_or_insert_with(Default::default);
        pauses.after = nodes.into_iter().map(|n| n.name().to_owned()).collect();
        self
    }

    /// This handle's runs stop at their next step boundary once `stop` is cancelled: the step
    /// in flight finishes and is saved, the call returns [`GraphError::Stopped`], and
    /// [`Thread::resume`] continues later.
    ///
    /// ```
    /// # async fn demo<G: stategraph_runtime::GraphDef>(thread: stategraph_runtime::Thread<G>) {
    /// use stategraph_runtime::CancellationToken;
    /// let stop = CancellationToken::new();
    /// let thread = thread.stop_on(stop.clone());
    /// // On SIGTERM: stop.cancel();
    /// # }
    /// ```
    pub fn stop_on(mut self, stop: CancellationToken) -> Self {
        self.stop = Some(stop);
        self
    }

    /// This handle with a user metadata key stored in every checkpoint its runs write (a run
    /// id, a user, an approver), so history can be filtered on it. The keys `source`, `step`,
    /// `parents`, `writes`, `pauses` and `answers` are reserved.
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
        self.check_inputs()?;
        let saver = self.saver();
        let epoch = saver.claim(&self.id).await?;
        let Some(base) = saver.get(&self.id, &self.ns, Some(id)).await? else {
            return Err(CheckpointError::MissingParent {
                thread_id: self.id.clone(),
                parent: id,
            }
            .into());
        };
        let latest = saver.get(&self.id, &self.ns, None).await?;
        let mut checkpoint = base.checkpoint;
        checkpoint.parent_id = Some(checkpoint.id);
        // The fork becomes the latest: its id sorts after the thread's head as well.
        checkpoint.id =
            CheckpointId::after(latest.map(|t| t.checkpoint.id).max(checkpoint.parent_id));
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
                epoch: Some(epoch),
            })
            .await?;
        Ok(fork)
    }

    /// Refuses a thread id outside the contract's limits before any backend sees it.
    fn check_id(&self) -> Result<(), GraphError> {
        limits::check_thread_id(&self.id).map_err(|e| CheckpointError::from(e).into())
    }

    /// Refuses a thread id or user metadata outside the contract's limits before any backend
    /// sees them.
    fn check_inputs(&self) -> Result<(), GraphError> {
        self.check_id()?;
        Ok(limits::check_user_metadata(&self.metadata)?)
    }

    pub(crate) fn saver(&self) -> &Arc<dyn Checkpointer> {
        self.inner
            .saver
            .as_ref()
            .expect("a thread belongs to a durable graph")
    }

    pub(crate) fn executor(&self) -> Result<Executor<'_, G::State, G::Deps>, GraphError> {
        check_limit(self.recursion_limit)?;
        self.check_inputs()?;
        let persistence = Persistence {
            saver: Arc::clone(self.saver()),
            thread_id: self.id.clone(),
            ns: self.ns.clone(),
            metadata: self.metadata.clone(),
            usage: Default::default(),
        };
        Ok(Executor::new(
            &self.inner.spec,
            Some(persistence),
            self.recursion_limit,
            Arc::clone(&self.deps),
        )
        .stop_on(self.stop.clone())
        .pauses(self.pauses.clone())
        .durability(self.durability)
        .with_store(self.inner.store.clone())
        .budget(Some(Arc::clone(&self.inner.budget))))
    }

    /// Starts a run from START: `input` is applied to the thread's latest state (or a default
    /// one), then the graph runs until END — or until a question or pause, which is not an
    /// error: the [`Outcome`] says which, with the state either way. `?` propagates only real
    /// failures.
    ///
    /// ```
    /// # async fn demo<G: stategraph_runtime::GraphDef>(
    /// #     thread: &stategraph_runtime::Thread<G>,
    /// #     input: <G::State as stategraph_runtime::State>::Update,
    /// # ) -> Result<(), stategraph_runtime::GraphError> {
    /// use stategraph_runtime::Outcome;
    /// match thread.invoke(input).await? {
    ///     Outcome::Finished(state) => println!("{state:?}"),
    ///     Outcome::Paused(paused) => println!("waiting on {} question(s)", paused.interrupts.len()),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Use it for each new input of a thread that lives across runs: the next message of a
    /// conversation, the next request of a session. To run a job exactly once, whatever
    /// happened to an earlier attempt, use [`Thread::start_or_resume`].
    pub async fn invoke(
        &self,
        input: <G::State as State>::Update,
    ) -> Result<Outcome<G::State>, GraphError> {
        self.executor()?.invoke(input).await
    }

    /// Continues from the latest checkpoint: after a crash, a node error or the recursion
    /// limit. Tasks of the interrupted step whose writes were saved are not run again. A
    /// thread that waits for an answer pauses again ([`Outcome::Paused`]).
    pub async fn resume(&self) -> Result<Outcome<G::State>, GraphError> {
        self.executor()?.resume().await
    }

    /// Runs the thread to END once, whatever state an earlier attempt left it in: a thread with
    /// no checkpoint starts with `input`; a thread whose run is pending (a crash, a node error,
    /// the recursion limit) continues without it, as [`Thread::resume`] does; a finished
    /// thread returns its final state without running anything; a thread waiting for an
    /// answer returns its pause again.
    ///
    /// This is the call for a job worker that may be restarted: the same job id always leads
    /// to one completed run. For a new input on a thread that already finished (the next turn
    /// of a conversation), use [`Thread::invoke`].
    pub async fn start_or_resume(
        &self,
        input: <G::State as State>::Update,
    ) -> Result<Outcome<G::State>, GraphError> {
        self.executor()?.start_or_resume(input).await
    }

    /// Writes `values` to the thread as if a node had written them — LangGraph's
    /// `update_state`, the way to correct a run. Say whom with `.as_node(node)` (that node's
    /// reducers apply and its edges and routes decide what runs next), `.as_input()` (the
    /// graph starts over from START) or `.to_end()` (nothing is scheduled); without one, the
    /// node that wrote the checkpoint is taken. `.at(checkpoint)` applies it to an earlier
    /// checkpoint, which forks the thread: the new checkpoint's parent is that one, and the
    /// later history stays listed. `.await` returns the new checkpoint, now the thread's head;
    /// [`Thread::resume`] runs on from it.
    ///
    /// Writes saved on the checkpoint by tasks that had finished (a step cut short) are not
    /// carried over: the nodes still scheduled run again on resume.
    pub fn update(&self, values: <G::State as State>::Update) -> Update<'_, G> {
        Update {
            thread: self,
            values,
            writer: Writer::Inferred,
            at: None,
        }
    }

    /// Answers the thread's pending interrupts and runs on: each answer names the interrupt it
    /// answers ([`Resume::answer`]), or is the one answer to the one pending interrupt
    /// ([`Resume::value`]). An answer to no pending interrupt, or an unclear one, is an error
    /// before anything is written. The tasks that asked run again from their top, and each
    /// `ctx.interrupt` call returns its answer; tasks of the step that had finished do not run
    /// again.
    ///
    /// The answer may come with a command, applied with the paused step when it completes:
    /// `.update(values)` writes to the state along with the step's nodes, `.goto(node)` runs
    /// `node` next as well. Both are saved before the step runs again, so a step that pauses
    /// again, or a process that dies, keeps them.
    ///
    /// ```
    /// # async fn demo<G: stategraph_runtime::GraphDef>(thread: &stategraph_runtime::Thread<G>)
    /// # -> Result<(), stategraph_runtime::GraphError> {
    /// use stategraph_runtime::Resume;
    /// thread.resume_with(Resume::value(true)).await?;
    /// # Ok(()) }
    /// ```
    pub fn resume_with(&self, resume: Resume) -> ResumeWith<'_, G> {
        ResumeWith {
            thread: self,
            resume,
            update: None,
            goto: Vec::new(),
        }
    }

    /// Runs the thread again from checkpoint `id`: forks there ([`Thread::fork`]), then
    /// resumes, so every node scheduled from that checkpoint on runs again.
    pub async fn replay(&self, id: CheckpointId) -> Result<Outcome<G::State>, GraphError> {
        self.fork(id).await?;
        self.resume().await
    }

    /// Migrates the thread's latest checkpoint to this version of the state type now, instead
    /// of on its next read: writes it again (source `update`, the same next nodes, every field
    /// stored whole) when an earlier version wrote it. Returns the new checkpoint, or `None`
    /// when there was nothing to do — or when the checkpoint has writes saved against it (a
    /// paused or failed step), which stay where they are and migrate when the thread resumes.
    pub async fn migrate(&self) -> Result<Option<CheckpointId>, GraphError> {
        Ok(match self.executor()?.migrate_latest().await? {
            Migrated::To(id) => Some(id),
            Migrated::Current | Migrated::Pending => None,
        })
    }

    /// The size of the thread's latest state, field by field (each field's JSON encoding, as
    /// the checkpoint budget weighs it), or `None` if it has no checkpoint.
    pub async fn size(&self) -> Result<Option<StateSize>, GraphError> {
        self.check_id()?;
        let Some(tuple) = self.saver().get(&self.id, &self.ns, None).await? else {
            return Ok(None);
        };
        let (state, _) = restore_state::<G::State>(&tuple)?;
        Ok(Some(StateSize::of(&state)))
    }

    /// The thread's latest state, or `None` if it has no checkpoint.
    pub async fn state(&self) -> Result<Option<StateSnapshot<G>>, GraphError> {
        self.snapshot(None).await
    }

    /// The thread's state at checkpoint `id`, or `None` if the thread has no such checkpoint.
    pub async fn state_at(&self, id: CheckpointId) -> Result<Option<StateSnapshot<G>>, GraphError> {
        self.snapshot(Some(id)).await
    }

    async fn snapshot(
        &self,
        id: Option<CheckpointId>,
    ) -> Result<Option<StateSnapshot<G>>, GraphError> {
        self.check_id()?;
        match self.saver().get(&self.id, &self.ns, id).await? {
            Some(tuple) => Ok(Some(StateSnapshot::from_tuple(&self.inner.spec, tuple)?)),
            None => Ok(None),
        }
    }

    /// The thread's checkpoints, newest first; narrow with `.before(id)`, `.limit(n)` and
    /// `.filter(key, value)`, then `.await` the list, or walk it page by page with
    /// [`History::stream`].
    pub fn history(&self) -> History<'_, G> {
        History {
            thread: self,
            query: ListQuery::thread(self.id.clone()).ns(self.ns.clone()),
            page_size: History::<G>::DEFAULT_PAGE_SIZE,
        }
    }
}

/// A resume being sent to a thread ([`Thread::resume_with`]); `.await` it.
pub struct ResumeWith<'t, G: GraphDef> {
    thread: &'t Thread<G>,
    resume: Resume,
    update: Option<<G::State as State>::Update>,
    goto: Vec<usize>,
}

impl<G: GraphDef> ResumeWith<'_, G> {
    /// Writes `values` to the state with the paused step's nodes (a command's update).
    pub fn update(mut self, values: <G::State as State>::Update) -> Self {
        self.update = Some(values);
        self
    }

    /// Runs `node` in the step after the paused one, besides what the edges lead to.
    pub fn goto(mut self, node: G::Node) -> Self {
        self.goto.push(node.index());
        self
    }
}

impl<G: GraphDef> ResumeWith<'_, G> {
    /// Sends the answers and runs on as `.await` does, streaming the run's events as
    /// [`Thread::stream`] does; in [`StreamMode::VALUES`](crate::StreamMode::VALUES) the first
    /// event is the state it starts from.
    pub fn stream(self, options: impl Into<StreamOptions>) -> RunStream<G::State> {
        let command = Command {
            update: self.update,
            goto: self.goto,
        };
        self.thread
            .streamed(options.into(), Streamed::Answer(self.resume, command))
    }
}

impl<'t, G: GraphDef> IntoFuture for ResumeWith<'t, G> {
    type Output = Result<Outcome<G::State>, GraphError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 't>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let command = Command {
                update: self.update,
                goto: self.goto,
            };
            self.thread
                .executor()?
                .resume_with(self.resume, command)
                .await
        })
    }
}

/// An update being written to a thread ([`Thread::update`]); `.await` it.
pub struct Update<'t, G: GraphDef> {
    thread: &'t Thread<G>,
    values: <G::State as State>::Update,
    writer: Writer,
    at: Option<CheckpointId>,
}

impl<G: GraphDef> Update<'_, G> {
    /// Written as node `node`: its reducers apply, it counts as having run, and its edges and
    /// routes decide what runs next.
    pub fn as_node(mut self, node: G::Node) -> Self {
        self.writer = Writer::Node(node.index());
        self
    }

    /// Written as the thread's input: the graph starts over from START.
    pub fn as_input(mut self) -> Self {
        self.writer = Writer::Input;
        self
    }

    /// Written as the end of the run: nothing is scheduled after it.
    pub fn to_end(mut self) -> Self {
        self.writer = Writer::End;
        self
    }

    /// Applied to checkpoint `id` of this thread instead of the latest: the thread forks there.
    pub fn at(mut self, id: CheckpointId) -> Self {
        self.at = Some(id);
        self
    }
}

impl<'t, G: GraphDef> IntoFuture for Update<'t, G> {
    type Output = Result<CheckpointId, GraphError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 't>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            self.thread
                .executor()?
                .update(self.at, self.values, self.writer)
                .await
        })
    }
}

/// A page of a thread's history being asked for; `.await` it.
pub struct History<'t, G: GraphDef> {
    thread: &'t Thread<G>,
    query: ListQuery,
    page_size: usize,
}

impl<'t, G: GraphDef> History<'t, G> {
    /// How many checkpoints [`History::stream`] reads at a time unless told otherwise.
    pub const DEFAULT_PAGE_SIZE: usize = 100;

    /// How many checkpoints [`History::stream`] reads from the checkpointer at a time (at
    /// least 1).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// The checkpoints as a stream, newest first, read one page at a time: a thread with
    /// 100,000 checkpoints is walked without holding them all. `before`, `limit` and `filter`
    /// apply as for the list.
    ///
    /// ```
    /// # async fn walk<G: stategraph_runtime::GraphDef>(thread: &stategraph_runtime::Thread<G>)
    /// # -> Result<(), stategraph_runtime::GraphError> {
    /// use futures::TryStreamExt;
    /// let mut pages = std::pin::pin!(thread.history().filter("run_id", "r-1").stream());
    /// while let Some(snapshot) = pages.try_next().await? {
    ///     println!("{} at step {}", snapshot.checkpoint_id, snapshot.metadata.step);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> impl Stream<Item = Result<StateSnapshot<G>, GraphError>> + Send + 't {
        let Self {
            thread,
            query,
            page_size,
        } = self;
        let remaining = query.limit;
        futures::stream::try_unfold(
            (query, remaining, false),
            move |(mut query, remaining, done)| async move {
                if done || remaining == Some(0) {
                    return Ok::<_, GraphError>(None);
                }
                let page = remaining.map_or(page_size, |r| r.min(page_size));
                query.limit = Some(page);
                thread.check_id()?;
                let tuples = thread.saver().list(&query).await?;
                let read = tuples.len();
                query.before = tuples.last().map(|t| t.checkpoint.id);
                let snapshots = tuples
                    .into_iter()
                    .map(|tuple| StateSnapshot::from_tuple(&thread.inner.spec, tuple))
                    .collect::<Result<Vec<_>, _>>()?;
                let remaining = remaining.map(|r| r - read);
                Ok(Some((snapshots, (query, remaining, read < page))))
            },
        )
        .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
    }
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
            self.thread.check_id()?;
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
#[non_exhaustive]
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
    /// The questions nodes asked at this checkpoint that wait for an answer, oldest first.
    pub interrupts: Vec<Interrupt>,
    /// The nodes that failed in the step from this checkpoint and have not succeeded since. A
    /// node that failed and, run again, asked a question is listed here and in `interrupts`;
    /// `status` then says interrupted.
    pub errors: Vec<TaskError>,
    /// Where the thread stood at this checkpoint: finished, pending, interrupted, errored or
    /// expired (as [`Checkpointer::list_threads`](crate::Checkpointer::list_threads) reports
    /// it for the latest).
    pub status: ThreadStatus,
    /// The subgraph calls the step that wrote this checkpoint finished, then those its next
    /// step runs; [`Thread::subgraph`] opens one.
    pub subgraphs: Vec<SubgraphCall>,
}

/// A node's failure a checkpoint's pending writes record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskError {
    /// The node that failed.
    pub node: String,
    /// Its error, as text (at most 1 KiB of it, as it was saved).
    pub message: String,
}

impl TaskError {
    /// The failures among `pending` not followed by a result of their task.
    fn open(pending: &[PendingWrite]) -> Vec<Self> {
        PendingWrite::unfinished(pending, PendingWrite::ERROR)
            .map(|w| TaskError {
                node: w.node.clone(),
                message: serde_json::from_slice(&w.value)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&w.value).into_owned()),
            })
            .collect()
    }
}

impl<G: GraphDef> std::fmt::Debug for StateSnapshot<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSnapshot")
            .field("values", &self.values)
            .field("next", &self.next)
            .field("checkpoint_id", &self.checkpoint_id)
            .field("parent_id", &self.parent_id)
            .field("metadata", &self.metadata)
            .field("interrupts", &self.interrupts)
            .field("errors", &self.errors)
            .field("status", &self.status)
            .field("subgraphs", &self.subgraphs)
            .finish()
    }
}

impl<G: GraphDef> StateSnapshot<G> {
    fn from_tuple(
        spec: &GraphSpec<G::State, G::Deps>,
        tuple: CheckpointTuple,
    ) -> Result<Self, GraphError> {
        let (values, _) = restore_state::<G::State>(&tuple)?;
        let interrupts = interrupt::open(&tuple.pending_writes);
        let errors = TaskError::open(&tuple.pending_writes);
        let status = ThreadStatus::of(tuple.checkpoint.next.is_empty(), &tuple.pending_writes);
        let checkpoint = tuple.checkpoint;
        let scheduled = scheduled(spec, &checkpoint)?;
        let subgraphs = SubgraphCall::of(spec, &checkpoint, &scheduled);
        let mut next = Vec::new();
        for index in scheduled {
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
            interrupts,
            errors,
            status,
            subgraphs,
        })
    }
}
