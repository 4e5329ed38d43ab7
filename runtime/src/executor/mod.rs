//! The superstep loop: run the scheduled nodes concurrently on one snapshot, merge their
//! updates in node order, write one checkpoint, follow the edges. Updates written as if a node
//! had run (time travel) are in `update.rs`; one task's run and its saved writes in `task.rs`;
//! answers and a resume's command in `resume.rs`; pauses before and after nodes in
//! `pauses.rs`.

mod pauses;
mod resume;
mod task;
mod update;

pub(crate) use resume::Command;
pub(crate) use update::Writer;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::checkpoint::limits;
use crate::checkpoint::{
    self, Answer, BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointMetadata,
    CheckpointTuple, Checkpointer, NewCheckpoint, Pauses, PendingWrite, PutMode, Source,
};
use crate::error::GraphError;
use crate::graph::{Edge, GraphSpec, Target};
use crate::ids::{CheckpointId, Epoch, TaskId, ThreadId};
use crate::interrupt::{self, Interrupt, TaskInterrupts};
use crate::node::NodeContext;
use crate::once::TaskOnce;
use crate::state::{ChannelSet, State, StateUpdate, Stored};

use task::{SaveTo, TaskFailure, encode_writes, run_task, saved_task};

/// Where a run persists: nowhere, or a checkpointer under a thread id.
#[derive(Clone)]
pub(crate) struct Persistence {
    pub(crate) saver: Arc<dyn Checkpointer>,
    pub(crate) thread_id: ThreadId,
    pub(crate) ns: String,
    /// User keys stored in every checkpoint this run writes.
    pub(crate) metadata: serde_json::Map<String, serde_json::Value>,
}

/// A delta chain grows until its bytes reach the snapshot it extends (or this floor), so
/// storage per step stays proportional to what the step wrote and a read replays at most about
/// twice the value's size.
const DELTA_FLOOR_BYTES: usize = 4096;
/// The longest delta chain before a fresh snapshot, bounding the rows a read touches.
const MAX_DELTA_CHAIN: usize = 1024;

/// How a channel is stored right now: its version and the chain that rebuilds it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChannelChain {
    version: Option<CheckpointId>,
    snapshot_bytes: usize,
    delta_bytes: usize,
    deltas: usize,
    /// Read under an earlier name: the next checkpoint stores it again, as a snapshot under
    /// its current name.
    rewrite: bool,
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
}

/// What a step (or an input) wrote: the channels per node, and the blobs to store.
struct StepWrites {
    written: Vec<(usize, ChannelSet)>,
    blobs: Vec<ChannelBlob>,
    /// The answers to interrupts the step ran on, for the checkpoint's metadata.
    answers: Vec<Answer>,
}

