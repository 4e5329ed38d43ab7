//! The state contract that `#[derive(State)]` implements: channels, partial updates, and the
//! encoding of each channel for checkpoints.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// One field of a state struct, seen as a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelSpec {
    /// The field name, which is also the channel name in checkpoints.
    pub name: &'static str,
    /// The reducer's name, or `None` for a plain field (the last write wins).
    pub reducer: Option<&'static str>,
    /// Whether the reducer's inputs can be stored as deltas instead of the whole value.
    pub delta: bool,
    /// Earlier names of the field (`#[state(renamed_from = "old")]`): a checkpoint that stores
    /// the channel under one of them is read into this field.
    pub renamed_from: &'static [&'static str],
}

/// What a stored channel name is to state type `S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// The channel with this index, under its current name.
    Current(usize),
    /// The channel with this index, under an earlier name.
    Renamed(usize),
    /// A channel the type declares removed: its value is dropped on purpose.
    Removed,
    /// A channel the type knows nothing of.
    Unknown,
}

impl Stored {
    /// What `name`, stored in a checkpoint, is to `S`.
    pub(crate) fn of<S: State>(name: &str) -> Self {
        if let Some(index) = S::CHANNELS.iter().position(|c| c.name == name) {
            Stored::Current(index)
        } else if let Some(index) = S::CHANNELS
            .iter()
            .position(|c| c.renamed_from.contains(&name))
        {
            Stored::Renamed(index)
        } else if S::REMOVED.contains(&name) {
            Stored::Removed
        } else {
            Stored::Unknown
        }
    }
}

/// A set of channels, by index into [`State::CHANNELS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelSet(u128);

impl ChannelSet {
    /// The most channels (fields) a state may have.
    pub const CAPACITY: usize = 128;

    /// The empty set.
    pub const fn new() -> Self {
        Self(0)
    }

    /// Adds channel `index`.
    pub fn insert(&mut self, index: usize) {
        self.0 |= 1 << index;
    }

    /// Whether channel `index` is in the set.
    pub fn contains(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The channels in both sets.
    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The channels in either set.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The channel indexes in increasing order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let index = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(index)
        })
    }
}

/// A graph's state: a struct whose fields are channels, each merged by its reducer.
///
/// Implemented by `#[derive(State)]`; write it by hand only for a state the derive cannot
/// express. Adding a field later keeps old checkpoints readable: a channel a checkpoint does not
/// hold keeps its value from `Default`. Renaming or removing a field must be declared
/// ([`ChannelSpec::renamed_from`], [`State::REMOVED`]): a stored channel the type does not know
/// is an error, never silently dropped.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a graph state",
    label = "not a state: derive it with `#[derive(State)]`",
    note = "a graph's state is a struct with named fields and `#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]`"
)]
pub trait State:
    Clone + Default + Debug + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// The partial update a node returns; it sets only the channels the node changes.
    type Update: StateUpdate;

    /// The channels, in field order.
    const CHANNELS: &'static [ChannelSpec];

    /// Channels earlier versions of the type had and this one dropped on purpose
    /// (`#[state(removed("draft"))]`): their stored values are ignored.
    const REMOVED: &'static [&'static str] = &[];

    /// The type's version (`#[state(version = n, migrate_from = Previous)]`); 1 when it
    /// declares none. Checkpoints record the version that wrote them.
    const VERSION: u32 = 1;

    /// A state stored by version `version` (below [`State::VERSION`]) in `tuple`, read as the
    /// type that wrote it and migrated up to this one, through every version in between. The
    /// derive generates it from `migrate_from`; without one, no earlier version is readable.
    fn migrate_from(
        version: u32,
        tuple: &crate::checkpoint::CheckpointTuple,
    ) -> Result<Self, crate::checkpoint::CheckpointError> {
        Err(crate::checkpoint::CheckpointError::Migration {
            thread_id: tuple.checkpoint.thread_id.clone(),
            checkpoint: tuple.checkpoint.id,
            from: version,
            to: Self::VERSION,
            message: "the state type declares no migration from it (`#[state(version = …, migrate_from = …)]`)".to_owned(),
        })
    }

    /// Merges one update into the state, channel by channel, through each channel's reducer.
    fn apply(&mut self, update: Self::Update);

    /// Encodes the whole value of channel `channel` (a snapshot).
    fn encode_channel(&self, channel: usize) -> Result<Vec<u8>, serde_json::Error>;

    /// Restores channel `channel` from its latest snapshot (if any) and the deltas written
    /// after it, oldest first. Each delta is a JSON array of that channel's writes in one step.
    fn decode_channel(
        &mut self,
        channel: usize,
        snapshot: Option<&[u8]>,
        deltas: &[&[u8]],
    ) -> Result<(), serde_json::Error>;
}

/// The partial update of a [`State`], generated by `#[derive(State)]` as `<Name>Update`.
pub trait StateUpdate: Clone + Debug + Default + Send + Sync + 'static {
    /// The channels this update writes.
    fn channels(&self) -> ChannelSet;

    /// The channels this update writes by replacing the value: every plain field it sets, and
    /// every reducer field it sets through `replace_<field>`.
    fn overwrites(&self) -> ChannelSet;

    /// Encodes this update's write to `channel` (it must be in [`StateUpdate::channels`]).
    fn encode_write(&self, channel: usize) -> Result<Vec<u8>, serde_json::Error>;

    /// Sets this update's write to `channel` from its encoding.
    fn decode_write(&mut self, channel: usize, bytes: &[u8]) -> Result<(), serde_json::Error>;
}

/// A write to a reducer channel: through the reducer, or replacing the whole value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Write<T, I> {
    /// Merge the input through the channel's reducer.
    Reduce(I),
    /// Replace the whole value, bypassing the reducer (a summarization node replacing history).
    Replace(T),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_set_iterates_in_order() {
        let mut set = ChannelSet::new();
        for i in [127, 3, 0, 64] {
            set.insert(i);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 3, 64, 127]);
        assert!(set.contains(64) && !set.contains(5));
        let mut other = ChannelSet::new();
        other.insert(3);
        other.insert(9);
        assert_eq!(set.intersection(other).iter().collect::<Vec<_>>(), vec![3]);
        assert_eq!(set.union(other).iter().count(), 5);
    }
}
