//! Questions and answers as a thread's pending writes hold them: the ids of interrupts, which
//! answers were saved for which call of a task, and whether a saved question still waits. Every
//! backend and the runtime read them the same way ([`ThreadStatus::of`](crate::ThreadStatus::of)
//! decides "interrupted" with [`waits`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::checkpointer::{Answer, PendingWrite};
use crate::ids::TaskId;

/// The id of one interrupt: derived from its task and the number of the `interrupt` call
/// within the task, so a task that runs again raises the same id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InterruptId(Uuid);

impl InterruptId {
    /// The id of call `index` of task `task`'s `interrupt` calls.
    pub fn derive(task: TaskId, index: u32) -> Self {
        Self(Uuid::new_v5(&task.as_uuid(), &index.to_be_bytes()))
    }
}

impl fmt::Display for InterruptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for InterruptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for InterruptId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// The answers saved for `task_id` among `pending`, by call number.
pub fn answers_of(pending: &[PendingWrite], task_id: TaskId) -> BTreeMap<u32, serde_json::Value> {
    pending
        .iter()
        .find(|w| w.task_id == task_id && w.channel == PendingWrite::RESUME)
        .and_then(|w| serde_json::from_slice(&w.value).ok())
        .unwrap_or_default()
}

/// Whether the interrupt `write` saved waits for an answer: none of its task's saved answers
/// is for its call. A record that does not decode waits (nothing says it was answered).
pub fn waits(pending: &[PendingWrite], write: &PendingWrite) -> bool {
    /// The part of a [`Record`] that says which call asked (as the SQL backends read it).
    #[derive(Deserialize)]
    struct Call {
        index: u32,
    }
    serde_json::from_slice::<Call>(&write.value).map_or(true, |call| {
        !is_answered(pending, write.task_id, call.index)
    })
}

/// Whether call `index` of task `task_id` has an answer among `pending`.
pub fn is_answered(pending: &[PendingWrite], task_id: TaskId, index: u32) -> bool {
    answers_of(pending, task_id).contains_key(&index)
}

/// Every answer saved among `pending`, as checkpoint metadata records them: each under the id
/// of the question it answered (for answers saved before those ids were, the id the task's
/// call number gives).
pub fn answers_in(pending: &[PendingWrite]) -> Vec<Answer> {
    pending
        .iter()
        .filter(|w| w.channel == PendingWrite::RESUME)
        .flat_map(|w| {
            let ids = answered_ids_of(pending, w.task_id);
            answers_of(pending, w.task_id)
                .into_iter()
                .map(move |(index, answer)| Answer {
                    id: ids
                        .get(&index)
                        .copied()
                        .unwrap_or_else(|| InterruptId::derive(w.task_id, index)),
                    node: w.node.clone(),
                    answer,
                })
        })
        .collect()
}

/// The ids of the questions task `task_id`'s saved answers answered, by call number.
pub fn answered_ids_of(pending: &[PendingWrite], task_id: TaskId) -> BTreeMap<u32, InterruptId> {
    pending
        .iter()
        .find(|w| w.task_id == task_id && w.channel == PendingWrite::ANSWERED)
        .and_then(|w| serde_json::from_slice(&w.value).ok())
        .unwrap_or_default()
}

/// The pending writes saving task `task_id`'s `answers` and the ids of the questions they
/// answered, by call number (replacing the ones saved before).
pub fn answer_writes(
    task_id: TaskId,
    node: &str,
    answers: &BTreeMap<u32, serde_json::Value>,
    ids: &BTreeMap<u32, InterruptId>,
) -> [PendingWrite; 2] {
    let write = |idx: i32, channel: &str, value: Vec<u8>| PendingWrite {
        task_id,
        node: node.to_owned(),
        idx,
        channel: channel.to_owned(),
        value,
    };
    [
        write(
            PendingWrite::RESUME_IDX,
            PendingWrite::RESUME,
            serde_json::to_vec(answers).expect("answers encode"),
        ),
        write(
            PendingWrite::ANSWERED_IDX,
            PendingWrite::ANSWERED,
            serde_json::to_vec(ids).expect("ids encode"),
        ),
    ]
}
