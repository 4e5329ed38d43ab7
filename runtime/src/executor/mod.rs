//! The superstep loop: run the scheduled nodes concurrently on one snapshot, merge their
//! updates in node order, write one checkpoint, follow the edges. The loop asks small modules:
//! which tasks a step runs (`plan.rs`), running them together (`runner.rs`), one task's run and
//! its saved writes (`task.rs`), which steps are checkpointed, when, and the blobs each
//! checkpoint stores, and the size budget (`durability.rs`), reading a checkpoint back, migrating
//! an older state version (`restore.rs`), answers and a resume's command (`resume.rs`), pauses
//! before and after nodes (`pauses.rs`), updates written as if a node had run, for time travel,
//! and migrations written now (`update.rs`), a subgraph's call (`call.rs`), and the events a
//! streamed run reports (`watch.rs`).

mod call;
mod durability;
mod pauses;
mod plan;
mod restore;
mod resume;
mod runner;
mod sends;
mod task;
mod update;
mod watch;

pub(crate) use call::{Begin, NS_SEP, NS_TASK, Scope, call_ns};
pub(crate) use durability::ChannelChain;
pub use durability::Durability;
pub(crate) use restore::{bounded, restore_state};
pub(crate) use resume::Command;
pub(crate) use update::{Migrated, Writer};

use std::collections::BTreeMap;
use std::sync::Arc;

use smallvec::SmallVec;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::budget::{Budget, Weighing};
use crate::checkpoint::NodeFailure;
use crate::checkpoint::{Checkpoint, CheckpointTuple, Checkpointer, Pauses, PendingWrite, Source};
use crate::error::GraphError;
use crate::events::Emitter;
use crate::events::running::{self, RunUsage};
use crate::graph::{Edge, GraphSpec, Target};
use crate::ids::{CheckpointId, Epoch, ThreadId};
use crate::interrupt::{self, Interrupt};
use crate::outcome::{Outcome, Paused};
use crate::send::SentInput;
use crate::state::{ChannelSet, State, StateUpdate};
use crate::store::Store;
use sends::decode_sends;

use durability::{Saving, StepWrites};
use task::{encode_writes, saved_task};

/// Where a run persists: nowhere, or a checkpointer under a thread id.
#[derive(Clone)]
pub(crate) struct Persistence {
    pub(crate) saver: Arc<dyn Checkpointer>,
    pub(crate) thread_id: ThreadId,
    pub(crate) ns: String,
    /// User keys stored in every checkpoint this run writes.
    pub(crate) metadata: serde_json::Map<String, serde_json::Value>,
    /// The tokens the run's model calls used so far, recorded in its checkpoints.
    pub(crate) usage: RunUsage,
}

/// The latest checkpoint of a run, as the executor keeps it between steps.
struct Head<S> {
    /// The ownership epoch this run writes with (`None` without a checkpointer).
    epoch: Option<Epoch>,
    id: CheckpointId,
    step: i64,
    state: Arc<S>,
    chains: Vec<ChannelChain>,
    next: Vec<usize>,
    barriers: BTreeMap<String, Vec<String>>,
    /// Writes saved against `id` by tasks that finished before the run stopped.
    pending: Vec<PendingWrite>,
    /// Whether `pending` was saved by an earlier version of the state type (the head was
    /// migrated on read): a task whose saved writes this version cannot read runs again.
    pending_older: bool,
    /// The pauses set on the thread, carried into every checkpoint.
    pauses: Pauses,
    /// The failures the step that wrote this head hands to the error handlers it scheduled.
    failures: Vec<NodeFailure>,
    /// The inputs sent to the next step's receiving nodes, in the order they were sent.
    sends: Vec<(usize, SentInput)>,
    /// What of this head is stored.
    saving: Saving,
    /// The checkpoint of each enclosing graph, by namespace, when this run is a subgraph's.
    parents: BTreeMap<String, CheckpointId>,
    /// The subgraph calls the step running from this head finished, by namespace, with the
    /// last checkpoint of each.
    reached: BTreeMap<String, CheckpointId>,
    /// When this run last weighed its state against the budget.
    weighing: Weighing,
}

