//! The events a run emits — each step's state, each task's update, what nodes emit, task starts
//! and ends, checkpoints, questions — with the [`StreamMode`] that picks them, and the sending
//! side (`emitter.rs`) the executor and nodes hold. Below the executor, so a node and the
//! executor emit without reaching up to the streams that read them (`stream`).

mod emitter;
pub mod running;

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub(crate) use emitter::Emitter;

use crate::checkpoint::Source;
use crate::ids::{CheckpointId, TaskId};
use crate::interrupt::Interrupt;
use crate::state::{State, StateUpdate};

/// Which events a stream carries; combine with `|`.
///
/// Within a step, events come in one order whichever modes are asked for: each task's
/// `TaskStarted`, its `Custom` events and its `TaskFinished`, then the step's `Update`s in merge
/// order, its `Checkpoint`, then its `Values`; a question or pause comes last.
///
/// ```
/// use stategraph_runtime::StreamMode;
/// let modes = StreamMode::UPDATES | StreamMode::CUSTOM;
/// assert!(modes.contains(StreamMode::CUSTOM) && !modes.contains(StreamMode::VALUES));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StreamMode(u8);

impl StreamMode {
    /// The whole state after each step, and the state a run starts from.
    pub const VALUES: Self = Self(1);
    /// Each task's update, by node, as the step that ran it ends.
    pub const UPDATES: Self = Self(1 << 1);
    /// What nodes send with [`NodeContext::emit`](crate::NodeContext::emit): tokens, progress.
    pub const CUSTOM: Self = Self(1 << 2);
    /// Each task's start and end (with its duration and error), and each retried attempt.
    pub const TASKS: Self = Self(1 << 3);
    /// Each checkpoint as it is written.
    pub const CHECKPOINTS: Self = Self(1 << 4);
    /// Each question or pause as it is raised.
    pub const INTERRUPTS: Self = Self(1 << 5);
    /// What models called from nodes reply, piece by piece as it arrives (LangGraph's
    /// `messages` mode): sent by the model layer through [`running::emit_message`].
    pub const MESSAGES: Self = Self(1 << 6);
    /// Every mode.
    pub const ALL: Self = Self(0b111_1111);

    /// Whether every mode of `other` is in this set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for StreamMode {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl fmt::Debug for StreamMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::VALUES, "values"),
            (Self::UPDATES, "updates"),
            (Self::CUSTOM, "custom"),
            (Self::TASKS, "tasks"),
            (Self::CHECKPOINTS, "checkpoints"),
            (Self::INTERRUPTS, "interrupts"),
            (Self::MESSAGES, "messages"),
        ];
        let on: Vec<&str> = names
            .iter()
            .filter(|(mode, _)| self.contains(*mode))
            .map(|(_, name)| *name)
            .collect();
        write!(f, "StreamMode({})", on.join(" | "))
    }
}

/// How a run is streamed: the modes, whether subgraphs' events are included, and the size of
/// the buffer between the run and the consumer.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    pub(crate) modes: StreamMode,
    pub(crate) subgraphs: bool,
    pub(crate) buffer: usize,
}

impl StreamOptions {
    /// How many events wait for the consumer before the run waits for it, unless set.
    pub const DEFAULT_BUFFER: usize = 64;

    /// The events of `modes`, from the graph itself, through a buffer of
    /// [`StreamOptions::DEFAULT_BUFFER`] events.
    pub fn new(modes: StreamMode) -> Self {
        Self {
            modes,
            subgraphs: false,
            buffer: Self::DEFAULT_BUFFER,
        }
    }

    /// Includes the events of subgraph calls at every depth, each with its namespace.
    pub fn subgraphs(mut self) -> Self {
        self.subgraphs = true;
        self
    }

    /// At most `events` (at least 1) wait for the consumer; then the run waits.
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }
}

impl From<StreamMode> for StreamOptions {
    fn from(modes: StreamMode) -> Self {
        Self::new(modes)
    }
}

