//! The checkpointer contract: what every backend stores and how the runtime reads it back.
//!
//! A checkpoint is written after every step. It records the versions of all channels, but
//! carries only the values of the channels that step changed ([`ChannelBlob`]s). A channel's
//! version is the id of the checkpoint that last wrote it, so a value unchanged for a thousand
//! steps is stored once. Growing collections (`append`, `messages`, `merge`) are stored as
//! deltas — the step's writes — chained to an earlier snapshot; the runtime writes a fresh
//! snapshot when the chain grows as large as the snapshot it extends.

mod chain;
pub mod limits;
mod memory;
mod records;
mod transfer;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::failure::NodeFailure;
use serde::{Deserialize, Serialize};

use crate::ids::{CheckpointId, Epoch, TaskId, ThreadId};
use crate::questions::InterruptId;

pub use chain::walk_chain;
pub use memory::MemorySaver;
pub use records::ThreadRecords;
pub use transfer::{Transferred, transfer_thread};

/// The current time, truncated to the microsecond precision every backend keeps.
pub fn now() -> SystemTime {
    from_micros(to_micros(SystemTime::now()))
}

/// A time as microseconds since the Unix epoch, as backends store it.
pub fn to_micros(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// A time read back from microseconds since the Unix epoch.
pub fn from_micros(micros: i64) -> SystemTime {
    if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    }
}

/// Why a checkpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The input of an `invoke`.
    Input,
    /// The end of a step.
    Loop,
    /// A manual state update.
    Update,
    /// A copy of an earlier checkpoint that a new branch of history starts from.
    Fork,
}

/// What a checkpoint says about itself, for history listings and audits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckpointMetadata {
    /// Why it was written.
    pub source: Source,
    /// The step: -1 for the first input of a thread, 0 for the first step's result, and so on.
    pub step: i64,
    /// The checkpoint of each enclosing graph, by namespace, for a subgraph's checkpoint.
    #[serde(default)]
    pub parents: BTreeMap<String, CheckpointId>,
    /// The channels each node wrote in the step this checkpoint ends, by node name.
    #[serde(default)]
    pub writes: BTreeMap<String, Vec<String>>,
    /// The nodes this thread's runs pause before and after, set on its thread handle
    /// (the runtime's `Thread::interrupt_before`) and carried from
    /// checkpoint to checkpoint, so a resume in another process keeps them.
    #[serde(default, skip_serializing_if = "Pauses::is_empty")]
    pub pauses: Pauses,
    /// The answers to interrupts the step this checkpoint ends ran on (`resume_with`), for
    /// audits: who was asked, and what they answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
    /// The nodes that failed in the step this checkpoint ends and whose error handlers
    /// (`#[node(on_error = handler)]`) run next, with their errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<NodeFailure>,
    /// The subgraph calls that finished in the step this checkpoint ends: each call's namespace
    /// and the last checkpoint it wrote there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subgraphs: BTreeMap<String, CheckpointId>,
    /// The version of the state type that wrote it (`#[state(version = n)]`; 1 for a type that
    /// declares none). Reading it with a later version migrates it; with an earlier one is an
    /// error.
    #[serde(default = "first_version", skip_serializing_if = "is_first_version")]
    pub state_version: u32,
    /// The tokens the model calls of the run that wrote it used, from the run's start up to
    /// this checkpoint (as the model layer reports them); `None` when no call reported any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_usage: Option<TokenUsage>,
    /// Keys the user attached (a run id, a user id, an approver), filterable in listings. Stored
    /// flat beside the keys above, which a user key may not shadow.
    #[serde(flatten)]
    pub user: serde_json::Map<String, serde_json::Value>,
}

/// Tokens used by model calls, as providers count them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenUsage {
    /// Tokens read.
    pub input_tokens: u64,
    /// Tokens written.
    pub output_tokens: u64,
    /// Both, as the provider totals them.
    pub total_tokens: u64,
}

impl TokenUsage {
    /// `input` tokens read, `output` written, `total` as the provider totals them.
    pub fn new(input: u64, output: u64, total: u64) -> Self {
        Self {
            input_tokens: input,
            output_tokens: output,
            total_tokens: total,
        }
    }
}

impl std::ops::AddAssign for TokenUsage {
    fn add_assign(&mut self, other: Self) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
    }
}

