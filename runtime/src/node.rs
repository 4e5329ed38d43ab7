//! Nodes: the async functions a graph runs, and what they may see while running.
//!
//! One import runs up the layers (see ARCHITECTURE.md): the context carries the executor's
//! [`Scope`] of the run it is in (checkpointer, thread, namespace, epoch, events), so that a
//! subgraph called from the node runs inside that run. The executor builds the scope; the
//! context only hands it on, and nothing here reads into it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::checkpoint::Checkpointer;
use crate::checkpoint::NodeFailure;
use crate::events::{Emitter, EventData, Payload, StreamMode};
use crate::executor::Scope;
use crate::ids::{CheckpointId, ThreadId};
use crate::interrupt::{InterruptError, TaskInterrupts};
use crate::once::TaskOnce;
use crate::policy::TaskAttempts;
use crate::send::SentInput;
use crate::state::State;
use crate::store::Store;

/// The error a node returns. Any error type converts into it with `?`, and so does a `String`
/// or `&str` message.
pub type NodeError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a node returns: the partial update it makes to the state, or an error.
pub type NodeResult<S> = Result<<S as State>::Update, NodeError>;

/// What a running node may know about where it runs — the thread, the step, its own name —
/// and the graph's dependencies.
///
/// A node takes it as an optional second argument:
/// `async fn review(s: &ResearchState, ctx: &NodeContext) -> NodeResult<ResearchState>`. In a
/// graph declared with dependencies (`#[graph(state = S, deps = Deps)]`) it is
/// `&NodeContext<Deps>`, and [`NodeContext::deps`] hands out the LLM client, pool or channel
/// the graph was compiled with.
pub struct NodeContext<D = ()> {
    pub(crate) thread_id: Option<ThreadId>,
    pub(crate) checkpoint_id: Option<CheckpointId>,
    pub(crate) step: i64,
    pub(crate) node: &'static str,
    pub(crate) deps: Arc<D>,
    /// The task's interrupts (`None` without a checkpointer).
    pub(crate) interrupts: Option<Arc<TaskInterrupts>>,
    /// The task's `once` results (`None` without a checkpointer).
    pub(crate) once: Option<Arc<TaskOnce>>,
    /// The task's failed attempts (`None` for a node without a retry policy).
    pub(crate) attempts: Option<Arc<TaskAttempts>>,
    /// The failures this node handles in this step (`None` when it handles none).
    pub(crate) failures: Option<Arc<[NodeFailure]>>,
    /// The input this task was sent, for a node that runs on sent inputs.
    pub(crate) input: Option<SentInput>,
    /// Where a cached node's results are kept: the graph's checkpointer (`None` for a node
    /// without a cache policy, or a graph without a checkpointer).
    pub(crate) cache: Option<Arc<dyn Checkpointer>>,
    /// What the enclosing run hands a subgraph node's call (`None` for another node).
    pub(crate) scope: Option<Arc<Scope>>,
    /// Where a streamed run's events go (`None` when it is not streamed).
    pub(crate) events: Option<Emitter>,
    /// The graph's store (`None` when the builder was given none).
    pub(crate) store: Option<Arc<dyn Store>>,
}

impl<D> NodeContext<D> {
    /// The thread this run belongs to, or `None` for a graph compiled without a checkpointer.
    pub fn thread_id(&self) -> Option<&ThreadId> {
        self.thread_id.as_ref()
    }

    /// The checkpoint the current step started from, or `None` without a checkpointer.
    pub fn checkpoint_id(&self) -> Option<CheckpointId> {
        self.checkpoint_id
    }

    /// The current step (0 is the first step after the input).
    pub fn step(&self) -> i64 {
        self.step
    }