/// How driving a run ended without failing: at END, or paused on questions.
enum Ended<S> {
    Finished(Head<S>),
    Paused(Head<S>, Vec<Interrupt>),
}

/// What a step holds one of per task: inline for the usual step of one task, so a step of a
/// single node allocates none of its lists.
type StepTasks<T> = SmallVec<[T; 1]>;

/// One finished task of a step.
struct Finished<S: State> {
    node: usize,
    update: S::Update,
    /// The encoded writes by channel index (empty without persistence).
    writes: Vec<(usize, Vec<u8>)>,
    /// The node failed into its error handler (its update is empty).
    failure: Option<NodeFailure>,
}

pub(crate) struct Executor<'g, S: State, D> {
    spec: &'g GraphSpec<S, D>,
    persistence: Option<Persistence>,
    recursion_limit: usize,
    /// What nodes and routes use; never persisted.
    deps: Arc<D>,
    /// Cancelled when the run should stop at its next step boundary.
    stop: Option<CancellationToken>,
    /// The pauses the thread handle sets, replacing those its checkpoints carry.
    pauses: Option<Pauses>,
    /// When the run's checkpoints are written.
    durability: Durability,
    /// The ownership epoch of the enclosing run, for a subgraph's call: the call writes with
    /// it instead of claiming the thread.
    claimed: Option<Epoch>,
    /// Where the run's events go, when it is streamed.
    events: Option<Emitter>,
    /// The checkpoint-size budget of the graph.
    budget: Option<Arc<Budget>>,
    /// The store nodes reach through their context.
    store: Option<Arc<dyn Store>>,
}

