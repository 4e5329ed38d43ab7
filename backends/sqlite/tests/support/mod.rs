//! A saver on a fresh temporary file, deleted with the saver, plus checkpoint builders shared
//! by the tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::Deref;

use async_trait::async_trait;
use stategraph_runtime::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointMetadata,
    CheckpointTuple, Checkpointer, Epoch, ListQuery, NewCheckpoint, PendingWrite, Prune, PutMode,
    Source, ThreadId, ThreadInfo, ThreadQuery, now,
};
use stategraph_sqlite::SqliteSaver;
use tempfile::TempDir;

/// A [`SqliteSaver`] on `checkpoints.db` in a temporary directory that lives as long as it.
pub struct TempSaver {
    pub saver: SqliteSaver,
    pub dir: TempDir,
}

impl TempSaver {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let saver = SqliteSaver::open(dir.path().join("checkpoints.db"))
            .await
            .expect("the saver opens");
        Self { saver, dir }
    }

    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("checkpoints.db")
    }

    /// A raw connection to the same file, for inspecting or corrupting rows.
    pub fn raw(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.path()).expect("a raw connection");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn
    }
}

impl Deref for TempSaver {
    type Target = SqliteSaver;
    fn deref(&self) -> &SqliteSaver {
        &self.saver
    }
}

#[async_trait]
impl Checkpointer for TempSaver {
    async fn setup(&self) -> Result<(), CheckpointError> {
        self.saver.setup().await
    }
    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        self.saver.get(thread_id, ns, id).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        self.saver.list(query).await
    }
    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        self.saver.claim(thread_id).await
    }
    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        self.saver.epoch(thread_id).await
    }
    async fn claim_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError> {
        self.saver
            .claim_if(thread_id, expected, ns, id, writes)
            .await
    }
    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.saver.delete_thread_if(thread_id, expected).await
    }
    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError> {
        self.saver.put(checkpoint).await
    }
    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.saver
            .put_writes(thread_id, ns, id, writes, epoch)
            .await
    }
    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        self.saver.delete_thread(thread_id).await
    }
    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        self.saver.copy_thread(from, to).await
    }
    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        self.saver.prune(thread_ids, policy).await
    }
    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        self.saver.list_threads(query).await
    }
    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        self.saver.cache_get(key).await
    }
    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<std::time::Duration>,
    ) -> Result<(), CheckpointError> {
        self.saver.cache_put(key, value, ttl).await
    }
}

/// A checkpoint of `thread` in `ns` after `parent`, whose channels are given as
/// `(channel, version, kind, json)`; `channel_versions` lists every channel it has.
pub struct Step {
    pub checkpoint: Checkpoint,
    pub blobs: Vec<ChannelBlob>,
    pub mode: PutMode,
}

impl Step {
    pub fn new(thread: &ThreadId, ns: &str, parent: Option<CheckpointId>) -> Self {
        Self {
            checkpoint: Checkpoint {
                id: CheckpointId::new(),
                thread_id: thread.clone(),
                ns: ns.to_owned(),
                parent_id: parent,
                created_at: now(),
                channel_versions: BTreeMap::new(),
                next: vec!["node".to_owned()],
                barriers: BTreeMap::new(),
                metadata: CheckpointMetadata::new(Source::Loop, 0),
            },
            blobs: Vec::new(),
            mode: PutMode::Advance,
        }
    }

    pub fn id(&self) -> CheckpointId {
        self.checkpoint.id
    }

    /// Writes `channel` as a snapshot at this checkpoint's version.
    pub fn snapshot(mut self, channel: &str, value: serde_json::Value) -> Self {
        let version = self.checkpoint.id;
        self.checkpoint
            .channel_versions
            .insert(channel.to_owned(), version);
        self.blobs.push(ChannelBlob {
            channel: channel.to_owned(),
            version,
            kind: BlobKind::Snapshot,
            data: serde_json::to_vec(&value).unwrap(),
        });
        self
    }

    /// Writes `channel` as a delta on `base`.
    pub fn delta(mut self, channel: &str, base: CheckpointId, value: serde_json::Value) -> Self {
        let version = self.checkpoint.id;
        self.checkpoint
            .channel_versions
            .insert(channel.to_owned(), version);
        self.blobs.push(ChannelBlob {
            channel: channel.to_owned(),
            version,
            kind: BlobKind::Delta { base },
            data: serde_json::to_vec(&value).unwrap(),
        });
        self
    }

    /// Keeps `channel` at an earlier `version` without writing it.
    pub fn keep(mut self, channel: &str, version: CheckpointId) -> Self {
        self.checkpoint
            .channel_versions
            .insert(channel.to_owned(), version);
        self
    }

    pub fn user(mut self, key: &str, value: serde_json::Value) -> Self {
        self.checkpoint.metadata.user.insert(key.to_owned(), value);
        self
    }

    pub fn step(mut self, step: i64) -> Self {
        self.checkpoint.metadata.step = step;
        self
    }

    pub fn finished(mut self) -> Self {
        self.checkpoint.next.clear();
        self
    }

    pub fn fork(mut self) -> Self {
        self.mode = PutMode::Fork;
        self
    }

    pub fn build(self) -> NewCheckpoint {
        NewCheckpoint {
            checkpoint: self.checkpoint,
            blobs: self.blobs,
            mode: self.mode,
            epoch: None,
        }
    }
}

/// Puts `n` chained checkpoints on `thread` (root namespace), each writing channel `count`,
/// and returns their ids, oldest first.
pub async fn chain(saver: &impl Checkpointer, thread: &ThreadId, n: usize) -> Vec<CheckpointId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let step = Step::new(thread, "", ids.last().copied())
            .snapshot("count", serde_json::json!(i))
            .step(i64::try_from(i).unwrap());
        ids.push(step.id());
        saver.put(step.build()).await.expect("put");
    }
    ids
}
