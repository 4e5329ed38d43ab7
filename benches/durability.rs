//! What each durability mode and the per-node checkpoint policy cost, on SQLite and PostgreSQL:
//!
//! - per step of the seed's outer graph (`prepare → token × 200 → review`), in `Sync`, `Async`
//!   and `Exit`, with a node that returns at once and with one that waits 1 ms (a model call's
//!   latency, which `Async` overlaps with the checkpoint write), next to the same run without a
//!   checkpointer;
//! - the selective-checkpointing trade-off: the same run with the token node checkpointed every
//!   step (fine) and with `#[node(checkpoint = false)]` (coarse): checkpoints written and time.
//!
//! ```text
//! cargo bench --bench durability --features postgres
//! ```
//! PostgreSQL is skipped when `STATEGRAPH_POSTGRES_URL` (default the local server) is not
//! reachable. Prints Markdown tables; BENCHMARKS.md records a run.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{
    Checkpointer, CompiledGraph, Durability, Durable, GraphDef, ListQuery, NodeContext, NodeResult,
    State,
};

const TOKENS: u32 = 200;
const RUNS: usize = 5;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Draft {
    count: u32,
    #[state(reducer = append)]
    tokens: Vec<String>,
    reviewed: bool,
}

/// How long each token's node waits, standing in for a model's latency.
struct Latency(Duration);

async fn token_update(s: &Draft, latency: &Latency) -> NodeResult<Draft> {
    if !latency.0.is_zero() {
        tokio::time::sleep(latency.0).await;
    }
    Ok(DraftUpdate::new()
        .count(s.count + 1)
        .push_tokens(format!("token {}", s.count)))
}

/// The seed's outer graph, `prepare → token × TOKENS → review`, as module `$name`, with the
/// token node's `#[node]` arguments `$token`.
macro_rules! outer_graph {
    ($name:ident, $($token:tt)*) => {
        #[stategraph::graph(state = Draft, deps = Latency)]
        mod $name {
            use super::*;

            #[node]
            async fn prepare(_: &Draft) -> NodeResult<Draft> {
                Ok(DraftUpdate::new())
            }

            #[node $($token)*]
            async fn token(s: &Draft, ctx: &NodeContext<Latency>) -> NodeResult<Draft> {
                token_update(s, ctx.deps()).await
            }

            #[node]
            async fn review(_: &Draft) -> NodeResult<Draft> {
                Ok(DraftUpdate::new().reviewed(true))
            }

            pub(super) enum More {
                Token,
                Done,
            }

            #[route]
            fn more(s: &Draft) -> More {
                if s.count < TOKENS {
                    More::Token
                } else {
                    More::Done
                }
            }

            edges! {
                START -> prepare -> token;
                token -> more { Token => token, Done => review };
                review -> END;
            }
        }
    };
}

// Every token step checkpointed.
outer_graph!(fine,);
// The token steps saved with `review`'s checkpoint.
outer_graph!(coarse, (checkpoint = false));

/// Steps of one run: the input is not a step; prepare, the tokens and review are.
const STEPS: u32 = TOKENS + 2;

/// The median of `RUNS` runs of `run` (each on a new thread id), in microseconds per step.
async fn median_per_step<F, Fut>(mut run: F) -> f64
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run(format!("warm-up-{}", stategraph::CheckpointId::new())).await;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let id = format!("bench-{}", stategraph::CheckpointId::new());
        let start = Instant::now();
        run(id).await;
        times.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(STEPS));
    }
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

async fn without_checkpointer(latency: Duration) -> f64 {
    let graph = fine::graph(Latency(latency)).compile().unwrap();
    median_per_step(|_| {
        let graph = graph.clone();
        async move {
            let done = graph.invoke(DraftUpdate::new()).await.unwrap();
            assert!(done.reviewed);
        }
    })
    .await
}