impl<'g, S: State, D: Send + Sync + 'static> Executor<'g, S, D> {
    pub(crate) fn new(
        spec: &'g GraphSpec<S, D>,
        persistence: Option<Persistence>,
        recursion_limit: usize,
        deps: Arc<D>,
    ) -> Self {
        Self {
            spec,
            persistence,
            recursion_limit,
            deps,
            stop: None,
            pauses: None,
            durability: Durability::Sync,
            claimed: None,
            events: None,
            budget: None,
            store: None,
        }
    }

    /// This executor, weighing each step's state against `budget`.
    pub(crate) fn budget(mut self, budget: Option<Arc<Budget>>) -> Self {
        self.budget = budget;
        self
    }

    /// This executor, handing its nodes `store`.
    pub(crate) fn with_store(mut self, store: Option<Arc<dyn Store>>) -> Self {
        self.store = store;
        self
    }

    /// This executor, sending its events to `events` (a streamed run).
    pub(crate) fn events(mut self, events: Option<Emitter>) -> Self {
        self.events = events;
        self
    }

    /// This executor, writing with the enclosing run's `epoch` instead of claiming the thread
    /// (a subgraph's call).
    pub(crate) fn claimed(mut self, epoch: Option<Epoch>) -> Self {
        self.claimed = epoch;
        self
    }

    /// This executor, writing checkpoints as `durability` says.
    pub(crate) fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// This executor, with the thread's pauses set to `pauses` (when given).
    pub(crate) fn pauses(mut self, pauses: Option<Pauses>) -> Self {
        self.pauses = pauses;
        self
    }

    /// This executor, stopping at a step boundary once `stop` is cancelled.
    pub(crate) fn stop_on(mut self, stop: Option<CancellationToken>) -> Self {
        self.stop = stop;
        self
    }

    fn thread_id(&self) -> Option<ThreadId> {
        self.persistence.as_ref().map(|p| p.thread_id.clone())
    }

    /// Starts a run from START with `input` on top of the thread's latest state.
    pub(crate) async fn invoke(&self, input: S::Update) -> Result<Outcome<S>, GraphError> {
        let (epoch, previous) = self.claim_latest().await?;
        if let Some(head) = &previous {
            let interrupts = interrupt::open(&head.pending);
            if !interrupts.is_empty() {
                return Err(GraphError::ThreadInterrupted {
                    thread_id: self.thread_id().expect("a thread has an id"),
                    interrupts,
                });
            }
        }
        self.start(epoch, previous, input).await
    }

    /// Starts the thread with `input` when it has no checkpoint, continues it when a run is
    /// pending, and returns its final state when it already finished.
    pub(crate) async fn start_or_resume(&self, input: S::Update) -> Result<Outcome<S>, GraphError> {
        match self.claim_latest().await? {
            (epoch, None) => self.start(epoch, None, input).await,
            (_, Some(head)) if head.next.is_empty() => {
                Ok(Outcome::Finished(take_state(head.state)))
            }
            (_, Some(head)) => {
                self.emit_values(&head).await;
                self.run(head).await
            }
        }
    }

    async fn start(
        &self,
        epoch: Option<Epoch>,
        previous: Option<Head<S>>,
        input: S::Update,
    ) -> Result<Outcome<S>, GraphError> {
        let begin = Begin { state: None, input };
        let head = self.begin(epoch, previous, begin, BTreeMap::new()).await?;
        self.run(head).await
    }

    /// The head a run starts from: `begin`'s input applied on top of `previous` (or of a
    /// default state, or of `begin`'s whole state), written as an input checkpoint, with the
    /// nodes START leads to scheduled.
    async fn begin(
        &self,
        epoch: Option<Epoch>,
        previous: Option<Head<S>>,
        begin: Begin<S>,
        parents: BTreeMap<String, CheckpointId>,
    ) -> Result<Head<S>, GraphError> {
        let parent = previous.as_ref().map(|head| head.id);
        let (step, mut state, mut chains, pauses, saving) = match previous {
            Some(head) => (
                head.step + 1,
                head.state,
                head.chains,
                head.pauses,
                Saving::stored(head.id),
            ),
            None => (
                -1,
                Arc::new(S::default()),
                vec![ChannelChain::default(); S::CHANNELS.len()],
                self.pauses.clone().unwrap_or_default(),
                Saving::default(),
            ),
        };
        if let Some(whole) = begin.state {
            // A run handed a whole state stores every channel of it, whole.
            state = Arc::new(whole);
            chains = vec![ChannelChain::rewritten(); S::CHANNELS.len()];
        }
        let input = begin.input;
        let writes = match &self.persistence {
            Some(_) => encode_writes::<S>(&input, INPUT)?,
            None => Vec::new(),
        };
        let finished = smallvec::smallvec![Finished::<S> {
            node: INPUT_WRITER,
            update: input,
            writes,
            failure: None,
        }];
        let mut head = Head {
            epoch,
            id: CheckpointId::after(parent),
            step,
            state,
            chains,
            next: Vec::new(),
            barriers: BTreeMap::new(),
            pending: Vec::new(),
            pending_older: false,
            pauses,
            failures: Vec::new(),
            sends: Vec::new(),
            saving,
            parents,
            reached: BTreeMap::new(),
            weighing: Weighing::default(),
        };
        let writes = self.merge(&mut head, finished, step, Source::Input)?;
        head.next = self.start_nodes(&head.state, &mut head.sends);
        self.commit(&mut head, writes, true).await?;
        self.emit_values(&head).await;
        Ok(head)
    }

    /// Continues the thread from its latest checkpoint.
    pub(crate) async fn resume(&self) -> Result<Outcome<S>, GraphError> {
        match self.claim_latest().await? {
            (_, Some(head)) => {
                self.emit_values(&head).await;
                self.run(head).await
            }
            (_, None) => Err(GraphError::NothingToResume(
                self.thread_id().expect("resume needs a thread"),
            )),
        }
    }

    /// Takes ownership of the thread, then reads its latest checkpoint: in that order, so a
    /// write still in flight from an earlier owner (a killed process) is either visible to the
    /// read or refused.
    async fn claim_latest(&self) -> Result<(Option<Epoch>, Option<Head<S>>), GraphError> {
        let Some(p) = &self.persistence else {
            return Ok((None, None));
        };
        let epoch = match self.claimed {
            Some(epoch) => epoch,
            None => p.saver.claim(&p.thread_id).await?,
        };
        let Some(tuple) = p.saver.get(&p.thread_id, &p.ns, None).await? else {
            return Ok((Some(epoch), None));
        };
        refuse_expired(&tuple)?;
        self.restore(tuple, Some(epoch))
            .map(|head| (Some(epoch), Some(head)))
    }

    /// Rebuilds the executor's view of a stored checkpoint.
    fn restore(&self, tuple: CheckpointTuple, epoch: Option<Epoch>) -> Result<Head<S>, GraphError> {
        let (state, chains) = restore_state::<S>(&tuple)?;
        let pending_older = tuple.checkpoint.metadata.state_version < S::VERSION;
        let sends = decode_sends(self.spec, &tuple)?;
        let checkpoint = tuple.checkpoint;
        let next = scheduled(self.spec, &checkpoint)?;
        Ok(Head {
            epoch,
            id: checkpoint.id,
            step: checkpoint.metadata.step,
            state: Arc::new(state),
            chains,
            next,
            pauses: self
                .pauses
                .clone()
                .unwrap_or_else(|| checkpoint.metadata.pauses.clone()),
            barriers: checkpoint.barriers,
            pending: tuple.pending_writes,
            pending_older,
            failures: checkpoint.metadata.failures,
            sends,
            saving: Saving::stored(checkpoint.id),
            parents: checkpoint.metadata.parents,
            reached: BTreeMap::new(),
            weighing: Weighing::default(),
        })
    }

    /// Runs steps from `head` until the graph ends, then makes the last state stored. A run
    /// that stops early (an error, a question, a pause, a stop) stores the state it stopped at
    /// too, so it can be resumed from there.
    async fn run(&self, head: Head<S>) -> Result<Outcome<S>, GraphError> {
        Ok(match self.drive(head).await? {
            Ended::Finished(head) => Outcome::Finished(take_state(head.state)),
            Ended::Paused(head, interrupts) => Outcome::Paused(Paused {
                checkpoint: head.id,
                state: take_state(head.state),
                interrupts,
                thread_id: self.thread_id().ok_or_else(paused_without_checkpointer)?,
            }),
        })
    }

    /// [`Executor::run`], returning the head the run ended at; in a `run` span carrying the
    /// graph, thread, namespace and the checkpoint and step it starts from.
    async fn drive(&self, head: Head<S>) -> Result<Ended<S>, GraphError> {
        let span = tracing::info_span!(
            "run",
            graph = self.spec.name,
            thread = self.persistence.as_ref().map(|p| p.thread_id.as_str()),
            ns = self.persistence.as_ref().map(|p| p.ns.as_str()),
            checkpoint = %head.id,
            step = head.step,
        );
        // The run's token count, for the model calls of its tasks (a task streamed in messages
        // mode carries it in its own scope).
        let usage = self
            .persistence
            .as_ref()
            .map(|p| running::run_scope(&p.usage));
        running::scoped(usage, self.drive_in_span(head))
            .instrument(span)
            .await
    }

    /// The body of [`Executor::drive`]: the steps, then the state they stopped at, stored.
    async fn drive_in_span(&self, mut head: Head<S>) -> Result<Ended<S>, GraphError> {
        let outcome = self.steps(&mut head).await;
        let settled = self.settle(&mut head).await;
        if let Err(GraphError::Interrupted { interrupts, .. }) = &outcome {
            for interrupt in interrupts {
                tracing::info!(
                    interrupt = %interrupt.id,
                    node = %interrupt.node,
                    "the run waits for an answer"
                );
            }
            self.emit_interrupts(&head, interrupts).await;
        }
        match (outcome, settled) {
            (Ok(()), Ok(())) => Ok(Ended::Finished(head)),
            (Err(GraphError::Interrupted { interrupts, .. }), Ok(())) => {
                Ok(Ended::Paused(head, interrupts))
            }
            (Ok(()), Err(error)) => Err(error),
            // A pause whose state could not be stored is that failure.
            (Err(GraphError::Interrupted { .. }), Err(unsaved)) => Err(unsaved),
            (Err(error), Ok(())) => Err(error),
            (Err(error), Err(unsaved)) => {
                tracing::warn!(error = %unsaved, "the state the run stopped at could not be saved");
                Err(error)
            }
        }
    }

    async fn steps(&self, head: &mut Head<S>) -> Result<(), GraphError> {
        let mut steps = 0usize;
        while !head.next.is_empty() {
            if let Some(stop) = &self.stop
                && stop.is_cancelled()
            {
                return Err(match &self.persistence {
                    Some(p) => GraphError::Stopped {
                        thread_id: p.thread_id.clone(),
                        checkpoint: head.id,
                    },
                    None => GraphError::RunAborted(format!(
                        "stopped before step {}; a graph without a checkpointer keeps nothing",
                        head.step + 1
                    )),
                });
            }
            let step = head.step + 1;
            // Each of these awaits only when it has something to do: a future built and moved
            // into this loop's state costs a step even when it returns at once.
            if self.may_pause_before(head) {
                self.pause_before(head, step).await?;
            }
            if steps == self.recursion_limit {
                return Err(GraphError::RecursionLimit {
                    thread_id: self.thread_id(),
                    limit: self.recursion_limit,
                    checkpoint: self.persistence.as_ref().map(|_| head.id),
                });
            }
            steps += 1;
            let span = tracing::debug_span!(
                "step",
                graph = self.spec.name,
                thread = self.persistence.as_ref().map(|p| p.thread_id.as_str()),
                ns = self.persistence.as_ref().map(|p| p.ns.as_str()),
                checkpoint = %head.id,
                step,
            );
            let mut finished = if span.is_disabled() {
                self.run_tasks(head, step).await?
            } else {
                self.run_tasks(head, step).instrument(span).await?
            };
            let ran: StepTasks<usize> = finished.iter().map(|f| f.node).collect();
            // A node that failed into its handler leads there instead of along its edges (a
            // step without failures, the usual one, lists nothing more).
            let any_failed = finished.iter().any(|f| f.failure.is_some());
            let (failures, succeeded, handlers) = if any_failed {
                let failures: Vec<NodeFailure> =
                    finished.iter().filter_map(|f| f.failure.clone()).collect();
                let succeeded: Vec<usize> = finished
                    .iter()
                    .filter(|f| f.failure.is_none())
                    .map(|f| f.node)
                    .collect();
                let handlers = finished
                    .iter()
                    .filter(|f| f.failure.is_some())
                    .filter_map(|f| self.spec.nodes[f.node].on_error)
                    .collect::<Vec<usize>>();
                (failures, Some(succeeded), handlers)
            } else {
                (Vec::new(), None, Vec::new())
            };
            let succeeded = succeeded.as_deref().unwrap_or(&ran[..]);
            // A resume's command: its update joins the step's writes, its nodes the next step.
            let mut goto = Vec::new();
            if let Some(p) = &self.persistence {
                let (update, nodes) =
                    self.saved_command(&head.pending, head.id, step, &p.thread_id)?;
                finished.extend(update);
                goto = nodes;
            }
            let answers = interrupt::answers_in(&head.pending);
            let updates = self.updates_to_emit(&finished);
            let mut writes = self.merge(head, finished, step, Source::Loop)?;
            writes.answers = answers;
            writes.failures = failures.clone();
            writes.subgraphs = std::mem::take(&mut head.reached);
            self.check_budget(head, &writes, step)?;
            head.failures = failures;
            let mut sends = Vec::new();
            let mut next = std::mem::take(&mut head.next);
            self.next_nodes(
                succeeded,
                &head.state,
                &mut head.barriers,
                &mut sends,
                &mut next,
            );
            head.next = next;
            head.sends = sends;
            if !goto.is_empty() || !handlers.is_empty() {
                head.next.extend(goto);
                head.next.extend(handlers);
                head.next.sort_unstable();
                head.next.dedup();
            }
            // A run without a checkpointer keeps no ids another process draws: the next one in
            // sequence will do, without a clock read and random bits per step.
            head.id = match &self.persistence {
                Some(_) => CheckpointId::after(Some(head.id)),
                None => head.id.successor(),
            };
            head.step = step;
            // A step of only `checkpoint = false` nodes is saved with the next one that is.
            let durable = ran
                .iter()
                .any(|node| !self.spec.skip_checkpoint.contains(node));
            if self.events.is_some() {
                self.emit_updates(head, updates).await;
            }
            self.commit(head, writes, durable).await?;
            if self.events.is_some() {
                self.emit_values(head).await;
            }
            if self.may_pause_after(head) {
                self.pause_after(head, &ran).await?;
            }
        }
        Ok(())
    }

    /// Checks and applies the step's updates in node order, collecting what a checkpoint
    /// records of them.
    fn merge(
        &self,
        head: &mut Head<S>,
        finished: StepTasks<Finished<S>>,
        step: i64,
        source: Source,
    ) -> Result<StepWrites, GraphError> {
        let mut written = Vec::with_capacity(finished.len());
        let mut changed = ChannelSet::new();
        let mut replaced = ChannelSet::new();
        for (at, f) in finished.iter().enumerate() {
            let overwrites = f.update.overwrites();
            if let Some(channel) = replaced.intersection(overwrites).iter().next() {
                // The first writer of a channel two writers replace, found only when it fails.
                let first = finished[..at]
                    .iter()
                    .find(|e| e.update.overwrites().contains(channel))
                    .map_or(f.node, |e| e.node);
                return Err(GraphError::ConflictingWrites {
                    thread_id: self.thread_id(),
                    step,
                    field: S::CHANNELS[channel].name,
                    first: self.node_name(first),
                    second: self.node_name(f.node),
                });
            }
            replaced = replaced.union(overwrites);
            let channels = f.update.channels();
            changed = changed.union(channels);
            written.push((f.node, channels));
        }
        let bytes = finished
            .iter()
            .flat_map(|f| &f.writes)
            .map(|(_, w)| w.len())
            .sum();
        let mut by_channel: Vec<Vec<Vec<u8>>> = Vec::new();
        if self.persistence.is_some() {
            by_channel.resize_with(S::CHANNELS.len(), Vec::new);
        }
        let state = Arc::make_mut(&mut head.state);
        for f in finished {
            for (channel, bytes) in f.writes {
                if !replaced.contains(channel) {
                    by_channel[channel].push(bytes);
                }
            }
            state.apply(f.update);
        }
        head.pending = Vec::new();
        head.pending_older = false;
        let mut writes = StepWrites::new(source, written, changed, replaced, by_channel);
        writes.bytes = bytes;
        Ok(writes)
    }

    fn node_name(&self, node: usize) -> &'static str {
        match self.spec.nodes.get(node) {
            Some(spec) => spec.name,
            None if node == END_WRITER => END,
            None if node == COMMAND_WRITER => COMMAND,
            None => INPUT,
        }
    }

    /// The nodes START leads to, given the state, and the inputs its `#[send]` functions send.
    fn start_nodes(&self, state: &S, sends: &mut Vec<(usize, SentInput)>) -> Vec<usize> {
        let mut next = Vec::new();
        follow(&self.spec.start, state, &self.deps, &mut next, sends);
        next.sort_unstable();
        next.dedup();
        next
    }

    /// The nodes the edges of the nodes that just ran lead to, given the merged state, into
    /// `next` (cleared first, so the last step's list is reused), and the inputs their `#[send]`
    /// functions send (each node's edges are followed once, however many of its tasks ran).
    fn next_nodes(
        &self,
        ran: &[usize],
        state: &S,
        barriers: &mut BTreeMap<String, Vec<String>>,
        sends: &mut Vec<(usize, SentInput)>,
        next: &mut Vec<usize>,
    ) {
        let mut nodes: StepTasks<usize> = ran.iter().copied().collect();
        if nodes.len() > 1 {
            nodes.sort_unstable();
            nodes.dedup();
        }
        next.clear();
        for node in nodes {
            follow(&self.spec.edges[node], state, &self.deps, next, sends);
            for join in self.spec.joins.iter().filter(|j| j.sources.contains(&node)) {
                let seen = barriers.entry(join.key.clone()).or_default();
                let name = self.spec.nodes[node].name;
                if !seen.iter().any(|s| s == name) {
                    seen.push(name.to_owned());
                }
                if join
                    .sources
                    .iter()
                    .all(|&s| seen.iter().any(|n| n == self.spec.nodes[s].name))
                {
                    barriers.remove(&join.key);
                    next.push(join.target);
                }
            }
        }
        if next.len() > 1 {
            next.sort_unstable();
            next.dedup();
        }
    }
}

