//! The contract's limits seen from a graph: ids and metadata outside them are refused before
//! any backend is called, and a node's write that could not be read back is refused at the step
//! that made it, leaving the thread readable.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use stategraph::limits::{LimitError, MAX_JSON_DEPTH};
use stategraph::{
    CheckpointError, CheckpointId, CheckpointTuple, Checkpointer, Epoch, GraphError, ListQuery,
    MemorySaver, NewCheckpoint, NodeResult, PendingWrite, Prune, State, ThreadId, ThreadInfo,
    ThreadQuery,
};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Doc {
    depth: usize,
    tree: serde_json::Value,
}

#[stategraph::graph(state = Doc)]
mod build {
    use super::*;

    #[node]
    async fn grow(s: &Doc) -> NodeResult<Doc> {
        let tree = (0..s.depth).fold(serde_json::json!("leaf"), |inner, _| {
            serde_json::Value::Array(vec![inner])
        });
        Ok(DocUpdate::new().tree(tree))
    }

    edges! {
        START -> grow -> END;
    }
}

/// MemorySaver that counts the calls it receives.
#[derive(Default)]
struct Spy {
    inner: MemorySaver,
    calls: AtomicUsize,
}

impl Spy {
    fn call(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Checkpointer for Spy {
    async fn setup(&self) -> Result<(), CheckpointError> {
        self.call();
        self.inner.setup().await
    }
    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        self.call();
        self.inner.get(thread_id, ns, id).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        self.call();
        self.inner.list(query).await
    }
    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        self.call();
        self.inner.claim(thread_id).await
    }
    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        self.call();
        self.inner.epoch(thread_id).await
    }
    async fn claim_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError> {
        self.call();
        self.inner
            .claim_if(thread_id, expected, ns, id, writes)
            .await
    }
    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.call();
        self.inner.delete_thread_if(thread_id, expected).await
    }
    async fn put(&self, checkpoint: NewCheckpoint) -> Result<(), CheckpointError> {
        self.call();
        self.inner.put(checkpoint).await
    }
    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.call();
        self.inner
            .put_writes(thread_id, ns, id, writes, epoch)
            .await
    }
    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        self.call();
        self.inner.delete_thread(thread_id).await
    }
    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        self.call();
        self.inner.copy_thread(from, to).await
    }
    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        self.call();
        self.inner.prune(thread_ids, policy).await
    }
    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        self.call();
        self.inner.list_threads(query).await
    }
    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        self.call();
        self.inner.cache_get(key).await
    }
    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<std::time::Duration>,
    ) -> Result<(), CheckpointError> {
        self.call();
        self.inner.cache_put(key, value, ttl).await
    }
}

fn limit(err: GraphError) -> LimitError {
    match err {
        GraphError::Checkpoint(CheckpointError::Limit(error)) => error,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_thread_ids_and_metadata_never_reach_the_backend() {
    let spy = Arc::new(Spy::default());
    let graph = build::graph().checkpointer(spy.clone()).compile().unwrap();
    let long = "x".repeat(1 << 20);
    for id in ["", "job\0one", long.as_str()] {
        let thread = graph.thread(id);
        let errors = [
            thread
                .invoke(DocUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap_err(),
            thread
                .resume()
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap_err(),
            thread
                .start_or_resume(DocUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap_err(),
            thread.state().await.unwrap_err(),
            thread.history().await.unwrap_err(),
            thread.fork(CheckpointId::new()).await.unwrap_err(),
        ];
        for err in errors {
            let text = err.to_string();
            limit(err);
            assert!(text.len() < 300, "the message quotes no id: {text:.300}");
        }
    }
    let thread = graph.thread("job-1").with_metadata("approved_by", "ana\0");
    assert!(matches!(
        limit(
            thread
                .invoke(DocUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap_err()
        ),
        LimitError::Nul { .. }
    ));
    assert_eq!(
        spy.calls.load(Ordering::SeqCst),
        0,
        "no backend call was made"
    );
}

#[tokio::test]
async fn a_write_too_deep_to_read_back_is_refused_at_its_step_and_the_thread_stays_readable() {
    let saver = Arc::new(MemorySaver::new());
    let graph = build::graph().checkpointer(saver).compile().unwrap();
    let thread = graph.thread("deep");
    let ok = thread
        .invoke(DocUpdate::new().depth(MAX_JSON_DEPTH - 1))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .expect("a value at the limit is saved");
    let before = thread.state().await.unwrap().unwrap();
    assert_eq!(before.values.tree, ok.tree);

    let err = thread
        .invoke(DocUpdate::new().depth(200))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    match &err {
        GraphError::Limit {
            node: "grow",
            error: LimitError::TooDeep { .. },
        } => {}
        other => panic!("expected the node's write to be refused, got {other:?}"),
    }
    assert!(err.to_string().contains("`tree`"), "{err}");
    // The input step was saved; the refused step was not, and everything reads back.
    let after = thread.state().await.unwrap().unwrap();
    assert_eq!(after.values.depth, 200);
    assert_eq!(after.values.tree, ok.tree);
    assert_eq!(after.next, [build::Node::Grow]);
}

#[stategraph::graph(state = Doc)]
mod verbose {
    use super::*;

    /// Fails with an error of `depth` kilobytes.
    #[node]
    async fn fail(s: &Doc) -> NodeResult<Doc> {
        Err("x".repeat(s.depth * 1024).into())
    }

    edges! {
        START -> fail -> END;
    }
}

/// A node's error is stored (and shown in the run's error message) cut to 1 KiB however long
/// it is, so a failing node cannot grow its checkpoint's writes or a log line without bound;
/// the caller still gets the whole error as the message's source.
#[tokio::test]
async fn a_long_node_error_is_stored_cut_to_one_kib() {
    let saver = Arc::new(MemorySaver::new());
    let graph = verbose::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("verbose");
    let error = thread
        .invoke(DocUpdate::new().depth(1024))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let GraphError::Node { source, .. } = &error else {
        panic!("expected the node's error, got {error}");
    };
    assert_eq!(
        source.to_string().len(),
        1024 * 1024,
        "the caller gets it whole"
    );
    assert!(
        error.to_string().len() < 1024 + 200,
        "the message shows 1 KiB of it"
    );
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.errors.len(), 1);
    assert_eq!(state.errors[0].message, "x".repeat(1024));
    let tuple = saver
        .get(&"verbose".into(), "", None)
        .await
        .unwrap()
        .unwrap();
    let stored = tuple
        .pending_writes
        .iter()
        .find(|w| w.channel == PendingWrite::ERROR)
        .expect("the error is saved");
    assert_eq!(stored.value.len(), 1024 + 2, "1 KiB as a JSON string");
}
