//! The research agent with its checkpoints in an object store, shared by workers that share
//! nothing else — the seed's serverless row. Worker one runs a thread; worker two, with a saver
//! of its own (a new process would be the same), reads the thread's history from the store,
//! runs a second question on it, and prunes it to its latest checkpoint. Here the store is a
//! local directory (`BUCKET_DIR`, default `bucket/`); build the saver on an S3, GCS or Azure
//! bucket instead and nothing else changes.
//!
//! ```text
//! cargo run --example bucket_workers --features object-store
//! ```

#[path = "research_agent/graph.rs"]
mod graph;

use graph::{ResearchStateUpdate, Services, research};
use stategraph::object_store::ObjectStoreSaver;
use stategraph::{Checkpointer, ListQuery, Prune, ThreadId};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::var("BUCKET_DIR").unwrap_or_else(|_| "bucket".to_owned());
    let seen = run(std::path::Path::new(&dir)).await?;
    println!(
        "the store kept {} of the thread's {} checkpoints; the second question was answered: {}",
        seen.after_prune,
        seen.before_prune,
        seen.second_synthesis.is_some()
    );
    Ok(())
}

/// What the walkthrough saw: checkpoints before and after the prune.
#[derive(Debug)]
struct Seen {
    before_prune: usize,
    after_prune: usize,
    second_synthesis: Option<String>,
}

async fn run(dir: &std::path::Path) -> Result<Seen, Box<dyn std::error::Error>> {
    let id = ThreadId::new(format!(
        "bucket-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros()
    ));

    // Worker one.
    let saver = ObjectStoreSaver::local(dir).await?;
    let one = research::graph(Services::stand_ins())
        .checkpointer(saver)
        .compile()?;
    let first = one
        .thread(id.clone())
        .invoke(ResearchStateUpdate::new().query("agent memory"))
        .await?
        .into_finished()?;
    println!(
        "worker one: verdict {:?} after {} retries",
        first.review_verdict, first.retry_count
    );

    // Worker two: its own saver, nothing in memory from worker one.
    let saver = ObjectStoreSaver::local(dir).await?;
    let two = research::graph(Services::stand_ins())
        .checkpointer(saver.clone())
        .compile()?;
    let thread = two.thread(id.clone());
    let history = thread.history().await?;
    println!(
        "worker two: reads {} checkpoints of thread `{id}` from the store",
        history.len()
    );
    let second = thread
        .invoke(ResearchStateUpdate::new().query("checkpoint retention"))
        .await?
        .into_finished()?;
    let before_prune = saver.list(&ListQuery::thread(id.clone())).await?.len();
    saver
        .prune(std::slice::from_ref(&id), Prune::KeepLatest)
        .await?;
    let after_prune = saver.list(&ListQuery::thread(id.clone())).await?.len();
    println!("worker two: pruned {before_prune} checkpoints to {after_prune}");
    let state = thread
        .state()
        .await?
        .expect("the latest checkpoint is kept");
    println!("the thread resumes from step {}", state.metadata.step);
    Ok(Seen {
        before_prune,
        after_prune,
        second_synthesis: second.synthesis,
    })
}

#[cfg(test)]
mod tests {
    /// Both workers run on a fresh directory: the second reads the first's history, adds its
    /// own run, and the prune keeps one checkpoint of the thread.
    #[tokio::test]
    async fn two_workers_share_a_thread_through_the_store() {
        let dir = std::env::temp_dir().join(format!("sg-bucket-example-{}", std::process::id()));
        let seen = super::run(&dir).await.unwrap();
        assert!(seen.before_prune > 2, "{seen:?}");
        assert_eq!(seen.after_prune, 1, "{seen:?}");
        assert!(seen.second_synthesis.is_some(), "{seen:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