/// The failures node `name` handles, among those the last step handed on.
fn handled_by(failures: &[NodeFailure], name: &str) -> Option<Arc<[NodeFailure]>> {
    if failures.is_empty() {
        return None;
    }
    let mine: Vec<NodeFailure> = failures
        .iter()
        .filter(|f| f.handler == name)
        .cloned()
        .collect();
    (!mine.is_empty()).then(|| mine.into())
}

/// [`GraphError::Expired`] if an expiry policy marked the checkpoint of `tuple`.
fn refuse_expired(tuple: &CheckpointTuple) -> Result<(), GraphError> {
    if tuple
        .pending_writes
        .iter()
        .any(|w| w.channel == PendingWrite::EXPIRED)
    {
        return Err(GraphError::Expired(tuple.checkpoint.thread_id.clone()));
    }
    Ok(())
}

/// A run without a checkpointer that ended paused: never expected (there a question or a pause
/// is an error), reported as an error rather than a panic.
fn paused_without_checkpointer() -> GraphError {
    GraphError::RunAborted("a run without a checkpointer paused, which it cannot resume".to_owned())
}

/// The state out of its `Arc`: every task's snapshot is gone by the end of a run, so this
/// takes it without copying.
fn take_state<S: State>(state: Arc<S>) -> S {
    Arc::try_unwrap(state).unwrap_or_else(|shared| (*shared).clone())
}

