//! The superstep loop: run the scheduled nodes concurrently on one snapshot, merge their
//! updates in node order, write one checkpoint, follow the edges. Updates written as if a node
//! had run (time travel) are in `update.rs`; one task's run and its saved writes in `task.rs`;
//! answers and a resume's command in `resume.rs`; pauses before and after nodes in
//! `pauses.rs`; which steps are checkpointed, when, and the blobs each checkpoint stores in
//! `durability.rs`.

mod durability;
mod pauses;
mod plan;
mod resume;
mod task;
mod update;

pub(crate) use durability::ChannelChain;
pub use durability::Durability;
pub(crate) use resume::Command;
pub(crate) use update::Writer;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::checkpoint::{
    BlobKind, Checkpoint, CheckpointError, CheckpointTuple, Checkpointer, Pauses, PendingWrite,
    Source,
};
use crate::error::GraphError;
use crate::graph::{Edge, GraphSpec, Target};
use crate::ids::{CheckpointId, Epoch, ThreadId};
use crate::interrupt::{self, Interrupt, TaskInterrupts};
use crate::node::NodeContext;
use crate::once::TaskOnce;
use crate::policy::NodeFailure;
use crate::send::{SENDS, SentInput, decode_sends};
use crate::state::{ChannelSet, State, StateUpdate, Stored};

use durability::{Saving, StepWrites};
use plan::Planned;
use task::{Recording, SaveTo, TaskFailure, TaskRun, encode_writes, run_task, saved_task};

