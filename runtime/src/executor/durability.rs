//! Persistence of a run's steps, by durability mode: which steps get a checkpoint, whether the
//! loop waits for it, and the channel blobs each checkpoint stores.
//!
//! A step that is not saved (every step in [`Durability::Exit`], a step of only
//! `#[node(checkpoint = false)]` nodes in the others) keeps its writes in the head; the next
//! checkpoint records them with its own, so its blobs rebuild every channel those steps changed.
//! Before anything is written against the head's checkpoint — a task's error, a question, a
//! pause — and when the run ends, [`Executor::settle`] makes that checkpoint stored. Each step's
//! state is weighed against the graph's size budget before its checkpoint is written
//! ([`Executor::check_budget`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sync_wrapper::SyncWrapper;
use tracing::Instrument;

use super::sends::encode_sends;
use super::{Executor, Head};
use crate::budget::StateSize;
use crate::checkpoint::NodeFailure;
use crate::checkpoint::{
    self, Answer, BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointMetadata,
    Checkpointer, NewCheckpoint, PutMode, Source, limits,
};
use crate::error::GraphError;
use crate::ids::CheckpointId;
use crate::send::SENDS;
use crate::state::{ChannelSet, State};

/// When a run's checkpoints are written — LangGraph's `durability`. Set per graph with
/// [`Builder::durability`](crate::Builder::durability) and per handle with
/// [`Thread::durability`](crate::Thread::durability).
///
/// | mode | the loop waits for each checkpoint | a SIGKILL loses |
/// |---|---|---|
/// | `Sync` | yes | nothing finished: a resume re-runs only tasks whose writes were not saved |
/// | `Async` | no, one write in flight at a time | at most the step whose checkpoint was in flight (when the step running has one task) and the tasks of the step running whose writes were not saved |
/// | `Exit` | only the last one is written | every step since the last stored checkpoint |
///
/// In every mode a resume reaches the same final state a clean run does; what a crash costs is
/// how many finished nodes run again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// Each step's checkpoint is stored before the next step starts (the default). A finished
    /// step is never lost, and a task of a parallel step saves its writes as it finishes.
    #[default]
    Sync,
    /// The next step starts while the previous step's checkpoint is written; writes stay in
    /// order (at most one in flight, the next waits for it). The run's last checkpoint is
    /// stored before the call returns, and so is the checkpoint an error, a question or a pause
    /// is recorded against. A step of several tasks (a fan-out) first waits for the checkpoint
    /// in flight, then saves each task's writes as it finishes, as `Sync` does, so a crash
    /// re-runs only its unfinished tasks. A write that fails is reported at the next step
    /// boundary.
    Async,
    /// Only the state the run ends with is written: when it finishes, pauses, fails, stops or
    /// hits the recursion limit. Fastest, and a crash re-runs everything since the last stored
    /// checkpoint (the input, for a new thread: the run starts over).
    Exit,
}

/// What the steps since the head's last stored checkpoint wrote: the nodes and channels for its
/// metadata, and the encoded writes from which a channel's blob is built.
pub(super) struct StepWrites {
    /// What the last of those steps was.
    pub(super) source: Source,
    /// The channels each writer wrote, in order.
    pub(super) written: Vec<(usize, ChannelSet)>,
    /// Every channel written.
    changed: ChannelSet,
    /// The channels some write replaced (stored whole, not as a delta).
    replaced: ChannelSet,
    /// The encoded writes of each channel not replaced, in order (empty without persistence).
    by_channel: Vec<Vec<Vec<u8>>>,
    /// The answers to interrupts the steps ran on.
    pub(super) answers: Vec<Answer>,
    /// The failures the last step hands to error handlers.
    pub(super) failures: Vec<NodeFailure>,
    /// The subgraph calls the steps finished, by namespace, with their last checkpoints.
    pub(super) subgraphs: BTreeMap<String, CheckpointId>,
    /// The encoded size of every write of the steps.
    pub(super) bytes: usize,
}