impl CheckpointMetadata {
    /// The metadata of a checkpoint written for `source` at `step`, with nothing else recorded
    /// (no parents, node writes, pauses, answers, failures, subgraph calls or user keys) and
    /// the first state version; set the other fields on it as needed.
    pub fn new(source: Source, step: i64) -> Self {
        Self {
            source,
            step,
            parents: BTreeMap::new(),
            writes: BTreeMap::new(),
            pauses: Pauses::default(),
            answers: Vec::new(),
            failures: Vec::new(),
            subgraphs: BTreeMap::new(),
            state_version: first_version(),
            token_usage: None,
            user: serde_json::Map::new(),
        }
    }

    /// The keys stategraph writes itself; user metadata may not use them.
    pub const RESERVED_KEYS: &'static [&'static str] = &[
        "source",
        "step",
        "parents",
        "writes",
        "pauses",
        "answers",
        "failures",
        "subgraphs",
        "state_version",
        "token_usage",
    ];

    /// The metadata as one JSON object, as backends store and filter it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("metadata is plain JSON")
    }

    /// Whether every key of `filter` is present with an equal value (the filter of
    /// [`ListQuery`]).
    pub fn matches(&self, filter: &BTreeMap<String, serde_json::Value>) -> bool {
        if filter.is_empty() {
            return true;
        }
        let json = self.to_json();
        filter.iter().all(|(key, want)| json.get(key) == Some(want))
    }
}

/// The version of a state type that declares none, and of checkpoints that record none.
fn first_version() -> u32 {
    1
}

fn is_first_version(version: &u32) -> bool {
    *version == 1
}

/// An answer to an interrupt, as a checkpoint's metadata records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The interrupt answered.
    pub id: InterruptId,
    /// The node that asked.
    pub node: String,
    /// The answer, as JSON.
    pub answer: serde_json::Value,
}

/// The nodes a thread's runs pause before and after, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pauses {
    /// Pause before these nodes run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<String>,
    /// Pause after these nodes ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
}

impl Pauses {
    /// Whether no pause is set.
    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty()
    }
}

/// One checkpoint, without its channel values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Its id; later checkpoints have greater ids.
    pub id: CheckpointId,
    /// The thread it belongs to.
    pub thread_id: ThreadId,
    /// The namespace: `""` for the root graph, a path for a subgraph.
    pub ns: String,
    /// The checkpoint this one continued from; `None` for the first of a thread.
    pub parent_id: Option<CheckpointId>,
    /// When it was written, with microsecond precision (what every backend keeps).
    pub created_at: SystemTime,
    /// The version (the id of the writing checkpoint) of every channel that has a value.
    pub channel_versions: BTreeMap<String, CheckpointId>,
    /// The nodes that run in the next step, in order; empty when the run reached END.
    pub next: Vec<String>,
    /// For each join (`[a, b] -> c`, keyed by its target), the sources that have finished
    /// since it last fired.
    #[serde(default)]
    pub barriers: BTreeMap<String, Vec<String>>,
    /// Source, step, node writes and user keys.
    pub metadata: CheckpointMetadata,
}

/// How a [`ChannelBlob`] holds its channel's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobKind {
    /// The whole value.
    Snapshot,
    /// The writes of one step (a JSON array), to replay on top of the blob at `base`.
    Delta {
        /// The version of the channel this delta extends.
        base: CheckpointId,
    },
}

/// One channel's value at one version, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelBlob {
    /// The channel (field) name.
    pub channel: String,
    /// The version: the id of the checkpoint that wrote it.
    pub version: CheckpointId,
    /// A whole value or a delta.
    pub kind: BlobKind,
    /// JSON bytes.
    pub data: Vec<u8>,
}

/// A task's write, saved as soon as the task finishes so a resume does not run it again.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingWrite {
    /// The task that wrote it.
    pub task_id: TaskId,
    /// The node the task ran.
    pub node: String,
    /// Its position among the task's writes; special writes use the negative
    /// [`PendingWrite::ERROR_IDX`].
    pub idx: i32,
    /// The channel written, or a special channel such as [`PendingWrite::ERROR`].
    pub channel: String,
    /// JSON bytes.
    pub value: Vec<u8>,
}

