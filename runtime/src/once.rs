//! Work a task does once: `ctx.once(work).await?` runs `work` the first time the task gets
//! there and, when the task runs again — resumed after an interrupt, or after it failed — returns
//! the saved result instead of running it again.
//!
//! The results are saved as one pending write of the task (channel [`PendingWrite::ONCE`]), next
//! to the interrupt or the error that ends the task's run; a task that finishes needs none, its
//! writes are saved. Results are numbered by call, as interrupts are: the task must reach its
//! `once` calls in the same order each time it runs.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::checkpoint::PendingWrite;
use crate::ids::TaskId;
use crate::node::NodeError;

/// Why `ctx.once(…)` could not hand back a result. The message names the call only; the
/// serde error (which may quote the stored value) is its `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnceError {
    /// The result cannot be encoded as JSON, so it could not be saved.
    #[error("the result of `once` call {call} cannot be encoded as JSON")]
    Encode {
        /// The call's number within the task.
        call: u32,
        /// The encoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The saved result does not decode as the type asked for (the node's code changed).
    #[error(
        "the saved result of `once` call {call} does not decode as the type asked for (did the node's code change?)"
    )]
    Decode {
        /// The call's number within the task.
        call: u32,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

/// One task's `once` results: the saved ones, and those of this run.
#[derive(Debug)]
pub(crate) struct TaskOnce {
    task_id: TaskId,
    node: &'static str,
    saved: BTreeMap<u32, serde_json::Value>,
    calls: AtomicU32,
    new: Mutex<BTreeMap<u32, serde_json::Value>>,
}

impl TaskOnce {
    /// The results of task `task_id` running `node`, as saved among `pending`.
    pub(crate) fn new(task_id: TaskId, node: &'static str, pending: &[PendingWrite]) -> Self {
        let saved = pending
            .iter()
            .find(|w| w.task_id == task_id && w.channel == PendingWrite::ONCE)
            .and_then(|w| serde_json::from_slice(&w.value).ok())
            .unwrap_or_default();
        Self {
            task_id,
            node,
            saved,
            calls: AtomicU32::new(0),
            new: Mutex::new(BTreeMap::new()),
        }
    }

    /// One `once` call: the saved result, or `work`'s, kept to be saved if it is `Ok`.
    pub(crate) async fn call<T, E, Fut>(&self, work: Fut) -> Result<T, NodeError>
    where
        T: Serialize + DeserializeOwned,
        E: Into<NodeError>,
        Fut: Future<Output = Result<T, E>>,
    {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let earlier_attempt = || {
            let new = self.new.lock().unwrap_or_else(|p| p.into_inner());
            new.get(&call).cloned()
        };
        if let Some(saved) = self.saved.get(&call).cloned().or_else(earlier_attempt) {
            return T::deserialize(saved)
                .map_err(|source| OnceError::Decode { call, source }.into());
        }
        let value = work.await.map_err(Into::into)?;
        let json =
            serde_json::to_value(&value).map_err(|source| OnceError::Encode { call, source })?;
        self.new
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(call, json);
        Ok(value)
    }

    /// Numbers the next call from the first again (a retried attempt): the results of the
    /// attempts before are returned as saved ones are.
    pub(crate) fn restart(&self) {
        self.calls.store(0, Ordering::SeqCst);
    }

    /// The write saving every result (the earlier ones included), if this run added any.
    pub(crate) fn write(&self) -> Option<PendingWrite> {
        let new = self.new.lock().unwrap_or_else(|p| p.into_inner());
        if new.is_empty() {
            return None;
        }
        let mut all = self.saved.clone();
        all.extend(new.iter().map(|(k, v)| (*k, v.clone())));
        Some(PendingWrite {
            task_id: self.task_id,
            node: self.node.to_owned(),
            idx: PendingWrite::ONCE_IDX,
            channel: PendingWrite::ONCE.to_owned(),
            value: serde_json::to_vec(&all).expect("JSON values encode"),
        })
    }
}
