//! Send (map-reduce): a `#[send]` function fans a step out to one task per input, each task
//! running on its own typed input; the updates merge in the order the inputs were sent, the
//! inputs are stored with the checkpoint that schedules them, and a resume re-runs only the
//! tasks whose writes were not saved.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stategraph::{
    Checkpointer, GraphDef, GraphError, MemorySaver, NodeContext, NodeResult, Resume, SENDS, State,
};

/// One subject to write about: what the fan-out sends to each task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Subject {
    name: String,
    index: usize,
}

/// How often each subject's task ran, and which fail once.
#[derive(Default)]
struct Desk {
    runs: Mutex<BTreeMap<String, usize>>,
    fail_once: Mutex<Vec<String>>,
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Jokes {
    subjects: Vec<String>,
    #[state(reducer = append)]
    jokes: Vec<String>,
    best: Option<String>,
}

#[stategraph::graph(state = Jokes, deps = Desk)]
mod jokes {
    use super::*;

    #[node]
    async fn plan(s: &Jokes) -> NodeResult<Jokes> {
        Ok(JokesUpdate::new().subjects(s.subjects.clone()))
    }

    #[send]
    fn per_subject(s: &Jokes) -> Vec<Subject> {
        s.subjects
            .iter()
            .enumerate()
            .map(|(index, name)| Subject {
                name: name.clone(),
                index,
            })
            .collect()
    }

    /// Later subjects finish first: the merge order is still the send order.
    #[node]
    async fn joke(subject: &Subject, ctx: &NodeContext<Desk>) -> NodeResult<Jokes> {
        let desk = ctx.deps();
        *desk
            .runs
            .lock()
            .unwrap()
            .entry(subject.name.clone())
            .or_default() += 1;
        let delay = 20u64.saturating_sub(subject.index as u64 * 5);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let mut fail = desk.fail_once.lock().unwrap();
        if let Some(at) = fail.iter().position(|n| *n == subject.name) {
            fail.remove(at);
            return Err(format!("no joke about {}", subject.index).into());
        }
        Ok(JokesUpdate::new().push_jokes(format!("a joke about {}", subject.name)))
    }

    #[node]
    async fn pick(s: &Jokes) -> NodeResult<Jokes> {
        Ok(JokesUpdate::new().best(s.jokes.first().cloned()))
    }

