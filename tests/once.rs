//! `ctx.once`: the side effect a node does before asking a question (opening a ticket, paging
//! someone) happens once, however often the task runs again — resumed, or after it failed.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{
    CompiledGraph, Durable, GraphError, Interrupt, MemorySaver, NodeContext, NodeError, NodeResult,
    OnceError, Resume, State, ThreadStatus,
};

/// What the node's side effects touched, and the faults to inject.
#[derive(Default)]
struct Desk {
    tickets_opened: AtomicU64,
    pages_sent: AtomicU64,
    /// The ticket service fails once.
    ticket_service_down: AtomicBool,
    /// The node fails once, after paging.
    fail_after_paging: AtomicBool,
}

#[derive(Serialize, Deserialize)]
struct Question {
    round: u32,
    reference: u64,
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Incident {
    ticket: u64,
    page: u64,
    approved: bool,
}

#[stategraph::graph(state = Incident, deps = Desk)]
mod escalation {
    use super::*;

    #[node]
    async fn escalate(_s: &Incident, ctx: &NodeContext<Desk>) -> NodeResult<Incident> {
        let desk = ctx.deps();
        let ticket: u64 = ctx
            .once(async {
                if desk.ticket_service_down.swap(false, Ordering::SeqCst) {
                    return Err(NodeError::from("the ticket service is down"));
                }
                Ok(100 + desk.tickets_opened.fetch_add(1, Ordering::SeqCst))
            })
            .await?;
        let first: bool = ctx
            .interrupt(Question {
                round: 1,
                reference: ticket,
            })
            .await?;
        let page: u64 = ctx
            .once(async {
                Ok::<_, NodeError>(200 + desk.pages_sent.fetch_add(1, Ordering::SeqCst))
            })
            .await?;
        if desk.fail_after_paging.swap(false, Ordering::SeqCst) {
            return Err("the node failed after paging".into());
        }
        let second: bool = ctx
            .interrupt(Question {
                round: 2,
                reference: page,
            })
            .await?;
        Ok(IncidentUpdate::new()
            .ticket(ticket)
            .page(page)
            .approved(first && second))
    }

    edges! {
        START -> escalate;
        escalate -> END;
    }
}

fn asked(result: Result<Incident, GraphError>) -> Question {
    match result {
        Err(GraphError::Interrupted { interrupts, .. }) => {
            let [one]: [Interrupt; 1] = interrupts.try_into().expect("one question");
            one.payload_as().unwrap()
        }
        other => panic!("expected a question, got {other:?}"),
    }
}

fn counts(desk: &Desk) -> (u64, u64) {
    (
        desk.tickets_opened.load(Ordering::SeqCst),
        desk.pages_sent.load(Ordering::SeqCst),
    )
}

/// A fresh SQLite file in the temp dir, removed with its directory by the caller.
fn sqlite_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sg-once-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("once.db")
}

async fn walk_two_questions(
    graph: &CompiledGraph<escalation::Graph, Durable>,
    desk: &Desk,
    thread_id: &str,
) {
    let thread = graph.thread(thread_id);
    let q = asked(
        thread
            .invoke(IncidentUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished),
    );
    assert_eq!((q.round, q.reference), (1, 100));
    assert_eq!(counts(desk), (1, 0));
    // Asked again on a plain resume: the ticket is not opened again.
    let q = asked(
        thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished),
    );
    assert_eq!((q.round, q.reference), (1, 100));
    assert_eq!(
        counts(desk),
        (1, 0),
        "a resume must not open a second ticket"
    );
    let q = asked(
        thread
            .resume_with(Resume::value(true))
            .await
            .and_then(stategraph::Outcome::into_finished),
    );
    assert_eq!((q.round, q.reference), (2, 200));
    assert_eq!(counts(desk), (1, 1));
    let done = thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!((done.ticket, done.page, done.approved), (100, 200, true));
    assert_eq!(counts(desk), (1, 1), "each side effect ran once");
}

