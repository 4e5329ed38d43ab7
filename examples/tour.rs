//! The README's tour: a review loop with a human approval, checkpointed to SQLite
//! (`tour.db`, or `TOUR_DB`), paused, answered and finished.
//!
//! ```text
//! cargo run --example tour
//! ```

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{NodeContext, NodeResult, Outcome, Resume, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Draft {
    topic: String,
    text: String,
    rounds: u32,
    #[state(reducer = append)] // parallel branches append safely
    notes: Vec<String>,
    approved: bool,
}

#[stategraph::graph(state = Draft)]
mod drafting {
    use super::*;

    #[node]
    async fn write(s: &Draft) -> NodeResult<Draft> {
        let text = format!("{} (draft {})", s.topic, s.rounds + 1);
        Ok(DraftUpdate::new().text(text).rounds(s.rounds + 1))
    }

    #[node]
    async fn critique(s: &Draft) -> NodeResult<Draft> {
        Ok(DraftUpdate::new().push_notes(format!("round {}: tighten it", s.rounds)))
    }

    #[node]
    async fn approve(s: &Draft, ctx: &NodeContext) -> NodeResult<Draft> {
        let yes: bool = ctx.interrupt(format!("publish {:?}?", s.text)).await?; // pauses here
        Ok(DraftUpdate::new().approved(yes))
    }

    enum Next {
        Again,
        Ask,
    }

    #[route]
    fn enough(s: &Draft) -> Next {
        if s.rounds < 2 { Next::Again } else { Next::Ask }
    }

    edges! {
        START -> write -> critique;
        critique -> enough { Again => write, Ask => approve };
        approve -> END;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("TOUR_DB").unwrap_or_else(|_| "tour.db".to_owned());
    let graph = drafting::graph()
        .checkpointer(SqliteSaver::open(&db).await?)
        .compile()?;
    let thread = graph.thread(format!("post-{}", std::process::id()));

    let Outcome::Paused(paused) = thread
        .invoke(DraftUpdate::new().topic("durable agents"))
        .await?
    else {
        unreachable!("the graph asks before it ends")
    };
    println!("asked: {}", paused.interrupts[0].payload_as::<String>()?);

    // Any process, any time later: answer by the question's id and run on.
    let done = thread
        .resume_with(Resume::answer(paused.interrupts[0].id, true))
        .await?;
    let draft = done.into_finished()?;
    println!(
        "{} — approved: {}, notes: {:?}",
        draft.text, draft.approved, draft.notes
    );
    Ok(())
}
