//! Checkpoints written by one version of a state type, read by the next: an added field with a
//! default reads back as its default; a renamed field declared with `renamed_from` keeps its
//! value; a removed field declared in `removed(…)` is dropped on purpose; a field renamed or
//! removed without saying so, and an incompatible change, are errors naming the thread,
//! checkpoint and field — never a silent loss.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stategraph::{CheckpointError, Checkpointer, GraphError, MemorySaver, NodeResult, State};

mod v1 {
    use super::*;

    #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
    pub struct Job {
        pub title: String,
        #[state(reducer = append)]
        pub notes: Vec<String>,
    }

    #[stategraph::graph(state = Job)]
    pub mod flow {
        use super::*;

        #[node]
        async fn draft(s: &Job) -> NodeResult<Job> {
            Ok(JobUpdate::new().notes(vec![format!("drafted {}", s.title)]))
        }

        edges! {
            START -> draft -> END;
        }
    }
}

mod v2 {
    use super::*;

    #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
    pub struct Job {
        pub title: String,
        #[state(reducer = append)]
        pub notes: Vec<String>,
        /// Added after v1 shipped.
        pub reviewer: Option<String>,
        #[state(reducer = add)]
        pub revisions: u32,
    }

    #[stategraph::graph(state = Job)]
    pub mod flow {
        use super::*;

        #[node]
        async fn draft(s: &Job) -> NodeResult<Job> {
            Ok(JobUpdate::new()
                .notes(vec![format!("drafted {}", s.title)])
                .revisions(1))
        }

        edges! {
            START -> draft -> END;
        }
    }
}

mod v3 {
    use super::*;

    /// `title` changed type incompatibly.
    #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
    pub struct Job {
        pub title: u64,
        #[state(reducer = append)]
        pub notes: Vec<String>,
    }

    #[stategraph::graph(state = Job)]
    pub mod flow {
        use super::*;

        #[node]
        async fn draft(_: &Job) -> NodeResult<Job> {
            Ok(JobUpdate::new())
        }

        edges! {
            START -> draft -> END;
        }
    }
}

/// `title` renamed to `name` and `notes` to `log`, said so.
mod renamed {
    use super::*;

    #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
    pub struct Job {
        #[state(renamed_from = "title")]
        pub name: String,
        #[state(reducer = append, renamed_from = "notes")]
        pub log: Vec<String>,
    }

    #[stategraph::graph(state = Job)]
    pub mod flow {
        use super::*;

        #[node]
        async fn draft(s: &Job) -> NodeResult<Job> {
            Ok(JobUpdate::new().push_log(format!("drafted {}", s.name)))
        }

        edges! {
            START -> draft -> END;
        }
    }
}

/// `notes` renamed to `log` without saying so.
mod renamed_silently {
    use super::*;

    #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
    pub struct Job {
        pub title: String,
        #[state(reducer = append)]
        pub log: Vec<String>,
    }

    #[stategraph::graph(state = Job)]
    pub mod flow {
        use super::*;

        #[node]
        async fn draft(_: &Job) -> NodeResult<Job> {
            Ok(JobUpdate::new())
        }

        edges! {
            START -> draft -> END;
        }
    }
}

/// `notes` removed on purpose.
mod removed {
    use super::*;

    #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
    #[state(removed("notes"))]
    pub struct Job {
        pub title: String,
    }

    #[stategraph::graph(state = Job)]
    pub mod flow {
        use super::*;

        #[node]
        async fn draft(s: &Job) -> NodeResult<Job> {
            Ok(JobUpdate::new().title(format!("{}!", s.title)))
        }

        edges! {
            START -> draft -> END;
        }
    }
}