    /// The name of the running node.
    pub fn node(&self) -> &'static str {
        self.node
    }

    /// The failure this node was scheduled to handle, when it runs as the error handler of a
    /// node that failed in the step before (`#[node(on_error = this_node)]`); `None` when it
    /// runs for another reason. When several nodes of one step failed into it, this is the
    /// first; [`NodeContext::failures`] lists them all.
    pub fn failure(&self) -> Option<&NodeFailure> {
        self.failures().first()
    }

    /// Every failure this node handles in this step, in node order.
    pub fn failures(&self) -> &[NodeFailure] {
        self.failures.as_deref().unwrap_or_default()
    }

    /// The graph's long-term store, given to the builder with
    /// [`Builder::store`](crate::Builder::store); `None` without one.
    ///
    /// ```
    /// # use stategraph_runtime::NodeContext;
    /// use stategraph_runtime::StoreExt;
    /// use stategraph_runtime::store::Namespace;
    ///
    /// async fn archive(ctx: &NodeContext, id: &str, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    ///     let store = ctx.store().ok_or("the graph has no store")?;
    ///     let ns = Namespace::new(["archive", "messages"])?;
    ///     store.put(&ns, id, &serde_json::json!({ "text": text }), None).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn store(&self) -> Option<&dyn Store> {
        self.store.as_deref()
    }

    /// The input this task was sent, for a node that runs on sent inputs (one task per input
    /// a `#[send]` function returns); `None` for a task of another node, or when `I` is not
    /// the type sent.
    pub fn sent_input<I: 'static>(&self) -> Option<&I> {
        self.input.as_deref()?.downcast_ref::<I>()
    }

    /// The graph's dependencies, as given to `graph(deps)` or to
    /// [`Thread::with_deps`](crate::Thread::with_deps). Never persisted.
    pub fn deps(&self) -> &D {
        &self.deps
    }

    /// Asks a question and pauses the thread until it is answered: returns the answer once
    /// the thread is resumed with one ([`Thread::resume_with`](crate::Thread::resume_with)),
    /// and until then an [`InterruptError::Pending`] to propagate with `?`.
    ///
    /// The node runs again from its top when the thread resumes, so the code before this call
    /// runs again: keep side effects after it, in a node of their own before it, or inside
    /// [`NodeContext::once`], which runs them once however often the task runs. Each call
    /// of a task is its own interrupt (its own id); a task may ask several questions in turn.
    ///
    /// ```
    /// # use stategraph_runtime::{NodeContext, InterruptError};
    /// #[derive(serde::Serialize)]
    /// struct Question { draft: String }
    /// #[derive(serde::Deserialize)]
    /// struct Approval { approved: bool }
    ///
    /// async fn ask(ctx: &NodeContext, draft: String) -> Result<bool, InterruptError> {
    ///     let answer: Approval = ctx.interrupt(Question { draft }).await?;
    ///     Ok(answer.approved)
    /// }
    /// ```
    pub async fn interrupt<Q: Serialize, A: DeserializeOwned>(
        &self,
        payload: Q,
    ) -> Result<A, InterruptError> {
        match &self.interrupts {
            Some(task) => task.call(serde_json::to_value(payload)),
            None => Err(InterruptError::NoCheckpointer),
        }
    }
}

impl<D> NodeContext<D> {
    /// Runs `work` once for this task: the first time the task gets here it runs, and when the
    /// task runs again — resumed after an [`interrupt`](NodeContext::interrupt), or after it
    /// failed — the saved result is returned instead. The side effect before a question (an
    /// email sent, a ticket opened, a paid model call) then happens once, not once per resume.
    ///
    /// An `Err` is not saved: it is returned (as a [`NodeError`], for `?`) and `work` runs
    /// again next time. Results are numbered by call, like interrupts, so a task must reach
    /// its `once` calls in the same order each time. A result is saved when the task pauses or
    /// fails after it, with the interrupt or the error: a process killed between `work` and
    /// that save runs it again (at least once, as every durable side effect). Without a
    /// checkpointer, `work` simply runs.
    ///
    /// ```
    /// # use stategraph_runtime::{NodeContext, NodeError};
    /// #[derive(serde::Serialize)]
    /// struct Question { ticket: u64 }
    ///
    /// async fn open_ticket() -> Result<u64, std::io::Error> { Ok(7) }
    ///
    /// async fn escalate(ctx: &NodeContext) -> Result<bool, NodeError> {
    ///     let ticket = ctx.once(open_ticket()).await?;       // opened once
    ///     let approved: bool = ctx.interrupt(Question { ticket }).await?;
    ///     Ok(approved)
    /// }
    /// ```
    pub async fn once<T, E, Fut>(&self, work: Fut) -> Result<T, NodeError>
    where
        T: Serialize + DeserializeOwned,
        E: Into<NodeError>,
        Fut: Future<Output = Result<T, E>>,
    {
        match &self.once {
            Some(task) => task.call(work).await,
            None => work.await.map_err(Into::into),
        }
    }
}

