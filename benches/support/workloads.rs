//! The workloads every checkpointer benchmark runs, whatever the backend: one thread stepping
//! alone, and 50 threads stepping at once through one saver.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stategraph::{Checkpointer, NodeResult, State};

use super::loop_graph::{self, looping};

/// Steps of the single-thread run.
pub const STEPS: u32 = 200;
/// Threads of the concurrent run.
pub const THREADS: usize = 50;
/// Steps each thread of the concurrent run takes.
pub const THREAD_STEPS: u32 = 100;

/// Microseconds per step of one thread running [`STEPS`] steps, each durable before the next
/// (after a 20-step warm-up of the saver's connections and the server's caches).
pub async fn per_step(saver: impl Checkpointer, label: &str) -> f64 {
    let graph = looping::graph().checkpointer(saver).compile().unwrap();
    graph
        .thread(format!("warm-up-{label}"))
        .invoke(loop_graph::input(20))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let thread = graph.thread(format!("per-step-{label}"));
    let start = Instant::now();
    let out = thread
        .invoke(loop_graph::input(STEPS))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(out.count, STEPS);
    start.elapsed().as_secs_f64() * 1e6 / f64::from(STEPS)
}

/// Each thread's step times, recorded by the node itself.
static STAMPS: Mutex<Vec<(u32, u32, Instant)>> = Mutex::new(Vec::new());

/// The loop of the concurrent run, whose node records when each step starts.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timed {
    /// The thread's number.
    pub id: u32,
    /// Steps run.
    pub count: u32,
    /// One message per step.
    #[state(reducer = append)]
    pub messages: Vec<String>,
}

/// The timed loop.
#[stategraph::graph(state = Timed)]
pub mod timed {
    use super::*;

    #[node]
    async fn step(s: &Timed) -> NodeResult<Timed> {
        STAMPS.lock().unwrap().push((s.id, s.count, Instant::now()));
        Ok(TimedUpdate::new()
            .count(s.count + 1)
            .messages(vec![format!("step {}", s.count)]))
    }

    /// Whether to loop again.
    pub enum Next {
        /// Run another step.
        Again,
        /// Stop.
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

/// What the concurrent run measured.
pub struct Throughput {
    /// Checkpoints written per second (each thread's input checkpoint and one per step).
    pub checkpoints_per_s: f64,
    /// The median time between a thread's consecutive steps.
    pub p50: Duration,
    /// Its 95th percentile.
    pub p95: Duration,
    /// Its 99th percentile.
    pub p99: Duration,
}

/// [`THREADS`] threads × [`THREAD_STEPS`] steps at once through one saver.
pub async fn concurrent(saver: impl Checkpointer, label: &str) -> Throughput {
    STAMPS.lock().unwrap().clear();
    let graph = timed::graph().checkpointer(saver).compile().unwrap();
    let start = Instant::now();
    let runs: Vec<_> = (0..THREADS as u32)
        .map(|id| {
            let thread = graph.thread(format!("writer-{label}-{id}"));
            tokio::spawn(async move {
                thread
                    .invoke(TimedUpdate::new().id(id))
                    .await
                    .and_then(stategraph::Outcome::into_finished)
                    .unwrap()
            })
        })
        .collect();
    for run in runs {
        assert_eq!(run.await.unwrap().count, THREAD_STEPS);
    }
    let elapsed = start.elapsed();
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
