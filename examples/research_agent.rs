//! The research agent of the seed post: search → synthesize → review, then a route that
//! passes, revises the synthesis, or searches again, with the retry count in state as the
//! hard exit after 3 retries. The LLM and search calls are deterministic stand-ins.
//!
//! Checkpoints go to a SQLite file (`research_agent.db`, or the path in `RESEARCH_DB`). Run it
//! twice with the same job id and the second run finds the thread: it resumes it if a run was
//! cut short, or shows the finished one.
//!
//! ```text
//! cargo run --example research_agent [job-id]
//! ```

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{NodeResult, State, ThreadId};

/// What the review decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Good enough to ship.
    Pass,
    /// The synthesis needs another draft from the same sources.
    Revise,
    /// Too few sources: search again.
    #[default]
    InsufficientSources,
}

/// Where the job is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Not started.
    #[default]
    New,
    /// Searching.
    Search,
    /// Writing the synthesis.
    Synthesize,
    /// Reviewing it.
    Review,
    /// Preparing another draft.
    Draft,
}

/// One entry of the agent's transcript.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    fn new(role: &str, content: impl Into<String>) -> Self {
        Self {
            role: role.to_owned(),
            content: content.into(),
        }
    }
}

/// The research job's state: routing fields stay primitive, documents stay outside (only
/// their ids are kept), the transcript only grows.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct ResearchState {
    /// The job this thread serves.
    pub task_id: String,
    /// The research question.
    pub query: String,
    /// Where the job is.
    pub phase: Phase,
    /// How many times the graph went back (to search or to revise).
    pub retry_count: u32,
    /// The transcript; every node appends to it.
    #[state(reducer = append)]
    pub messages: Vec<ChatMessage>,
    /// Ids of the documents found, kept in an external store.
    pub search_result_ids: Vec<String>,
    /// The current synthesis.
    pub synthesis: Option<String>,
    /// The last review's verdict.
    pub review_verdict: Option<Verdict>,
}

/// The seed's graph.
#[stategraph::graph(state = ResearchState)]
pub mod research {
    use super::*;

    #[node]
    async fn search(s: &ResearchState) -> NodeResult<ResearchState> {
        // Coming back from a review is a retry, and counts toward the hard exit.
        let retries = if s.phase == Phase::Review {
            s.retry_count + 1
        } else {
            s.retry_count
        };
        let ids = run_search(&s.query, retries);
        Ok(ResearchStateUpdate::new()
            .search_result_ids(ids.clone())
            .retry_count(retries)
            .phase(Phase::Search)
            .messages(vec![ChatMessage::new(
                "system",
                format!("search returned {} results", ids.len()),
            )]))
    }

    #[node]
    async fn synthesize(s: &ResearchState) -> NodeResult<ResearchState> {
        let docs = fetch_docs(&s.search_result_ids);
        let synthesis = llm_synthesize(&s.query, &docs, s.retry_count);
        Ok(ResearchStateUpdate::new()
            .synthesis(Some(synthesis.clone()))
            .phase(Phase::Synthesize)
            .messages(vec![ChatMessage::new("assistant", synthesis)]))
    }

    #[node]
    async fn review(s: &ResearchState) -> NodeResult<ResearchState> {
        let verdict = llm_review(
            s.synthesis.as_deref().unwrap_or(""),
            s.search_result_ids.len(),
        );
        Ok(ResearchStateUpdate::new()
            .review_verdict(Some(verdict))
            .phase(Phase::Review)
            .messages(vec![ChatMessage::new(
                "system",
                format!("review verdict: {verdict:?}"),
            )]))
    }

    #[node]
    async fn handle_revision(s: &ResearchState) -> NodeResult<ResearchState> {
        Ok(ResearchStateUpdate::new()
            .retry_count(s.retry_count + 1)
            .review_verdict(None)
            .phase(Phase::Draft))
    }

    /// Where to go after a review.
    pub enum AfterReview {
        /// Done: go to END.
        Pass,
        /// Draft again from the same sources.
        Revise,
        /// Search again for more sources.
        RetrySearch,
    }

    #[route]
    fn after_review(s: &ResearchState) -> AfterReview {
        match s.review_verdict {
            Some(Verdict::Pass) => AfterReview::Pass,
            _ if s.retry_count >= 3 => AfterReview::Pass, // the hard exit: never loop forever
            Some(Verdict::Revise) => AfterReview::Revise,
            _ => AfterReview::RetrySearch,
        }
    }

    edges! {
        START -> search -> synthesize -> review;
        review -> after_review { Pass => END, Revise => handle_revision, RetrySearch => search };
        handle_revision -> synthesize;
    }
}

/// Stand-in for a search API: a retry finds more documents.
fn run_search(query: &str, retry_count: u32) -> Vec<String> {
    let found = 2 + 2 * retry_count as usize;
    (1..=found)
        .map(|i| format!("doc-{:03}-{}", i, query.len()))
        .collect()
}

/// Stand-in for the document store.
fn fetch_docs(ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| format!("content of {id}")).collect()
}

/// Stand-in for the synthesizing LLM call.
fn llm_synthesize(query: &str, docs: &[String], draft: u32) -> String {
    format!(
        "draft {} on {query:?} from {} sources",
        draft + 1,
        docs.len()
    )
}

/// Stand-in for the reviewing LLM call: wants 3 sources, then a third draft.
fn llm_review(synthesis: &str, sources: usize) -> Verdict {
    if sources < 3 {
        Verdict::InsufficientSources
    } else if !synthesis.starts_with("draft 3") {
        Verdict::Revise
    } else {
        Verdict::Pass
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let job_id = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "job-001".to_owned());
    let db = std::env::var("RESEARCH_DB").unwrap_or_else(|_| "research_agent.db".to_owned());
    let saver = SqliteSaver::open(&db).await?;
    let graph = research::graph().checkpointer(saver).compile()?;
    let thread = graph.thread(ThreadId::new(format!("research-{job_id}")));

    let done = match thread.state().await? {
        None => {
            println!("starting thread {} in {db}", thread.id());
            let input = ResearchStateUpdate::new()
                .task_id(job_id.clone())
                .query("durable agent state in Rust");
            thread.invoke(input).await?
        }
        Some(found) if !found.next.is_empty() => {
            println!(
                "thread {} was cut short at step {}; resuming at {:?}",
                thread.id(),
                found.metadata.step,
                found.next
            );
            thread.resume().await?
        }
        Some(found) => {
            println!(
                "thread {} already finished at step {} in {db}; showing it \
                 (pass another job id, or delete {db}, to run again)",
                thread.id(),
                found.metadata.step
            );
            found.values
        }
    };

    let mut history = thread.history().await?;
    history.reverse();
    let route: Vec<&str> = history
        .iter()
        .flat_map(|s| s.metadata.writes.keys().map(String::as_str))
        .filter(|node| *node != "__input__")
        .collect();
    println!("thread {}: {} checkpoints", thread.id(), history.len());
    println!("route: START -> {} -> END", route.join(" -> "));
    println!("retries: {}", done.retry_count);
    println!("verdict: {:?}", done.review_verdict);
    println!("synthesis: {}", done.synthesis.as_deref().unwrap_or("-"));
    println!("transcript:");
    for message in &done.messages {
        println!("  [{}] {}", message.role, message.content);
    }
    Ok(())
}
