//! Map-reduce with Send: split a report into sections, summarize every section in its own task
//! (all at once, each on its own typed input, not the whole state), then combine the summaries
//! in section order. Checkpoints go to SQLite (`map_reduce.db`, or `MAP_REDUCE_DB`); a second
//! run of the same job resumes it.
//!
//! ```text
//! cargo run --example map_reduce
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{NodeResult, State};

/// One section to summarize: what the fan-out sends to each task.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Section {
    number: usize,
    text: String,
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Report {
    text: String,
    sections: Vec<String>,
    /// Appended by each task; merged in the order the sections were sent.
    #[state(reducer = append)]
    summaries: Vec<String>,
    digest: String,
}

#[stategraph::graph(state = Report)]
mod report {
    use super::*;

    #[node]
    async fn split(s: &Report) -> NodeResult<Report> {
        let sections = s.text.split("\n\n").map(str::to_owned).collect::<Vec<_>>();
        Ok(ReportUpdate::new().sections(sections))
    }

    /// One task per section.
    #[send]
    fn per_section(s: &Report) -> Vec<Section> {
        s.sections
            .iter()
            .enumerate()
            .map(|(number, text)| Section {
                number: number + 1,
                text: text.clone(),
            })
            .collect()
    }

    /// Stands in for a model call; later sections finish first.
    #[node(retry = 3, timeout = Duration::from_secs(30))]
    async fn summarize(section: &Section) -> NodeResult<Report> {
        tokio::time::sleep(Duration::from_millis(40 / section.number as u64)).await;
        let first_words: Vec<&str> = section.text.split_whitespace().take(4).collect();
        Ok(ReportUpdate::new().push_summaries(format!(
            "§{}: {}…",
            section.number,
            first_words.join(" ")
        )))
    }

    #[node]
    async fn combine(s: &Report) -> NodeResult<Report> {
        Ok(ReportUpdate::new().digest(s.summaries.join("\n")))
    }

    edges! {
        START -> split;
        split -> per_section => summarize;
        summarize -> combine -> END;
    }
}

const TEXT: &str = "Checkpoints are written after every step of the graph.\n\n\
    A crashed worker resumes with the same thread id.\n\n\
    Sends fan a step out to one task per input.\n\n\
    The summaries merge in the order the sections were sent.";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("MAP_REDUCE_DB").unwrap_or_else(|_| "map_reduce.db".to_owned());
    let done = run(&db).await?;
    println!("{}", done.digest);
    Ok(())
}

/// Runs (or resumes) the job on the database at `db`; returns its final state.
async fn run(db: &str) -> Result<Report, Box<dyn std::error::Error>> {
    let graph = report::graph()
        .checkpointer(SqliteSaver::open(db).await?)
        .compile()?;
    let thread = graph.thread("report-2026-11");
    let done = thread
        .start_or_resume(ReportUpdate::new().text(TEXT.to_owned()))
        .await?
        .into_finished()?;
    println!(
        "{} sections summarized in one step; {} checkpoints on the thread",
        done.sections.len(),
        thread.history().limit(100).await?.len()
    );
    Ok(done)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn summaries_merge_in_section_order() {
        let dir = std::env::temp_dir().join(format!("sg-map-reduce-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("map_reduce.db");
        let done = super::run(db.to_str().unwrap()).await.unwrap();
        let numbers: Vec<&str> = done
            .summaries
            .iter()
            .filter_map(|s| s.split(':').next())
            .collect();
        assert_eq!(numbers, ["§1", "§2", "§3", "§4"]);
        assert!(done.digest.starts_with("§1: Checkpoints are written after"));
        // The finished job is not run again.
        let again = super::run(db.to_str().unwrap()).await.unwrap();
        assert_eq!(again.digest, done.digest);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