impl StepWrites {
    pub(super) fn new(
        source: Source,
        written: Vec<(usize, ChannelSet)>,
        changed: ChannelSet,
        replaced: ChannelSet,
        by_channel: Vec<Vec<Vec<u8>>>,
    ) -> Self {
        Self {
            source,
            written,
            changed,
            replaced,
            by_channel,
            answers: Vec::new(),
            failures: Vec::new(),
            subgraphs: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// These writes followed by `later`'s, as one checkpoint records them.
    fn absorb(&mut self, later: StepWrites) {
        self.source = later.source;
        self.written.extend(later.written);
        self.changed = self.changed.union(later.changed);
        self.replaced = self.replaced.union(later.replaced);
        for (channel, writes) in later.by_channel.into_iter().enumerate() {
            if self.replaced.contains(channel) {
                self.by_channel[channel].clear();
            } else {
                self.by_channel[channel].extend(writes);
            }
        }
        self.answers.extend(later.answers);
        // What the handlers of the latest step are handed; earlier ones have run.
        self.failures = later.failures;
        self.subgraphs.extend(later.subgraphs);
        self.bytes += later.bytes;
    }
}

/// What of the head is stored.
#[derive(Default)]
pub(super) struct Saving {
    /// The run's latest checkpoint that is stored or being stored: the parent of the next.
    pub(super) parent: Option<CheckpointId>,
    /// The writes of the steps since then, when the head's own checkpoint is not written yet.
    unsaved: Option<StepWrites>,
    /// The checkpoint being written while the next step runs ([`Durability::Async`]).
    pub(super) in_flight: Option<InFlight>,
}

/// A checkpoint write of [`Durability::Async`] mode, driven by the run's own task: polled
/// alongside the next step's nodes, awaited before anything else is written. No task is
/// spawned for it, so a write costs no more hand-offs between threads than a `Sync` one.
pub(super) enum InFlight {
    /// Still being written.
    Writing(SyncWrapper<Write>),
    /// Landed while the next step ran.
    Landed,
    /// Failed while the next step ran; reported at the next boundary (boxed, so a run's state
    /// stays small).
    Failed(Box<CheckpointError>),
}

/// A checkpoint write's future; the run's state is shared between threads, so it is held in a
/// [`SyncWrapper`] (only ever reached through `&mut`).
type Write = Pin<Box<dyn Future<Output = Result<(), CheckpointError>> + Send>>;

impl InFlight {
    /// A write not started yet: its first poll comes with the next step's node, so what the
    /// backend does on the caller's thread (encoding, sending) overlaps with that node.
    fn new(write: impl Future<Output = Result<(), CheckpointError>> + Send + 'static) -> Self {
        Self::Writing(SyncWrapper::new(Box::pin(write)))
    }

    /// Drives the write to its end, keeping the outcome for [`Executor::landed`].
    pub(super) async fn drive(in_flight: &mut Option<Self>) {
        if let Some(Self::Writing(write)) = in_flight {
            *in_flight = Some(match write.get_mut().await {
                Ok(()) => Self::Landed,
                Err(error) => Self::Failed(Box::new(error)),
            });
        }
    }

    async fn finish(self) -> Result<(), CheckpointError> {
        match self {
            Self::Writing(write) => write.into_inner().await,
            Self::Landed => Ok(()),
            Self::Failed(error) => Err(*error),
        }
    }
}

impl Saving {
    /// A head read from (or written as) checkpoint `id`.
    pub(super) fn stored(id: CheckpointId) -> Self {
        Self {
            parent: Some(id),
            ..Self::default()
        }
    }

    /// The encoded size of the writes of the steps not stored yet.
    pub(super) fn unsaved_bytes(&self) -> usize {
        self.unsaved.as_ref().map_or(0, |w| w.bytes)
    }

    /// Whether the tasks of a step of `tasks` tasks save what they record against the head's
    /// checkpoint as each finishes: once the head is stored, in `Sync` mode always, in `Async`
    /// mode when the step has several (which first waits for the checkpoint in flight to land),
    /// in `Exit` mode never.
    pub(super) fn saves_tasks_at_once(&self, mode: Durability, tasks: usize) -> bool {
        self.unsaved.is_none()
            && match mode {
                Durability::Sync => true,
                Durability::Async => tasks > 1,
                Durability::Exit => false,
            }
    }
}

/// Writes `new`, and logs (at debug level) how long it took and how many bytes of channel
/// values it stored.
async fn timed_put(saver: &dyn Checkpointer, new: NewCheckpoint) -> Result<(), CheckpointError> {
    let id = new.checkpoint.id;
    let step = new.checkpoint.metadata.step;
    let bytes: usize = new.blobs.iter().map(|b| b.data.len()).sum();
    let started = std::time::Instant::now();
    let written = saver.put(new).await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match &written {
        Ok(()) => tracing::debug!(checkpoint = %id, step, bytes, micros, "checkpoint written"),
        Err(error) => {
            tracing::warn!(checkpoint = %id, step, bytes, micros, %error, "checkpoint write failed")
        }
    }
    written
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
    pub(super) version: Option<CheckpointId>,
    pub(super) snapshot_bytes: usize,
    pub(super) delta_bytes: usize,
    pub(super) deltas: usize,
    /// Read under an earlier name: the next checkpoint stores it again, as a snapshot under
    /// its current name.
    pub(super) rewrite: bool,
}

impl ChannelChain {
    /// The bytes stored to rebuild the channel: its snapshot and the deltas after it.
    pub(super) fn stored_bytes(&self) -> usize {
        self.snapshot_bytes + self.delta_bytes
    }

    /// A channel not stored yet that the next checkpoint stores whole.
    pub(crate) fn rewritten() -> Self {
        Self {
            rewrite: true,
            ..Self::default()
        }
    }
}

impl<S: State, D: Send + Sync + 'static> Executor<'_, S, D> {
    /// Records that the head (already advanced to its new id and step) was reached by a step
    /// that wrote `writes`, and writes its checkpoint unless the step is `durable: false` or the
    /// mode is [`Durability::Exit`].
    pub(super) async fn commit(
        &self,
        head: &mut Head<S>,
        writes: StepWrites,
        durable: bool,
    ) -> Result<(), GraphError> {
        if self.persistence.is_none() {
            return Ok(());
        }
        let writes = match head.saving.unsaved.take() {
            Some(mut earlier) => {
                earlier.absorb(writes);
                earlier
            }
            None => writes,
        };
        if !durable || self.durability == Durability::Exit {
            head.saving.unsaved = Some(writes);
            return Ok(());
        }
        self.store(head, writes, self.durability == Durability::Async)
            .await
    }

    /// Weighs the state a step reached against the graph's budget, before its checkpoint is
    /// written: cheaply bounded by the bytes its chains hold and the steps' writes, measured
    /// field by field only when that bound is over the budget.
    pub(super) fn check_budget(
        &self,
        head: &mut Head<S>,
        writes: &StepWrites,
        step: i64,
    ) -> Result<(), GraphError> {
        let (Some(budget), Some(p)) = (&self.budget, &self.persistence) else {
            return Ok(());
        };
        let bound = head
            .chains
            .iter()
            .map(ChannelChain::stored_bytes)
            .sum::<usize>()
            + head.saving.unsaved_bytes()
            + writes.bytes;
        if !budget.due(&mut head.weighing, bound, writes.bytes) {
            return Ok(());
        }
        let size = StateSize::of(&*head.state);
        head.weighing.weighed(size.total);
        budget.check(&p.thread_id, &p.ns, step, &size)
    }

    /// Makes the head's checkpoint stored: waits for a write in flight, and writes the head if
    /// its steps were not saved.
    pub(super) async fn settle(&self, head: &mut Head<S>) -> Result<(), GraphError> {
        self.landed(head).await?;
        if let Some(writes) = head.saving.unsaved.take() {
            self.store(head, writes, false).await?;
        }
        Ok(())
    }

    /// Writes the head's checkpoint as the child of the last one stored; in the background
    /// when `in_background`, after the write in flight has landed.
    async fn store(
        &self,
        head: &mut Head<S>,
        writes: StepWrites,
        in_background: bool,
    ) -> Result<(), GraphError> {
        let Some(p) = &self.persistence else {
            return Ok(());
        };
        let new = self.new_checkpoint(head, head.saving.parent, writes, PutMode::Advance)?;
        self.landed(head).await?;
        if in_background {
            // Reported as it is handed to the write in flight.
            self.emit_checkpoint(&new, &head.state).await;
            let saver = Arc::clone(&p.saver);
            let write = async move { timed_put(&*saver, new).await };
            head.saving.in_flight = Some(InFlight::new(write.in_current_span()));
        } else {
            let watched = self
                .watching(crate::events::StreamMode::CHECKPOINTS)
                .then(|| new.clone());
            timed_put(&*p.saver, new).await?;
            if let Some(new) = watched {
                self.emit_checkpoint(&new, &head.state).await;
            }
        }
        head.saving.parent = Some(head.id);
        Ok(())
    }

    /// Waits for the checkpoint in flight, if any.
    pub(super) async fn landed(&self, head: &mut Head<S>) -> Result<(), GraphError> {
        if let Some(write) = head.saving.in_flight.take() {
            write.finish().await?;
        }
        Ok(())
    }

    /// The head as a checkpoint with parent `parent`, storing the blobs of every channel
    /// `writes` changed.
    pub(super) fn new_checkpoint(
        &self,
        head: &mut Head<S>,
        parent: Option<CheckpointId>,
        writes: StepWrites,
        mode: PutMode,
    ) -> Result<NewCheckpoint, GraphError> {
        let p = self
            .persistence
            .as_ref()
            .expect("a checkpoint needs a thread");
        let mut blobs = self.blobs(head, &writes)?;
        let mut channel_versions: BTreeMap<String, CheckpointId> = S::CHANNELS
            .iter()
            .zip(&head.chains)
            .filter_map(|(spec, chain)| chain.version.map(|v| (spec.name.to_owned(), v)))
            .collect();
        // The inputs the next step's tasks were sent, stored with the checkpoint scheduling them.
        if !head.sends.is_empty() {
            blobs.push(ChannelBlob {
                channel: SENDS.to_owned(),
                version: head.id,
                kind: BlobKind::Snapshot,
                data: encode_sends(self.spec, &head.sends)?,
            });
            channel_versions.insert(SENDS.to_owned(), head.id);
        }
        // The channels each writer wrote over the steps recorded, in field order.
        let mut by_writer: BTreeMap<String, ChannelSet> = BTreeMap::new();
        for (node, channels) in writes.written {
            let seen = by_writer
                .entry(self.node_name(node).to_owned())
                .or_default();
            *seen = seen.union(channels);
        }
        let node_writes = by_writer
            .into_iter()
            .map(|(node, channels)| {
                let names = channels.iter().map(|c| S::CHANNELS[c].name.to_owned());
                (node, names.collect())
            })
            .collect();
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
            metadata: {
                let mut metadata = CheckpointMetadata::new(writes.source, head.step);
                metadata.parents = head.parents.clone();
                metadata.writes = node_writes;
                metadata.pauses = head.pauses.clone();
                metadata.answers = writes.answers;
                metadata.failures = writes.failures;
                metadata.subgraphs = writes.subgraphs;
                metadata.state_version = S::VERSION;
                metadata.token_usage = *p
                    .usage
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                metadata.user = p.metadata.clone();
                metadata
            },
        };
        Ok(NewCheckpoint {
            checkpoint,
            blobs,
            mode,
            epoch: head.epoch,
        })
    }

    /// The blobs storing, at the head's id, the channels `writes` changed and those read under
    /// an earlier name.
    fn blobs(
        &self,
        head: &mut Head<S>,
        writes: &StepWrites,
    ) -> Result<Vec<ChannelBlob>, GraphError> {
        let mut changed = writes.changed;
        for (index, chain) in head.chains.iter().enumerate() {
            if chain.rewrite {
                changed.insert(index);
            }
        }
        changed
            .iter()
            .map(|channel| {
                let deltas = writes
                    .by_channel
                    .get(channel)
                    .map_or(&[][..], Vec::as_slice);
                self.blob(head, channel, writes.replaced.contains(channel), deltas)
            })
            .collect()
    }

    /// The blob storing `channel` at the head's id: a delta of the writes when the channel's
    /// reducer allows it and the chain is still short, a snapshot otherwise.
    fn blob(
        &self,
        head: &mut Head<S>,
        channel: usize,
        replaced: bool,
        writes: &[Vec<u8>],
    ) -> Result<ChannelBlob, GraphError> {
        let spec = &S::CHANNELS[channel];
        let version = head.id;
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
}
