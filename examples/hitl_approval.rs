//! A draft reviewed by a human before it ships. The `review` node asks a typed question with
//! `ctx.interrupt`; the thread pauses in SQLite and the process exits. Later — a new process,
//! a new saver on the same file — the reviewer's decision resumes it: approve, edit, or reject
//! (which sends the draft back to be written again). The reviewer is notified once per round
//! (`ctx.once`), though the review node runs again on every resume. Every answer is checkpointed with the
//! reviewer's name as metadata; the reviewer finds the post in the desk's inbox, a listing of
//! the threads waiting for an answer, by metadata. A second post nobody reviews expires after a week (the clock
//! is simulated) and can no longer be approved. Checkpoints go to `hitl_approval.db` (or
//! `HITL_DB`).
//!
//! ```text
//! cargo run --example hitl_approval
//! ```

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use std::time::{Duration, SystemTime};

use stategraph::{
    AfterExpiry, Checkpointer, ExpirePaused, GraphError, NodeContext, NodeResult, Outcome, Resume,
    State, ThreadId, ThreadQuery, ThreadStatus, expire_paused,
};

/// What the reviewer sees.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReviewRequest {
    /// The draft to review.
    pub draft: String,
    /// Which round of review this is.
    pub round: u32,
}

/// What the reviewer decides.
#[derive(Debug, Serialize, Deserialize)]
pub enum Decision {
    /// Ship it as it is.
    Approve,
    /// Ship it with this text instead.
    Edit(String),
    /// Write it again, with this feedback.
    Reject(String),
}

/// The post being written.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct Post {
    /// The topic.
    pub topic: String,
    /// The current draft.
    pub draft: String,
    /// Feedback from the last rejection.
    pub feedback: Option<String>,
    /// Rounds of review so far.
    pub round: u32,
    /// Whether it may ship.
    pub approved: bool,
    /// What happened, in order.
    #[state(reducer = append)]
    pub log: Vec<String>,
}

/// Tells the reviewer a draft waits (a mail, a chat message): a side effect to do once.
async fn notify_reviewer(round: u32) -> Result<String, std::io::Error> {
    println!("  (notifying the reviewer of round {round})");
    let sent = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(format!("reviewer notified (message {})", sent.as_micros()))
}

/// Write, review (a human decides), publish.
#[stategraph::graph(state = Post)]
pub mod approval {
    use super::*;

    #[node]
    async fn write(s: &Post) -> NodeResult<Post> {
        let draft = match &s.feedback {
            None => format!("A short post on {}.", s.topic),
            Some(feedback) => format!("A short post on {} ({feedback}).", s.topic),
        };
        Ok(PostUpdate::new()
            .push_log(format!("wrote draft {}", s.round + 1))
            .draft(draft))
    }

    #[node]
    async fn review(s: &Post, ctx: &NodeContext) -> NodeResult<Post> {
        // The node runs again from its top when the thread resumes. The reviewer is notified
        // once per round all the same: `once` saves the result with the question and hands it
        // back on every later run instead of notifying again.
        let notice = ctx.once(notify_reviewer(s.round + 1)).await?;
        println!("  review round {}: {notice}", s.round + 1);
        let decision: Decision = ctx
            .interrupt(ReviewRequest {
                draft: s.draft.clone(),
                round: s.round + 1,
            })
            .await?;
        let update = PostUpdate::new().round(s.round + 1);
        Ok(match decision {
            Decision::Approve => update.approved(true).push_log("approved"),
            Decision::Edit(text) => update
                .approved(true)
                .draft(text)
                .push_log("approved with an edit"),
            Decision::Reject(feedback) => update
                .approved(false)
                .feedback(Some(feedback))
                .push_log("rejected"),
        })
    }

    #[node]
    async fn publish(s: &Post) -> NodeResult<Post> {
        Ok(PostUpdate::new().push_log(format!("published: {}", s.draft)))
    }

    /// After a review.
    pub enum Verdict {
        /// Ship it.
        Approved,
        /// Write it again.
        Rejected,
    }

    #[route]
    fn verdict(s: &Post) -> Verdict {
        if s.approved {
            Verdict::Approved
        } else {
            Verdict::Rejected
        }
    }

    edges! {
        START -> write -> review;
        review -> verdict { Approved => publish, Rejected => write };
        publish -> END;
    }
}

/// Opens the graph on the database, as each process does.
async fn open(db: &str) -> Result<approval::Compiled, Box<dyn std::error::Error>> {
    Ok(approval::graph()
        .checkpointer(SqliteSaver::open(db).await?)
        .compile()?)
}

