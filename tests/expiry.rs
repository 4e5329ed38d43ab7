//! A TTL for paused threads: threads that waited too long for an answer are found, marked
//! expired (and kept, pruned or deleted), and can no longer be resumed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use stategraph::{
    AfterExpiry, Checkpointer, ExpirePaused, GraphError, ListQuery, MemorySaver, NodeContext,
    NodeResult, Resume, State, ThreadQuery, ThreadStatus, expire_paused,
};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Ask {
    approved: bool,
}

#[stategraph::graph(state = Ask)]
mod ask {
    use super::*;

    #[node]
    async fn prepare(_: &Ask) -> NodeResult<Ask> {
        Ok(AskUpdate::new())
    }

    #[node]
    async fn approve(_: &Ask, ctx: &NodeContext) -> NodeResult<Ask> {
        let ok: bool = ctx.interrupt("approve?").await?;
        Ok(AskUpdate::new().approved(ok))
    }

    edges! {
        START -> prepare -> approve -> END;
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn paused_threads_past_their_ttl_expire_and_cannot_be_resumed() {
    let saver = Arc::new(MemorySaver::new());
    let graph = ask::graph().checkpointer(saver.clone()).compile().unwrap();
    for id in ["keep", "prune", "delete", "answered"] {
        graph
            .thread(id)
            .invoke(AskUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err();
    }
    graph
        .thread("answered")
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let policy = ExpirePaused::after(3 * DAY);

    // Two days on, nothing is old enough.
    let now = SystemTime::now();
    let none = expire_paused(&*saver, &policy, now + 2 * DAY, false)
        .await
        .unwrap();
    assert!(none.is_empty());

    // Four days on: a dry run names the three waiting threads and changes nothing.
    let later = now + 4 * DAY;
    let would = expire_paused(&*saver, &policy, later, true).await.unwrap();
    let names: Vec<&str> = would.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, ["delete", "keep", "prune"]);
    let still = saver
        .list_threads(&ThreadQuery::default().status(ThreadStatus::Interrupted))
        .await
        .unwrap();
    assert_eq!(still.len(), 3, "a dry run changes nothing");

    // Each policy on its own thread: one batch at a time, the oldest names first.
    let one = |then| policy.then(then).batch(1);
    let deleted = expire_paused(&*saver, &one(AfterExpiry::Delete), later, false)
        .await
        .unwrap();
    assert_eq!(deleted[0].as_str(), "delete");
    let kept = expire_paused(&*saver, &one(AfterExpiry::Keep), later, false)
        .await
        .unwrap();
    assert_eq!(kept[0].as_str(), "keep");
    let pruned = expire_paused(&*saver, &one(AfterExpiry::Prune), later, false)
        .await
        .unwrap();
    assert_eq!(pruned[0].as_str(), "prune");

    let status = |id: &'static str| {
        let saver = saver.clone();
        async move {
            saver
                .list_threads(&ThreadQuery::default())
                .await
                .unwrap()
                .into_iter()
                .find(|t| t.thread_id.as_str() == id)
                .map(|t| t.status)
        }
    };
    assert_eq!(status("delete").await, None);
    assert_eq!(status("keep").await, Some(ThreadStatus::Expired));
    assert_eq!(status("prune").await, Some(ThreadStatus::Expired));
    assert_eq!(status("answered").await, Some(ThreadStatus::Finished));
    let history = |id: &'static str| {
        let saver = saver.clone();
        async move {
            saver
                .list(&ListQuery::thread(id.into()))
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        history("keep").await,
        2,
        "kept whole: the input and the first step"
    );
    assert_eq!(history("prune").await, 1, "only the latest checkpoint");

    // An expired thread cannot be resumed or given input; its history can still be read.
    let thread = graph.thread("keep");
    for err in [
        thread
            .resume_with(Resume::value(true))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
        thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
        thread
            .invoke(AskUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
        thread
            .start_or_resume(AskUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap_err(),
    ] {
        assert!(
            matches!(err, GraphError::Expired(ref t) if t.as_str() == "keep"),
            "{err:?}"
        );
    }
    assert!(thread.state().await.unwrap().is_some());
    let again = expire_paused(&*saver, &policy, later, false).await.unwrap();
    assert!(again.is_empty(), "expired threads are not expired twice");
}

#[stategraph::graph(state = Ask)]
mod ask_twice {
    use super::*;

    #[node]
    async fn approve(_: &Ask, ctx: &NodeContext) -> NodeResult<Ask> {
        let first: bool = ctx.interrupt("draft ok?").await?;
        let second: bool = ctx.interrupt("publish now?").await?;
        Ok(AskUpdate::new().approved(first && second))
    }

    edges! {
        START -> approve -> END;
    }
}

/// A node asks, is answered and asks again within one step, which writes no checkpoint: the
/// TTL counts from when the open question was asked, not from the step's checkpoint. With the
/// cutoff between the two, the thread is not expired; past the second question, it is.
#[tokio::test]
async fn the_ttl_counts_from_when_the_open_question_was_asked() {
    let saver = Arc::new(MemorySaver::new());
    let graph = ask_twice::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("asked-twice");
    thread
        .invoke(AskUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let step_began = thread.state().await.unwrap().unwrap().created_at;
    tokio::time::sleep(Duration::from_millis(50)).await;
    thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    let state = thread.state().await.unwrap().unwrap();
    assert_eq!(state.created_at, step_began, "no checkpoint was written");
    let asked = state.interrupts[0].raised_at;
    assert!(asked > step_began + Duration::from_millis(40));

    let policy = ExpirePaused::after(DAY);
    let between = step_began + Duration::from_millis(20) + DAY;
    let expired = expire_paused(&*saver, &policy, between, false)
        .await
        .unwrap();
    assert!(
        expired.is_empty(),
        "the open question is younger than the TTL"
    );
    assert_eq!(
        thread.state().await.unwrap().unwrap().status,
        ThreadStatus::Interrupted
    );
    let after = asked + Duration::from_millis(1) + DAY;
    let expired = expire_paused(&*saver, &policy, after, false).await.unwrap();
    assert_eq!(expired, ["asked-twice".into()]);
    let err = thread
        .resume_with(Resume::value(true))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap_err();
    assert!(matches!(err, GraphError::Expired(_)), "{err:?}");
}
