//! Identifiers: threads, checkpoints and tasks.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use uuid::Uuid;

/// The key of one durable conversation or job: every checkpoint of a run belongs to a thread.
///
/// Pick an id you can trace back to the job it serves (`research-{job_id}`), and never share
/// one between unrelated tasks: two thread ids never see each other's state.
///
/// ```
/// use stategraph_checkpoint::ThreadId;
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
    ///
    /// A checkpoint that continues another takes [`CheckpointId::after`] instead, so it sorts
    /// after its parent even when the parent was drawn by another process.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// A fresh id that sorts after `parent`: the larger of a new UUIDv7 and the smallest
    /// UUIDv7 greater than `parent`. Ids are drawn by each process from its own clock, so a
    /// checkpoint written in the same millisecond as its parent by another process (or on a
    /// machine whose clock is behind) would otherwise sort before it, and a history listed
    /// newest first would no longer follow parent links.
    ///
    /// ```
    /// use stategraph_checkpoint::CheckpointId;
    /// let parent = CheckpointId::new();
    /// assert!(CheckpointId::after(Some(parent)) > parent);
    /// ```
    pub fn after(parent: Option<CheckpointId>) -> Self {
        let fresh = Self::new();
        match parent {
            Some(parent) if parent >= fresh => parent.successor(),
            _ => fresh,
        }
    }

    /// The smallest UUIDv7 greater than this one: its timestamp and random bits read as one
    /// 122-bit counter, plus one (the version and variant bits stay). Cheaper than
    /// [`after`](Self::after) (no clock, no randomness), for ids nothing else draws from: a run
    /// without a checkpointer numbers its steps with it.
    ///
    /// ```
    /// use stategraph_checkpoint::CheckpointId;
    /// let id = CheckpointId::new();
    /// assert!(id.successor() > id);
    /// ```
    pub fn successor(self) -> Self {
        let bits = self.0.as_u128();
        // Layout: 48-bit time | 4-bit version | 12-bit rand_a | 2-bit variant | 62-bit rand_b.
        let rand_b = bits & ((1 << 62) - 1);
        let rand_a = (bits >> 64) & 0xfff;
        let time = bits >> 80;
        let counter = (time << 74 | rand_a << 62 | rand_b).wrapping_add(1);
        let (time, rand_a, rand_b) = (
            (counter >> 74) & ((1 << 48) - 1),
            (counter >> 62) & 0xfff,
            counter & ((1 << 62) - 1),
        );
        Self(Uuid::from_u128(
            time << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b,
        ))
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
        let now = crate::checkpointer::to_micros(std::time::SystemTime::now());
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
        // On the stack for the usual short namespace and node name.
        let mut name: SmallVec<[u8; 128]> = SmallVec::new();
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
    fn an_id_after_a_parent_sorts_after_it_even_from_a_clock_ahead() {
        let ahead = CheckpointId::from_uuid(Uuid::from_u128(
            (u128::from(u64::MAX >> 16) - 1) << 80 | 0x7 << 76 | 0b10 << 62,
        ));
        let mut id = ahead;
        for _ in 0..1000 {
            let next = CheckpointId::after(Some(id));
            assert!(next > id && next.to_string() > id.to_string());
            assert_eq!(next.as_uuid().get_version_num(), 7);
            assert_eq!(next.as_uuid().get_variant(), uuid::Variant::RFC4122);
            id = next;
        }
        let fresh = CheckpointId::new();
        let old = CheckpointId::from_uuid(Uuid::from_u128(1 << 80 | 0x7 << 76 | 0b10 << 62));
        assert!(
            CheckpointId::after(Some(old)) > fresh,
            "an old parent: a fresh id"
        );
        assert!(CheckpointId::after(None) > fresh);
    }

    #[test]
    fn the_successor_carries_from_the_random_bits_into_the_time() {
        let full = CheckpointId::from_uuid(Uuid::from_u128(
            5 << 80 | 0x7 << 76 | 0xfff << 64 | 0b10 << 62 | ((1 << 62) - 1),
        ));
        let next = full.successor();
        assert_eq!(
            next.as_uuid().as_u128(),
            6 << 80 | 0x7 << 76 | 0b10 << 62,
            "all random bits set: the time goes up by one and the random bits start over"
        );
        assert!(next > full);
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
