//! Reducers: how the writes of several nodes to one channel merge.
//!
//! A plain field keeps the last value written (two writes in one step are an error). A field
//! marked `#[state(reducer = …)]` merges every write through its reducer instead:
//!
//! | reducer    | field type                       | a write                         |
//! |------------|----------------------------------|---------------------------------|
//! | `append`   | `Vec<T>`, `VecDeque<T>`          | items to add at the end         |
//! | `add`      | a number                         | an amount to add                |
//! | `messages` | `Vec<M>` where `M: Message`      | messages to add, replace or remove by id |
//! | `merge`    | `HashMap<K, V>`, `BTreeMap<K, V>`| entries to insert (the write wins) |
//! | a path     | any `T`                          | a `T`, merged by `fn(&mut T, T)` |

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Merges writes of type [`Reducer::Input`] into a value of type `T`.
#[diagnostic::on_unimplemented(
    message = "the reducer `{Self}` cannot merge into a field of type `{T}`",
    label = "this field's type does not fit its reducer"
)]
pub trait Reducer<T> {
    /// What one write to the channel carries.
    type Input: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static;
    /// Whether checkpoints may store this channel's writes as deltas instead of whole values.
    /// True for collections that grow; false where a snapshot is as small as a write.
    const DELTA: bool;
    /// Merges one write into the current value.
    fn reduce(current: &mut T, input: Self::Input);
}

/// `#[state(reducer = append)]`: each write's items are added at the end.
#[derive(Debug, Clone, Copy)]
pub struct Append;

/// A collection that `append` can extend.
#[diagnostic::on_unimplemented(
    message = "`append` needs a collection to extend, but this field is `{Self}`",
    label = "`append` does not fit `{Self}`",
    note = "use `append` on a `Vec<_>` or `VecDeque<_>`; for a number use `add`, for a map use `merge`"
)]
pub trait Appendable:
    Serialize + DeserializeOwned + Clone + Debug + Default + Send + Sync + 'static
{
    /// One item of the collection.
    type Item;
    /// Adds `items` at the end.
    fn append_all(&mut self, items: Self);
    /// Adds one item at the end.
    fn push_one(&mut self, item: Self::Item);
}

impl<T: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static> Appendable
    for Vec<T>
{
    type Item = T;
    fn append_all(&mut self, mut items: Self) {
        self.append(&mut items);
    }
    fn push_one(&mut self, item: T) {
        self.push(item);
    }
}

impl<T: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static> Appendable
    for VecDeque<T>
{
    type Item = T;
    fn append_all(&mut self, mut items: Self) {
        self.append(&mut items);
    }
    fn push_one(&mut self, item: T) {
        self.push_back(item);
    }
}

impl<T: Appendable> Reducer<T> for Append {
    type Input = T;
    const DELTA: bool = true;
    fn reduce(current: &mut T, input: T) {
        current.append_all(input);
    }
}

/// `#[state(reducer = add)]`: each write is added to the number.
#[derive(Debug, Clone, Copy)]
pub struct Add;

/// A number that `add` can sum.
#[diagnostic::on_unimplemented(
    message = "`add` needs a number, but this field is `{Self}`",
    label = "`add` does not fit `{Self}`",
    note = "use `add` on an integer or float field; for a list use `append`, for a map use `merge`"
)]
pub trait Summable:
    Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static + std::ops::AddAssign
{
}

macro_rules! summable {
    ($($t:ty),*) => { $(impl Summable for $t {})* };
}
summable!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

impl<T: Summable> Reducer<T> for Add {
    type Input = T;
    const DELTA: bool = false;
    fn reduce(current: &mut T, input: T) {
        *current += input;
    }
}

/// `#[state(reducer = merge)]`: each write's entries are inserted; the write wins on a key.
#[derive(Debug, Clone, Copy)]
pub struct Merge;

/// A map that `merge` can union.
#[diagnostic::on_unimplemented(
    message = "`merge` needs a map, but this field is `{Self}`",
    label = "`merge` does not fit `{Self}`",
    note = "use `merge` on a `HashMap<_, _>` or `BTreeMap<_, _>`; for a list use `append`"
)]
pub trait Mergeable: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// Inserts every entry of `entries`, replacing values under existing keys.
    fn merge_all(&mut self, entries: Self);
}