/// The median µs per step of runs of `graph`, each on a new thread (deleted after).
async fn durable<G: GraphDef<State = Draft>>(graph: CompiledGraph<G, Durable>) -> f64 {
    median_per_step(|id| {
        let graph = graph.clone();
        async move {
            let done = graph
                .thread(id.as_str())
                .invoke(DraftUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap();
            assert!(done.reviewed);
            graph
                .checkpointer()
                .delete_thread(&id.into())
                .await
                .unwrap();
        }
    })
    .await
}

async fn fine_in(saver: Arc<dyn Checkpointer>, mode: Durability, latency: Duration) -> f64 {
    let builder = fine::graph(Latency(latency)).checkpointer(saver);
    durable(builder.durability(mode).compile().unwrap()).await
}

async fn coarse_in(saver: Arc<dyn Checkpointer>) -> f64 {
    let builder = coarse::graph(Latency(Duration::ZERO)).checkpointer(saver);
    durable(builder.compile().unwrap()).await
}

/// How many checkpoints one run of each policy writes.
async fn checkpoints_written(saver: Arc<dyn Checkpointer>) -> (usize, usize) {
    let fine = fine::graph(Latency(Duration::ZERO))
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let coarse = coarse::graph(Latency(Duration::ZERO))
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    let run = stategraph::CheckpointId::new();
    let (a, b) = (format!("count-fine-{run}"), format!("count-coarse-{run}"));
    fine.thread(a.as_str())
        .invoke(DraftUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    coarse
        .thread(b.as_str())
        .invoke(DraftUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let count = |id: String| {
        let saver = saver.clone();
        async move {
            saver
                .list(&ListQuery::thread(id.into()))
                .await
                .unwrap()
                .len()
        }
    };
    let counts = (count(a.clone()).await, count(b.clone()).await);
    for id in [a, b] {
        saver.delete_thread(&id.into()).await.unwrap();
    }
    counts
}

async fn report(backend: &str, saver: Arc<dyn Checkpointer>) {
    println!("\n{backend}: µs per step (median of {RUNS} runs of {STEPS} steps)\n");
    println!(
        "| node latency | no checkpointer | Sync | Async | Exit | Async / Sync | Exit / Sync |"
    );
    println!("|---|---|---|---|---|---|---|");
    for latency in [Duration::ZERO, Duration::from_millis(1)] {
        let none = without_checkpointer(latency).await;
        let sync = fine_in(saver.clone(), Durability::Sync, latency).await;
        let asynchronous = fine_in(saver.clone(), Durability::Async, latency).await;
        let exit = fine_in(saver.clone(), Durability::Exit, latency).await;
        println!(
            "| {:?} | {none:.1} | {sync:.1} | {asynchronous:.1} | {exit:.1} | {:.2}× | {:.2}× |",
            latency,
            asynchronous / sync,
            exit / sync
        );
    }
    let (fine_count, coarse_count) = checkpoints_written(saver.clone()).await;
    let fine_time = fine_in(saver.clone(), Durability::Sync, Duration::ZERO).await;
    let coarse_time = coarse_in(saver).await;
    println!(
        "\n{backend}: selective checkpointing, {TOKENS} token steps between prepare and review\n"
    );
    println!("| token node | checkpoints per run | µs per step | time / fine |");
    println!("|---|---|---|---|");
    println!("| checkpointed (fine) | {fine_count} | {fine_time:.1} | 1.00× |");
    println!(
        "| `checkpoint = false` (coarse) | {coarse_count} | {coarse_time:.1} | {:.2}× |",
        coarse_time / fine_time
    );
}

fn main() {
    support::run("durability", |dir| async move {
        let sqlite = SqliteSaver::open(dir.join("bench.db")).await.unwrap();
        report("SQLite (WAL, synchronous = FULL)", Arc::new(sqlite)).await;
        postgres().await;
    });
}

#[cfg(feature = "postgres")]
async fn postgres() {
    let url = std::env::var("STATEGRAPH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    match stategraph::postgres::PostgresSaver::builder(url)
        .schema("sg_bench_durability")
        .connect()
        .await
    {
        Ok(saver) => report("PostgreSQL (unnamed statements)", Arc::new(saver)).await,
        Err(e) => println!("\nPostgreSQL skipped: {e}"),
    }
}

#[cfg(not(feature = "postgres"))]
async fn postgres() {
    println!("\nPostgreSQL skipped: build with `--features postgres`");
}
