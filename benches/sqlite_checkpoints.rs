//! SQLite checkpoint costs next to SQLite's own commit rate, at both `synchronous` settings:
//!
//! - the raw floor: one single-row INSERT committed per transaction (WAL), with rusqlite;
//! - per step: a 200-step loop graph on one thread, each step durable before the next;
//! - throughput: 50 threads × 100 steps at once through one saver (checkpoints/s and the
//!   p50/p95/p99 time between a thread's consecutive steps).
//!
//! ```text
//! cargo bench --bench sqlite_checkpoints
//! ```
//! Prints a Markdown table; BENCHMARKS.md records a run.

#[path = "support/loop_graph.rs"]
mod loop_graph;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use loop_graph::looping;
use stategraph::sqlite::{SqliteSaver, Synchronous};
use stategraph::{NodeResult, State};

const RAW_COMMITS: u32 = 2000;
const STEPS: u32 = 200;
const THREADS: usize = 50;
const THREAD_STEPS: u32 = 100;

/// Microseconds per single-row commit.
fn raw_commit(path: &Path, synchronous: &str) -> f64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", synchronous)
        .unwrap();
    conn.execute(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)",
        [],
    )
    .unwrap();
    let payload = vec![7u8; 200];
    let start = Instant::now();
    for _ in 0..RAW_COMMITS {
        conn.execute("INSERT INTO t (v) VALUES (?1)", [&payload])
            .unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(RAW_COMMITS)
}

async fn open(path: &Path, synchronous: Synchronous) -> SqliteSaver {
    SqliteSaver::builder(path)
        .synchronous(synchronous)
        .open()
        .await
        .unwrap()
}

/// Microseconds per step of one thread running `STEPS` durable steps.
async fn per_step(path: &Path, synchronous: Synchronous) -> f64 {
    let graph = looping::graph()
        .checkpointer(open(path, synchronous).await)
        .compile()
        .unwrap();
    let thread = graph.thread("per-step");
    let start = Instant::now();
    let out = thread.invoke(loop_graph::input(STEPS)).await.unwrap();
    assert_eq!(out.count, STEPS);
    start.elapsed().as_secs_f64() * 1e6 / f64::from(STEPS)
}

/// Each thread's step times, recorded by the node itself.
static STAMPS: Mutex<Vec<(u32, u32, Instant)>> = Mutex::new(Vec::new());

#[derive(State, Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Timed {
    id: u32,
    count: u32,
    #[state(reducer = append)]
    messages: Vec<String>,
}

#[stategraph::graph(state = Timed)]
mod timed {
    use super::*;

    #[node]
    async fn step(s: &Timed) -> NodeResult<Timed> {
        STAMPS.lock().unwrap().push((s.id, s.count, Instant::now()));
        Ok(TimedUpdate::new()
            .count(s.count + 1)
            .messages(vec![format!("step {}", s.count)]))
    }

    pub(super) enum Next {
        Again,
        Done,
    }

    #[route]
    fn again(s: &Timed) -> Next {
        if s.count < THREAD_STEPS {
            Next::Again
        } else {
            Next::Done
        }
    }

    edges! {
        START -> step;
        step -> again { Again => step, Done => END };
    }
}

struct Throughput {
    checkpoints_per_s: f64,
    p50: Duration,
    p95: Duration,
    p99: Duration,
}

async fn concurrent(path: &Path, synchronous: Synchronous) -> Throughput {
    STAMPS.lock().unwrap().clear();
    let graph = timed::graph()
        .checkpointer(open(path, synchronous).await)
        .compile()
        .unwrap();
    let start = Instant::now();
    let runs: Vec<_> = (0..THREADS as u32)
        .map(|id| {
            let thread = graph.thread(format!("writer-{id}"));
            tokio::spawn(async move { thread.invoke(TimedUpdate::new().id(id)).await.unwrap() })
        })
        .collect();
    for run in runs {
        assert_eq!(run.await.unwrap().count, THREAD_STEPS);
    }
    let elapsed = start.elapsed();
    // One input checkpoint plus one per step, for each thread.
    let checkpoints = THREADS as f64 * f64::from(THREAD_STEPS + 1);
    let mut stamps = std::mem::take(&mut *STAMPS.lock().unwrap());
    stamps.sort_by_key(|&(id, count, _)| (id, count));
    let mut gaps: Vec<Duration> = stamps
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| w[1].2 - w[0].2)
        .collect();
    gaps.sort();
    let at = |q: f64| gaps[((gaps.len() - 1) as f64 * q) as usize];
    Throughput {
        checkpoints_per_s: checkpoints / elapsed.as_secs_f64(),
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks every bench for its list
    }
    let dir = std::env::temp_dir().join(format!("stategraph-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| synchronous | raw commit | per step | per step / raw | 50×100 checkpoints/s | p50 | p95 | p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, setting) in [("FULL", Synchronous::Full), ("NORMAL", Synchronous::Normal)] {
        let raw = raw_commit(&dir.join(format!("raw-{name}.db")), name);
        let step = rt.block_on(per_step(&dir.join(format!("step-{name}.db")), setting));
        let t = rt.block_on(concurrent(&dir.join(format!("many-{name}.db")), setting));
        println!(
            "| {name} | {raw:.1} µs | {step:.1} µs | {:.2}× | {:.0} | {:.2?} | {:.2?} | {:.2?} |",
            step / raw,
            t.checkpoints_per_s,
            t.p50,
            t.p95,
            t.p99
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