impl PendingWrite {
    /// The special channel recording that a task failed (its value is the error text).
    pub const ERROR: &'static str = "__error__";
    /// The special channel recording that a task finished without writing any channel.
    pub const NO_WRITES: &'static str = "__no_writes__";
    /// The index of an error write; a later error write for the same task replaces it.
    pub const ERROR_IDX: i32 = -1;
    /// The special channel recording a question a task asked (`ctx.interrupt`): its id, call
    /// number, payload and time.
    pub const INTERRUPT: &'static str = "__interrupt__";
    /// The index of an interrupt write; a later interrupt of the same task replaces it.
    pub const INTERRUPT_IDX: i32 = -2;
    /// The special channel recording the answers to a task's interrupts, by call number.
    pub const RESUME: &'static str = "__resume__";
    /// The index of an answers write; later answers (which include the earlier) replace it.
    pub const RESUME_IDX: i32 = -3;
    /// The special channel recording, by call number, the id of the question each of a task's
    /// answers answered (a question a subgraph asked and its task relayed keeps the id it was
    /// asked under), for the checkpoint's audit of answers.
    pub const ANSWERED: &'static str = "__answered__";
    /// The index of an answered-ids write; later ones (which include the earlier) replace it.
    pub const ANSWERED_IDX: i32 = -4;
    /// The special channel marking a paused thread expired by an expiry policy (its value is
    /// the time, in microseconds).
    pub const EXPIRED: &'static str = "__expired__";
    /// The index of an expiry mark.
    pub const EXPIRED_IDX: i32 = -5;
    /// The special channel saving the results of a task's `ctx.once` calls, by call number,
    /// when the task paused or failed after them.
    pub const ONCE: &'static str = "__once__";
    /// The index of a `once` write; later results (which include the earlier) replace it.
    pub const ONCE_IDX: i32 = -6;
    /// The channel of a task's failed attempts under a retry policy: a JSON list of
    /// the runtime's `Attempt`s.
    pub const ATTEMPTS: &'static str = "__attempts__";
    /// The index of the failed-attempts write (negative: it replaces the task's earlier one).
    pub const ATTEMPTS_IDX: i32 = -7;
    /// The channel of a task whose node failed into its error handler: its
    /// [`NodeFailure`](crate::NodeFailure), at index 0 (the task is finished: it is not run
    /// again).
    pub const FAILED: &'static str = "__failed__";

    /// The writes on special `channel` among `pending` whose task has no result (no write
    /// with an index of 0 or more): the open questions, or the failures not yet retried
    /// successfully.
    pub fn unfinished<'a>(
        pending: &'a [PendingWrite],
        channel: &'a str,
    ) -> impl Iterator<Item = &'a PendingWrite> + 'a {
        pending.iter().filter(move |w| {
            w.channel == channel && !pending.iter().any(|r| r.task_id == w.task_id && r.idx >= 0)
        })
    }
}

/// How a put relates to the thread's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PutMode {
    /// The checkpoint continues the thread: its parent must be the latest checkpoint of its
    /// thread and namespace (or `None` when there is none), otherwise the put fails with
    /// [`CheckpointError::Conflict`] and stores nothing. This is how two processes advancing
    /// one thread are detected instead of silently forking its history.
    #[default]
    Advance,
    /// The checkpoint deliberately starts a new branch from any earlier checkpoint (time
    /// travel), or is copied in from elsewhere. It becomes the latest.
    Fork,
}

/// A checkpoint to store, with the blobs of the channels it changed.
#[derive(Debug, Clone)]
pub struct NewCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// One blob for each channel this put adds. Storing a blob that already exists (same
    /// channel and version) keeps the stored one.
    pub blobs: Vec<ChannelBlob>,
    /// Whether the parent must be the latest checkpoint.
    pub mode: PutMode,
    /// The ownership epoch of the writer ([`Checkpointer::claim`]): the put is refused with
    /// [`CheckpointError::Fenced`] unless it is still the thread's epoch. `None` writes without
    /// that check — for tools that own the store alone (imports, tests); the runtime always
    /// claims the thread and sets it.
    pub epoch: Option<Epoch>,
}

/// A stored checkpoint with what is needed to rebuild its state.
#[derive(Debug, Clone)]
pub struct CheckpointTuple {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// For each channel in `channel_versions`, the blobs that rebuild its value: a snapshot
    /// first, then the deltas written after it, oldest first.
    pub channels: BTreeMap<String, Vec<ChannelBlob>>,
    /// The writes saved against this checkpoint, ordered by task id and index.
    pub pending_writes: Vec<PendingWrite>,
}

