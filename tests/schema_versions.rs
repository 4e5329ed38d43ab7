//! State schema versions: a state type declares its version and the type it migrates from;
//! checkpoints record the version that wrote them; reading an older one migrates it through
//! every version in between (lazily, on read and resume), a newer one is an error, a migration
//! that fails or panics is a typed error that changes nothing, and `migrate_threads` migrates
//! every thread now.

use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use stategraph::{
    CheckpointError, Checkpointer, GraphError, MemorySaver, NodeContext, NodeResult, Resume, State,
};

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct NotesV1 {
    #[state(reducer = append)]
    notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    n: u32,
    text: String,
}

/// Version 2: notes became numbered entries, with a count.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[state(version = 2, migrate_from = NotesV1)]
struct NotesV2 {
    #[state(reducer = append)]
    entries: Vec<Entry>,
    count: u32,
}

impl From<NotesV1> for NotesV2 {
    fn from(v1: NotesV1) -> Self {
        let entries: Vec<Entry> = v1
            .notes
            .into_iter()
            .enumerate()
            .map(|(i, text)| Entry {
                n: i as u32 + 1,
                text,
            })
            .collect();
        Self {
            count: entries.len() as u32,
            entries,
        }
    }
}

/// Version 3: a title, derived from the first entry; an entry that says "poison" cannot be
/// migrated, one that says "panic" makes the migration panic.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[state(version = 3, migrate_from = NotesV2)]
struct NotesV3 {
    #[state(reducer = append)]
    entries: Vec<Entry>,
    count: u32,
    title: String,
}

impl TryFrom<NotesV2> for NotesV3 {
    type Error = String;
    fn try_from(v2: NotesV2) -> Result<Self, String> {
        if v2.entries.iter().any(|e| e.text == "panic") {
            panic!("an entry the migration cannot stand");
        }
        if v2.entries.iter().any(|e| e.text == "poison") {
            return Err(format!("entry {} cannot be titled", v2.count));
        }
        Ok(Self {
            title: v2
                .entries
                .first()
                .map(|e| e.text.clone())
                .unwrap_or_default(),
            entries: v2.entries,
            count: v2.count,
        })
    }
}

#[stategraph::graph(state = NotesV1)]
mod v1 {
    use super::*;

    #[node]
    async fn note(s: &NotesV1) -> NodeResult<NotesV1> {
        Ok(NotesV1Update::new().push_notes(format!("note {}", s.notes.len() + 1)))
    }

    edges! { START -> note -> END; }
}

#[stategraph::graph(state = NotesV2)]
mod v2 {
    use super::*;

    #[node]
    async fn note(s: &NotesV2) -> NodeResult<NotesV2> {
        let n = s.count + 1;
        Ok(NotesV2Update::new()
            .push_entries(Entry {
                n,
                text: format!("entry {n}"),
            })
            .count(n))
    }

    edges! { START -> note -> END; }
}

#[stategraph::graph(state = NotesV3)]
mod v3 {
    use super::*;

    #[node]
    async fn note(s: &NotesV3) -> NodeResult<NotesV3> {
        let n = s.count + 1;
        Ok(NotesV3Update::new()
            .push_entries(Entry {
                n,
                text: format!("entry {n}"),
            })
            .count(n))
    }

    edges! { START -> note -> END; }
}

fn saver() -> std::sync::Arc<MemorySaver> {
    std::sync::Arc::new(MemorySaver::new())
}