impl<D> NodeContext<D> {
    /// Sends `value` to whoever streams the run in [`StreamMode::CUSTOM`] — a token of a
    /// model's answer, a progress note — as an [`EventData::Custom`] event of this node, and
    /// waits for room in the stream's buffer (a slow consumer slows the node). Does nothing
    /// when the run is not streamed in that mode, or from a subgraph whose events the stream
    /// does not include.
    ///
    /// ```
    /// # use stategraph_runtime::NodeContext;
    /// async fn speak(ctx: &NodeContext, answer: &str) {
    ///     for token in answer.split_inclusive(' ') {
    ///         ctx.emit(token.to_owned()).await;
    ///     }
    /// }
    /// ```
    pub async fn emit<T: Serialize + Send + Sync + 'static>(&self, value: T) {
        if let Some(events) = self.events.as_ref().filter(|e| e.wants(StreamMode::CUSTOM)) {
            let data = EventData::Custom(Payload::new(value));
            events
                .send(self.step, Some(self.node), self.checkpoint_id, data)
                .await;
        }
    }

    /// Reports that attempt `attempt` failed with `error` and will be retried.
    pub(crate) async fn emit_retry(&self, attempt: u32, error: &NodeError) {
        if let Some(events) = self.events.as_ref().filter(|e| e.wants(StreamMode::TASKS)) {
            let error = crate::policy::cut(error.to_string(), 1024);
            let data = EventData::Retry { attempt, error };
            events
                .send(self.step, Some(self.node), self.checkpoint_id, data)
                .await;
        }
    }
}

impl<D> NodeContext<D> {
    /// Whether this attempt asked a question (or was handed an answer of the wrong type): the
    /// task ends there, whatever the node made of the error.
    pub(crate) fn asked(&self) -> bool {
        self.interrupts
            .as_deref()
            .is_some_and(TaskInterrupts::raised)
    }

    /// Records that attempt `attempt` failed with `error`.
    pub(crate) fn failed_attempt(&self, attempt: u32, error: &NodeError) {
        if let Some(attempts) = &self.attempts {
            attempts.record(attempt, error);
        }
    }

    /// Starts another attempt: its `interrupt` and `once` calls are numbered from the first
    /// again, so they find the answers and results of the attempts before.
    pub(crate) fn begin_attempt(&self) {
        if let Some(interrupts) = &self.interrupts {
            interrupts.restart();
        }
        if let Some(once) = &self.once {
            once.restart();
        }
    }
}

impl<D> Clone for NodeContext<D> {
    fn clone(&self) -> Self {
        Self {
            thread_id: self.thread_id.clone(),
            checkpoint_id: self.checkpoint_id,
            step: self.step,
            node: self.node,
            deps: Arc::clone(&self.deps),
            interrupts: self.interrupts.clone(),
            once: self.once.clone(),
            attempts: self.attempts.clone(),
            failures: self.failures.clone(),
            input: self.input.clone(),
            cache: self.cache.clone(),
            scope: self.scope.clone(),
            events: self.events.clone(),
            store: self.store.clone(),
        }
    }
}

impl<D> std::fmt::Debug for NodeContext<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeContext")
            .field("thread_id", &self.thread_id)
            .field("checkpoint_id", &self.checkpoint_id)
            .field("step", &self.step)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// A boxed node future.
pub type NodeFuture<S> = Pin<Box<dyn Future<Output = NodeResult<S>> + Send + 'static>>;

/// A node as the runtime holds it: called with a shared snapshot of the state.
pub trait NodeFn<S: State, D>: Send + Sync + 'static {
    /// Runs the node on `state`.
    fn call(&self, state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S>;
}

