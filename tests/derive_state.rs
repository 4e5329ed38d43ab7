//! The behaviour of the code `#[derive(State)]` generates, seen through the runtime traits.

#![allow(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stategraph::{ChannelSpec, Message, MessagesUpdate, State, StateUpdate, Write};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Msg {
    pub id: Option<String>,
    pub text: String,
}

impl Message for Msg {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

fn msg(id: &str, text: &str) -> Msg {
    Msg {
        id: Some(id.to_owned()),
        text: text.to_owned(),
    }
}

mod reducers {
    pub fn keep_max(current: &mut u32, write: u32) {
        *current = (*current).max(write);
    }
}

fn keep_longest(current: &mut String, write: String) {
    if write.len() > current.len() {
        *current = write;
    }
}

#[derive(stategraph::State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Research {
    pub task_id: String,
    pub synthesis: Option<String>,
    #[state(reducer = append)]
    pub notes: Vec<String>,
    #[state(reducer = add)]
    pub retries: u32,
    #[state(reducer = messages)]
    pub messages: Vec<Msg>,
    #[state(reducer = merge)]
    pub scores: BTreeMap<String, f64>,
    #[state(reducer = reducers::keep_max)]
    pub best: u32,
    #[state(reducer = keep_longest)]
    pub title: String,
    pub r#type: String,
}

const TASK_ID: usize = 0;
const SYNTHESIS: usize = 1;
const NOTES: usize = 2;
const RETRIES: usize = 3;
const TITLE: usize = 7;
const TYPE: usize = 8;

#[test]
fn channels_list_names_reducers_and_delta_flags() {
    let spec = |name, reducer, delta| ChannelSpec {
        name,
        reducer,
        delta,
        renamed_from: &[],
    };
    assert_eq!(
        Research::CHANNELS,
        &[
            spec("task_id", None, false),
            spec("synthesis", None, false),
            spec("notes", Some("append"), true),
            spec("retries", Some("add"), false),
            spec("messages", Some("messages"), true),
            spec("scores", Some("merge"), true),
            spec("best", Some("reducers::keep_max"), false),
            spec("title", Some("keep_longest"), false),
            spec("type", None, false),
        ]
    );
}

#[test]
fn the_builder_sets_only_the_given_channels() {
    let update = ResearchUpdate::new();
    assert!(update.channels().is_empty());
    assert!(update.overwrites().is_empty());

    let update = ResearchUpdate::new()
        .task_id("t-1")
        .notes(vec!["a".to_owned()])
        .retries(2u32)
        .r#type("kind");
    assert_eq!(
        update.channels().iter().collect::<Vec<_>>(),
        [TASK_ID, NOTES, RETRIES, TYPE]
    );
    // Plain fields overwrite; reducer writes do not.
    assert_eq!(
        update.overwrites().iter().collect::<Vec<_>>(),
        [TASK_ID, TYPE]
    );
    assert_eq!(update.task_id.as_deref(), Some("t-1"));
    assert_eq!(update.notes, Some(Write::Reduce(vec!["a".to_owned()])));
}

#[test]
fn replace_sets_a_replace_write_that_bypasses_the_reducer() {
    let update = ResearchUpdate::new()
        .replace_notes(vec!["summary".to_owned()])
        .replace_retries(0u32);
    assert_eq!(
        update.notes,
        Some(Write::Replace(vec!["summary".to_owned()]))
    );
    assert_eq!(
        update.overwrites().iter().collect::<Vec<_>>(),
        [NOTES, RETRIES]
    );

    let mut state = Research {
        notes: vec!["a".into(), "b".into()],
        retries: 7,
        ..Research::default()
    };
    state.apply(update);
    assert_eq!(state.notes, ["summary"]);
    assert_eq!(state.retries, 0);
}

