//! Send fan-out: one step of N tasks of one node, each on its own input (N = 10, 100, 1,000,
//! 10,000), between a planning node and a combining node, without a checkpointer, with
//! `MemorySaver` and with SQLite (WAL, synchronous = FULL). Each task appends one result; the
//! merge keeps send order.
//!
//! ```text
//! cargo bench --bench send_fanout
//! ```
//! Prints a Markdown table; BENCHMARKS.md records a run beside LangGraph's figures from
//! `benches/langgraph/send_fanout.py`, run by `benches/side_by_side.sh fanout` in the same
//! invocation.

mod support;

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{Checkpointer, MemorySaver, NodeResult, State};

const RUNS: usize = 7;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Batch {
    items: u32,
    #[state(reducer = append)]
    results: Vec<u32>,
    total: u64,
}

#[stategraph::graph(state = Batch)]
mod fan {
    use super::*;

    #[node]
    async fn plan(_: &Batch) -> NodeResult<Batch> {
        Ok(BatchUpdate::new())
    }

    #[send]
    fn per_item(s: &Batch) -> Vec<u32> {
        (0..s.items).collect()
    }

    #[node]
    async fn work(item: &u32) -> NodeResult<Batch> {
        Ok(BatchUpdate::new().push_results(*item * 2))
    }

    #[node]
    async fn combine(s: &Batch) -> NodeResult<Batch> {
        Ok(BatchUpdate::new().total(s.results.iter().map(|&r| u64::from(r)).sum()))
    }

    edges! {
        START -> plan;
        plan -> per_item => work;
        work -> combine -> END;
    }
}

fn check(done: &Batch, items: u32) {
    assert_eq!(done.results.len(), items as usize);
    assert!(done.results.windows(2).all(|w| w[0] < w[1]), "send order");
}

/// The median time of one run of `items` tasks, in microseconds.
async fn median(items: u32, saver: Option<Arc<dyn Checkpointer>>) -> f64 {
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..=RUNS {
        let start = Instant::now();
        let done = match &saver {
            None => fan::graph()
                .compile()
                .unwrap()
                .invoke(BatchUpdate::new().items(items))
                .await
                .unwrap(),
            Some(saver) => {
                let id = format!("fan-{items}-{run}-{}", stategraph::CheckpointId::new());
                let graph = fan::graph().checkpointer(saver.clone()).compile().unwrap();
                let done = graph
                    .thread(id.as_str())
                    .invoke(BatchUpdate::new().items(items))
                    .await
                    .and_then(stategraph::Outcome::into_finished)
                    .unwrap();
                saver.delete_thread(&id.into()).await.unwrap();
                done
            }
        };
        let elapsed = start.elapsed().as_secs_f64() * 1e6;
        check(&done, items);
        if run > 0 {
            times.push(elapsed); // the first run warms up
        }
    }
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

fn main() {
    support::run("fanout", |dir| async move {
        let memory: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
        let sqlite: Arc<dyn Checkpointer> =
            Arc::new(SqliteSaver::open(dir.join("fan.db")).await.unwrap());
        println!(
            "\nstategraph: one run (plan, N sent tasks in one step, combine), median of {RUNS}\n"
        );
        println!(
            "| tasks | no checkpointer | per task | MemorySaver | per task | SQLite | per task |"
        );
        println!("|---|---|---|---|---|---|---|");
        for items in [10u32, 100, 1_000, 10_000] {
            let none = median(items, None).await;
            let mem = median(items, Some(memory.clone())).await;
            let lite = median(items, Some(sqlite.clone())).await;
            let per = |t: f64| t / f64::from(items);
            println!(
                "| {items} | {none:.0} µs | {:.2} µs | {mem:.0} µs | {:.2} µs | {lite:.0} µs | {:.2} µs |",
                per(none),
                per(mem),
                per(lite)
            );
        }
    });
}