/// The question a run that paused waits on.
fn waiting(outcome: Outcome<Post>) -> Result<stategraph::Interrupt, Box<dyn std::error::Error>> {
    match outcome {
        Outcome::Paused(mut paused) => Ok(paused.interrupts.remove(0)),
        Outcome::Finished(post) => {
            Err(format!("expected a pause, the post finished: {:?}", post.log).into())
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("HITL_DB").unwrap_or_else(|_| "hitl_approval.db".to_owned());
    run(&db).await.map(|_| ())
}

/// The week of the review on the database at `db`; returns the published post's log.
async fn run(db: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let id = ThreadId::new(format!(
        "post-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    ));

    // Monday, process 1: the draft is written and waits for review; the process exits.
    {
        let graph = open(db).await?;
        let asked = waiting(
            graph
                .thread(id.clone())
                .with_metadata("desk", "blog")
                .invoke(PostUpdate::new().topic("durable agents"))
                .await?,
        )?;
        let request: ReviewRequest = asked.payload_as()?;
        println!(
            "process 1: {} waits for review (round {}): {:?}",
            asked.id, request.round, request.draft
        );
    }

    // Thursday, process 2: the reviewer rejects it with feedback.
    {
        let graph = open(db).await?;
        let inbox = graph
            .checkpointer()
            .list_threads(
                &ThreadQuery::default()
                    .status(ThreadStatus::Interrupted)
                    .filter("desk", "blog"),
            )
            .await?;
        println!("process 2: {} post(s) wait on the blog desk", inbox.len());
        if !inbox.iter().any(|waiting| waiting.thread_id == id) {
            return Err(format!("{id} should be in the blog desk's inbox").into());
        }
        let thread = graph.thread(id.clone()).with_metadata("reviewer", "ana");
        let waiting_now = thread.state().await?.expect("the thread exists").interrupts;
        let asked = &waiting_now[0];
        println!(
            "process 2: found {} from `{}`, asked {:?} ago",
            asked.id,
            asked.node,
            asked.raised_at.elapsed().unwrap_or_default()
        );
        let again = waiting(
            thread
                .resume_with(Resume::answer(
                    asked.id,
                    Decision::Reject("name the crates".into()),
                ))
                .await?,
        )?;
        let request: ReviewRequest = again.payload_as()?;
        println!(
            "process 2: rejected; round {} waits: {:?}",
            request.round, request.draft
        );
    }

    // Friday, process 3: another reviewer approves it with an edit, and it ships.
    let graph = open(db).await?;
    let thread = graph.thread(id.clone()).with_metadata("reviewer", "ben");
    let done = thread
        .resume_with(Resume::value(Decision::Edit(
            "Durable agents in Rust: stategraph and tokio.".into(),
        )))
        .await?
        .into_finished()?;
    println!("process 3: {}", done.log.join(" → "));

    // A second post waits for a review nobody gives; a week later the expiry policy runs.
    let forgotten = ThreadId::new(format!("{id}-forgotten"));
    waiting(
        graph
            .thread(forgotten.clone())
            .invoke(PostUpdate::new().topic("a forgotten idea"))
            .await?,
    )?;
    let saver = graph.checkpointer();
    let a_week_later = SystemTime::now() + Duration::from_secs(8 * 24 * 3600);
    let policy = ExpirePaused::after(Duration::from_secs(7 * 24 * 3600)).then(AfterExpiry::Keep);
    let expired = expire_paused(&**saver, &policy, a_week_later, false).await?;
    println!("a week later: expired {expired:?}");
    match graph
        .thread(forgotten)
        .resume_with(Resume::value(Decision::Approve))
        .await
    {
        Err(GraphError::Expired(thread)) => println!("approving {thread} now fails: it expired"),
        other => return Err(format!("expected the approval to have expired: {other:?}").into()),
    }

    // Who decided what, from the checkpoints' metadata.
    let mut history = thread.history().await?;
    history.reverse();
    for snapshot in history
        .iter()
        .filter(|s| s.metadata.writes.contains_key("review"))
    {
        println!(
            "  step {}: review by {} → {}",
            snapshot.metadata.step,
            snapshot
                .metadata
                .user
                .get("reviewer")
                .map_or("-".to_owned(), |r| r.to_string()),
            snapshot.values.log.last().map_or("", String::as_str)
        );
    }
    Ok(done.log)
}

#[cfg(test)]
mod tests {
    /// The walkthrough runs on a fresh database and ships the edited post after a rejection.
    #[tokio::test]
    async fn the_review_week_runs_end_to_end() {
        let dir = std::env::temp_dir().join(format!("sg-hitl-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = super::run(dir.join("hitl.db").to_str().unwrap())
            .await
            .unwrap();
        assert_eq!(
            log,
            [
                "wrote draft 1",
                "rejected",
                "wrote draft 2",
                "approved with an edit",
                "published: Durable agents in Rust: stategraph and tokio.",
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
