//! Building blocks for the cases, public so a backend's own tests can use them too: fresh
//! thread and task ids, a builder for [`NewCheckpoint`]s (channel blobs given as JSON values),
//! chained puts, pending writes, and readers that fail with a clear message.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;
use uuid::Uuid;

use crate::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointMetadata,
    CheckpointTuple, Checkpointer, Epoch, ListQuery, NewCheckpoint, PendingWrite, PutMode, Source,
    TaskId, ThreadId,
};

/// A fresh thread id, unique across processes (`conf-{label}-{uuidv7}`), so cases never
/// collide on a shared database.
pub fn thread(label: &str) -> ThreadId {
    ThreadId::new(format!("conf-{label}-{}", Uuid::now_v7()))
}

/// A fresh task id.
pub fn task() -> TaskId {
    TaskId::from_uuid(Uuid::now_v7())
}

/// JSON bytes of `value`.
pub fn encode(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value encodes")
}

/// The JSON value of stored bytes; panics with a message when they are not JSON.
#[track_caller]
pub fn decode(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "stored bytes should come back exactly as written (valid JSON), got {:?}: {e}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// Metadata with `source` and `step` and nothing else.
pub fn metadata(source: Source, step: i64) -> CheckpointMetadata {
    CheckpointMetadata::new(source, step)
}

/// A regular pending write of `task` at position `idx`, from node `"node"`.
pub fn write(task: TaskId, idx: i32, channel: &str, value: Value) -> PendingWrite {
    PendingWrite {
        task_id: task,
        node: "node".to_owned(),
        idx,
        channel: channel.to_owned(),
        value: encode(&value),
    }
}

/// An error write of `task` (channel [`PendingWrite::ERROR`], index [`PendingWrite::ERROR_IDX`]).
pub fn error_write(task: TaskId, message: &str) -> PendingWrite {
    PendingWrite {
        task_id: task,
        node: "node".to_owned(),
        idx: PendingWrite::ERROR_IDX,
        channel: PendingWrite::ERROR.to_owned(),
        value: encode(&Value::String(message.to_owned())),
    }
}

/// Starts a root checkpoint (no parent) of `thread_id` in `ns`: source `input`, step -1, a
/// fresh id, `created_at` now, no channels, nothing scheduled.
pub fn checkpoint(thread_id: &ThreadId, ns: &str) -> CheckpointBuilder {
    let id = CheckpointId::new();
    CheckpointBuilder {
        checkpoint: Checkpoint {
            id,
            thread_id: thread_id.clone(),
            ns: ns.to_owned(),
            parent_id: None,
            created_at: crate::now(),
            channel_versions: BTreeMap::new(),
            next: Vec::new(),
            barriers: BTreeMap::new(),
            metadata: metadata(Source::Input, -1),
        },
        blobs: Vec::new(),
        mode: PutMode::Advance,
        epoch: None,
    }
}

/// Starts the checkpoint that continues `parent`: same thread and namespace, parent set,
/// every channel version carried over (no blobs), source `loop`, step + 1, a fresh id that
/// sorts after the parent's.
pub fn child(parent: &Checkpoint) -> CheckpointBuilder {
    let mut builder = checkpoint(&parent.thread_id, &parent.ns);
    builder.checkpoint.id = CheckpointId::after(Some(parent.id));
    builder.checkpoint.parent_id = Some(parent.id);
    builder.checkpoint.channel_versions = parent.channel_versions.clone();
    builder.checkpoint.metadata = metadata(Source::Loop, parent.metadata.step + 1);
    builder
}

/// Builds a [`NewCheckpoint`]; see [`checkpoint`] and [`child`].
#[derive(Debug, Clone)]
pub struct CheckpointBuilder {
    checkpoint: Checkpoint,
    blobs: Vec<ChannelBlob>,
    mode: PutMode,
    epoch: Option<Epoch>,
}

impl CheckpointBuilder {
    /// Uses `id` instead of a fresh id (blobs and versions written by this checkpoint follow).
    pub fn id(mut self, id: CheckpointId) -> Self {
        let old = self.checkpoint.id;
        for version in self.checkpoint.channel_versions.values_mut() {
            if *version == old {
                *version = id;
            }
        }
        for blob in &mut self.blobs {
            if blob.version == old {
                blob.version = id;
            }
        }
        self.checkpoint.id = id;
        self
    }

    /// Sets the parent.
    pub fn parent(mut self, parent: Option<CheckpointId>) -> Self {
        self.checkpoint.parent_id = parent;
        self
    }

    /// Sets the source.
    pub fn source(mut self, source: Source) -> Self {
        self.checkpoint.metadata.source = source;
        self
    }

    /// Sets the step.
    pub fn step(mut self, step: i64) -> Self {
        self.checkpoint.metadata.step = step;
        self
    }

    /// Adds a user metadata key.
    pub fn user(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.checkpoint
            .metadata
            .user
            .insert(key.to_owned(), value.into());
        self
    }

    /// Records the checkpoint of an enclosing graph (`metadata.parents`).
    pub fn parent_ns(mut self, ns: &str, id: CheckpointId) -> Self {
        self.checkpoint.metadata.parents.insert(ns.to_owned(), id);
        self
    }

    /// Records that `node` wrote `channels` (`metadata.writes`).
    pub fn node_writes(mut self, node: &str, channels: &[&str]) -> Self {
        self.checkpoint.metadata.writes.insert(
            node.to_owned(),
            channels.iter().map(|c| (*c).to_owned()).collect(),
        );
        self
    }

    /// Records the version of the state type that wrote it (`metadata.state_version`).
    pub fn state_version(mut self, version: u32) -> Self {
        self.checkpoint.metadata.state_version = version;
        self
    }

    /// Records the run's token usage (`metadata.token_usage`).
    pub fn token_usage(mut self, usage: crate::TokenUsage) -> Self {
        self.checkpoint.metadata.token_usage = Some(usage);
        self
    }

    /// Records that a subgraph call in namespace `ns` finished at its checkpoint `last`
    /// (`metadata.subgraphs`).
    pub fn subgraph_call(mut self, ns: &str, last: CheckpointId) -> Self {
        self.checkpoint
            .metadata
            .subgraphs
            .insert(ns.to_owned(), last);
        self
    }

    /// Records that `node` failed into its error handler `handler` (`metadata.failures`).
    pub fn failure(mut self, node: &str, handler: &str, error: &str) -> Self {
        self.checkpoint.metadata.failures.push(crate::NodeFailure {
            node: node.to_owned(),
            handler: handler.to_owned(),
            step: self.checkpoint.metadata.step,
            attempts: 2,
            error: error.to_owned(),
        });
        self
    }

    /// Schedules `nodes` for the next step (a non-empty `next` means the thread is pending).
    pub fn next(mut self, nodes: &[&str]) -> Self {
        self.checkpoint.next = nodes.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// Records a join's finished sources.
    pub fn barrier(mut self, target: &str, sources: &[&str]) -> Self {
        self.checkpoint.barriers.insert(
            target.to_owned(),
            sources.iter().map(|s| (*s).to_owned()).collect(),
        );
        self
    }

    /// Sets `created_at`.
    pub fn created_at(mut self, at: SystemTime) -> Self {
        self.checkpoint.created_at = at;
        self
    }

    /// Writes it as the owner holding `epoch` ([`Checkpointer::claim`]).
    pub fn epoch(mut self, epoch: Epoch) -> Self {
        self.epoch = Some(epoch);
        self
    }

    /// Puts it with [`PutMode::Fork`].
    pub fn fork(mut self) -> Self {
        self.mode = PutMode::Fork;
        self
    }

    /// Writes channel `channel` as a snapshot of `value` at this checkpoint's version.
    pub fn snapshot(self, channel: &str, value: Value) -> Self {
        let data = encode(&value);
        self.snapshot_bytes(channel, data)
    }

    /// Writes channel `channel` as a snapshot of raw `data` (which need not be JSON).
    pub fn snapshot_bytes(mut self, channel: &str, data: Vec<u8>) -> Self {
        let version = self.checkpoint.id;
        self.blobs.retain(|b| b.channel != channel);
        self.blobs.push(ChannelBlob {
            channel: channel.to_owned(),
            version,
            kind: BlobKind::Snapshot,
            data,
        });
        self.checkpoint
            .channel_versions
            .insert(channel.to_owned(), version);
        self
    }

    /// Writes channel `channel` as a delta (`writes`, a JSON array) on top of its current
    /// version. Panics when the channel has no version yet.
    #[track_caller]
    pub fn delta(mut self, channel: &str, writes: Value) -> Self {
        let version = self.checkpoint.id;
        let base = *self
            .checkpoint
            .channel_versions
            .get(channel)
            .unwrap_or_else(|| panic!("fixture error: delta on `{channel}`, which has no version"));
        self.blobs.retain(|b| b.channel != channel);
        self.blobs.push(ChannelBlob {
            channel: channel.to_owned(),
            version,
            kind: BlobKind::Delta { base },
            data: encode(&writes),
        });
        self.checkpoint
            .channel_versions
            .insert(channel.to_owned(), version);
        self
    }

    /// Sets channel `channel`'s version without a blob (its value is stored elsewhere).
    pub fn version(mut self, channel: &str, version: CheckpointId) -> Self {
        self.checkpoint
            .channel_versions
            .insert(channel.to_owned(), version);
        self
    }

    /// Drops channel `channel` from `channel_versions` (and any blob this builder added).
    pub fn remove(mut self, channel: &str) -> Self {
        self.checkpoint.channel_versions.remove(channel);
        self.blobs.retain(|b| b.channel != channel);
        self
    }

    /// Adds a raw blob (its channel's version is not changed).
    pub fn blob(mut self, blob: ChannelBlob) -> Self {
        self.blobs.push(blob);
        self
    }

    /// The checkpoint as it stands.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The [`NewCheckpoint`].
    pub fn build(self) -> NewCheckpoint {
        NewCheckpoint {
            checkpoint: self.checkpoint,
            blobs: self.blobs,
            mode: self.mode,
            epoch: self.epoch,
        }
    }

    /// Puts it, returning the stored checkpoint or the error.
    pub async fn put<C: Checkpointer + ?Sized>(
        self,
        saver: &C,
    ) -> Result<Checkpoint, CheckpointError> {
        let checkpoint = self.checkpoint.clone();
        saver.put(self.build()).await.map(|()| checkpoint)
    }

    /// Puts it, panicking with a message when the put fails.
    pub async fn put_ok<C: Checkpointer + ?Sized>(self, saver: &C) -> Checkpoint {
        let (id, thread, ns, mode) = (
            self.checkpoint.id,
            self.checkpoint.thread_id.clone(),
            self.checkpoint.ns.clone(),
            self.mode,
        );
        match self.put(saver).await {
            Ok(checkpoint) => checkpoint,
            Err(e) => panic!(
                "put ({mode:?}) of checkpoint {id} on thread `{thread}` ns `{ns}` should succeed, but failed: {e}"
            ),
        }
    }
}

/// Puts a chain of checkpoints on `thread_id` in `ns`, one per `(source, step)`, each the child
/// of the previous one (the first a root) and each writing channel `"step"` as a snapshot of
/// its step. Returns them oldest first.
pub async fn chain<C: Checkpointer + ?Sized>(
    saver: &C,
    thread_id: &ThreadId,
    ns: &str,
    steps: &[(Source, i64)],
) -> Vec<Checkpoint> {
    let mut out: Vec<Checkpoint> = Vec::with_capacity(steps.len());
    for &(source, step) in steps {
        let builder = match out.last() {
            Some(parent) => child(parent),
            None => checkpoint(thread_id, ns),
        };
        let cp = builder
            .source(source)
            .step(step)
            .snapshot("step", Value::from(step))
            .put_ok(saver)
            .await;
        out.push(cp);
    }
    out
}

/// Puts `n` chained loop checkpoints (steps 0..n) on `thread_id` in `ns`; see [`chain`].
pub async fn linear<C: Checkpointer + ?Sized>(
    saver: &C,
    thread_id: &ThreadId,
    ns: &str,
    n: usize,
) -> Vec<Checkpoint> {
    let steps: Vec<(Source, i64)> = (0..n as i64).map(|s| (Source::Loop, s)).collect();
    chain(saver, thread_id, ns, &steps).await
}

/// `get`, panicking with a message when it fails.
pub async fn get_ok<C: Checkpointer + ?Sized>(
    saver: &C,
    thread_id: &ThreadId,
    ns: &str,
    id: Option<CheckpointId>,
) -> Option<CheckpointTuple> {
    saver.get(thread_id, ns, id).await.unwrap_or_else(|e| {
        panic!("get(thread `{thread_id}`, ns `{ns}`, id {id:?}) should succeed, but failed: {e}")
    })
}

/// `get` of a checkpoint that must exist.
pub async fn must_get<C: Checkpointer + ?Sized>(
    saver: &C,
    thread_id: &ThreadId,
    ns: &str,
    id: Option<CheckpointId>,
) -> CheckpointTuple {
    get_ok(saver, thread_id, ns, id).await.unwrap_or_else(|| {
        panic!(
            "get(thread `{thread_id}`, ns `{ns}`, id {id:?}) should find a checkpoint, found none"
        )
    })
}

/// `list`, panicking with a message when it fails.
pub async fn list_ok<C: Checkpointer + ?Sized>(
    saver: &C,
    query: &ListQuery,
) -> Vec<CheckpointTuple> {
    saver
        .list(query)
        .await
        .unwrap_or_else(|e| panic!("list({query:?}) should succeed, but failed: {e}"))
}

/// `put_writes`, panicking with a message when it fails.
pub async fn put_writes_ok<C: Checkpointer + ?Sized>(
    saver: &C,
    at: &Checkpoint,
    writes: Vec<PendingWrite>,
) {
    saver
        .put_writes(&at.thread_id, &at.ns, at.id, writes, None)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "put_writes on checkpoint {} of thread `{}` should succeed, but failed: {e}",
                at.id, at.thread_id
            )
        });
}

