//! Dynamic interrupts: a node asks a question with `ctx.interrupt(payload).await?`, the thread
//! pauses, and a later [`Resume`] answers it.
//!
//! An interrupt is saved as a pending write of its task (channel [`PendingWrite::INTERRUPT`]) on
//! the checkpoint its step started from; the answers to a task's interrupts are another pending
//! write of that task (channel [`PendingWrite::RESUME`]). No checkpoint is written for the interrupted step, so sibling
//! tasks that finished keep their saved writes, and on resume only the interrupted task runs
//! again — from its top: code before the `interrupt` call runs again, and each `interrupt` call
//! it passes returns its answer.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::questions::{answer_writes, answered_ids_of, answers_of};
pub(crate) use crate::checkpoint::questions::{answers_in, is_answered};
use crate::checkpoint::{PendingWrite, from_micros, to_micros};
use crate::ids::TaskId;
pub use stategraph_checkpoint::InterruptId;

const INTERRUPT: &str = PendingWrite::INTERRUPT;

/// A question a node asked (`ctx.interrupt(payload)`), or a pause before or after a node,
/// waiting for an answer: [`Outcome::Paused`](crate::Outcome::Paused) and
/// [`StateSnapshot::interrupts`](crate::StateSnapshot::interrupts) list them, and
/// [`Resume::answer`] answers one by its id.
///
/// ```
/// # async fn demo<G: stategraph_runtime::GraphDef>(thread: &stategraph_runtime::Thread<G>)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use stategraph_runtime::Resume;
/// let snapshot = thread.state().await?.expect("the thread ran");
/// for question in &snapshot.interrupts {
///     let text: String = question.payload_as()?;    // the type the node asked with
///     println!("{} asked {text:?} at {:?}", question.node, question.raised_at);
///     thread.resume_with(Resume::answer(question.id, "approved")).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupt {
    /// Its id, which a [`Resume`] names to answer it.
    pub id: InterruptId,
    /// The node that asked.
    pub node: String,
    /// What it asked, as JSON; [`Interrupt::payload_as`] reads it back as its type.
    pub payload: serde_json::Value,
    /// When it was raised (microseconds, as stored).
    pub raised_at: SystemTime,
    pub(crate) task_id: TaskId,
    pub(crate) index: u32,
}

impl Interrupt {
    /// The payload as the type the node asked with.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }
}

/// An interrupt as saved.
#[derive(Serialize, Deserialize)]
struct Record {
    id: InterruptId,
    index: u32,
    payload: serde_json::Value,
    raised_at: i64,
}

