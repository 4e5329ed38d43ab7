//! Per-step overhead of the runtime: a loop graph of 200 steps, each incrementing a counter
//! and appending one small message, run without a checkpointer and with `MemorySaver`.
//!
//! ```text
//! cargo bench --bench step_overhead
//! ```
//! Criterion reports the time of one 200-step run; divide by 200 for the time per step.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use stategraph::{Checkpointer, MemorySaver, NodeResult, State, ThreadId};

const STEPS: u32 = 200;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct LoopState {
    count: u32,
    #[state(reducer = append)]
    messages: Vec<String>,
}

#[stategraph::graph(state = LoopState)]
mod looping {
    use super::*;

    #[node]
    async fn step(s: &LoopState) -> NodeResult<LoopState> {
        Ok(LoopStateUpdate::new()
            .count(s.count + 1)
            .messages(vec![format!("step {}", s.count)]))
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn again(s: &LoopState) -> Next {
        if s.count < STEPS {
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

fn step_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("loop_200_steps");
    group.throughput(Throughput::Elements(STEPS as u64));

    let ephemeral = looping::graph().compile().unwrap();
    group.bench_function("no_checkpointer", |b| {
        b.to_async(&rt).iter(|| async {
            let out = ephemeral.invoke(LoopStateUpdate::new()).await.unwrap();
            assert_eq!(out.count, STEPS);
        })
    });

    let saver = std::sync::Arc::new(MemorySaver::new());
    let durable = looping::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    group.bench_function("memory_saver", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (durable, saver) = (durable.clone(), saver.clone());
            async move {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let id = ThreadId::new(format!("bench-{i}"));
                    let thread = durable.thread(id.clone());
                    let start = Instant::now();
                    let out = thread.invoke(LoopStateUpdate::new()).await.unwrap();
                    total += start.elapsed();
                    assert_eq!(out.count, STEPS);
                    saver.delete_thread(&id).await.unwrap();
                }
                total
            }
        })
    });
    group.finish();
}

criterion_group!(benches, step_overhead);
criterion_main!(benches);