impl<K, V, S> Mergeable for HashMap<K, V, S>
where
    K: Eq + Hash + Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static,
    S: std::hash::BuildHasher + Default + Clone + Send + Sync + 'static,
{
    fn merge_all(&mut self, entries: Self) {
        self.extend(entries);
    }
}

impl<K, V> Mergeable for BTreeMap<K, V>
where
    K: Ord + Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static,
{
    fn merge_all(&mut self, mut entries: Self) {
        self.append(&mut entries);
    }
}

impl<T: Mergeable> Reducer<T> for Merge {
    type Input = T;
    const DELTA: bool = true;
    fn reduce(current: &mut T, input: T) {
        current.merge_all(input);
    }
}

/// A chat message the `messages` reducer can address by id.
pub trait Message: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static {
    /// The message's id, if it has one. A message without an id is always appended.
    fn id(&self) -> Option<&str>;
}

/// A list of messages for a field with `#[state(reducer = messages)]`.
#[diagnostic::on_unimplemented(
    message = "`messages` needs a `Vec<M>` of messages with ids, but this field is `{Self}`",
    label = "`messages` does not fit `{Self}`",
    note = "use `messages` on a `Vec<M>` where `M: stategraph::Message`; for a plain list use `append`"
)]
pub trait MessageList:
    Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static
{
    /// The message type.
    type Item: Message;
    /// The messages, in order.
    fn items(&self) -> &[Self::Item];
    /// The messages, in order, to change.
    fn items_mut(&mut self) -> &mut Vec<Self::Item>;
}

impl<M: Message> MessageList for Vec<M> {
    type Item = M;
    fn items(&self) -> &[M] {
        self
    }
    fn items_mut(&mut self) -> &mut Vec<M> {
        self
    }
}

/// `#[state(reducer = messages)]`: append messages, replace one with the same id, remove by id.
#[derive(Debug, Clone, Copy)]
pub struct Messages;

/// A state holding one conversation: code written for any such state — a tool node, an
/// agent's route — reads its messages and writes to them through this.
///
/// `#[derive(State)]` implements it for a state with exactly one
/// `#[state(reducer = messages)]` field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no conversation to read: it needs one `#[state(reducer = messages)]` field",
    label = "no `messages` field in `{Self}`",
    note = "add `#[state(reducer = messages)] messages: Vec<ChatMessage>` to the state; with several such fields, implement `MessagesState` by hand for the one agents use"
)]
pub trait MessagesState: crate::state::State {
    /// The message type.
    type Message: Message;
    /// The conversation, in order.
    fn messages(&self) -> &[Self::Message];
    /// An update that writes `update` to the conversation.
    fn messages_update(update: MessagesUpdate<Self::Message>) -> Self::Update;
}

/// One change to a message list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageOp<M> {
    /// Append the message, or replace the message with the same id in place.
    Add(M),
    /// Remove the message with this id (nothing happens if there is none).
    Remove(String),
    /// Remove every message.
    RemoveAll,
}

/// A write to a `messages` channel: a sequence of adds and removals, applied in order.
///
/// ```
/// use stategraph_runtime::{Message, MessagesUpdate};
/// #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
/// struct Msg { id: String, text: String }
/// impl Message for Msg { fn id(&self) -> Option<&str> { Some(&self.id) } }
///
/// let update = MessagesUpdate::new()
///     .remove("m1")
///     .push(Msg { id: "m2".into(), text: "revised".into() });
/// assert_eq!(update.ops().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessagesUpdate<M>(Vec<MessageOp<M>>);

impl<M> Default for MessagesUpdate<M> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<M> MessagesUpdate<M> {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `message`, or replaces the message with its id.
    pub fn push(mut self, message: M) -> Self {
        self.0.push(MessageOp::Add(message));
        self
    }

    /// Removes the message with `id`.
    pub fn remove(mut self, id: impl Into<String>) -> Self {
        self.0.push(MessageOp::Remove(id.into()));
        self
    }

    /// Removes every message; later adds in this update still apply.
    pub fn remove_all(mut self) -> Self {
        self.0.push(MessageOp::RemoveAll);
        self
    }