#[test]
fn apply_merges_each_channel_through_its_reducer() {
    let mut state = Research {
        task_id: "old".into(),
        notes: vec!["a".into()],
        retries: 1,
        messages: vec![msg("1", "hello"), msg("2", "draft")],
        scores: BTreeMap::from([("x".to_owned(), 1.0), ("y".to_owned(), 2.0)]),
        best: 5,
        title: "short".into(),
        ..Research::default()
    };
    state.apply(
        ResearchUpdate::new()
            .task_id("new")
            .synthesis(Some("done".to_owned()))
            .notes(vec!["b".to_owned(), "c".to_owned()])
            .retries(2u32)
            .messages(
                MessagesUpdate::new()
                    .push(msg("2", "final"))
                    .push(msg("3", "more"))
                    .remove("1"),
            )
            .scores(BTreeMap::from([
                ("y".to_owned(), 20.0),
                ("z".to_owned(), 3.0),
            ]))
            .best(3u32)
            .title("a longer title"),
    );
    assert_eq!(state.task_id, "new");
    assert_eq!(state.synthesis.as_deref(), Some("done"));
    assert_eq!(state.notes, ["a", "b", "c"]);
    assert_eq!(state.retries, 3);
    assert_eq!(state.messages, [msg("2", "final"), msg("3", "more")]);
    assert_eq!(
        state.scores,
        BTreeMap::from([
            ("x".to_owned(), 1.0),
            ("y".to_owned(), 20.0),
            ("z".to_owned(), 3.0)
        ])
    );
    assert_eq!(state.best, 5, "keep_max keeps the larger value");
    assert_eq!(state.title, "a longer title");

    // A single message converts into a messages write.
    state.apply(ResearchUpdate::new().messages(msg("4", "one")).best(9u32));
    assert_eq!(state.messages.len(), 3);
    assert_eq!(state.best, 9);

    // An empty update changes nothing.
    let before = state.clone();
    state.apply(ResearchUpdate::new());
    assert_eq!(state, before);
}

fn sample() -> Research {
    Research {
        task_id: "t".into(),
        synthesis: Some("s".into()),
        notes: vec!["n".into()],
        retries: 4,
        messages: vec![msg("1", "m")],
        scores: BTreeMap::from([("k".to_owned(), 0.5)]),
        best: 8,
        title: "title".into(),
        r#type: "kind".into(),
    }
}

#[test]
fn channels_round_trip_through_their_encoding() {
    let state = sample();
    let mut restored = Research::default();
    for channel in 0..Research::CHANNELS.len() {
        let bytes = state.encode_channel(channel).unwrap();
        restored.decode_channel(channel, Some(&bytes), &[]).unwrap();
    }
    assert_eq!(restored, state);
}

#[test]
fn deltas_replay_writes_after_the_snapshot() {
    let state = Research {
        notes: vec!["a".into()],
        ..Research::default()
    };
    let snapshot = state.encode_channel(NOTES).unwrap();

    // Each delta is a JSON array of one step's writes to the channel.
    let step1 = |update: &ResearchUpdate| {
        format!(
            "[{}]",
            String::from_utf8(update.encode_write(NOTES).unwrap()).unwrap()
        )
    };
    let first = step1(&ResearchUpdate::new().notes(vec!["b".to_owned()]));
    let second = format!(
        "[{},{}]",
        String::from_utf8(
            ResearchUpdate::new()
                .notes(vec!["c".to_owned()])
                .encode_write(NOTES)
                .unwrap()
        )
        .unwrap(),
        String::from_utf8(
            ResearchUpdate::new()
                .notes(vec!["d".to_owned()])
                .encode_write(NOTES)
                .unwrap()
        )
        .unwrap(),
    );
    let mut restored = Research::default();
    restored
        .decode_channel(
            NOTES,
            Some(&snapshot),
            &[first.as_bytes(), second.as_bytes()],
        )
        .unwrap();
    assert_eq!(restored.notes, ["a", "b", "c", "d"]);

    // A replace in a delta replaces what came before it.
    let replace = step1(&ResearchUpdate::new().replace_notes(vec!["z".to_owned()]));
    restored
        .decode_channel(
            NOTES,
            Some(&snapshot),
            &[first.as_bytes(), replace.as_bytes()],
        )
        .unwrap();
    assert_eq!(restored.notes, ["z"]);

    // Deltas without a snapshot start from the default.
    let mut fresh = Research::default();
    fresh
        .decode_channel(NOTES, None, &[first.as_bytes()])
        .unwrap();
    assert_eq!(fresh.notes, ["b"]);
}

