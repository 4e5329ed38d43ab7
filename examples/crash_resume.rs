//! A process dies mid-graph and a new one resumes the thread: the seed's "resume path is
//! tested", made visible.
//!
//! The program runs itself as a child process whose third step kills it with SIGKILL — no
//! destructor, no flush, as when a pod is evicted. Then it opens the same SQLite file, shows
//! where the thread stopped, and resumes it with the same thread id. The steps finished before
//! the kill are not run again.
//!
//! ```text
//! cargo run --example crash_resume
//! ```

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{NodeResult, State};

const THREAD: &str = "crash-demo";
const STEPS: u32 = 5;

/// A job of five steps; each appends to its log.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct Job {
    /// Steps done.
    pub done: u32,
    /// What happened, and in which process.
    #[state(reducer = append)]
    pub log: Vec<String>,
}

#[stategraph::graph(state = Job)]
mod job {
    use super::*;

    #[node]
    async fn work(s: &Job) -> NodeResult<Job> {
        let pid = std::process::id();
        if s.done == 2 && std::env::var("CRASH_DEMO_CHILD").is_ok() {
            println!(
                "  [pid {pid}] step {}: killing myself with SIGKILL",
                s.done + 1
            );
            std::io::stdout().flush()?;
            Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()?;
            std::thread::sleep(std::time::Duration::from_secs(5));
        }
        println!("  [pid {pid}] step {} done", s.done + 1);
        Ok(JobUpdate::new()
            .done(s.done + 1)
            .log(vec![format!("step {} in pid {pid}", s.done + 1)]))
    }

    pub(super) enum Next {
        More,
        Finished,
    }

    #[route]
    fn next(s: &Job) -> Next {
        if s.done < STEPS {
            Next::More
        } else {
            Next::Finished
        }
    }

    edges! {
        START -> work;
        work -> next { More => work, Finished => END };
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::temp_dir().join("stategraph-crash-demo.db");
    if std::env::var("CRASH_DEMO_CHILD").is_ok() {
        return run(&db).await;
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }

    println!("1. a child process starts thread {THREAD}:");
    let status = Command::new(std::env::current_exe()?)
        .env("CRASH_DEMO_CHILD", "1")
        .status()?;
    println!("   the child ended with {status}");

    let saver = SqliteSaver::open(&db).await?;
    let graph = job::graph().checkpointer(saver).compile()?;
    let thread = graph.thread(THREAD);
    let stopped = thread
        .state()
        .await?
        .expect("the child saved checkpoints before it died");
    println!(
        "2. {} holds the thread at step {} with {} step(s) done; next: {:?}",
        db.display(),
        stopped.metadata.step,
        stopped.values.done,
        stopped.next
    );

    println!(
        "3. this process (pid {}) resumes the same thread id:",
        std::process::id()
    );
    let done = thread.resume().await?.into_finished()?;
    println!("4. finished: {} steps", done.done);
    for line in &done.log {
        println!("   {line}");
    }
    Ok(())
}

async fn run(db: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let saver = SqliteSaver::open(db).await?;
    let graph = job::graph().checkpointer(saver).compile()?;
    graph
        .thread(THREAD)
        .invoke(JobUpdate::new())
        .await?
        .into_finished()?;
    Ok(())
}
