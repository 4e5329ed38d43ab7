//! What streaming costs: the same runs invoked and streamed, in one process. A loop of 1,000
//! steps streamed in `updates` mode (one event per step), and one node emitting 10,000 custom
//! tokens streamed in `custom` mode; both without a checkpointer and with `MemorySaver`. Prints
//! the median time of one run and µs per event, as ratios to `invoke` of the same graph.
//!
//! ```text
//! cargo bench --bench streaming
//! ```
//! BENCHMARKS.md records a run beside LangGraph's `stream(stream_mode="updates")` and
//! `stream_mode="custom"` from `benches/langgraph/streaming.py`, run by `benches/side_by_side.sh streaming`
//! in the same invocation.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stategraph::{Checkpointer, MemorySaver, NodeContext, NodeResult, State, StreamMode};

const RUNS: usize = 7;
const STEPS: u32 = 1_000;
const TOKENS: u32 = 10_000;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Counter {
    n: u32,
}

#[stategraph::graph(state = Counter)]
mod looping {
    use super::*;

    #[node]
    async fn tick(s: &Counter) -> NodeResult<Counter> {
        Ok(CounterUpdate::new().n(s.n + 1))
    }

    pub(super) enum Again {
        Yes,
        No,
    }

    #[route]
    fn again(s: &Counter) -> Again {
        if s.n < STEPS { Again::Yes } else { Again::No }
    }

    edges! {
        START -> tick;
        tick -> again { Yes => tick, No => END };
    }
}

#[stategraph::graph(state = Counter)]
mod tokens {
    use super::*;

    #[node]
    async fn speak(_: &Counter, ctx: &NodeContext) -> NodeResult<Counter> {
        for n in 0..TOKENS {
            ctx.emit(n).await;
        }
        Ok(CounterUpdate::new().n(TOKENS))
    }

    edges! { START -> speak -> END; }
}

/// The median of `RUNS` runs of `run` (after one warm-up), in milliseconds.
async fn median<F, Fut>(mut run: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..=RUNS {
        let start = Instant::now();
        run(i).await;
        if i > 0 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

/// Consumes a stream, checking it carried `events` events.
async fn drain(stream: stategraph::RunStream<Counter>, events: usize) {
    let mut stream = stream;
    let mut seen = 0;
    while let Some(event) = stream.next().await {
        event.unwrap();
        seen += 1;
    }
    assert_eq!(seen, events);
    stream
        .output()
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
}

fn main() {
    support::run("streaming", |_dir| async move {
        println!("\nstategraph: invoke against stream, median of {RUNS}\n");
        println!("| run | saver | invoke | stream | stream / invoke | µs per event |");
        println!("|---|---|---|---|---|---|");
        let steps = looping::graph().recursion_limit(10_000).compile().unwrap();
        let invoke = median(|_| async {
            assert_eq!(steps.invoke(CounterUpdate::new()).await.unwrap().n, STEPS)
        })
        .await;
        let stream = median(|_| {
            drain(
                steps.stream(CounterUpdate::new(), StreamMode::UPDATES),
                STEPS as usize,
            )
        })
        .await;
        row("1,000 steps, `updates`", "none", invoke, stream, STEPS);

        let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
        let durable = looping::graph()
            .checkpointer(saver.clone())
            .recursion_limit(10_000)
            .compile()
            .unwrap();
        let invoke = median(|i| {
            let thread = durable.thread(format!("invoke-{i}"));
            async move {
                thread
                    .invoke(CounterUpdate::new())
                    .await
                    .and_then(stategraph::Outcome::into_finished)
                    .unwrap();
            }
        })
        .await;
        let stream = median(|i| {
            drain(
                durable
                    .thread(format!("stream-{i}"))
                    .stream(CounterUpdate::new(), StreamMode::UPDATES),
                STEPS as usize,
            )
        })
        .await;
        row(
            "1,000 steps, `updates`",
            "MemorySaver",
            invoke,
            stream,
            STEPS,
        );

        let speak = tokens::graph().compile().unwrap();
        let invoke = median(|_| async {
            speak.invoke(CounterUpdate::new()).await.unwrap();
        })
        .await;
        let stream = median(|_| {
            drain(
                speak.stream(CounterUpdate::new(), StreamMode::CUSTOM),
                TOKENS as usize,
            )
        })
        .await;
        row("10,000 tokens, `custom`", "none", invoke, stream, TOKENS);
    });
}

fn row(run: &str, saver: &str, invoke: f64, stream: f64, events: u32) {
    let per_event = (stream - invoke).max(0.0) * 1e3 / f64::from(events);
    println!(
        "| {run} | {saver} | {invoke:.2} ms | {stream:.2} ms | {:.2}× | {per_event:.2} |",
        stream / invoke
    );
}