/// The ids of `tuples`, in order.
pub fn ids(tuples: &[CheckpointTuple]) -> Vec<CheckpointId> {
    tuples.iter().map(|t| t.checkpoint.id).collect()
}

/// The ids of `checkpoints`, in order.
/// Puts a three-checkpoint chain on thread `t` (the runtime's `Counter` state: a plain `count`
/// and an `append` `log`): `count` and `log = ["a"]` as snapshots, then `log` deltas appending
/// `"b"`, then `"c", "d"`.
pub async fn counter_chain<C: Checkpointer + ?Sized>(
    saver: &C,
    t: &ThreadId,
    count: i64,
) -> [Checkpoint; 3] {
    let cp1 = checkpoint(t, "")
        .snapshot("count", serde_json::json!(count))
        .snapshot("log", serde_json::json!(["a"]))
        .put_ok(saver)
        .await;
    let cp2 = child(&cp1)
        .delta("log", log_delta(&["b"]))
        .put_ok(saver)
        .await;
    let cp3 = child(&cp2)
        .delta("log", log_delta(&["c", "d"]))
        .put_ok(saver)
        .await;
    [cp1, cp2, cp3]
}

/// The ids of `checkpoints`, in order.
pub fn checkpoint_ids(checkpoints: &[Checkpoint]) -> Vec<CheckpointId> {
    checkpoints.iter().map(|c| c.id).collect()
}