/// Two v1 runs on `thread` (so `notes` is a snapshot followed by a delta).
async fn v1_thread(saver: &Arc<MemorySaver>, thread: &str) {
    let old = v1::flow::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let t = old.thread(thread);
    t.invoke(v1::JobUpdate::new().title("spec"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    t.invoke(v1::JobUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
}

#[tokio::test]
async fn a_declared_rename_keeps_the_value_and_is_stored_under_the_new_name() {
    let saver = Arc::new(MemorySaver::new());
    v1_thread(&saver, "job-rename").await;
    let graph = renamed::flow::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("job-rename");
    let before = thread.state().await.unwrap().unwrap().values;
    assert_eq!(before.name, "spec");
    assert_eq!(before.log, ["drafted spec", "drafted spec"]);

    let out = thread
        .invoke(renamed::JobUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.log, ["drafted spec", "drafted spec", "drafted spec"]);
    // The new checkpoints store the channels under their new names only, and read back whole.
    let head = saver
        .get(&"job-rename".into(), "", None)
        .await
        .unwrap()
        .unwrap();
    let names: Vec<&str> = head
        .checkpoint
        .channel_versions
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ["log", "name"]);
    let again = thread.state().await.unwrap().unwrap().values;
    assert_eq!(again.name, "spec");
    assert_eq!(again.log.len(), 3);
}

#[tokio::test]
async fn a_silent_rename_is_an_error_naming_thread_checkpoint_and_channel() {
    let saver = Arc::new(MemorySaver::new());
    v1_thread(&saver, "job-silent").await;
    let head = saver
        .get(&"job-silent".into(), "", None)
        .await
        .unwrap()
        .unwrap()
        .checkpoint
        .id;
    let graph = renamed_silently::flow::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("job-silent");
    for err in [
        thread.state().await.unwrap_err(),
        thread
            .invoke(renamed_silently::JobUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    ] {
        match &err {
            GraphError::Checkpoint(CheckpointError::UnknownChannel {
                thread_id,
                checkpoint,
                channel,
            }) => {
                assert_eq!(thread_id.as_str(), "job-silent");
                assert_eq!(*checkpoint, head);
                assert_eq!(channel, "notes");
            }
            other => panic!("expected an unknown channel, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("renamed_from = \"notes\""), "{text}");
    }
    // Nothing was written on top of the old checkpoint.
    let still = saver
        .get(&"job-silent".into(), "", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.checkpoint.id, head);
}

#[tokio::test]
async fn a_declared_removal_drops_the_value_on_purpose() {
    let saver = Arc::new(MemorySaver::new());
    v1_thread(&saver, "job-removed").await;
    let graph = removed::flow::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let out = graph
        .thread("job-removed")
        .invoke(removed::JobUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.title, "spec!");
    let head = saver
        .get(&"job-removed".into(), "", None)
        .await
        .unwrap()
        .unwrap();
    assert!(!head.checkpoint.channel_versions.contains_key("notes"));
}

#[tokio::test]
async fn an_added_field_reads_back_as_its_default() {
    let saver = Arc::new(MemorySaver::new());
    let old = v1::flow::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    old.thread("job-1")
        .invoke(v1::JobUpdate::new().title("spec"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();

    let new = v2::flow::graph().checkpointer(saver).compile().unwrap();
    let thread = new.thread("job-1");
    let state = thread
        .state()
        .await
        .unwrap()
        .expect("the v1 checkpoint is readable")
        .values;
    assert_eq!(state.title, "spec");
    assert_eq!(state.notes, ["drafted spec"]);
    assert_eq!(state.reviewer, None);
    assert_eq!(state.revisions, 0);

    let out = thread
        .invoke(v2::JobUpdate::new().reviewer(Some("ana".to_owned())))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.notes, ["drafted spec", "drafted spec"]);
    assert_eq!(out.revisions, 1);
    assert_eq!(out.reviewer.as_deref(), Some("ana"));
}

#[tokio::test]
async fn an_incompatible_field_is_an_error_naming_thread_checkpoint_and_field() {
    let saver = Arc::new(MemorySaver::new());
    let old = v1::flow::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    old.thread("job-2")
        .invoke(v1::JobUpdate::new().title("spec"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let head = old
        .thread("job-2")
        .state()
        .await
        .unwrap()
        .unwrap()
        .checkpoint_id;

    let changed = v3::flow::graph().checkpointer(saver).compile().unwrap();
    let err = changed
        .thread("job-2")
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    match &err {
        GraphError::Checkpoint(CheckpointError::Decode {
            thread_id,
            checkpoint,
            channel,
            ..
        }) => {
            assert_eq!(thread_id.as_str(), "job-2");
            assert_eq!(*checkpoint, head);
            assert_eq!(channel, "title");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("channel `title` does not decode"), "{text}");
    assert!(text.contains(&head.to_string()), "{text}");
}