/// The indexes of the nodes `checkpoint` schedules; a name the graph does not have (the graph
/// changed since the checkpoint was written) is an error naming it.
pub(crate) fn scheduled<S: State, D>(
    spec: &GraphSpec<S, D>,
    checkpoint: &Checkpoint,
) -> Result<Vec<usize>, GraphError> {
    checkpoint
        .next
        .iter()
        .map(|name| {
            spec.index_of(name).ok_or_else(|| GraphError::UnknownNode {
                thread_id: checkpoint.thread_id.clone(),
                checkpoint: checkpoint.id,
                node: name.clone(),
                graph: spec.name,
            })
        })
        .collect()
}

/// Evaluates `edges` on `state`, adding the nodes they lead to and the inputs they send.
fn follow<S, D>(
    edges: &[Edge<S, D>],
    state: &S,
    deps: &D,
    next: &mut Vec<usize>,
    sends: &mut Vec<(usize, SentInput)>,
) {
    for edge in edges {
        let target = match edge {
            Edge::To(target) => *target,
            Edge::Route { pick, .. } => pick(state, deps),
            Edge::Send {
                target,
                fan,
                otherwise,
                ..
            } => {
                let inputs = fan(state, deps);
                if inputs.is_empty() {
                    match otherwise {
                        Some(otherwise) => *otherwise,
                        None => continue,
                    }
                } else {
                    next.push(*target);
                    sends.extend(inputs.into_iter().map(|input| (*target, input)));
                    continue;
                }
            }
        };
        if let Target::Node(node, _) = target {
            next.push(node);
        }
    }
}

/// The name under which checkpoints record the writes of an `invoke`'s input.
const INPUT: &str = "__input__";
/// The name under which checkpoints record the writes of an update that ends the run.
const END: &str = "__end__";
/// The writer index of an input, in place of a node index.
const INPUT_WRITER: usize = usize::MAX;
/// The writer index of an update that ends the run.
const END_WRITER: usize = usize::MAX - 1;
/// The name under which checkpoints record the update a resume's command applied.
const COMMAND: &str = "__command__";
/// The writer index of a resume's command.
const COMMAND_WRITER: usize = usize::MAX - 2;