/// One thing that happened in a run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event {
    /// Where: `""` for the graph streamed, a subgraph call's namespace (`draft:<task>`,
    /// `draft:<task>|stream:<task>`) for its events.
    pub ns: String,
    /// The graph whose run it comes from (its module's name): the graph streamed, or a
    /// subgraph's.
    pub graph: &'static str,
    /// The run it belongs to: one id per streamed call (`stream`, a resume's `stream`), shared
    /// by the events of its subgraph calls.
    pub run_id: Arc<str>,
    /// The step it belongs to (-1 for a run's input).
    pub step: i64,
    /// The node it concerns, if one does.
    pub node: Option<String>,
    /// The checkpoint the step started from (for a step's values, updates and checkpoint: the
    /// one it wrote); `None` without a checkpointer.
    pub checkpoint_id: Option<CheckpointId>,
    /// What happened.
    pub data: EventData,
}

/// What an [`Event`] reports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventData {
    /// The whole state (`StreamMode::VALUES`).
    Values(Payload),
    /// A task's update (`StreamMode::UPDATES`).
    Update(Payload),
    /// What a node emitted (`StreamMode::CUSTOM`).
    Custom(Payload),
    /// A task started (`StreamMode::TASKS`).
    TaskStarted {
        /// The task (`None` without a checkpointer).
        task_id: Option<TaskId>,
    },
    /// A task ended (`StreamMode::TASKS`): how long it ran, and its error if it failed.
    TaskFinished {
        /// The task (`None` without a checkpointer).
        task_id: Option<TaskId>,
        /// How long it ran, retries included.
        duration: Duration,
        /// Its error (at most 1 KiB of it), or `None` if it succeeded or asked a question.
        error: Option<String>,
    },
    /// An attempt of a task failed and will be retried (`StreamMode::TASKS`).
    Retry {
        /// The attempt that failed, from 1.
        attempt: u32,
        /// Its error (at most 1 KiB of it).
        error: String,
    },
    /// A checkpoint was written (`StreamMode::CHECKPOINTS`).
    Checkpoint(CheckpointEvent),
    /// A question or pause was raised (`StreamMode::INTERRUPTS`).
    Interrupt(Interrupt),
    /// What a model called from the node replied (`StreamMode::MESSAGES`): a piece of the
    /// reply as it arrived, or a whole reply, as the model layer sent it (the agent layer
    /// sends `AiMessageChunk`s).
    Message(Payload),
}

/// A checkpoint as it was written.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckpointEvent {
    /// The checkpoint it continued from.
    pub parent_id: Option<CheckpointId>,
    /// Why it was written.
    pub source: Source,
    /// The nodes that run next; empty when the run reached END.
    pub next: Vec<String>,
    /// The state it stores.
    pub values: Payload,
}

/// A value an event carries — a state, an update, something a node emitted — kept as the value
/// itself: [`Payload::get`] reads it back as its type, without copying; [`Payload::to_json`]
/// writes it for another process (Server-Sent Events, a log).
#[derive(Clone)]
pub struct Payload(Arc<dyn Erased>);

impl Payload {
    pub(crate) fn new<T: Serialize + Send + Sync + 'static>(value: T) -> Self {
        Self(Arc::new(Plain(value)))
    }

    /// An update of state `S`, whose JSON is an object of the channels it writes.
    pub(crate) fn update<S: State>(update: S::Update) -> Self {
        Self(Arc::new(Written::<S>(update)))
    }

    /// The value, if it is a `T`.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    /// The value as JSON.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.0.to_json()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_json() {
            Ok(json) => write!(f, "{json}"),
            Err(_) => f.write_str("<not JSON>"),
        }
    }
}

/// A payload's value, behind the type it was made with.
trait Erased: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error>;
}

/// A value that serializes itself.
struct Plain<T>(T);

impl<T: Serialize + Send + Sync + 'static> Erased for Plain<T> {
    fn as_any(&self) -> &dyn Any {
        &self.0
    }
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(&self.0)
    }
}

/// An update, written as its channels' writes.
struct Written<S: State>(S::Update);

impl<S: State> Erased for Written<S> {
    fn as_any(&self) -> &dyn Any {
        &self.0
    }
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        let mut object = serde_json::Map::new();
        for channel in self.0.channels().iter() {
            let write = serde_json::from_slice(&self.0.encode_write(channel)?)?;
            object.insert(S::CHANNELS[channel].name.to_owned(), write);
        }
        Ok(serde_json::Value::Object(object))
    }
}