/// Which checkpoints [`Checkpointer::list`] returns: all that match every field set, newest
/// first.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only this thread; `None` for every thread.
    pub thread_id: Option<ThreadId>,
    /// Only this namespace; `None` for every namespace.
    pub ns: Option<String>,
    /// Only checkpoints older than this one.
    pub before: Option<CheckpointId>,
    /// At most this many (applied last).
    pub limit: Option<usize>,
    /// Only checkpoints whose metadata has each key with an equal value: `source`, `step`, or
    /// a user key such as a run id. Keys are data, never SQL: any key is safe to pass.
    pub filter: BTreeMap<String, serde_json::Value>,
}

impl ListQuery {
    /// Every checkpoint of `thread_id`.
    pub fn thread(thread_id: ThreadId) -> Self {
        Self {
            thread_id: Some(thread_id),
            ..Self::default()
        }
    }

    /// Only namespace `ns`.
    pub fn ns(mut self, ns: impl Into<String>) -> Self {
        self.ns = Some(ns.into());
        self
    }

    /// Only checkpoints older than `id`.
    pub fn before(mut self, id: CheckpointId) -> Self {
        self.before = Some(id);
        self
    }

    /// At most `n` checkpoints.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Only checkpoints whose metadata has `key` equal to `value`.
    pub fn filter(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.filter.insert(key.into(), value.into());
        self
    }

    /// Whether `checkpoint` matches every field but `limit`.
    pub fn matches(&self, checkpoint: &Checkpoint) -> bool {
        self.thread_id
            .as_ref()
            .is_none_or(|t| *t == checkpoint.thread_id)
            && self.ns.as_deref().is_none_or(|ns| ns == checkpoint.ns)
            && self.before.is_none_or(|before| checkpoint.id < before)
            && checkpoint.metadata.matches(&self.filter)
    }
}

/// Where a thread is, from its latest root checkpoint and the writes saved against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ThreadStatus {
    /// The run reached END: nothing is scheduled (idle).
    Finished,
    /// Nodes are scheduled and none is paused or failed: the thread is running, or stopped by
    /// a crash, a shutdown or the recursion limit; `resume()` continues it.
    Pending,
    /// A node asked a question (or a pause fired) that waits for an answer (`resume_with`);
    /// `thread.state()` shows the questions and when they were asked.
    Interrupted,
    /// A node of the step failed and has not succeeded since; `resume()` runs it again.
    Errored,
    /// It waited for an answer longer than an expiry policy allows (the runtime's `expire_paused`):
    /// it can no longer be resumed.
    Expired,
}

impl ThreadStatus {
    /// Every status.
    pub const ALL: [ThreadStatus; 5] = [
        ThreadStatus::Finished,
        ThreadStatus::Pending,
        ThreadStatus::Interrupted,
        ThreadStatus::Errored,
        ThreadStatus::Expired,
    ];

    /// The status's name, as stored and queried: `finished`, `pending`, `interrupted`,
    /// `errored`.
    pub fn name(self) -> &'static str {
        match self {
            ThreadStatus::Finished => "finished",
            ThreadStatus::Pending => "pending",
            ThreadStatus::Interrupted => "interrupted",
            ThreadStatus::Errored => "errored",
            ThreadStatus::Expired => "expired",
        }
    }

    /// The status named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The status of a thread whose head schedules `next` nodes (empty: finished) and has the
    /// `pending` writes: expired if an expiry policy marked it, else interrupted if a task's
    /// question has neither an answer nor a result, else errored if a task's error has no
    /// result, else pending (an answered question whose run was cut short is pending: `resume`
    /// runs on with the saved answer). Every backend decides the same way.
    pub fn of(finished: bool, pending: &[PendingWrite]) -> Self {
        if finished {
            return ThreadStatus::Finished;
        }
        if pending.iter().any(|w| w.channel == PendingWrite::EXPIRED) {
            return ThreadStatus::Expired;
        }
        let waiting = PendingWrite::unfinished(pending, PendingWrite::INTERRUPT)
            .any(|w| crate::questions::waits(pending, w));
        if waiting {
            ThreadStatus::Interrupted
        } else if PendingWrite::unfinished(pending, PendingWrite::ERROR)
            .next()
            .is_some()
        {
            ThreadStatus::Errored
        } else {
            ThreadStatus::Pending
        }
    }
}

