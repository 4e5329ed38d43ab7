//! The checkpointer contract: what every backend stores and how the runtime reads it back.
//!
//! A checkpoint is written after every step. It records the versions of all channels, but
//! carries only the values of the channels that step changed ([`ChannelBlob`]s). A channel's
//! version is the id of the checkpoint that last wrote it, so a value unchanged for a thousand
//! steps is stored once. Growing collections (`append`, `messages`, `merge`) are stored as
//! deltas — the step's writes — chained to an earlier snapshot; the runtime writes a fresh
//! snapshot when the chain grows as large as the snapshot it extends.

mod memory;

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{CheckpointId, TaskId, ThreadId};

pub use memory::MemorySaver;

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
    /// Keys the user attached (a run id, a user id, an approver), filterable in listings.
    #[serde(default)]
    pub user: serde_json::Map<String, serde_json::Value>,
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
    /// When it was written.
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
}

/// A checkpoint to store, with the blobs of the channels it changed.
#[derive(Debug, Clone)]
pub struct NewCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// One blob for each channel whose version is this checkpoint's id.
    pub blobs: Vec<ChannelBlob>,
}

/// A stored checkpoint with what is needed to rebuild its state.
#[derive(Debug, Clone)]
pub struct CheckpointTuple {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// For each channel in `channel_versions`, the blobs that rebuild its value: a snapshot
    /// first (unless the value starts from the default), then deltas, oldest first.
    pub channels: BTreeMap<String, Vec<ChannelBlob>>,
    /// The writes saved against this checkpoint, ordered by task id and index.
    pub pending_writes: Vec<PendingWrite>,
}

/// Which checkpoints [`Checkpointer::list`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// The thread.
    pub thread_id: ThreadId,
    /// Only this namespace; `None` for every namespace of the thread.
    pub ns: Option<String>,
    /// Only checkpoints older than this one.
    pub before: Option<CheckpointId>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

impl ListQuery {
    /// Every checkpoint of `thread_id`.
    pub fn thread(thread_id: ThreadId) -> Self {
        Self {
            thread_id,
            ns: None,
            before: None,
            limit: None,
        }
    }
}

/// A checkpointer failed.
#[derive(Debug, thiserror::Error)]
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

    /// Stores a checkpoint and the blobs of the channels it changed, all or nothing.
    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError>;

    /// Stores one task's writes against checkpoint `id`. Idempotent per task and index; a
    /// write at a negative index (an error) replaces the earlier one.
    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<(), CheckpointError>;

    /// Deletes every checkpoint, blob and write of the thread in every namespace. Deleting a
    /// thread that does not exist is not an error.
    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError>;
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
    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError> {
        (**self).put(checkpoint).await
    }
    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<(), CheckpointError> {
        (**self).put_writes(thread_id, ns, id, writes).await
    }
    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        (**self).delete_thread(thread_id).await
    }
}
