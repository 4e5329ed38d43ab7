//! Identifiers: threads, checkpoints and tasks.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The key of one durable conversation or job: every checkpoint of a run belongs to a thread.
///
/// Pick an id you can trace back to the job it serves (`research-{job_id}`), and never share
/// one between unrelated tasks: two thread ids never see each other's state.
///
/// ```
/// use stategraph_runtime::ThreadId;
/// let id = ThreadId::new(format!("research-{}", 42));
/// assert_eq!(id.as_str(), "research-42");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ThreadId(Arc<str>);

impl ThreadId {
    /// A thread id from any string.
    pub fn new(id: impl Into<String>) -> Self {
        Self(Arc::from(id.into()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for ThreadId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for ThreadId {
    fn from(id: String) -> Self {
        Self::new(id)
    }
}

/// The id of one checkpoint: a UUIDv7, so ids sort by creation time and are strictly
/// increasing within a process. Also used as the version of every channel the checkpoint wrote.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CheckpointId(Uuid);

impl CheckpointId {
    /// A fresh id, later than every id this process made before.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// An id from a UUID read back from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
}

impl Default for CheckpointId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for CheckpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for CheckpointId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// A run's ownership of a thread, from [`Checkpointer::claim`](crate::Checkpointer::claim):
/// every write the run makes carries it, and the store refuses writes whose epoch is no longer
/// the thread's (a fencing token). Later claims have greater epochs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Epoch(i64);

impl Epoch {
    /// The epoch a claim takes after `previous`: greater than it, and at least the current time
    /// in microseconds, so epochs keep growing even when the record of the previous one was
    /// deleted with its thread.
    pub fn next_after(previous: Option<Epoch>) -> Self {
        let now = crate::checkpoint::to_micros(std::time::SystemTime::now());
        let after = previous.map_or(i64::MIN, |p| p.0.saturating_add(1));
        Self(now.max(after))
    }

    /// The epoch as stored.
    pub fn get(self) -> i64 {
        self.0
    }

    /// An epoch read back from storage.
    pub fn from_i64(epoch: i64) -> Self {
        Self(epoch)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The id of one task: one node run within one step.
///
/// Derived from the checkpoint the step starts from, the namespace, the step and the node, so
/// a resumed step computes the same ids and finds the writes its finished tasks saved.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(Uuid);

impl TaskId {
    /// The deterministic id of the task running `node` at `step`, from `checkpoint` in `ns`.
    pub fn derive(checkpoint: CheckpointId, ns: &str, step: i64, node: &str) -> Self {
        let mut name = Vec::with_capacity(16 + ns.len() + node.len() + 24);
        name.extend_from_slice(checkpoint.0.as_bytes());
        name.extend_from_slice(ns.as_bytes());
        name.push(0);
        name.extend_from_slice(&step.to_be_bytes());
        name.extend_from_slice(node.as_bytes());
        Self(Uuid::new_v5(&Uuid::NAMESPACE_OID, &name))
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// A task id read back from storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_ids_increase_within_a_process() {
        let ids: Vec<_> = (0..1000).map(|_| CheckpointId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let text: Vec<_> = ids.iter().map(|id| id.to_string()).collect();
        assert!(text.windows(2).all(|w| w[0] < w[1]), "ids sort as text too");
    }

    #[test]
    fn task_ids_are_deterministic_and_distinct() {
        let cp = CheckpointId::new();
        assert_eq!(
            TaskId::derive(cp, "", 3, "a"),
            TaskId::derive(cp, "", 3, "a")
        );
        assert_ne!(
            TaskId::derive(cp, "", 3, "a"),
            TaskId::derive(cp, "", 4, "a")
        );
        assert_ne!(
            TaskId::derive(cp, "", 3, "a"),
            TaskId::derive(cp, "", 3, "b")
        );
        assert_ne!(
            TaskId::derive(cp, "x", 3, "a"),
            TaskId::derive(cp, "", 3, "a")
        );
    }
}