/// One thread, as [`Checkpointer::list_threads`] describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadInfo {
    /// The thread.
    pub thread_id: ThreadId,
    /// Its latest root checkpoint.
    pub head: CheckpointId,
    /// When that checkpoint was written.
    pub updated_at: SystemTime,
    /// The step of that checkpoint.
    pub step: i64,
    /// Finished, pending, interrupted or errored.
    pub status: ThreadStatus,
}

impl ThreadInfo {
    /// The description of a thread whose latest root checkpoint is `head`, with the `pending`
    /// writes saved against it.
    pub fn from_head(head: &Checkpoint, pending: &[PendingWrite]) -> Self {
        Self {
            thread_id: head.thread_id.clone(),
            head: head.id,
            updated_at: head.created_at,
            step: head.metadata.step,
            status: ThreadStatus::of(head.next.is_empty(), pending),
        }
    }
}

/// Which threads [`Checkpointer::list_threads`] returns, ordered by thread id.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ThreadQuery {
    /// Only threads whose id sorts after this one (the last id of the previous page).
    pub after: Option<ThreadId>,
    /// At most this many. A thread that cannot be read, left out of the listing
    /// ([`CheckpointError::report_skipped`]), does not count: a page holds fewer only when the
    /// listing ended.
    pub limit: Option<usize>,
    /// Only threads in this status.
    pub status: Option<ThreadStatus>,
    /// Only threads whose latest checkpoint is older than this (for retention sweeps).
    pub updated_before: Option<SystemTime>,
    /// Only threads whose latest root checkpoint's metadata has each key with an equal value
    /// (as [`ListQuery::filter`]): the user keys a runtime `Thread` stamps on its
    /// checkpoints (a user id, a tenant), or `step`. Keys are data, never SQL.
    pub filter: BTreeMap<String, serde_json::Value>,
}

impl ThreadQuery {
    /// Only threads in status `status`.
    pub fn status(mut self, status: ThreadStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only threads whose latest root checkpoint's metadata has `key` equal to `value`.
    pub fn filter(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.filter.insert(key.into(), value.into());
        self
    }

    /// Only threads whose latest checkpoint is older than `time`.
    pub fn updated_before(mut self, time: SystemTime) -> Self {
        self.updated_before = Some(time);
        self
    }

    /// Only threads whose id sorts after `thread_id` (the last of the previous page).
    pub fn after(mut self, thread_id: ThreadId) -> Self {
        self.after = Some(thread_id);
        self
    }

    /// At most `n` threads.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Whether the stored metadata (JSON text) of checkpoint `head` of `thread_id` matches
    /// `filter`, for a backend that narrowed the candidates in its own query language;
    /// [`CheckpointError::Corrupt`] if it does not decode.
    pub fn filter_matches_stored(
        &self,
        thread_id: &ThreadId,
        head: CheckpointId,
        metadata: &[u8],
    ) -> Result<bool, CheckpointError> {
        let metadata: CheckpointMetadata = serde_json::from_slice(metadata).map_err(|e| {
            CheckpointError::corrupt(
                thread_id,
                head,
                format!("column `metadata` does not decode: {e}"),
            )
        })?;
        Ok(metadata.matches(&self.filter))
    }

    /// Whether the thread `info` describes, whose latest root checkpoint has `metadata`,
    /// matches every field but `limit`.
    pub fn matches(&self, info: &ThreadInfo, metadata: &CheckpointMetadata) -> bool {
        self.after
            .as_ref()
            .is_none_or(|after| info.thread_id > *after)
            && self.status.is_none_or(|s| s == info.status)
            && self.updated_before.is_none_or(|t| info.updated_at < t)
            && metadata.matches(&self.filter)
    }
}

/// What [`Checkpointer::prune`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    /// The latest checkpoint of each namespace, with its pending writes and every blob it
    /// needs; the rest of the history goes.
    KeepLatest,
    /// Nothing: the threads are deleted.
    Delete,
}