/// One finished task of a step.
struct Finished<S: State> {
    node: usize,
    update: S::Update,
    /// The encoded writes by channel index (empty without persistence).
    writes: Vec<(usize, Vec<u8>)>,
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
        }
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
        let (parent, step, state, chains, pauses) = match previous {
            Some(head) => (
                Some(head.id),
                head.step + 1,
                head.state,
                head.chains,
                head.pauses,
            ),
            None => (
                None,
                -1,
                Arc::new(S::default()),
                vec![ChannelChain::default(); S::CHANNELS.len()],
                self.pauses.clone().unwrap_or_default(),
            ),
        };
        let id = CheckpointId::new();
        let writes = match &self.persistence {
            Some(_) => encode_writes::<S>(&input, INPUT)?,
            None => Vec::new(),
        };
        let finished = vec![Finished::<S> {
            node: INPUT_WRITER,
            update: input,
            writes,
        }];
        let mut head = Head {
            epoch,
            id,
            step,
            state,
            chains,
            next: Vec::new(),
            barriers: BTreeMap::new(),
            pending: Vec::new(),
            pauses,
        };
        let writes = self.merge(&mut head, finished, step, id)?;
        let mut next: Vec<usize> = Vec::new();
        follow(&self.spec.start, &head.state, &self.deps, &mut next);
        next.sort_unstable();
        next.dedup();
        head.next = next;
        self.save(&head, parent, Source::Input, writes).await?;
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
        })
    }

    async fn run(&self, mut head: Head<S>) -> Result<S, GraphError> {
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
            self.pause_before(&head, step).await?;
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
            let mut finished = self.run_tasks(&head, step).instrument(span).await?;
            let ran: Vec<usize> = finished.iter().map(|f| f.node).collect();
            // A resume's command: its update joins the step's writes, its nodes the next step.
            let mut goto = Vec::new();
            if let Some(p) = &self.persistence {
                let (update, nodes) =
                    self.saved_command(&head.pending, head.id, step, &p.thread_id)?;
                finished.extend(update);
                goto = nodes;
            }
            let id = CheckpointId::new();
            let answers = interrupt::answers_in(&head.pending);
            let mut writes = self.merge(&mut head, finished, step, id)?;
            writes.answers = answers;
            head.next = self.next_nodes(&ran, &head.state, &mut head.barriers);
            if !goto.is_empty() {
                head.next.extend(goto);
                head.next.sort_unstable();
                head.next.dedup();
            }
            let parent = head.id;
            head.id = id;
            head.step = step;
            self.save(&head, Some(parent), Source::Loop, writes).await?;
            self.pause_after(&head, &ran).await?;
        }
        Ok(take_state(head.state))
    }

    /// Runs the step's tasks concurrently; tasks whose writes were saved before are not run.
    async fn run_tasks(&self, head: &Head<S>, step: i64) -> Result<Vec<Finished<S>>, GraphError> {
        let mut finished = Vec::with_capacity(head.next.len());
        let mut to_run = Vec::with_capacity(head.next.len());
        for &node in &head.next {
            let name = self.spec.nodes[node].name;
            let task_id = self
                .persistence
                .as_ref()
                .map(|p| TaskId::derive(head.id, &p.ns, step, name));
            let saved = self.persistence.as_ref().zip(task_id).and_then(|(p, id)| {
                saved_task::<S>(&head.pending, id, node, &p.thread_id, head.id)
            });
            match saved {
                Some(done) => finished.push(done?),
                None => to_run.push((node, task_id)),
            }
        }
        let thread_id = self.thread_id();
        let task = |node: usize, task_id: Option<TaskId>| {
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
            };
            // A step's only task needs no pending writes: the checkpoint that follows saves its
            // result. With siblings they protect its work when a sibling fails or the process
            // dies before the step ends.
            let shared_step = head.next.len() > 1;
            let persist = self.persistence.clone().zip(task_id).map(|(p, t)| SaveTo {
                persistence: p,
                epoch: head.epoch,
                checkpoint: head.id,
                task_id: t,
                pending_writes: shared_step,
            });
            run_task(
                Arc::clone(&spec.run),
                Arc::clone(&head.state),
                ctx,
                node,
                persist,
            )
            .instrument(tracing::debug_span!("node", node = spec.name))
        };
        let outcomes = if let [(node, task_id)] = to_run[..] {
            vec![task(node, task_id).await]
        } else {
            let handles: Vec<_> = to_run
                .iter()
                .map(|&(node, task_id)| tokio::spawn(task(node, task_id)))
                .collect();
            let mut outcomes = Vec::with_capacity(handles.len());
            for (handle, &(node, _)) in handles.into_iter().zip(&to_run) {
                outcomes.push(handle.await.unwrap_or_else(|join| {
                    Err(TaskFailure::Node(
                        node,
                        format!("node task was cancelled or panicked: {join}").into(),
                    ))
                }));
            }
            outcomes
        };
        let mut first_failure = None;
        let mut interrupts = Vec::new();
        for outcome in outcomes {
            match outcome {
                Ok(done) => finished.push(done),
                Err(TaskFailure::Interrupt(interrupt)) => interrupts.push(interrupt),
                Err(failure) => {
                    first_failure.get_or_insert(failure);
                }
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
        finished.sort_by_key(|f| f.node);
        Ok(finished)
    }

    /// Checks and applies the step's updates in node order, and prepares the blobs of the
    /// channels they changed under version `version`.
    fn merge(
        &self,
        head: &mut Head<S>,
        finished: Vec<Finished<S>>,
        step: i64,
        version: CheckpointId,
    ) -> Result<StepWrites, GraphError> {
        let mut replaced_by: Vec<Option<usize>> = vec![None; S::CHANNELS.len()];
        let mut written = Vec::with_capacity(finished.len());
        let mut changed = ChannelSet::new();
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
            }
            let channels = f.update.channels();
            changed = changed.union(channels);
            written.push((f.node, channels));
        }
        for (index, chain) in head.chains.iter().enumerate() {
            if chain.rewrite {
                changed.insert(index);
            }
        }
        let persist = self.persistence.is_some();
        let mut writes_by_channel: Vec<Vec<Vec<u8>>> = Vec::new();
        if persist {
            writes_by_channel.resize_with(S::CHANNELS.len(), Vec::new);
        }
        let state = Arc::make_mut(&mut head.state);
        for f in finished {
            for (channel, bytes) in f.writes {
                writes_by_channel[channel].push(bytes);
            }
            state.apply(f.update);
        }
        head.pending = Vec::new();
        let mut blobs = Vec::new();
        if persist {
            for channel in changed.iter() {
                let blob = self.blob(
                    head,
                    channel,
                    version,
                    replaced_by[channel].is_some(),
                    &writes_by_channel[channel],
                )?;
                blobs.push(blob);
            }
        }
        Ok(StepWrites {
            written,
            blobs,
            answers: Vec::new(),
        })
    }

    /// The blob storing `channel` at `version`: a delta of the step's writes when the channel's
    /// reducer allows it and the chain is still short, a snapshot otherwise.
    fn blob(
        &self,
        head: &mut Head<S>,
        channel: usize,
        version: CheckpointId,
        replaced: bool,
        writes: &[Vec<u8>],
    ) -> Result<ChannelBlob, GraphError> {
        let spec = &S::CHANNELS[channel];
        let chain = &mut head.chains[channel];
        let delta_len = writes.iter().map(|w| w.len() + 1).sum::<usize>() + 1;
        let base = chain.version.filter(|_| {
            spec.delta
                && !replaced
                && chain.deltas < MAX_DELTA_CHAIN
                && chain.delta_bytes + delta_len <= chain.snapshot_bytes.max(DELTA_FLOOR_BYTES)
        });
        let (kind, data) = match base {
            Some(base) => {
                let mut data = Vec::with_capacity(delta_len);
                data.push(b'[');
                for (i, write) in writes.iter().enumerate() {
                    if i > 0 {
                        data.push(b',');
                    }
                    data.extend_from_slice(write);
                }
                data.push(b']');
                chain.delta_bytes += data.len();
                chain.deltas += 1;
                (BlobKind::Delta { base }, data)
            }
            None => {
                let data =
                    head.state
                        .encode_channel(channel)
                        .map_err(|source| GraphError::Encode {
                            node: "",
                            field: spec.name,
                            source,
                        })?;
                limits::check_value(spec.name, &data)
                    .map_err(|e| GraphError::Checkpoint(e.into()))?;
                *chain = ChannelChain {
                    version: None,
                    snapshot_bytes: data.len(),
                    delta_bytes: 0,
                    deltas: 0,
                    rewrite: false,
                };
                (BlobKind::Snapshot, data)
            }
        };
        chain.version = Some(version);
        Ok(ChannelBlob {
            channel: spec.name.to_owned(),
            version,
            kind,
            data,
        })
    }

    /// Writes the head as a checkpoint, with the blobs of the channels its step changed.
    async fn save(
        &self,
        head: &Head<S>,
        parent: Option<CheckpointId>,
        source: Source,
        writes: StepWrites,
    ) -> Result<(), GraphError> {
        self.save_as(head, parent, source, writes, PutMode::Advance)
            .await
    }

    /// [`Executor::save`] with a put mode: a fork for an update on a past checkpoint.
    async fn save_as(
        &self,
        head: &Head<S>,
        parent: Option<CheckpointId>,
        source: Source,
        writes: StepWrites,
        mode: PutMode,
    ) -> Result<(), GraphError> {
        let Some(p) = &self.persistence else {
            return Ok(());
        };
        let channel_versions = S::CHANNELS
            .iter()
            .zip(&head.chains)
            .filter_map(|(spec, chain)| chain.version.map(|v| (spec.name.to_owned(), v)))
            .collect();
        let mut node_writes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (node, channels) in writes.written {
            node_writes
                .entry(self.node_name(node).to_owned())
                .or_default()
                .extend(channels.iter().map(|c| S::CHANNELS[c].name.to_owned()));
        }
        let checkpoint = Checkpoint {
            id: head.id,
            thread_id: p.thread_id.clone(),
            ns: p.ns.clone(),
            parent_id: parent,
            created_at: checkpoint::now(),
            channel_versions,
            next: head
                .next
                .iter()
                .map(|&n| self.spec.nodes[n].name.to_owned())
                .collect(),
            barriers: head.barriers.clone(),
            metadata: CheckpointMetadata {
                source,
                step: head.step,
                parents: BTreeMap::new(),
                writes: node_writes,
                pauses: head.pauses.clone(),
                answers: writes.answers,
                user: p.metadata.clone(),
            },
        };
        let new = NewCheckpoint {
            checkpoint,
            blobs: writes.blobs,
            mode,
            epoch: head.epoch,
        };
        p.saver.put(new).await?;
        Ok(())
    }

    fn node_name(&self, node: usize) -> &'static str {
        match self.spec.nodes.get(node) {
            Some(spec) => spec.name,
            None if node == END_WRITER => END,
            None if node == COMMAND_WRITER => COMMAND,
            None => INPUT,
        }
    }

    /// The nodes the edges of the nodes that just ran lead to, given the merged state.
    fn next_nodes(
        &self,
        ran: &[usize],
        state: &S,
        barriers: &mut BTreeMap<String, Vec<String>>,
    ) -> Vec<usize> {
        let mut next = Vec::new();
        for &node in ran {
            follow(&self.spec.edges[node], state, &self.deps, &mut next);
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

/// Evaluates `edges` on `state`, adding the nodes they lead to.
fn follow<S, D>(edges: &[Edge<S, D>], state: &S, deps: &D, next: &mut Vec<usize>) {
    for edge in edges {
        let target = match edge {
            Edge::To(target) => *target,
            Edge::Route { pick, .. } => pick(state, deps),
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
