//! The seed's "replay with modified state": run the research agent, go back to the third most
//! recent checkpoint, correct the query and the retry count as if `search` had written them,
//! and run on from there — a fork; the first run's history stays listed. Then replay a
//! checkpoint as it was. Checkpoints go to SQLite (`time_travel.db`, or `TIME_TRAVEL_DB`).
//!
//! ```text
//! cargo run --example time_travel
//! ```

#[path = "research_agent/graph.rs"]
mod graph;

use graph::{ResearchStateUpdate, Services, research};
use stategraph::ThreadId;
use stategraph::sqlite::SqliteSaver;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("TIME_TRAVEL_DB").unwrap_or_else(|_| "time_travel.db".to_owned());
    run(&db).await.map(|_| ())
}

/// The walkthrough on the database at `db`; returns the state the corrected run ended in.
async fn run(db: &str) -> Result<graph::ResearchState, Box<dyn std::error::Error>> {
    let saver = SqliteSaver::open(db).await?;
    let graph = research::graph(Services::stand_ins())
        .checkpointer(saver)
        .compile()?;
    let id = ThreadId::new(format!(
        "time-travel-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
    ));
    let thread = graph.thread(id).with_metadata("edited_by", "ana");

    let first = thread
        .invoke(ResearchStateUpdate::new().query("agent memory"))
        .await?
        .into_finished()?;
    println!(
        "first run: {} retries, verdict {:?}",
        first.retry_count, first.review_verdict
    );

    // The third most recent checkpoint; correct it as `search` would have written it.
    let past = thread.history().limit(3).await?.remove(2);
    println!(
        "going back to step {} (checkpoint {}), where {:?} ran next",
        past.metadata.step, past.checkpoint_id, past.next
    );
    let fork = thread
        .update(
            ResearchStateUpdate::new()
                .query("durable agent state in Rust")
                .retry_count(0),
        )
        .as_node(research::Node::Search)
        .at(past.checkpoint_id)
        .await?;
    let corrected = thread.state().await?.expect("the fork is the head");
    println!(
        "fork {fork}: parent {:?}, next {:?}, edited by {}",
        corrected.parent_id, corrected.next, corrected.metadata.user["edited_by"]
    );

    let second = thread.resume().await?.into_finished()?;
    println!(
        "run on from the fork: {} retries, synthesis: {}",
        second.retry_count,
        second.synthesis.as_deref().unwrap_or("-")
    );

    // Replay: run again from a checkpoint, exactly as it was.
    let replayed = thread.replay(past.checkpoint_id).await?.into_finished()?;
    println!(
        "replayed from step {}: verdict {:?}",
        past.metadata.step, replayed.review_verdict
    );
    println!(
        "history: {} checkpoints (the first run's are still listed)",
        thread.history().await?.len()
    );
    Ok(second)
}

#[cfg(test)]
mod tests {
    /// The walkthrough runs on a fresh database, and the run on from the fork uses the
    /// corrected query.
    #[tokio::test]
    async fn the_walkthrough_runs_end_to_end() {
        let dir =
            std::env::temp_dir().join(format!("sg-time-travel-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let corrected = super::run(dir.join("tt.db").to_str().unwrap())
            .await
            .unwrap();
        assert_eq!(corrected.query, "durable agent state in Rust");
        assert!(
            corrected.synthesis.is_some(),
            "the corrected run reaches a synthesis"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