/// Why `ctx.interrupt(…)` did not return an answer. Propagate it with `?`: the runtime knows
/// what happened whatever the node returns after it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InterruptError {
    /// The question waits for an answer: the thread pauses once the step's other tasks finish.
    #[error("interrupt {0} waits for an answer")]
    Pending(InterruptId),
    /// The answer given does not decode as the type the node expects.
    #[error("the answer to interrupt {id} is not of the type the node expects")]
    WrongType {
        /// The interrupt.
        id: InterruptId,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The payload cannot be encoded as JSON.
    #[error("the interrupt's payload cannot be encoded as JSON: {0}")]
    Payload(#[source] serde_json::Error),
    /// The graph runs without a checkpointer, so nothing could be resumed.
    #[error("interrupts need a checkpointer: a paused run is resumed from its checkpoint")]
    NoCheckpointer,
}

/// What a task's `interrupt` calls did, for the runtime to act on once the task returns.
#[derive(Debug)]
pub(crate) enum Raised {
    /// A question without an answer.
    Question(Interrupt),
    /// An answer of the wrong type, and the writes that withdraw it (the task's answers without
    /// it), so the question is open again.
    WrongType {
        id: InterruptId,
        message: String,
        withdrawn: [PendingWrite; 2],
    },
}

/// One task's interrupts: the answers it was given and what its calls raised.
#[derive(Debug)]
pub(crate) struct TaskInterrupts {
    task_id: TaskId,
    node: &'static str,
    answers: BTreeMap<u32, serde_json::Value>,
    /// The ids of the questions the answers answered, by call number.
    answered: BTreeMap<u32, InterruptId>,
    /// The question the task asked before, if it was paused, with its call number: asked
    /// again, it keeps its time.
    earlier: Option<(InterruptId, u32, SystemTime)>,
    calls: AtomicU32,
    raised: Mutex<Option<Raised>>,
}

impl TaskInterrupts {
    /// The interrupts of task `task_id` running `node`, with the answers saved among `pending`.
    pub(crate) fn new(task_id: TaskId, node: &'static str, pending: &[PendingWrite]) -> Self {
        let earlier = raised(pending)
            .into_iter()
            .find(|i| i.task_id == task_id)
            .map(|i| (i.id, i.index, i.raised_at));
        Self {
            task_id,
            node,
            answers: answers_of(pending, task_id),
            answered: answered_ids_of(pending, task_id),
            earlier,
            calls: AtomicU32::new(0),
            raised: Mutex::new(None),
        }
    }

    /// One `interrupt` call: its answer, or the question recorded.
    pub(crate) fn call<A: DeserializeOwned>(
        &self,
        payload: Result<serde_json::Value, serde_json::Error>,
    ) -> Result<A, InterruptError> {
        let index = self.calls.fetch_add(1, Ordering::SeqCst);
        let id = InterruptId::derive(self.task_id, index);
        if let Some(answer) = self.answers.get(&index) {
            return A::deserialize(answer).map_err(|source| {
                let mut answers = self.answers.clone();
                let mut answered = self.answered.clone();
                answers.remove(&index);
                answered.remove(&index);
                self.raise(Raised::WrongType {
                    id,
                    message: source.to_string(),
                    withdrawn: answer_writes(self.task_id, self.node, &answers, &answered),
                });
                InterruptError::WrongType { id, source }
            });
        }
        let payload = payload.map_err(InterruptError::Payload)?;
        let raised_at = match self.earlier {
            Some((earlier, _, at)) if earlier == id => at,
            _ => crate::checkpoint::now(),
        };
        self.raise(Raised::Question(Interrupt {
            id,
            node: self.node.to_owned(),
            payload,
            raised_at,
            task_id: self.task_id,
            index,
        }));
        Err(InterruptError::Pending(id))
    }

    /// The answer the thread was resumed with to `asked`, a question a subgraph call of this
    /// task waits on and this task asked in turn ([`TaskInterrupts::relay`]).
    pub(crate) fn answer_to(&self, asked: &Interrupt) -> Option<serde_json::Value> {
        match self.earlier {
            Some((id, index, _)) if id == asked.id => self.answers.get(&index).cloned(),
            _ => None,
        }
    }

    /// Asks `asked`, a question a subgraph call of this task waits on, in turn, under its id:
    /// it is recorded as this task's question.
    pub(crate) fn relay(&self, asked: &Interrupt) {
        let index = match self.earlier {
            Some((id, index, _)) if id == asked.id => index,
            // A new question takes the call number after every one answered.
            _ => self.answers.keys().next_back().map_or(0, |last| last + 1),
        };
        self.raise(Raised::Question(Interrupt {
            id: asked.id,
            node: self.node.to_owned(),
            payload: asked.payload.clone(),
            raised_at: asked.raised_at,
            task_id: self.task_id,
            index,
        }));
    }

    fn raise(&self, raised: Raised) {
        let mut slot = self.raised.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(raised);
    }

    /// Whether a call raised something (a question, a wrong-type answer).
    pub(crate) fn raised(&self) -> bool {
        self.raised
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Numbers the next call from the first again (a retried attempt).
    pub(crate) fn restart(&self) {
        self.calls.store(0, Ordering::SeqCst);
    }

    /// What the task's calls raised, if anything.
    pub(crate) fn take(&self) -> Option<Raised> {
        self.raised.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The call number of a pause (`interrupt_before` / `interrupt_after`): one per synthetic task.
pub(crate) const PAUSE: u32 = u32::MAX;

/// The pause of synthetic task `task_id` (`payload` says before or after which node), keeping
/// the time it was first raised if it was raised before.
pub(crate) fn pause(
    task_id: TaskId,
    node: &str,
    payload: serde_json::Value,
    pending: &[PendingWrite],
) -> Interrupt {
    let id = InterruptId::derive(task_id, PAUSE);
    let raised_at = raised(pending)
        .into_iter()
        .find(|i| i.id == id)
        .map_or_else(crate::checkpoint::now, |i| i.raised_at);
    Interrupt {
        id,
        node: node.to_owned(),
        payload,
        raised_at,
        task_id,
        index: PAUSE,
    }
}

/// The pending write saving `interrupt`.
pub(crate) fn interrupt_write(interrupt: &Interrupt) -> PendingWrite {
    let record = Record {
        id: interrupt.id,
        index: interrupt.index,
        payload: interrupt.payload.clone(),
        raised_at: to_micros(interrupt.raised_at),
    };
    PendingWrite {
        task_id: interrupt.task_id,
        node: interrupt.node.clone(),
        idx: PendingWrite::INTERRUPT_IDX,
        channel: INTERRUPT.to_owned(),
        value: serde_json::to_vec(&record).expect("an interrupt record encodes"),
    }
}

/// The pending writes saving the task of `interrupt`'s answers — the `new` ones (call number,
/// question answered, answer) with the earlier — and the ids of the questions they answered.
pub(crate) fn answers_write(
    interrupt: &Interrupt,
    pending: &[PendingWrite],
    new: impl IntoIterator<Item = (u32, InterruptId, serde_json::Value)>,
) -> [PendingWrite; 2] {
    let mut answers = answers_of(pending, interrupt.task_id);
    let mut ids = answered_ids_of(pending, interrupt.task_id);
    for (index, id, answer) in new {
        answers.insert(index, answer);
        ids.insert(index, id);
    }
    answer_writes(interrupt.task_id, &interrupt.node, &answers, &ids)
}

/// The questions the paused step waits on: the interrupts saved among `pending` that have no
/// answer and whose task has not finished, in the order they were raised. One answered but not
/// yet run on (a resume cut short) is resolved: `resume()` runs on with its answer.
pub(crate) fn open(pending: &[PendingWrite]) -> Vec<Interrupt> {
    let mut found = raised(pending);
    found.retain(|i| !is_answered(pending, i.task_id, i.index));
    found
}

/// The interrupts saved among `pending` whose task has not finished, answered or not, in the
/// order they were raised: what a task that runs again asked before.
pub(crate) fn raised(pending: &[PendingWrite]) -> Vec<Interrupt> {
    let mut found: Vec<Interrupt> = PendingWrite::unfinished(pending, INTERRUPT)
        .filter_map(|w| {
            let record: Record = serde_json::from_slice(&w.value).ok()?;
            Some(Interrupt {
                id: record.id,
                node: w.node.clone(),
                payload: record.payload,
                raised_at: from_micros(record.raised_at),
                task_id: w.task_id,
                index: record.index,
            })
        })
        .collect();
    found.sort_by_key(|i| (i.raised_at, i.id));
    found
}

/// The answers of a [`Resume`]: values for interrupts, by id — or one value for the only
/// pending interrupt.
///
/// ```
/// use stategraph_runtime::Resume;
/// #[derive(serde::Serialize)]
/// struct Approval { approved: bool }
/// let only = Resume::value(Approval { approved: true });
/// ```
#[derive(Debug, Default)]
pub struct Resume {
    pub(crate) answers: Vec<(
        Option<InterruptId>,
        Result<serde_json::Value, serde_json::Error>,
    )>,
}

impl Resume {
    /// The answer to the thread's one pending interrupt (an error when several are pending).
    pub fn value<T: Serialize>(answer: T) -> Self {
        Self::default().with(None, answer)
    }

    /// An answer to interrupt `id`.
    pub fn answer<T: Serialize>(id: InterruptId, answer: T) -> Self {
        Self::default().with(Some(id), answer)
    }

    /// This resume with an answer to interrupt `id` too.
    pub fn and<T: Serialize>(self, id: InterruptId, answer: T) -> Self {
        self.with(Some(id), answer)
    }

    fn with<T: Serialize>(mut self, id: Option<InterruptId>, answer: T) -> Self {
        self.answers.push((id, serde_json::to_value(answer)));
        self
    }
}
