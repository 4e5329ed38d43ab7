//! Per-step overhead of the runtime: a loop graph of 200 steps, each incrementing a counter
//! and appending one small message, run without a checkpointer and with `MemorySaver`.
//!
//! ```text
//! cargo bench --bench step_overhead
//! ```
//! Criterion reports the time of one 200-step run; divide by 200 for the time per step.

#[path = "support/loop_graph.rs"]
mod loop_graph;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use loop_graph::{input, looping};
use stategraph::{Checkpointer, MemorySaver, ThreadId};

const STEPS: u32 = 200;

fn step_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("loop_200_steps");
    group.throughput(Throughput::Elements(u64::from(STEPS)));

    let ephemeral = looping::graph().compile().unwrap();
    group.bench_function("no_checkpointer", |b| {
        b.to_async(&rt).iter(|| async {
            let out = ephemeral.invoke(input(STEPS)).await.unwrap();
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
                    let out = thread
                        .invoke(input(STEPS))
                        .await
                        .and_then(stategraph::Outcome::into_finished)
                        .unwrap();
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
