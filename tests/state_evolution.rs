//! Checkpoints written by one version of a state type, read by the next: an added field with a
//! default reads back as its default; an incompatible change is an error naming the thread,
//! checkpoint and field.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stategraph::{CheckpointError, GraphError, MemorySaver, NodeResult, State};

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
        .unwrap();
    let head = old
        .thread("job-2")
        .state()
        .await
        .unwrap()
        .unwrap()
        .checkpoint_id;

    let changed = v3::flow::graph().checkpointer(saver).compile().unwrap();
    let err = changed.thread("job-2").resume().await.unwrap_err();
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