/// Where a run persists: nowhere, or a checkpointer under a thread id.
#[derive(Clone)]
pub(crate) struct Persistence {
    pub(crate) saver: Arc<dyn Checkpointer>,
    pub(crate) thread_id: ThreadId,
    pub(crate) ns: String,
    /// User keys stored in every checkpoint this run writes.
    pub(crate) metadata: serde_json::Map<String, serde_json::Value>,
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
    /// The pauses set on the thread, carried into every checkpoint.
    pauses: Pauses,
    /// The failures the step that wrote this head hands to the error handlers it scheduled.
    failures: Vec<NodeFailure>,
    /// The inputs sent to the next step's receiving nodes, in the order they were sent.
    sends: Vec<(usize, SentInput)>,
    /// What of this head is stored.
    saving: Saving,
}

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
        }
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
    pub(crate) async fn invoke(&self, input: S::Update) -> Result<S, GraphError> {
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
    pub(crate) async fn start_or_resume(&self, input: S::Update) -> Result<S, GraphError> {
        match self.claim_latest().await? {
            (epoch, None) => self.start(epoch, None, input).await,
            (_, Some(head)) if head.next.is_empty() => Ok(take_state(head.state)),
            (_, Some(head)) => self.run(head).await,
        }
    }

    async fn start(
        &self,
        epoch: Option<Epoch>,
        previous: Option<Head<S>>,
        input: S::Update,
    ) -> Result<S, GraphError> {
        let (step, state, chains, pauses, saving) = match previous {
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
        let writes = match &self.persistence {
            Some(_) => encode_writes::<S>(&input, INPUT)?,
            None => Vec::new(),
        };
        let finished = vec![Finished::<S> {
            node: INPUT_WRITER,
            update: input,
            writes,
            failure: None,
        }];
        let mut head = Head {
            epoch,
            id: CheckpointId::new(),
            step,
            state,
            chains,
            next: Vec::new(),
            barriers: BTreeMap::new(),
            pending: Vec::new(),
            pauses,
            failures: Vec::new(),
            sends: Vec::new(),
            saving,
        };
        let writes = self.merge(&mut head, finished, step, Source::Input)?;
        let mut next: Vec<usize> = Vec::new();
        follow(
            &self.spec.start,
            &head.state,
            &self.deps,
            &mut next,
            &mut head.sends,
        );
        next.sort_unstable();
        next.dedup();
        head.next = next;
        self.commit(&mut head, writes, true).await?;
        self.run(head).await
    }

    /// Continues the thread from its latest checkpoint.
    pub(crate) async fn resume(&self) -> Result<S, GraphError> {
        match self.claim_latest().await? {
            (_, Some(head)) => self.run(head).await,
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
        let epoch = p.saver.claim(&p.thread_id).await?;
        let Some(tuple) = p.saver.get(&p.thread_id, &p.ns, None).await? else {
            return Ok((Some(epoch), None));
        };
        refuse_expired(&tuple)?;
        self.restore(tuple, epoch)
            .map(|head| (Some(epoch), Some(head)))
    }

    /// Rebuilds the executor's view of a stored checkpoint.
    fn restore(&self, tuple: CheckpointTuple, epoch: Epoch) -> Result<Head<S>, GraphError> {
        let (state, chains) = restore_state::<S>(&tuple)?;
        let sends = decode_sends(self.spec, &tuple)?;
        let checkpoint = tuple.checkpoint;
        let next = scheduled(self.spec, &checkpoint)?;
        Ok(Head {
            epoch: Some(epoch),
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
            failures: checkpoint.metadata.failures,
            sends,
            saving: Saving::stored(checkpoint.id),
        })
    }

    /// Runs steps from `head` until the graph ends, then makes the last state stored. A run
    /// that stops early (an error, a question, a pause, a stop) stores the state it stopped at
    /// too, so it can be resumed from there.
    async fn run(&self, mut head: Head<S>) -> Result<S, GraphError> {
        let outcome = self.steps(&mut head).await;
        let settled = self.settle(&mut head).await;
        match (outcome, settled) {
            (Ok(()), Ok(())) => Ok(take_state(head.state)),
            (Ok(()), Err(error)) => Err(error),
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
            if let (Some(stop), Some(p)) = (&self.stop, &self.persistence)
                && stop.is_cancelled()
            {
                return Err(GraphError::Stopped {
                    thread_id: p.thread_id.clone(),
                    checkpoint: head.id,
                });
            }
            let step = head.step + 1;
            self.pause_before(head, step).await?;
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
                checkpoint = %head.id,
                step,
            );
            let mut finished = self.run_tasks(head, step).instrument(span).await?;
            let ran: Vec<usize> = finished.iter().map(|f| f.node).collect();
            // A node that failed into its handler leads there instead of along its edges.
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
            // A resume's command: its update joins the step's writes, its nodes the next step.
            let mut goto = Vec::new();
            if let Some(p) = &self.persistence {
                let (update, nodes) =
                    self.saved_command(&head.pending, head.id, step, &p.thread_id)?;
                finished.extend(update);
                goto = nodes;
            }
            let answers = interrupt::answers_in(&head.pending);
            let mut writes = self.merge(head, finished, step, Source::Loop)?;
            writes.answers = answers;
            writes.failures = failures.clone();
            head.failures = failures;
            let mut sends = Vec::new();
            head.next = self.next_nodes(&succeeded, &head.state, &mut head.barriers, &mut sends);
            head.sends = sends;
            if !goto.is_empty() || !handlers.is_empty() {
                head.next.extend(goto);
                head.next.extend(handlers);
                head.next.sort_unstable();
                head.next.dedup();
            }
            head.id = CheckpointId::new();
            head.step = step;
            // A step of only `checkpoint = false` nodes is saved with the next one that is.
            let durable = ran
                .iter()
                .any(|node| !self.spec.skip_checkpoint.contains(node));
            self.commit(head, writes, durable).await?;
            self.pause_after(head, &ran).await?;
        }
        Ok(())
    }

    /// Runs the step's tasks concurrently; tasks whose writes were saved before are not run.
    ///
    /// What each task records is saved as it ends when the head's checkpoint is stored and the
    /// mode waits for writes; otherwise it is kept, and saved only if the step fails or pauses,
    /// once the head's checkpoint is stored.
    async fn run_tasks(
        &self,
        head: &mut Head<S>,
        step: i64,
    ) -> Result<Vec<Finished<S>>, GraphError> {
        let tasks = self.plan(head, step)?;
        // Each task's result goes to its place in the plan, so updates merge in that order.
        let mut slots: Vec<Option<Finished<S>>> = Vec::with_capacity(tasks.len());
        let mut to_run = Vec::with_capacity(tasks.len());
        for (at, task) in tasks.iter().enumerate() {
            let saved = self
                .persistence
                .as_ref()
                .zip(task.task_id)
                .and_then(|(p, id)| {
                    saved_task::<S>(&head.pending, id, task.node, &p.thread_id, head.id)
                });
            match saved {
                Some(done) => slots.push(Some(done?)),
                None => {
                    slots.push(None);
                    to_run.push(at);
                }
            }
        }
        let thread_id = self.thread_id();
        let save_to = self.persistence.clone().map(|persistence| SaveTo {
            persistence,
            epoch: head.epoch,
            checkpoint: head.id,
        });
        let save_now = save_to
            .clone()
            .filter(|_| head.saving.saves_tasks_at_once(self.durability));
        let runs = {
            let head = &*head;
            let shared_step = tasks.len() > 1;
            let task = |planned: &Planned| {
                let (node, task_id) = (planned.node, planned.task_id);
                let spec = &self.spec.nodes[node];
                let interrupts =
                    task_id.map(|t| Arc::new(TaskInterrupts::new(t, spec.name, &head.pending)));
                let once = task_id.map(|t| Arc::new(TaskOnce::new(t, spec.name, &head.pending)));
                let ctx = NodeContext {
                    thread_id: thread_id.clone(),
                    checkpoint_id: self.persistence.as_ref().map(|_| head.id),
                    step,
                    node: spec.name,
                    deps: Arc::clone(&self.deps),
                    interrupts,
                    once,
                    attempts: spec
                        .retry
                        .as_ref()
                        .filter(|policy| policy.max_attempts() > 1)
                        .map(|_| Arc::default()),
                    failures: handled_by(&head.failures, spec.name),
                    input: planned.input.clone(),
                };
                // A step's only task needs no pending writes: the checkpoint that follows saves
                // its result. With siblings they protect its work when a sibling fails or the
                // process dies before the step ends.
                let recording = task_id.map(|task_id| Recording {
                    task_id,
                    pending_writes: shared_step,
                });
                let handler = spec.on_error.map(|h| self.spec.nodes[h].name);
                let run = run_task(
                    Arc::clone(&spec.run),
                    Arc::clone(&head.state),
                    ctx,
                    node,
                    handler,
                    recording,
                );
                let save_now = save_now.clone();
                async move {
                    let run = run.await;
                    match &save_now {
                        Some(to) => run.save_now(to).await,
                        None => run,
                    }
                }
                .instrument(tracing::debug_span!("node", node = spec.name))
            };
            if let [at] = to_run[..] {
                vec![task(&tasks[at]).await]
            } else {
                let handles: Vec<_> = to_run
                    .iter()
                    .map(|&at| tokio::spawn(task(&tasks[at])))
                    .collect();
                let mut runs = Vec::with_capacity(handles.len());
                for (handle, &at) in handles.into_iter().zip(&to_run) {
                    runs.push(handle.await.unwrap_or_else(|join| TaskRun {
                        outcome: Err(TaskFailure::Node(
                            tasks[at].node,
                            format!("node task was cancelled or panicked: {join}").into(),
                        )),
                        records: Vec::new(),
                    }));
                }
                runs
            }
        };
        let mut first_failure = None;
        let mut interrupts = Vec::new();
        let mut records = Vec::new();
        for (run, &at) in runs.into_iter().zip(&to_run) {
            records.extend(run.records);
            match run.outcome {
                Ok(done) => slots[at] = Some(done),
                Err(TaskFailure::Interrupt(interrupt)) => interrupts.push(interrupt),
                Err(failure) => {
                    first_failure.get_or_insert(failure);
                }
            }
        }
        if first_failure.is_some() || !interrupts.is_empty() {
            // Kept records: the step stops here, so its checkpoint is stored and what its tasks
            // did is saved against it for the resume.
            if let Some(to) = save_to.filter(|_| !records.is_empty()) {
                self.settle(head).await?;
                to.save(records, first_failure.as_ref()).await?;
            }
        }
        if let Some(failure) = first_failure {
            return Err(match failure {
                TaskFailure::Node(node, source) => GraphError::Node {
                    thread_id,
                    node: self.spec.nodes[node].name,
                    step,
                    source,
                },
                TaskFailure::Graph(error) => error,
                TaskFailure::Interrupt(_) => unreachable!("interrupts are collected above"),
            });
        }
        if !interrupts.is_empty() {
            interrupts.sort_by_key(|i: &Interrupt| (i.raised_at, i.id));
            return Err(GraphError::Interrupted {
                thread_id: thread_id.expect("interrupts need a checkpointer"),
                checkpoint: head.id,
                interrupts,
            });
        }
        Ok(slots.into_iter().flatten().collect())
    }

    /// Checks and applies the step's updates in node order, collecting what a checkpoint
    /// records of them.
    fn merge(
        &self,
        head: &mut Head<S>,
        finished: Vec<Finished<S>>,
        step: i64,
        source: Source,
    ) -> Result<StepWrites, GraphError> {
        let mut replaced_by: Vec<Option<usize>> = vec![None; S::CHANNELS.len()];
        let mut written = Vec::with_capacity(finished.len());
        let mut changed = ChannelSet::new();
        let mut replaced = ChannelSet::new();
        for f in &finished {
            for channel in f.update.overwrites().iter() {
                if let Some(first) = replaced_by[channel] {
                    return Err(GraphError::ConflictingWrites {
                        thread_id: self.thread_id(),
                        step,
                        field: S::CHANNELS[channel].name,
                        first: self.node_name(first),
                        second: self.node_name(f.node),
                    });
                }
                replaced_by[channel] = Some(f.node);
                replaced.insert(channel);
            }
            let channels = f.update.channels();
            changed = changed.union(channels);
            written.push((f.node, channels));
        }
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
        Ok(StepWrites::new(
            source, written, changed, replaced, by_channel,
        ))
    }

    fn node_name(&self, node: usize) -> &'static str {
        match self.spec.nodes.get(node) {
            Some(spec) => spec.name,
            None if node == END_WRITER => END,
            None if node == COMMAND_WRITER => COMMAND,
            None => INPUT,
        }
    }

    /// The nodes the edges of the nodes that just ran lead to, given the merged state, and the
    /// inputs their `#[send]` functions send (each node's edges are followed once, however many
    /// of its tasks ran).
    fn next_nodes(
        &self,
        ran: &[usize],
        state: &S,
        barriers: &mut BTreeMap<String, Vec<String>>,
        sends: &mut Vec<(usize, SentInput)>,
    ) -> Vec<usize> {
        let mut nodes = ran.to_vec();
        nodes.sort_unstable();
        nodes.dedup();
        let mut next = Vec::new();
        for node in nodes {
            follow(&self.spec.edges[node], state, &self.deps, &mut next, sends);
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
        next.sort_unstable();
        next.dedup();
        next
    }
}

/// The failures node `name` handles, among those the last step handed on.
fn handled_by(failures: &[NodeFailure], name: &str) -> Option<Arc<[NodeFailure]>> {
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
            Edge::Send { target, fan, .. } => {
                let inputs = fan(state, deps);
                if !inputs.is_empty() {
                    next.push(*target);
                    sends.extend(inputs.into_iter().map(|input| (*target, input)));
                }
                continue;
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

/// Rebuilds a state and its channel chains from a stored checkpoint. A stored channel the type
/// does not know (and does not declare renamed or removed) is
/// [`CheckpointError::UnknownChannel`]: reading on would drop its value.
pub(crate) fn restore_state<S: State>(
    tuple: &CheckpointTuple,
) -> Result<(S, Vec<ChannelChain>), CheckpointError> {
    let checkpoint = &tuple.checkpoint;
    // Where each channel is stored: under its name, or an earlier one.
    let mut stored_as: Vec<Option<(&str, CheckpointId, bool)>> = vec![None; S::CHANNELS.len()];
    for (name, version) in &checkpoint.channel_versions {
        if name == SENDS {
            continue; // the inputs sent to the next step, not a field (see `send.rs`)
        }
        match Stored::of::<S>(name) {
            Stored::Current(index) => stored_as[index] = Some((name, *version, false)),
            Stored::Renamed(index) => {
                stored_as[index].get_or_insert((name, *version, true));
            }
            Stored::Removed => {}
            Stored::Unknown => {
                return Err(CheckpointError::UnknownChannel {
                    thread_id: checkpoint.thread_id.clone(),
                    checkpoint: checkpoint.id,
                    channel: bounded(name),
                });
            }
        }
    }
    let mut state = S::default();
    let mut chains = vec![ChannelChain::default(); S::CHANNELS.len()];
    for (index, spec) in S::CHANNELS.iter().enumerate() {
        let Some((name, version, renamed)) = stored_as[index] else {
            continue;
        };
        let blobs = tuple
            .channels
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let corrupt =
            |detail: String| CheckpointError::corrupt(&checkpoint.thread_id, checkpoint.id, detail);
        if blobs.last().map(|b| b.version) != Some(version) {
            return Err(corrupt(format!(
                "channel `{name}` has no value at version {version}"
            )));
        }
        let (snapshot, deltas) = match blobs.split_first() {
            Some((first, rest)) if first.kind == BlobKind::Snapshot => (Some(first), rest),
            _ => (None, blobs),
        };
        if deltas.iter().any(|b| b.kind == BlobKind::Snapshot) {
            return Err(corrupt(format!(
                "channel `{name}` has a snapshot inside its delta chain"
            )));
        }
        let delta_data: Vec<&[u8]> = deltas.iter().map(|b| b.data.as_slice()).collect();
        state
            .decode_channel(index, snapshot.map(|b| b.data.as_slice()), &delta_data)
            .map_err(|source| CheckpointError::Decode {
                thread_id: checkpoint.thread_id.clone(),
                checkpoint: checkpoint.id,
                channel: spec.name.to_owned(),
                source,
            })?;
        chains[index] = if renamed {
            // Its blobs are stored under the old name; the next checkpoint writes it anew.
            ChannelChain {
                rewrite: true,
                ..ChannelChain::default()
            }
        } else {
            ChannelChain {
                version: Some(version),
                snapshot_bytes: snapshot.map_or(0, |b| b.data.len()),
                delta_bytes: delta_data.iter().map(|d| d.len()).sum(),
                deltas: delta_data.len(),
                rewrite: false,
            }
        };
    }
    Ok((state, chains))
}

/// A stored name as an error message may quote it: at most 64 characters.
fn bounded(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_owned(),
    }
}