#[test]
fn writes_round_trip_through_their_encoding() {
    let update = ResearchUpdate::new()
        .task_id("t")
        .notes(vec!["n".to_owned()])
        .replace_retries(3u32)
        .messages(MessagesUpdate::new().remove("1"))
        .best(2u32)
        .r#type("kind");
    let mut decoded = ResearchUpdate::new();
    for channel in update.channels().iter() {
        let bytes = update.encode_write(channel).unwrap();
        decoded.decode_write(channel, &bytes).unwrap();
    }
    assert_eq!(format!("{decoded:?}"), format!("{update:?}"));
    assert_eq!(decoded.channels(), update.channels());
    assert_eq!(decoded.overwrites(), update.overwrites());
    assert!(
        update.encode_write(SYNTHESIS).is_err(),
        "an unwritten channel has no write to encode"
    );
}

#[test]
fn a_channel_missing_from_a_checkpoint_keeps_its_default() {
    let mut restored = Research::default();
    restored
        .decode_channel(TASK_ID, Some(br#""t""#), &[])
        .unwrap();
    restored.decode_channel(RETRIES, None, &[]).unwrap();
    assert_eq!(
        restored,
        Research {
            task_id: "t".into(),
            ..Research::default()
        }
    );
}

#[test]
fn bad_bytes_are_an_error_not_a_panic() {
    let mut state = Research::default();
    assert!(
        state
            .decode_channel(RETRIES, Some(b"\"not a number\""), &[])
            .is_err()
    );
    assert!(ResearchUpdate::new().decode_write(TITLE, b"{").is_err());
}

#[test]
#[should_panic(expected = "`Research` has 9 channels; there is no channel 9")]
fn an_index_past_the_channels_is_a_bug() {
    let _ = Research::default().encode_channel(9);
}

#[derive(stategraph::State, Clone, Debug, Default, Serialize, Deserialize)]
struct Private {
    value: i64,
    #[state(reducer = append)]
    log: std::collections::VecDeque<u8>,
}

#[test]
fn a_private_state_gets_a_private_update() {
    let mut state = Private::default();
    state.apply(
        PrivateUpdate::new()
            .value(3)
            .log(std::collections::VecDeque::from([1, 2])),
    );
    state.apply(PrivateUpdate::new().log(std::collections::VecDeque::from([3])));
    assert_eq!(state.value, 3);
    assert_eq!(state.log, [1, 2, 3]);
}

/// Setters of primitive fields take the type itself, so a bare literal infers it.
#[test]
fn primitive_setters_take_literals() {
    #[derive(State, Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
    struct Literals {
        retries: u32,
        #[state(reducer = add)]
        cost: u64,
        ratio: f64,
        done: bool,
        name: String,
    }
    let update = LiteralsUpdate::new()
        .retries(3)
        .cost(10)
        .ratio(0.5)
        .done(true)
        .name("x");
    let mut state = Literals::default();
    state.apply(update.clone());
    // The last setter call for a field is the update's write to it: here `+1`, not the replace.
    state.apply(LiteralsUpdate::new().cost(5).replace_cost(7).cost(1));
    assert_eq!(
        (state.retries, state.cost, state.ratio, state.done),
        (3, 11, 0.5, true)
    );
    state.apply(LiteralsUpdate::new().replace_cost(7));
    assert_eq!(state.cost, 7);
    assert_eq!(state.name, "x");
}