    /// The changes, in order.
    pub fn ops(&self) -> &[MessageOp<M>] {
        &self.0
    }
}

impl<M> From<M> for MessagesUpdate<M> {
    fn from(message: M) -> Self {
        Self(vec![MessageOp::Add(message)])
    }
}

impl<M> From<Vec<M>> for MessagesUpdate<M> {
    fn from(messages: Vec<M>) -> Self {
        Self(messages.into_iter().map(MessageOp::Add).collect())
    }
}

impl<T: MessageList> Reducer<T> for Messages {
    type Input = MessagesUpdate<T::Item>;
    const DELTA: bool = true;
    fn reduce(current: &mut T, input: Self::Input) {
        let list = current.items_mut();
        for op in input.0 {
            match op {
                MessageOp::Add(message) => {
                    let existing = message
                        .id()
                        .and_then(|id| list.iter().position(|m| m.id() == Some(id)));
                    match existing {
                        Some(at) => list[at] = message,
                        None => list.push(message),
                    }
                }
                MessageOp::Remove(id) => list.retain(|m| m.id() != Some(id.as_str())),
                MessageOp::RemoveAll => list.clear(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Msg(Option<String>, String);
    impl Message for Msg {
        fn id(&self) -> Option<&str> {
            self.0.as_deref()
        }
    }
    fn msg(id: &str, text: &str) -> Msg {
        Msg(Some(id.to_owned()), text.to_owned())
    }

    #[test]
    fn append_extends_in_order() {
        let mut v = vec![1, 2];
        <Append as Reducer<Vec<i32>>>::reduce(&mut v, vec![3, 4]);
        assert_eq!(v, [1, 2, 3, 4]);
        let mut d = VecDeque::from([1]);
        <Append as Reducer<VecDeque<i32>>>::reduce(&mut d, VecDeque::from([2]));
        assert_eq!(d, [1, 2]);
    }

    #[test]
    fn add_sums() {
        let mut n = 2u32;
        <Add as Reducer<u32>>::reduce(&mut n, 5);
        assert_eq!(n, 7);
        let mut f = 0.5f64;
        <Add as Reducer<f64>>::reduce(&mut f, 0.25);
        assert_eq!(f, 0.75);
    }

    #[test]
    fn merge_lets_the_write_win() {
        let mut m: BTreeMap<String, i32> = BTreeMap::from([("a".into(), 1), ("b".into(), 2)]);
        <Merge as Reducer<_>>::reduce(&mut m, BTreeMap::from([("b".into(), 20), ("c".into(), 30)]));
        assert_eq!(
            m,
            BTreeMap::from([("a".into(), 1), ("b".into(), 20), ("c".into(), 30)])
        );
        let mut h: HashMap<u8, String> = HashMap::from([(1, "x".into())]);
        <Merge as Reducer<_>>::reduce(&mut h, HashMap::from([(1, "y".into()), (2, "z".into())]));
        assert_eq!(h, HashMap::from([(1, "y".into()), (2, "z".into())]));
    }

    #[test]
    fn messages_append_replace_and_remove_by_id() {
        let mut list = vec![msg("1", "a"), msg("2", "b")];
        let update = MessagesUpdate::new()
            .push(msg("2", "b2"))
            .push(Msg(None, "anon".into()))
            .push(msg("3", "c"))
            .remove("1")
            .remove("missing");
        <Messages as Reducer<Vec<Msg>>>::reduce(&mut list, update);
        assert_eq!(
            list,
            vec![msg("2", "b2"), Msg(None, "anon".into()), msg("3", "c")]
        );

        <Messages as Reducer<Vec<Msg>>>::reduce(
            &mut list,
            MessagesUpdate::new().remove_all().push(msg("9", "summary")),
        );
        assert_eq!(list, vec![msg("9", "summary")]);
    }

    #[test]
    fn messages_update_round_trips_as_json() {
        let update = MessagesUpdate::<Msg>::from(vec![msg("1", "a")]).remove("0");
        let json = serde_json::to_string(&update).unwrap();
        assert_eq!(json, r#"[{"add":["1","a"]},{"remove":"0"}]"#);
    }
}