/// Keeps only the tuples of `threads` (a listing across every thread may hold other tests'
/// checkpoints when the store is shared).
pub fn only_threads(tuples: Vec<CheckpointTuple>, threads: &[&ThreadId]) -> Vec<CheckpointTuple> {
    tuples
        .into_iter()
        .filter(|t| threads.contains(&&t.checkpoint.thread_id))
        .collect()
}

/// The value of channel `channel` of `tuple`, which must be stored as exactly one snapshot.
#[track_caller]
pub fn value(tuple: &CheckpointTuple, channel: &str) -> Value {
    let id = tuple.checkpoint.id;
    let blobs = tuple.channels.get(channel).unwrap_or_else(|| {
        panic!(
            "checkpoint {id} should return blobs for channel `{channel}` (it is in channel_versions {:?}); channels returned: {:?}",
            tuple.checkpoint.channel_versions,
            tuple.channels.keys().collect::<Vec<_>>()
        )
    });
    match blobs.as_slice() {
        [blob] if blob.kind == BlobKind::Snapshot => decode(&blob.data),
        other => panic!(
            "channel `{channel}` of checkpoint {id} should be exactly one snapshot, got {:?}",
            other
                .iter()
                .map(|b| (b.version, b.kind))
                .collect::<Vec<_>>()
        ),
    }
}

/// Every channel of `tuple` as its single snapshot's value; see [`value`].
#[track_caller]
pub fn values(tuple: &CheckpointTuple) -> BTreeMap<String, Value> {
    tuple
        .channels
        .keys()
        .map(|channel| (channel.clone(), value(tuple, channel)))
        .collect()
}

/// `tuple`'s pending writes as `(task, idx, channel, value)`, in the order returned.
#[track_caller]
pub fn writes(tuple: &CheckpointTuple) -> Vec<(TaskId, i32, String, Value)> {
    tuple
        .pending_writes
        .iter()
        .map(|w| (w.task_id, w.idx, w.channel.clone(), decode(&w.value)))
        .collect()
}

/// The JSON of one delta of an `append` channel: the step's writes appending `lines`, as the
/// runtime encodes them.
pub fn log_delta(lines: &[&str]) -> Value {
    serde_json::json!([{ "reduce": lines }])
}
