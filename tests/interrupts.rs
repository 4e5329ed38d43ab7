//! Dynamic interrupts: a node asks a typed question with `ctx.interrupt`, the run pauses, and
//! `resume_with` answers it — by id when several wait, strictly, before anything is written.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};
use stategraph::{GraphError, InterruptError, MemorySaver, NodeContext, NodeResult, Resume, State};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Question {
    draft: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Approval {
    approved: bool,
    edit: Option<String>,
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Doc {
    draft: String,
    approved: bool,
    #[state(reducer = append)]
    log: Vec<String>,
}

/// Runs of `review` on threads whose id starts with `counted`.
static REVIEWS: AtomicU32 = AtomicU32::new(0);
/// Runs of `work` on threads whose id starts with `counted`.
static WORK: AtomicU32 = AtomicU32::new(0);

fn counted(ctx: &NodeContext, counter: &AtomicU32) {
    if ctx
        .thread_id()
        .is_some_and(|t| t.as_str().starts_with("counted"))
    {
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

#[stategraph::graph(state = Doc)]
mod approval {
    use super::*;

    #[node]
    async fn write(s: &Doc) -> NodeResult<Doc> {
        Ok(DocUpdate::new().draft(format!("{} v{}", s.draft, s.log.len() + 1)))
    }

    #[node]
    async fn review(s: &Doc, ctx: &NodeContext) -> NodeResult<Doc> {
        // Before the question: runs again when the thread resumes.
        counted(ctx, &REVIEWS);
        let answer: Approval = ctx
            .interrupt(Question {
                draft: s.draft.clone(),
            })
            .await?;
        let mut update = DocUpdate::new().approved(answer.approved);
        if let Some(edit) = answer.edit {
            update = update.draft(edit);
        }
        Ok(update.push_log(format!("reviewed {}", s.draft)))
    }

    pub enum Verdict {
        Approved,
        Rejected,
    }

    #[route]
    fn verdict(s: &Doc) -> Verdict {
        if s.approved {
            Verdict::Approved
        } else {
            Verdict::Rejected
        }
    }

    edges! {
        START -> write -> review;
        review -> verdict { Approved => END, Rejected => write };
    }
}

#[stategraph::graph(state = Doc)]
mod panel {
    use super::*;

    #[node]
    async fn legal(_: &Doc, ctx: &NodeContext) -> NodeResult<Doc> {
        let ok: bool = ctx.interrupt("legal: ship it?").await?;
        Ok(DocUpdate::new().push_log(format!("legal {ok}")))
    }

    #[node]
    async fn brand(_: &Doc, ctx: &NodeContext) -> NodeResult<Doc> {
        // Two questions in turn.
        let tone: String = ctx.interrupt("brand: tone?").await?;
        let logo: bool = ctx.interrupt("brand: logo?").await?;
        Ok(DocUpdate::new().push_log(format!("brand {tone} {logo}")))
    }

    #[node]
    async fn work(_: &Doc, ctx: &NodeContext) -> NodeResult<Doc> {
        counted(ctx, &WORK);
        Ok(DocUpdate::new().push_log("work"))
    }

    #[node]
    async fn publish(_: &Doc) -> NodeResult<Doc> {
        Ok(DocUpdate::new().push_log("published"))
    }

    edges! {
        START -> [legal, brand, work] -> publish -> END;
    }
}

fn interrupted(err: GraphError) -> Vec<stategraph::Interrupt> {
    match err {
        GraphError::Interrupted { interrupts, .. } => interrupts,
        other => panic!("expected the run to pause, got {other:?}"),
    }
}

#[tokio::test]
async fn a_node_asks_the_run_pauses_and_an_answer_resumes_it() {
    let graph = approval::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("counted-approval");
    let asked = interrupted(
        thread
            .invoke(DocUpdate::new().draft("essay"))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    assert_eq!(asked.len(), 1);
    let question = &asked[0];
    assert_eq!(question.node, "review");
    assert_eq!(
        question.payload_as::<Question>().unwrap(),
        Question {
            draft: "essay v1".into()
        }
    );
    assert!(question.raised_at.elapsed().unwrap().as_secs() < 60);

    // The paused thread shows the question, and `review` still scheduled.
    let paused = thread.state().await.unwrap().unwrap();
    assert_eq!(paused.interrupts, asked);
    assert_eq!(paused.next, [approval::Node::Review]);

    // New input is refused rather than dropped; a plain resume asks again, the same question.
    let err = thread
        .invoke(DocUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::ThreadInterrupted { interrupts, .. } if *interrupts == asked),
        "{err:?}"
    );
    assert!(err.to_string().contains(&question.id.to_string()), "{err}");
    let again = interrupted(
        thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    assert_eq!(again[0].id, question.id, "the same question keeps its id");

    // Rejected with an edit: the graph writes again and asks again (a new question).
    let err = thread
        .resume_with(Resume::value(Approval {
            approved: false,
            edit: Some("better essay".into()),
        }))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let second = interrupted(err);
    assert_ne!(second[0].id, question.id);
    assert_eq!(
        second[0].payload_as::<Question>().unwrap().draft,
        "better essay v2"
    );
    let done = thread
        .resume_with(Resume::answer(
            second[0].id,
            Approval {
                approved: true,
                edit: None,
            },
        ))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert!(done.approved);
    assert_eq!(done.log, ["reviewed essay v1", "reviewed better essay v2"]);
    // `review` ran: asked (1), asked again on the plain resume (2), answered (3), asked the
    // second question (4), answered (5).
    assert_eq!(REVIEWS.load(Ordering::SeqCst), 5);
    assert!(thread.state().await.unwrap().unwrap().interrupts.is_empty());
    // Each answer is recorded in the metadata of the checkpoint its step wrote.
    let answered: Vec<(String, serde_json::Value)> = thread
        .history()
        .await
        .unwrap()
        .into_iter()
        .rev()
        .flat_map(|s| s.metadata.answers)
        .map(|a| (a.node, a.answer))
        .collect();
    assert_eq!(
        answered,
        [
            (
                "review".to_owned(),
                serde_json::json!({"approved": false, "edit": "better essay"})
            ),
            (
                "review".to_owned(),
                serde_json::json!({"approved": true, "edit": null})
            ),
        ]
    );
}

#[tokio::test]
async fn several_pending_questions_are_answered_by_id_and_strictly() {
    let graph = panel::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("counted-panel");
    let asked = interrupted(
        thread
            .invoke(DocUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    let nodes: Vec<&str> = asked.iter().map(|i| i.node.as_str()).collect();
    assert_eq!(nodes.len(), 2);
    assert!(nodes.contains(&"legal") && nodes.contains(&"brand"));
    let legal = asked.iter().find(|i| i.node == "legal").unwrap().id;
    let brand = asked.iter().find(|i| i.node == "brand").unwrap().id;
    assert_eq!(WORK.load(Ordering::SeqCst), 1, "the sibling finished");

    // A bare value with two pending, an unknown id, two answers to one: refused, nothing
    // written.
    let head = thread.state().await.unwrap().unwrap();
    let err = thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(err, GraphError::AmbiguousResume { ref pending, .. } if pending.len() == 2));
    let unknown = other_interrupt_id().await;
    let err = thread
        .resume_with(Resume::answer(unknown, true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(err, GraphError::UnknownInterrupt { id, .. } if id == unknown));
    let err = thread
        .resume_with(Resume::answer(legal, true).and(legal, false))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(err, GraphError::AmbiguousResume { .. }));
    let after = thread.state().await.unwrap().unwrap();
    assert_eq!(after.checkpoint_id, head.checkpoint_id);
    assert_eq!(after.interrupts.len(), 2, "nothing was answered");

    // Answer legal and brand's first question: brand asks its second.
    let err = thread
        .resume_with(Resume::answer(legal, true).and(brand, "warm"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let second = interrupted(err);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].node, "brand");
    assert_eq!(second[0].payload_as::<String>().unwrap(), "brand: logo?");

    // A wrong type is a typed error; the right one then goes through.
    let err = thread
        .resume_with(Resume::value("not a bool"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    match &err {
        GraphError::ResumeValue {
            node, interrupt, ..
        } => {
            assert_eq!(*node, "brand");
            assert_eq!(*interrupt, second[0].id);
        }
        other => panic!("expected a typed resume error, got {other:?}"),
    }
    assert!(
        !err.to_string().contains("not a bool"),
        "the message never quotes the answer: {err}"
    );
    let done = thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let mut log = done.log.clone();
    log[..3].sort();
    assert_eq!(log, ["brand warm true", "legal true", "work", "published"]);
    assert_eq!(
        WORK.load(Ordering::SeqCst),
        1,
        "the sibling never ran again"
    );
}

/// An interrupt id from another thread.
async fn other_interrupt_id() -> stategraph::InterruptId {
    let graph = approval::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let asked = interrupted(
        graph
            .thread("elsewhere")
            .invoke(DocUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    asked[0].id
}

#[tokio::test]
async fn resuming_without_a_pending_question_is_an_error() {
    let graph = approval::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let empty = graph.thread("empty");
    let err = empty
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(err, GraphError::NothingToResume(_)), "{err:?}");
    let thread = graph.thread("answered");
    thread
        .invoke(DocUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    thread
        .resume_with(Resume::value(Approval {
            approved: true,
            edit: None,
        }))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let err = thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(err, GraphError::NothingPending(_)), "{err:?}");
}

#[tokio::test]
async fn without_a_checkpointer_a_question_is_a_node_error() {
    let graph = approval::graph().compile().unwrap();
    let err = graph.invoke(DocUpdate::new()).await.unwrap_err();
    match &err {
        GraphError::Node { node, source, .. } => {
            assert_eq!(*node, "review");
            assert!(matches!(
                source.downcast_ref::<InterruptError>(),
                Some(InterruptError::NoCheckpointer)
            ));
        }
        other => panic!("expected a node error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_answers_to_one_question_at_once_exactly_one_wins() {
    let saver = Arc::new(MemorySaver::new());
    let graph = approval::graph().checkpointer(saver).compile().unwrap();
    for round in 0..20 {
        let id = format!("race-{round}");
        graph
            .thread(id.as_str())
            .invoke(DocUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
        let (a, b) = (graph.thread(id.as_str()), graph.thread(id.as_str()));
        let answer = || Approval {
            approved: true,
            edit: None,
        };
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move {
                a.resume_with(Resume::value(answer()))
                    .await
                    .and_then(stategraph::Outcome::into_finished)
            }),
            tokio::spawn(async move {
                b.resume_with(Resume::value(answer()))
                    .await
                    .and_then(stategraph::Outcome::into_finished)
            }),
        );
        let outcomes = [ra.unwrap(), rb.unwrap()];
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
        for outcome in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            assert!(
                matches!(
                    outcome,
                    GraphError::NothingPending(_) | GraphError::AlreadyAnswered(_)
                ),
                "round {round}: the loser is refused cleanly, got {outcome:?}"
            );
        }
        let history = graph.thread(id.as_str()).history().await.unwrap();
        let mut parents: Vec<_> = history.iter().filter_map(|s| s.parent_id).collect();
        let all = parents.len();
        parents.sort();
        parents.dedup();
        assert_eq!(parents.len(), all, "round {round}: no fork");
    }
}

#[tokio::test]
async fn after_a_restart_only_the_open_questions_remain_and_answered_work_is_kept() {
    let graph = panel::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("saved-answer");
    let asked = interrupted(
        thread
            .invoke(DocUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    let legal = asked.iter().find(|i| i.node == "legal").unwrap().id;
    // Only legal answered: it finishes and its writes are saved; brand asks again.
    interrupted(
        thread
            .resume_with(Resume::answer(legal, false))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    // A new handle (as after a restart) sees only brand's question.
    let fresh = graph.thread("saved-answer");
    let pending = fresh.state().await.unwrap().unwrap().interrupts;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].node, "brand");
    let err = fresh
        .resume_with(Resume::answer(legal, true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(err, GraphError::UnknownInterrupt { .. }),
        "legal was answered"
    );
    // A plain resume asks brand again; legal does not run again.
    let again = interrupted(
        fresh
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    assert_eq!(again, pending);
    let brand = pending[0].id;
    interrupted(
        fresh
            .resume_with(Resume::answer(brand, "bold"))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    let done = fresh
        .resume_with(Resume::value(false))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let legal_runs = done.log.iter().filter(|l| l.starts_with("legal")).count();
    assert_eq!(legal_runs, 1);
    assert!(done.log.contains(&"legal false".to_owned()));
    assert!(done.log.contains(&"brand bold false".to_owned()));
}

#[tokio::test]
async fn a_question_waits_in_sqlite_and_another_saver_on_the_file_answers_it() {
    let dir = std::env::temp_dir().join(format!("sg-interrupts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hitl.db");
    let asked = {
        let saver = stategraph::sqlite::SqliteSaver::open(&path).await.unwrap();
        let graph = approval::graph().checkpointer(saver).compile().unwrap();
        interrupted(
            graph
                .thread("hitl")
                .invoke(DocUpdate::new().draft("memo"))
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap_err(),
        )
    };
    // A second saver on the same file, as a process started days later would open it.
    let saver = stategraph::sqlite::SqliteSaver::open(&path).await.unwrap();
    let graph = approval::graph().checkpointer(saver).compile().unwrap();
    let thread = graph.thread("hitl");
    let waiting = thread.state().await.unwrap().unwrap().interrupts;
    assert_eq!(waiting, asked, "id, payload and time survive");
    let done = thread
        .resume_with(Resume::answer(
            asked[0].id,
            Approval {
                approved: true,
                edit: Some("final memo".into()),
            },
        ))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.draft, "final memo");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_answer_can_carry_an_update_and_a_goto_applied_with_its_step() {
    let graph = approval::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("command");
    thread
        .invoke(DocUpdate::new().draft("memo"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    // Approved, with a note from the reviewer, and back to `write` for a last pass.
    let again = interrupted(
        thread
            .resume_with(Resume::value(Approval {
                approved: true,
                edit: None,
            }))
            .update(DocUpdate::new().push_log("note from ops"))
            .goto(approval::Node::Write)
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    assert_eq!(
        again[0].node, "review",
        "write ran again, and review asks again"
    );
    let history = thread.history().await.unwrap();
    let step = history
        .iter()
        .find(|s| s.metadata.writes.contains_key("__command__"))
        .expect("the step that ran on the answer");
    assert_eq!(step.metadata.writes["__command__"], ["log"]);
    assert_eq!(step.values.log, ["reviewed memo v1", "note from ops"]);
    let done = thread
        .resume_with(Resume::value(Approval {
            approved: true,
            edit: None,
        }))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(
        done.log,
        ["reviewed memo v1", "note from ops", "reviewed memo v1 v3"]
    );
}

#[tokio::test]
async fn a_command_survives_a_step_that_pauses_again() {
    let graph = panel::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("command-kept");
    let asked = interrupted(
        thread
            .invoke(DocUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    let legal = asked.iter().find(|i| i.node == "legal").unwrap().id;
    // Only legal answered: the step pauses again on brand, the command waits with it.
    interrupted(
        thread
            .resume_with(Resume::answer(legal, true))
            .update(DocUpdate::new().push_log("command"))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    interrupted(
        thread
            .resume_with(Resume::value("calm"))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    let done = thread
        .resume_with(Resume::value(false))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.log.iter().filter(|l| *l == "command").count(), 1);
    assert_eq!(done.log.last().unwrap(), "published");
}

#[stategraph::graph(state = Doc)]
mod failing {
    use super::*;

    #[node]
    async fn ok(_: &Doc) -> NodeResult<Doc> {
        Ok(DocUpdate::new().push_log("ok"))
    }

    #[node]
    async fn broken(_: &Doc) -> NodeResult<Doc> {
        Err("the service is down".into())
    }

    edges! {
        START -> [ok, broken];
        ok -> END;
        broken -> END;
    }
}

#[tokio::test]
async fn threads_are_listed_as_interrupted_errored_or_finished() {
    use stategraph::{Checkpointer, ThreadQuery, ThreadStatus};
    let saver = Arc::new(MemorySaver::new());
    let graph = approval::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    graph
        .thread("status-paused")
        .invoke(DocUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let failing = failing::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let err = failing
        .thread("status-failed")
        .invoke(DocUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Node { node: "broken", .. }),
        "{err:?}"
    );
    let status = |id: &'static str| {
        let saver = saver.clone();
        async move {
            saver
                .list_threads(&ThreadQuery::default())
                .await
                .unwrap()
                .into_iter()
                .find(|info| info.thread_id.as_str() == id)
                .unwrap()
                .status
        }
    };
    assert_eq!(status("status-paused").await, ThreadStatus::Interrupted);
    assert_eq!(status("status-failed").await, ThreadStatus::Errored);
    // The state says since when and with what, or which node failed with which error.
    let paused = graph
        .thread("status-paused")
        .state()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paused.status, ThreadStatus::Interrupted);
    assert_eq!(paused.interrupts[0].node, "review");
    assert!(paused.interrupts[0].raised_at <= std::time::SystemTime::now());
    assert!(paused.errors.is_empty());
    let failed = failing
        .thread("status-failed")
        .state()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, ThreadStatus::Errored);
    assert_eq!(
        failed
            .errors
            .iter()
            .map(|e| (e.node.as_str(), e.message.as_str()))
            .collect::<Vec<_>>(),
        [("broken", "the service is down")]
    );
    assert!(failed.interrupts.is_empty());
    graph
        .thread("status-paused")
        .resume_with(Resume::value(Approval {
            approved: true,
            edit: None,
        }))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(status("status-paused").await, ThreadStatus::Finished);
    let done = graph
        .thread("status-paused")
        .state()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, ThreadStatus::Finished);
    assert!(done.interrupts.is_empty() && done.errors.is_empty());
    let waiting = saver
        .list_threads(&ThreadQuery::default().status(ThreadStatus::Interrupted))
        .await
        .unwrap();
    assert!(waiting.is_empty());
}

#[tokio::test]
async fn a_replay_asks_the_question_again() {
    let graph = approval::graph()
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let thread = graph.thread("replayed");
    let paused_at = match thread
        .invoke(DocUpdate::new().draft("note"))
        .await
        .and_then(stategraph::Outcome::into_finished)
    {
        Err(GraphError::Interrupted { checkpoint, .. }) => checkpoint,
        other => panic!("expected a question, got {other:?}"),
    };
    let first = thread.state().await.unwrap().unwrap().interrupts;
    let approve = Approval {
        approved: true,
        edit: None,
    };
    thread
        .resume_with(Resume::value(approve.clone()))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    // Replaying the paused checkpoint forks it: the question is asked again, as a new one.
    let again = interrupted(
        thread
            .replay(paused_at)
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].id, first[0].id, "the fork's question is its own");
    assert_eq!(
        again[0].payload_as::<Question>().unwrap(),
        first[0].payload_as::<Question>().unwrap()
    );
    let done = thread
        .resume_with(Resume::value(approve))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert!(done.approved);
}

#[tokio::test]
async fn a_waiting_thread_moves_to_another_saver_and_is_answered_there() {
    let dir = std::env::temp_dir().join(format!("sg-interrupt-move-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let memory = Arc::new(MemorySaver::new());
    let before = approval::graph()
        .checkpointer(memory.clone())
        .compile()
        .unwrap();
    let asked = interrupted(
        before
            .thread("moving")
            .invoke(DocUpdate::new().draft("plan"))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    );
    let sqlite = Arc::new(
        stategraph::sqlite::SqliteSaver::open(dir.join("moved.db"))
            .await
            .unwrap(),
    );
    stategraph::transfer_thread(&*memory, &*sqlite, &"moving".into())
        .await
        .unwrap();
    let after = approval::graph().checkpointer(sqlite).compile().unwrap();
    let thread = after.thread("moving");
    let waiting = thread.state().await.unwrap().unwrap().interrupts;
    assert_eq!(
        waiting, asked,
        "the question moves with its id, payload and time"
    );
    let done = thread
        .resume_with(Resume::answer(
            asked[0].id,
            Approval {
                approved: true,
                edit: Some("moved plan".into()),
            },
        ))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.draft, "moved plan");
    std::fs::remove_dir_all(&dir).unwrap();
}