/// A checkpointer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The storage backend failed (connection, I/O, constraint).
    #[error("checkpoint storage failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value cannot be read back as the current state type.
    #[error(
        "checkpoint {checkpoint} of thread `{thread_id}` cannot be read: channel `{channel}` does not decode as the current state type: {source}"
    )]
    Decode {
        /// The thread.
        thread_id: ThreadId,
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// The channel (field) that failed.
        channel: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A put's parent is not the thread's latest checkpoint: another process (or task)
    /// advanced the thread since this run read it. Nothing was stored.
    #[error(
        "thread `{thread_id}` (namespace `{ns}`) was advanced by another writer: this run continued from {} but the latest checkpoint is {}; reload the thread and resume, or fork explicitly",
        show(expected),
        show(latest)
    )]
    Conflict {
        /// The thread.
        thread_id: ThreadId,
        /// The namespace.
        ns: String,
        /// The parent the put expected to be latest.
        expected: Option<CheckpointId>,
        /// The latest checkpoint found.
        latest: Option<CheckpointId>,
    },
    /// A copy's destination thread already has checkpoints.
    #[error("cannot copy into thread `{0}`: it already has checkpoints; delete it first")]
    ThreadExists(ThreadId),
    /// A put names a parent that does not exist (a fork from nowhere).
    #[error(
        "checkpoint {parent} of thread `{thread_id}` does not exist, so nothing can continue from it"
    )]
    MissingParent {
        /// The thread.
        thread_id: ThreadId,
        /// The missing parent.
        parent: CheckpointId,
    },
    /// User metadata uses a key stategraph writes itself.
    #[error(
        "metadata key `{0}` is reserved by stategraph (source, step, parents, writes, pauses, answers, failures, subgraphs, state_version, token_usage); pick another name"
    )]
    ReservedMetadataKey(String),
    /// A value outside the limits of the contract (see [`limits`]); nothing was stored.
    #[error("refused before anything was stored: {0}")]
    Limit(#[from] limits::LimitError),
    /// A write carries an ownership epoch that is no longer the thread's: another run took the
    /// thread over ([`Checkpointer::claim`]) after this one did. Nothing was stored.
    #[error(
        "thread `{thread_id}` was taken over by another run (this run holds epoch {epoch}, the thread is now at {}); this run stops without writing, and the thread goes on with its new owner",
        show_epoch(current)
    )]
    Fenced {
        /// The thread.
        thread_id: ThreadId,
        /// The epoch the write carried.
        epoch: Epoch,
        /// The thread's epoch now, if it has one.
        current: Option<Epoch>,
    },
    /// A conditional change ([`Checkpointer::claim_if`], [`Checkpointer::delete_thread_if`])
    /// found that another run claimed the thread after the epoch it was decided on. Nothing
    /// was changed.
    #[error(
        "thread `{thread_id}` was claimed by another run since it was read (expected {}, found {}); nothing was changed",
        show_epoch(expected),
        show_epoch(current)
    )]
    Superseded {
        /// The thread.
        thread_id: ThreadId,
        /// The epoch the change was decided on.
        expected: Option<Epoch>,
        /// The thread's epoch now.
        current: Option<Epoch>,
    },
    /// A checkpoint written by a later version of the state type than this code knows.
    #[error(
        "checkpoint {checkpoint} of thread `{thread_id}` was written by version {stored} of the state type, and this code knows versions up to {known}: upgrade the code before reading it"
    )]
    NewerStateVersion {
        /// The thread.
        thread_id: ThreadId,
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// The version that wrote it.
        stored: u32,
        /// The latest version this code knows.
        known: u32,
    },
    /// A checkpoint of an earlier version of the state type that could not be migrated: no
    /// migration is declared from it, or the migration failed or panicked. Nothing stored
    /// changed.
    #[error(
        "checkpoint {checkpoint} of thread `{thread_id}` holds version {from} of the state type, and migrating it to version {to} failed: {message}"
    )]
    Migration {
        /// The thread.
        thread_id: ThreadId,
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// The version stored.
        from: u32,
        /// The version migrated to.
        to: u32,
        /// What went wrong (at most 1 KiB of it).
        message: String,
    },
    /// A stored channel that the current state type does not have, and that the type does not
    /// declare renamed (`#[state(renamed_from = "…")]`) or removed (`#[state(removed(…))]`).
    /// Reading on would drop its value silently.
    #[error(
        "checkpoint {checkpoint} of thread `{thread_id}` holds channel `{channel}`, which the state type does not have; if the field was renamed, mark the new field `#[state(renamed_from = \"{channel}\")]`, if it was removed on purpose, list it in `#[state(removed(\"{channel}\"))]` on the struct"
    )]
    UnknownChannel {
        /// The thread.
        thread_id: ThreadId,
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// The stored channel's name (at most [`limits::MAX_NAME_BYTES`] long).
        channel: String,
    },
    /// A channel's stored history is broken (a delta whose base is missing).
    #[error("checkpoint {checkpoint} of thread `{thread_id}` is corrupt: {detail}")]
    Corrupt {
        /// The thread.
        thread_id: ThreadId,
        /// The checkpoint.
        checkpoint: CheckpointId,
        /// What is wrong.
        detail: String,
    },
}

