//! [`Counter`], a small typed state written by hand (what `#[derive(State)]` generates), for
//! the cases that read checkpoints back as a typed state and the executor's own tests.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::__private as p;
use crate::reducer::{Append, Reducer};
use crate::{ChannelSet, ChannelSpec, State, StateUpdate, Write};

/// A small typed state written by hand (what `#[derive(State)]` generates): a plain `count`
/// (the last write wins) and an `append` `log` stored as deltas. The decode cases rebuild it
/// from stored checkpoints; the runtime's executor tests run graphs over it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    /// A plain channel.
    pub count: i64,
    /// An `append` channel, stored as a snapshot plus deltas.
    pub log: Vec<String>,
}

/// One write to [`Counter`]'s log.
pub type LogWrite = Write<Vec<String>, <Append as Reducer<Vec<String>>>::Input>;

/// The partial update of [`Counter`].
#[derive(Clone, Debug, Default)]
pub struct CounterUpdate {
    /// The new count.
    pub count: Option<i64>,
    /// Lines to append, or a replacement log.
    pub log: Option<LogWrite>,
}

impl CounterUpdate {
    /// Sets the count.
    pub fn count(mut self, n: i64) -> Self {
        self.count = Some(n);
        self
    }

    /// Appends one line to the log.
    pub fn log(mut self, line: &str) -> Self {
        self.log = Some(Write::Reduce(vec![line.to_owned()]));
        self
    }

    /// Replaces the whole log.
    pub fn replace_log(mut self, lines: Vec<String>) -> Self {
        self.log = Some(Write::Replace(lines));
        self
    }
}

impl Counter {
    /// The JSON of one delta of the log: the step's writes appending `lines` (as
    /// [`fixtures::log_delta`](super::fixtures::log_delta) writes them by hand).
    pub fn log_delta(lines: &[&str]) -> Value {
        let write: LogWrite = Write::Reduce(lines.iter().map(|l| (*l).to_owned()).collect());
        serde_json::to_value(vec![write]).expect("a log write encodes")
    }
}

// Not offered in the compiler's "the trait `State` is implemented for …" hints: a user's
// missing `#[derive(State)]` reads the same with and without the `testing` feature.
#[diagnostic::do_not_recommend]
impl State for Counter {
    type Update = CounterUpdate;
    const CHANNELS: &'static [ChannelSpec] = &[
        ChannelSpec {
            name: "count",
            reducer: None,
            delta: false,
            renamed_from: &[],
        },
        ChannelSpec {
            name: "log",
            reducer: Some("append"),
            delta: true,
            renamed_from: &[],
        },
    ];

    fn apply(&mut self, update: CounterUpdate) {
        p::apply_plain(&mut self.count, update.count);
        p::apply_reduced::<Append, _>(&mut self.log, update.log);
    }

    fn encode_channel(&self, channel: usize) -> Result<Vec<u8>, serde_json::Error> {
        match channel {
            0 => p::encode_value(&self.count),
            _ => p::encode_value(&self.log),
        }
    }

    fn decode_channel(
        &mut self,
        channel: usize,
        snapshot: Option<&[u8]>,
        deltas: &[&[u8]],
    ) -> Result<(), serde_json::Error> {
        match channel {
            0 => p::decode_plain(&mut self.count, snapshot, deltas),
            _ => p::decode_reduced::<Append, _>(&mut self.log, snapshot, deltas),
        }
    }
}

impl StateUpdate for CounterUpdate {
    fn channels(&self) -> ChannelSet {
        let mut set = ChannelSet::new();
        if self.count.is_some() {
            set.insert(0);
        }
        if self.log.is_some() {
            set.insert(1);
        }
        set
    }

    fn overwrites(&self) -> ChannelSet {
        let mut set = ChannelSet::new();
        if self.count.is_some() {
            set.insert(0);
        }
        if p::is_replace(&self.log) {
            set.insert(1);
        }
        set
    }

    fn encode_write(&self, channel: usize) -> Result<Vec<u8>, serde_json::Error> {
        match channel {
            0 => p::encode_write(&self.count),
            _ => p::encode_write(&self.log),
        }
    }

    fn decode_write(&mut self, channel: usize, bytes: &[u8]) -> Result<(), serde_json::Error> {
        match channel {
            0 => p::decode_write(&mut self.count, bytes),
            _ => p::decode_write(&mut self.log, bytes),
        }
    }
}
