//! The runtime's hot paths as single runs, for instruction counts (`benches/icount.sh`, which
//! runs this binary under callgrind): instruction counts do not move with the machine's load,
//! so a regression of a few percent shows where wall-clock times cannot.
//!
//! ```text
//! cargo bench --bench icount --no-run     # then: benches/icount.sh [<commit> …]
//! <binary> <workload> <runs>              # one warm-up run, then <runs> more
//! ```
//!
//! Workloads: `steps_none` and `steps_memory` (the 200-step loop of `step_overhead`, without a
//! checkpointer and with `MemorySaver`), `fanout_none` and `fanout_memory` (one step of 1,000
//! sent tasks), `stream_updates` (the loop streamed in `updates` mode with `MemorySaver`). The
//! first two compile at every commit since d40457b, so the script can compare against it.

#[path = "support/loop_graph.rs"]
mod loop_graph;

use loop_graph::{input, looping};
use stategraph::{MemorySaver, ThreadId};

/// The loop's steps per run.
const STEPS: u32 = 200;

#[cfg(not(icount_early))]
mod fan {
    use serde::{Deserialize, Serialize};
    use stategraph::{NodeResult, State};

    /// Tasks per fan-out run.
    pub const TASKS: u32 = 1000;

    #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
    pub struct Batch {
        pub items: u32,
        #[state(reducer = append)]
        pub results: Vec<u32>,
    }

    #[stategraph::graph(state = Batch)]
    pub mod fanning {
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
            Ok(BatchUpdate::new().push_results(*item))
        }

        edges! {
            START -> plan;
            plan -> per_item => work;
            work -> END;
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args
        .next()
        .expect("a workload: steps_none, steps_memory, …");
    let runs: u32 = args
        .next()
        .map_or(1, |n| n.parse().expect("a number of runs"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        match workload.as_str() {
            "steps_none" => {
                let graph = looping::graph().compile().unwrap();
                for _ in 0..=runs {
                    let _ = graph.invoke(input(STEPS)).await.unwrap();
                }
            }
            "steps_memory" => {
                let graph = looping::graph()
                    .checkpointer(MemorySaver::new())
                    .compile()
                    .unwrap();
                for run in 0..=runs {
                    let thread = graph.thread(ThreadId::new(format!("icount-{run}")));
                    let _ = thread.invoke(input(STEPS)).await.unwrap();
                }
            }
            #[cfg(not(icount_early))]
            "fanout_none" => {
                let graph = fan::fanning::graph().compile().unwrap();
                for _ in 0..=runs {
                    let done = graph
                        .invoke(fan::BatchUpdate::new().items(fan::TASKS))
                        .await
                        .unwrap();
                    assert_eq!(done.results.len(), fan::TASKS as usize);
                }
            }
            #[cfg(not(icount_early))]
            "fanout_memory" => {
                let graph = fan::fanning::graph()
                    .checkpointer(MemorySaver::new())
                    .compile()
                    .unwrap();
                for run in 0..=runs {
                    let thread = graph.thread(ThreadId::new(format!("icount-{run}")));
                    let _ = thread
                        .invoke(fan::BatchUpdate::new().items(fan::TASKS))
                        .await
                        .unwrap();
                }
            }
            #[cfg(not(icount_early))]
            "stream_updates" => {
                use futures::StreamExt;
                let graph = looping::graph()
                    .checkpointer(MemorySaver::new())
                    .compile()
                    .unwrap();
                for run in 0..=runs {
                    let thread = graph.thread(ThreadId::new(format!("icount-{run}")));
                    let events = thread
                        .stream(input(STEPS), stategraph::StreamMode::UPDATES)
                        .count()
                        .await;
                    assert!(events >= STEPS as usize);
                }
            }
            other => panic!("unknown workload `{other}`"),
        }
    });
}