/// Storage for checkpoints: the one contract every backend implements, built-in or your own.
///
/// All methods are async and must not block the executor. The trait is object safe, so both
/// `C: Checkpointer` and `Arc<dyn Checkpointer>` work.
#[async_trait]
pub trait Checkpointer: Send + Sync + 'static {
    /// Creates or migrates the storage. Idempotent.
    async fn setup(&self) -> Result<(), CheckpointError>;

    /// The checkpoint `id` of `thread_id` in `ns`, or the latest one when `id` is `None`.
    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError>;

    /// Checkpoints matching `query`, newest first.
    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError>;

    /// Takes ownership of thread `thread_id` for a run and returns the run's epoch: greater than
    /// every epoch the thread had (`max(previous + 1, now in microseconds)`, so it grows even
    /// across a deletion of the thread). From then on, a put or put_writes carrying an older
    /// epoch is refused with [`CheckpointError::Fenced`].
    ///
    /// A write already in flight when the claim is made either completes before the claim does
    /// (so a reader after the claim sees it) or is refused: a process that resumes a thread
    /// never loses to a write of a dead one. Claiming a thread with no checkpoints is allowed
    /// (a run claims before its first put).
    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError>;

    /// The thread's ownership epoch now (the last claim's), or `None` when it was never claimed
    /// or was deleted since. Reading it changes nothing.
    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError>;

    /// Takes ownership of the thread as [`Checkpointer::claim`] does, but only if its epoch is
    /// still `expected` (`None`: it has none), and stores `writes` against checkpoint `id` of
    /// namespace `ns` in the same atomic step. When another claim came first, nothing changes
    /// and the result is [`CheckpointError::Superseded`].
    ///
    /// This is how one of several processes answering the same question wins without fencing
    /// the winner: each reads the epoch, checks that the question is still open, then claims
    /// from that epoch with its answer. Exactly one claim succeeds; the others read the thread
    /// again and find the question answered.
    async fn claim_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError>;

    /// Stores a checkpoint and the blobs of the channels it changed, all or nothing.
    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError>;

    /// Stores one task's writes against checkpoint `id`. Idempotent per task and index; a
    /// write at a negative index (an error) replaces the earlier one. With `epoch`, the writes
    /// are refused ([`CheckpointError::Fenced`]) unless it is still the thread's epoch, as for
    /// [`NewCheckpoint::epoch`].
    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError>;

    /// Deletes every checkpoint, blob and write of the thread in every namespace. Deleting a
    /// thread that does not exist is not an error.
    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError>;

    /// Deletes the thread as [`Checkpointer::delete_thread`] does, but only if its epoch is still
    /// `expected` (`None`: it has none), in one atomic step. When a run claimed it since,
    /// nothing changes and the result is [`CheckpointError::Superseded`]: a sweep that decided
    /// on what it read never deletes a thread that was resumed meanwhile.
    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError>;

    /// Copies every checkpoint, blob and write of thread `from` (all namespaces, ids kept) to
    /// thread `to`, which must have none. Copying a thread that does not exist copies nothing.
    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError>;

    /// Applies a retention policy to the threads: keep only the latest checkpoint of each
    /// namespace, or delete them. Threads that do not exist are skipped.
    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError>;

    /// The threads matching `query`, by thread id, each described by its latest root
    /// checkpoint. A thread that cannot be read (a corrupt row or object) is left out and
    /// reported ([`CheckpointError::report_skipped`]), never an error of the whole listing.
    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError>;

    /// A node's cached result stored under `key` (see the runtime's `CachePolicy`),
    /// unless it is absent or expired: an expired entry is never returned. A key that breaks
    /// [`limits::check_cache_key`] is refused.
    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError>;

    /// Stores a node's result under `key`, replacing any earlier one and its expiry, to expire
    /// `ttl` from now (never, when `None`). Expired entries are removed by later puts or by the
    /// backend itself.
    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError>;
}