    edges! {
        START -> plan;
        plan -> per_subject => joke;
        joke -> pick -> END;
    }
}

fn subjects(names: &[&str]) -> JokesUpdate {
    JokesUpdate::new().subjects(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
}

fn expected(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("a joke about {n}")).collect()
}

#[tokio::test]
async fn each_input_runs_as_its_own_task_and_merges_in_send_order() {
    let desk = Arc::new(Desk::default());
    let graph = jokes::graph(desk.clone()).compile().unwrap();
    let names = ["cats", "dogs", "owls", "eels"];
    let done = graph.invoke(subjects(&names)).await.unwrap();
    assert_eq!(done.jokes, expected(&names));
    assert_eq!(done.best.as_deref(), Some("a joke about cats"));
    assert!(desk.runs.lock().unwrap().values().all(|&n| n == 1));
}

#[tokio::test]
async fn nothing_sent_schedules_nothing() {
    let graph = jokes::graph(Desk::default()).compile().unwrap();
    let done = graph.invoke(subjects(&[])).await.unwrap();
    assert!(done.jokes.is_empty());
    assert_eq!(done.best, None, "`pick` follows `joke`, which never ran");
}

#[tokio::test]
async fn the_inputs_are_stored_with_the_checkpoint_and_survive_a_new_process_on_every_backend() {
    let dir = std::env::temp_dir().join(format!("sg-send-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let savers = support::every_saver(&dir, "send")
        .await
        .unwrap_or_else(|| vec![("memory", Arc::new(MemorySaver::new()))]);
    let run = stategraph::CheckpointId::new();
    let names = ["cats", "dogs", "owls"];
    for (backend, saver) in savers {
        let id = format!("send-{backend}-{run}");
        let graph = jokes::graph(Desk::default())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        let paused = graph
            .thread(id.as_str())
            .interrupt_before([jokes::Node::Joke])
            .invoke(subjects(&names))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
        assert!(
            matches!(paused, GraphError::Interrupted { .. }),
            "{backend}: {paused}"
        );
        let state = graph.thread(id.as_str()).state().await.unwrap().unwrap();
        assert_eq!(state.next, [jokes::Node::Joke], "{backend}");
        let stored = saver
            .get(&id.as_str().into(), "", None)
            .await
            .unwrap()
            .unwrap();
        let sends: serde_json::Value =
            serde_json::from_slice(&stored.channels[SENDS][0].data).unwrap();
        assert_eq!(
            sends,
            serde_json::json!([
                ["joke", {"name": "cats", "index": 0}],
                ["joke", {"name": "dogs", "index": 1}],
                ["joke", {"name": "owls", "index": 2}],
            ]),
            "{backend}"
        );
        // Another process: the tasks run on the inputs read back from storage.
        let desk = Arc::new(Desk::default());
        let later = jokes::graph(desk.clone())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        let done = later
            .thread(id.as_str())
            .resume_with(Resume::value(()))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(done.jokes, expected(&names), "{backend}");
        assert_eq!(desk.runs.lock().unwrap().len(), 3, "{backend}");
        // The checkpoint after the fan-out sends nothing more.
        let last = saver
            .get(&id.as_str().into(), "", None)
            .await
            .unwrap()
            .unwrap();
        assert!(!last.checkpoint.channel_versions.contains_key(SENDS));
        saver.delete_thread(&id.as_str().into()).await.unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_failed_task_runs_again_alone_on_resume() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let desk = Arc::new(Desk::default());
    desk.fail_once.lock().unwrap().push("dogs".to_owned());
    let graph = jokes::graph(desk.clone())
        .checkpointer(saver)
        .compile()
        .unwrap();
    let thread = graph.thread("flaky");
    let names = ["cats", "dogs", "owls"];
    let error = thread
        .invoke(subjects(&names))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(error, GraphError::Node { node: "joke", .. }),
        "{error}"
    );
    let done = thread
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.jokes, expected(&names));
    let runs = desk.runs.lock().unwrap().clone();
    assert_eq!(
        runs,
        [("cats", 1), ("dogs", 2), ("owls", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    );
}

#[tokio::test]
async fn a_thousand_tasks_fan_out_and_merge_in_order() {
    let dir = std::env::temp_dir().join(format!("sg-send-1000-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let names: Vec<String> = (0..1000).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sqlite = stategraph::sqlite::SqliteSaver::open(dir.join("t.db"))
        .await
        .unwrap();
    for saver in [
        None,
        Some(Arc::new(MemorySaver::new()) as Arc<dyn Checkpointer>),
        Some(Arc::new(sqlite) as Arc<dyn Checkpointer>),
    ] {
        let desk = Arc::new(Desk::default());
        let done = match saver {
            None => jokes::graph(desk.clone())
                .compile()
                .unwrap()
                .invoke(subjects(&refs))
                .await
                .unwrap(),
            Some(saver) => jokes::graph(desk.clone())
                .checkpointer(saver)
                .compile()
                .unwrap()
                .thread("thousand")
                .invoke(subjects(&refs))
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap(),
        };
        assert_eq!(done.jokes, expected(&refs));
        assert_eq!(desk.runs.lock().unwrap().len(), 1000);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_drawing_shows_the_send() {
    assert!(
        jokes::Graph::MERMAID.contains("plan -. each per_subject .-> joke"),
        "{}",
        jokes::Graph::MERMAID
    );
}

/// An input serde cannot write as JSON (a map with non-string keys).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Unencodable {
    pairs: BTreeMap<(u8, u8), u8>,
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Counts {
    n: u32,
}

#[stategraph::graph(state = Counts)]
mod unencodable {
    use super::*;

    #[node]
    async fn plan(_: &Counts) -> NodeResult<Counts> {
        Ok(CountsUpdate::new().n(1))
    }

    #[send]
    fn per_pair(_: &Counts) -> Vec<Unencodable> {
        vec![Unencodable {
            pairs: [((1, 2), 3)].into_iter().collect(),
        }]
    }

    #[node]
    async fn count(_: &Unencodable) -> NodeResult<Counts> {
        Ok(CountsUpdate::new())
    }

    edges! {
        START -> plan;
        plan -> per_pair => count;
        count -> END;
    }
}

#[tokio::test]
async fn an_input_that_cannot_be_stored_fails_the_step_and_stores_nothing_of_it() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let graph = unencodable::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("unencodable");
    let error = thread
        .invoke(CountsUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(
            error,
            GraphError::Encode {
                node: "count",
                field: SENDS,
                ..
            }
        ),
        "{error}"
    );
    // The thread stays at its input: the step that could not be stored left nothing.
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.metadata.step, -1);
    assert_eq!(state.next, [unencodable::Node::Plan]);
    // Without a checkpointer nothing is stored, so the same graph runs.
    let done = unencodable::graph()
        .compile()
        .unwrap()
        .invoke(CountsUpdate::new())
        .await
        .unwrap();
    assert_eq!(done.n, 1);
}
