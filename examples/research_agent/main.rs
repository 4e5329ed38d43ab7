//! The research agent of the seed post, checkpointed to SQLite. The graph, its state and its
//! dependencies are in `graph.rs`; the services are deterministic stand-ins.
//!
//! Checkpoints go to a SQLite file (`research_agent.db`, or the path in `RESEARCH_DB`). Run it
//! twice with the same job id and the second run finds the thread: it resumes it if a run was
//! cut short, or shows the finished one.
//!
//! ```text
//! cargo run --example research_agent [job-id]
//! ```

mod graph;

use graph::{ResearchStateUpdate, Services, research};
use stategraph::ThreadId;
use stategraph::sqlite::SqliteSaver;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let job_id = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "job-001".to_owned());
    let db = std::env::var("RESEARCH_DB").unwrap_or_else(|_| "research_agent.db".to_owned());
    let saver = SqliteSaver::open(&db).await?;
    let graph = research::graph(Services::stand_ins())
        .checkpointer(saver)
        .compile()?;
    let thread = graph.thread(ThreadId::new(format!("research-{job_id}")));

    match thread.state().await? {
        None => println!("starting thread {} in {db}", thread.id()),
        Some(found) if !found.next.is_empty() => println!(
            "thread {} was cut short at step {}; resuming at {:?}",
            thread.id(),
            found.metadata.step,
            found.next
        ),
        Some(found) => println!(
            "thread {} already finished at step {} in {db}; showing it \
             (pass another job id, or delete {db}, to run again)",
            thread.id(),
            found.metadata.step
        ),
    }
    // Starts the job, continues it after a crash, or returns the finished result: one call.
    let input = ResearchStateUpdate::new()
        .task_id(job_id.clone())
        .query("durable agent state in Rust");
    let done = thread.start_or_resume(input).await?.into_finished()?;

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