impl CheckpointError {
    /// Whether a write carrying `epoch` may go ahead on thread `thread_id`, whose epoch is now
    /// `current`: it may when it carries none or the current one, and is
    /// [`CheckpointError::Fenced`] otherwise. Every backend decides with this.
    pub fn check_fence(
        thread_id: &ThreadId,
        epoch: Option<Epoch>,
        current: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        match epoch {
            Some(epoch) if current != Some(epoch) => Err(CheckpointError::Fenced {
                thread_id: thread_id.clone(),
                epoch,
                current,
            }),
            _ => Ok(()),
        }
    }

    /// Whether a conditional change decided on epoch `expected` may go ahead on thread
    /// `thread_id`, whose epoch is now `current`: it may when they are equal, and is
    /// [`CheckpointError::Superseded`] otherwise. Every backend decides with this.
    pub fn check_expected(
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        current: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        if expected == current {
            Ok(())
        } else {
            Err(CheckpointError::Superseded {
                thread_id: thread_id.clone(),
                expected,
                current,
            })
        }
    }

    /// Reports, as a `tracing` warning (target `stategraph::listing`) naming the thread, that a
    /// listing skipped thread `thread_id` because of this error: one unreadable thread must not
    /// break a listing of all of them, nor the retention and expiry sweeps built on it.
    pub fn report_skipped(&self, thread_id: &ThreadId) {
        tracing::warn!(
            target: "stategraph::listing",
            thread = %thread_id,
            error = %self,
            "a thread that cannot be read was left out of a listing"
        );
    }

    /// A stored value of checkpoint `checkpoint` of `thread_id` that cannot be read back:
    /// [`CheckpointError::Corrupt`].
    pub fn corrupt(
        thread_id: &ThreadId,
        checkpoint: CheckpointId,
        detail: impl Into<String>,
    ) -> Self {
        Self::Corrupt {
            thread_id: thread_id.clone(),
            checkpoint,
            detail: detail.into(),
        }
    }
}

/// What a backend was doing when it failed: the operation, and the thread it was for. A
/// backend's error type carries one so every backend names its failures the same way; it
/// displays as ``put of thread `t` `` (or just `setup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    name: &'static str,
    thread_id: Option<ThreadId>,
}

impl Operation {
    /// Operation `name` (`put`, `get`, …), for `thread_id` if it was for one thread.
    pub fn new(name: &'static str, thread_id: Option<&ThreadId>) -> Self {
        Self {
            name,
            thread_id: thread_id.cloned(),
        }
    }

    /// The operation's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The thread the operation was for, if it was for one.
    pub fn thread_id(&self) -> Option<&ThreadId> {
        self.thread_id.as_ref()
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.thread_id {
            Some(thread_id) => write!(f, "{} of thread `{thread_id}`", self.name),
            None => f.write_str(self.name),
        }
    }
}

fn show_epoch(epoch: &Option<Epoch>) -> String {
    match epoch {
        Some(epoch) => format!("epoch {epoch}"),
        None => "no epoch (it was deleted)".to_owned(),
    }
}

fn show(id: &Option<CheckpointId>) -> String {
    match id {
        Some(id) => format!("checkpoint {id}"),
        None => "an empty thread".to_owned(),
    }
}

#[async_trait]
impl<C: Checkpointer + ?Sized> Checkpointer for std::sync::Arc<C> {
    async fn setup(&self) -> Result<(), CheckpointError> {
        (**self).setup().await
    }
    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        (**self).get(thread_id, ns, id).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        (**self).list(query).await
    }
    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        (**self).claim(thread_id).await
    }
    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        (**self).epoch(thread_id).await
    }
    async fn claim_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError> {
        (**self).claim_if(thread_id, expected, ns, id, writes).await
    }
    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError> {
        (**self).put(checkpoint).await
    }
    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        (**self).put_writes(thread_id, ns, id, writes, epoch).await
    }
    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        (**self).delete_thread(thread_id).await
    }
    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        (**self).delete_thread_if(thread_id, expected).await
    }
    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        (**self).copy_thread(from, to).await
    }
    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        (**self).prune(thread_ids, policy).await
    }
    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        (**self).list_threads(query).await
    }
    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        (**self).cache_get(key).await
    }
    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CheckpointError> {
        (**self).cache_put(key, value, ttl).await
    }
}