#[tokio::test]
async fn side_effects_before_questions_run_once_in_memory() {
    let desk = Arc::new(Desk::default());
    let graph = escalation::graph(desk.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    walk_two_questions(&graph, &desk, "incident-1").await;
}

#[tokio::test]
async fn side_effects_before_questions_run_once_in_sqlite() {
    let path = sqlite_file("walk");
    let desk = Arc::new(Desk::default());
    let graph = escalation::graph(desk.clone())
        .checkpointer(SqliteSaver::open(&path).await.unwrap())
        .compile()
        .unwrap();
    walk_two_questions(&graph, &desk, "incident-1").await;
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn side_effects_before_questions_run_once_on_every_backend() {
    let path = sqlite_file("every");
    let Some(savers) = support::every_saver(path.parent().unwrap(), "once").await else {
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        return;
    };
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    for (name, saver) in savers {
        let desk = Arc::new(Desk::default());
        let graph = escalation::graph(desk.clone())
            .checkpointer(saver)
            .compile()
            .unwrap();
        walk_two_questions(&graph, &desk, &format!("incident-{name}-{run}")).await;
    }
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn a_saved_result_survives_a_new_saver_on_the_file() {
    let path = sqlite_file("reopen");
    let desk = Arc::new(Desk::default());
    {
        let graph = escalation::graph(desk.clone())
            .checkpointer(SqliteSaver::open(&path).await.unwrap())
            .compile()
            .unwrap();
        asked(
            graph
                .thread("incident-1")
                .invoke(IncidentUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished),
        );
    }
    // Another process: new saver, new graph, new deps.
    let later = Arc::new(Desk::default());
    let graph = escalation::graph(later.clone())
        .checkpointer(SqliteSaver::open(&path).await.unwrap())
        .compile()
        .unwrap();
    let q = asked(
        graph
            .thread("incident-1")
            .resume_with(Resume::value(true))
            .await
            .and_then(stategraph::Outcome::into_finished),
    );
    assert_eq!((q.round, q.reference), (2, 200));
    assert_eq!(
        counts(&later),
        (0, 1),
        "the ticket came from the saved result"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn results_are_kept_when_the_task_fails_after_them() {
    let desk = Arc::new(Desk::default());
    let graph = escalation::graph(desk.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("incident-1");
    asked(
        thread
            .invoke(IncidentUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished),
    );
    desk.fail_after_paging.store(true, Ordering::SeqCst);
    let err = thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            GraphError::Node {
                node: "escalate",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(counts(&desk), (1, 1));
    // The question was answered, so the thread waits for nobody: it failed, and the answered
    // question is no longer open.
    let failed = thread.state().await.unwrap().unwrap();
    assert_eq!(failed.status, ThreadStatus::Errored);
    assert!(failed.interrupts.is_empty(), "{:?}", failed.interrupts);
    assert_eq!(failed.errors[0].node, "escalate");
    assert_eq!(failed.errors[0].message, "the node failed after paging");
    // Run again after the failure: the answer, the ticket and the page are all kept.
    let q = asked(
        thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished),
    );
    assert_eq!((q.round, q.reference), (2, 200));
    assert_eq!(
        counts(&desk),
        (1, 1),
        "a retry after a failure must not page again"
    );
    let waiting = thread.state().await.unwrap().unwrap();
    assert_eq!(waiting.status, ThreadStatus::Interrupted);
    // Answered, the task finishes: nothing failed or waits any more.
    thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let done = thread.state().await.unwrap().unwrap();
    assert_eq!(done.status, ThreadStatus::Finished);
    assert!(done.errors.is_empty() && done.interrupts.is_empty());
}

#[tokio::test]
async fn an_error_is_not_saved_and_the_work_runs_again() {
    let desk = Arc::new(Desk::default());
    desk.ticket_service_down.store(true, Ordering::SeqCst);
    let graph = escalation::graph(desk.clone())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("incident-1");
    let err = thread
        .invoke(IncidentUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(err.to_string().contains("ticket service is down"), "{err}");
    assert_eq!(counts(&desk), (0, 0));
    let q = asked(
        thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished),
    );
    assert_eq!((q.round, q.reference), (1, 100));
    assert_eq!(counts(&desk), (1, 0));
}

/// The node after a change of code: its first `once` now returns a text.
#[stategraph::graph(state = Incident, deps = Desk)]
mod changed {
    use super::*;

    #[node]
    async fn escalate(_s: &Incident, ctx: &NodeContext<Desk>) -> NodeResult<Incident> {
        let ticket: String = ctx
            .once(async { Ok::<_, NodeError>("T-1".to_owned()) })
            .await?;
        let _: bool = ctx
            .interrupt(Question {
                round: 1,
                reference: ticket.len() as u64,
            })
            .await?;
        Ok(IncidentUpdate::new())
    }

    edges! {
        START -> escalate;
        escalate -> END;
    }
}

#[tokio::test]
async fn a_saved_result_of_another_type_is_a_clear_error() {
    let saver = Arc::new(MemorySaver::new());
    let before = escalation::graph(Arc::new(Desk::default()))
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    asked(
        before
            .thread("incident-1")
            .invoke(IncidentUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished),
    );
    let after = changed::graph(Arc::new(Desk::default()))
        .checkpointer(saver)
        .compile()
        .unwrap();
    let err = after
        .thread("incident-1")
        .resume()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let GraphError::Node { source, .. } = &err else {
        panic!("expected the node to fail, got {err:?}");
    };
    assert!(
        matches!(
            source.downcast_ref(),
            Some(OnceError::Decode { call: 0, .. })
        ),
        "{err:?}"
    );
    // The message names the call, never the stored value (ticket 100).
    let message = source.to_string();
    assert!(
        message.contains("call 0") && !message.contains("100"),
        "{message}"
    );
}