#[tokio::test]
async fn an_older_thread_is_read_and_continued_through_every_version_in_between() {
    let saver = saver();
    let old = v1::graph().checkpointer(saver.clone()).compile().unwrap();
    old.thread("t")
        .invoke(NotesV1Update::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    old.thread("t")
        .invoke(NotesV1Update::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();

    let new = v3::graph().checkpointer(saver.clone()).compile().unwrap();
    let thread = new.thread("t");
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(
        state.metadata.state_version, 1,
        "read lazily: nothing written yet"
    );
    assert_eq!(state.values.count, 2);
    assert_eq!(state.values.title, "note 1");
    assert_eq!(
        state.values.entries,
        [
            Entry {
                n: 1,
                text: "note 1".into()
            },
            Entry {
                n: 2,
                text: "note 2".into()
            }
        ]
    );
    // Running on writes version 3, every field whole.
    let done = thread
        .invoke(NotesV3Update::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.count, 3);
    assert_eq!(done.entries.len(), 3);
    let latest = thread.state().await.unwrap().unwrap();
    assert_eq!(latest.metadata.state_version, 3);
    // The old history is still readable, migrated.
    let history = thread.history().await.unwrap();
    assert!(history.iter().any(|s| s.metadata.state_version == 1));
    assert!(
        history
            .iter()
            .all(|s| s.values.title.is_empty() || s.values.title == "note 1")
    );
}

#[tokio::test]
async fn a_checkpoint_of_a_newer_version_is_a_clear_error() {
    let saver = saver();
    let new = v3::graph().checkpointer(saver.clone()).compile().unwrap();
    new.thread("t")
        .invoke(NotesV3Update::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let old = v2::graph().checkpointer(saver.clone()).compile().unwrap();
    let error = old.thread("t").state().await.unwrap_err();
    assert!(
        matches!(
            error,
            GraphError::Checkpoint(CheckpointError::NewerStateVersion {
                stored: 3,
                known: 2,
                ..
            })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade the code"), "{error}");
    let error = old
        .thread("t")
        .invoke(NotesV2Update::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(error.to_string().contains("version 3"), "{error}");
}

#[tokio::test]
async fn a_migration_that_fails_or_panics_is_a_typed_error_and_changes_nothing() {
    for (word, expected) in [
        ("poison", "cannot be titled"),
        ("panic", "the migration panicked"),
    ] {
        let saver = saver();
        let old = v2::graph().checkpointer(saver.clone()).compile().unwrap();
        let thread = old.thread("t");
        thread
            .invoke(NotesV2Update::new().push_entries(Entry {
                n: 0,
                text: word.into(),
            }))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        let before = thread.state().await.unwrap().unwrap().checkpoint_id;
        let new = v3::graph().checkpointer(saver.clone()).compile().unwrap();
        let error = new
            .thread("t")
            .invoke(NotesV3Update::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
        let GraphError::Checkpoint(CheckpointError::Migration {
            from,
            to,
            ref message,
            ..
        }) = error
        else {
            panic!("a migration error: {error}");
        };
        assert_eq!((from, to), (2, 3));
        assert!(message.contains(expected), "{message}");
        let report = new.migrate_threads().await.unwrap();
        assert_eq!(report.failed.len(), 1, "{report:?}");
        // Nothing changed: the old version still reads it, at the same checkpoint.
        assert_eq!(thread.state().await.unwrap().unwrap().checkpoint_id, before);
    }
}

#[tokio::test]
async fn migrate_threads_migrates_every_thread_now_and_then_has_nothing_to_do() {
    let saver = saver();
    let old = v1::graph().checkpointer(saver.clone()).compile().unwrap();
    for id in ["a", "b", "c"] {
        old.thread(id)
            .invoke(NotesV1Update::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
    }
    let new = v3::graph().checkpointer(saver.clone()).compile().unwrap();
    let report = new.migrate_threads().await.unwrap();
    assert_eq!((report.migrated, report.current), (3, 0), "{report:?}");
    assert!(report.failed.is_empty() && report.pending.is_empty());
    for id in ["a", "b", "c"] {
        let state = new.thread(id).state().await.unwrap().unwrap();
        assert_eq!(state.metadata.state_version, 3);
        assert_eq!(state.values.title, "note 1");
        assert!(state.next.is_empty(), "the next nodes are kept");
    }
    let again = new.migrate_threads().await.unwrap();
    assert_eq!((again.migrated, again.current), (0, 3));
    assert_eq!(new.thread("a").migrate().await.unwrap(), None);
}

/// Version 1 of a paused step's state.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct StepV1 {
    #[state(reducer = append)]
    log: Vec<String>,
    tag: String,
}

/// Version 2: the tag became a list of tags.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[state(version = 2, migrate_from = StepV1)]
struct StepV2 {
    #[state(reducer = append)]
    log: Vec<String>,
    tags: Vec<String>,
}

impl From<StepV1> for StepV2 {
    fn from(v1: StepV1) -> Self {
        Self {
            log: v1.log,
            tags: [v1.tag].into_iter().filter(|t| !t.is_empty()).collect(),
        }
    }
}

/// How often each branch of the paused step ran, in either version.
static LOGGED: AtomicU32 = AtomicU32::new(0);
static TAGGED: AtomicU32 = AtomicU32::new(0);

/// A step of three branches in version 1: one logs, one tags, one asks a question.
#[stategraph::graph(state = StepV1)]
mod paused_v1 {
    use super::*;

    #[node]
    async fn logger(_: &StepV1) -> NodeResult<StepV1> {
        LOGGED.fetch_add(1, Ordering::SeqCst);
        Ok(StepV1Update::new().push_log("logged"))
    }

    #[node]
    async fn tagger(_: &StepV1) -> NodeResult<StepV1> {
        TAGGED.fetch_add(1, Ordering::SeqCst);
        Ok(StepV1Update::new().tag("urgent"))
    }

    #[node]
    async fn ask(_: &StepV1, ctx: &NodeContext) -> NodeResult<StepV1> {
        let answer: String = ctx.interrupt("who?").await?;
        Ok(StepV1Update::new().push_log(answer))
    }

    edges! {
        START -> [logger, tagger, ask];
        logger -> END;
        tagger -> END;
        ask -> END;
    }
}

/// The same step in version 2.
#[stategraph::graph(state = StepV2)]
mod paused_v2 {
    use super::*;

    #[node]
    async fn logger(_: &StepV2) -> NodeResult<StepV2> {
        LOGGED.fetch_add(1, Ordering::SeqCst);
        Ok(StepV2Update::new().push_log("logged"))
    }

    #[node]
    async fn tagger(_: &StepV2) -> NodeResult<StepV2> {
        TAGGED.fetch_add(1, Ordering::SeqCst);
        Ok(StepV2Update::new().tags(vec!["urgent".to_owned(), "v2".to_owned()]))
    }

    #[node]
    async fn ask(_: &StepV2, ctx: &NodeContext) -> NodeResult<StepV2> {
        let answer: String = ctx.interrupt("who?").await?;
        Ok(StepV2Update::new().push_log(answer))
    }

    edges! {
        START -> [logger, tagger, ask];
        logger -> END;
        tagger -> END;
        ask -> END;
    }
}

/// A thread paused under version 1, with its siblings' writes saved in version 1's shape,
/// resumes under version 2: the question keeps its answer slot; the sibling whose saved write
/// version 2 reads (the log) is not run again; the one whose write it cannot read (a tag that
/// became a list) runs again on the migrated state instead of failing the resume.
#[tokio::test]
async fn a_paused_thread_resumes_after_a_migration_and_reruns_only_what_it_cannot_read() {
    let saver = saver();
    let old = paused_v1::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let asked = old
        .thread("paused")
        .invoke(StepV1Update::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(asked, GraphError::Interrupted { .. }), "{asked}");
    assert_eq!(
        (LOGGED.load(Ordering::SeqCst), TAGGED.load(Ordering::SeqCst)),
        (1, 1)
    );
    let new = paused_v2::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = new.thread("paused");
    let done = thread
        .resume_with(Resume::value("Ada"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(
        LOGGED.load(Ordering::SeqCst),
        1,
        "the readable write is reused"
    );
    assert_eq!(
        TAGGED.load(Ordering::SeqCst),
        2,
        "the unreadable one runs again"
    );
    assert_eq!(done.log, ["logged", "Ada"]);
    assert_eq!(done.tags, ["urgent", "v2"]);
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.metadata.state_version, 2);
}

/// The outer graph of the per-thread subgraph tests: it counts its runs.
#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Outer {
    runs: u32,
}

fn to_notes_v1(_: &Outer) -> NotesV1Update {
    NotesV1Update::new()
}

fn to_notes_v2(_: &Outer) -> NotesV2Update {
    NotesV2Update::new()
}

fn from_notes_v1(_: &NotesV1) -> OuterUpdate {
    OuterUpdate::new()
}

fn from_notes_v2(_: &NotesV2) -> OuterUpdate {
    OuterUpdate::new()
}

/// An outer graph keeping version 1 notes per thread in a subgraph.
#[stategraph::graph(state = Outer)]
mod keeps_v1 {
    use super::*;

    #[subgraph(input = to_notes_v1, output = from_notes_v1, checkpoint = per_thread)]
    type notes = super::v1::Graph;

    edges! { START -> notes -> END; }
}

/// The same outer graph once the subgraph's state is version 2.
#[stategraph::graph(state = Outer)]
mod keeps_v2 {
    use super::*;

    #[subgraph(input = to_notes_v2, output = from_notes_v2, checkpoint = per_thread)]
    type notes = super::v2::Graph;

    edges! { START -> notes -> END; }
}

/// `migrate_threads` migrates the state a thread keeps for a per-thread subgraph, not only the
/// thread's own: the subgraph's namespace holds version 2 afterwards, and the next call goes on
/// from the migrated notes.
#[tokio::test]
async fn migrate_threads_migrates_per_thread_subgraph_state_too() {
    let saver = saver();
    let old = keeps_v1::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    for _ in 0..2 {
        old.thread("keeper")
            .invoke(OuterUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
    }
    let stored = |saver: std::sync::Arc<MemorySaver>| async move {
        saver
            .get(&"keeper".into(), "notes", None)
            .await
            .unwrap()
            .expect("the subgraph's namespace holds its state")
            .checkpoint
            .metadata
            .state_version
    };
    assert_eq!(stored(saver.clone()).await, 1);
    let new = keeps_v2::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let report = new.migrate_threads().await.unwrap();
    assert_eq!(report.subgraphs, 1, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(stored(saver.clone()).await, 2);
    let again = new.migrate_threads().await.unwrap();
    assert_eq!(again.subgraphs, 0, "nothing left to migrate");
    let thread = new.thread("keeper");
    thread
        .invoke(OuterUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let notes = thread
        .subgraph::<v2::Graph>("notes")
        .unwrap()
        .state()
        .await
        .unwrap()
        .expect("the subgraph's state")
        .values;
    let texts: Vec<&str> = notes.entries.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts,
        ["note 1", "note 2", "entry 3"],
        "the call went on from the migrated notes"
    );
}