/// An `async fn(&S) -> Result<S::Update, E>`; implemented for every such function whose error
/// converts into a [`NodeError`] (any `std::error::Error + Send + Sync + 'static`, a `String`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a node of a graph over `{S}`",
    label = "a node must be `async fn(&{S}) -> NodeResult<{S}>`",
    note = "a node takes the state by reference and returns `NodeResult<{S}>` (or `Result<{S}Update, E>` with your own error type `E`); it may take `&NodeContext` as a second argument"
)]
pub trait StateNode<'a, S: State>: Send + Sync + 'static {
    /// The node's error.
    type Error: Into<NodeError>;
    /// The node's future.
    type Future: Future<Output = Result<S::Update, Self::Error>> + Send + 'a;
    /// Calls the node.
    fn call(&self, state: &'a S) -> Self::Future;
}

impl<'a, S, F, Fut, E> StateNode<'a, S> for F
where
    S: State,
    F: Fn(&'a S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S::Update, E>> + Send + 'a,
    E: Into<NodeError>,
{
    type Error = E;
    type Future = Fut;
    fn call(&self, state: &'a S) -> Fut {
        self(state)
    }
}

/// An `async fn(&S, &NodeContext<D>) -> Result<S::Update, E>`; implemented for every such
/// function.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a node of a graph over `{S}` with dependencies `{D}`",
    label = "a node with a context must be `async fn(&{S}, &NodeContext<{D}>) -> NodeResult<{S}>`",
    note = "the context's type parameter is the graph's `deps` type (`()` when it declares none)"
)]
pub trait ContextNode<'a, S: State, D: 'a>: Send + Sync + 'static {
    /// The node's error.
    type Error: Into<NodeError>;
    /// The node's future.
    type Future: Future<Output = Result<S::Update, Self::Error>> + Send + 'a;
    /// Calls the node.
    fn call(&self, state: &'a S, ctx: &'a NodeContext<D>) -> Self::Future;
}

impl<'a, S, D, F, Fut, E> ContextNode<'a, S, D> for F
where
    S: State,
    D: 'a,
    F: Fn(&'a S, &'a NodeContext<D>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S::Update, E>> + Send + 'a,
    E: Into<NodeError>,
{
    type Error = E;
    type Future = Fut;
    fn call(&self, state: &'a S, ctx: &'a NodeContext<D>) -> Fut {
        self(state, ctx)
    }
}

struct Plain<F>(F);

impl<S, D, F> NodeFn<S, D> for Plain<Arc<F>>
where
    S: State,
    D: Send + Sync + 'static,
    F: for<'a> StateNode<'a, S>,
{
    fn call(&self, state: Arc<S>, _ctx: NodeContext<D>) -> NodeFuture<S> {
        let f = Arc::clone(&self.0);
        Box::pin(async move { f.call(&state).await.map_err(Into::into) })
    }
}

struct WithContext<F>(F);

impl<S, D, F> NodeFn<S, D> for WithContext<Arc<F>>
where
    S: State,
    D: Send + Sync + 'static,
    F: for<'a> ContextNode<'a, S, D>,
{
    fn call(&self, state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S> {
        let f = Arc::clone(&self.0);
        Box::pin(async move { f.call(&state, &ctx).await.map_err(Into::into) })
    }
}

/// Wraps `async fn(&S) -> Result<S::Update, E>` for the runtime.
pub fn node<S, D, F>(f: F) -> Arc<dyn NodeFn<S, D>>
where
    S: State,
    D: Send + Sync + 'static,
    F: for<'a> StateNode<'a, S>,
{
    Arc::new(Plain(Arc::new(f)))
}

/// Wraps `async fn(&S, &NodeContext<D>) -> Result<S::Update, E>` for the runtime.
pub fn node_with_context<S, D, F>(f: F) -> Arc<dyn NodeFn<S, D>>
where
    S: State,
    D: Send + Sync + 'static,
    F: for<'a> ContextNode<'a, S, D>,
{
    Arc::new(WithContext(Arc::new(f)))
}
