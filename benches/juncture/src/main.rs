//! juncture 0.4 on stategraph's step-overhead workloads, without a checkpointer (juncture
//! 0.4 ships no in-memory saver):
//!
//! - a loop of 200 steps, each incrementing a counter and appending one small message,
//!   routed back to itself until the counter reaches the limit;
//! - a chain of 3,000 nodes, each incrementing the counter.
//!
//! Prints the median of 30 runs after 3 warm-ups, per step, as `name µs` lines.

use std::time::Instant;

use juncture_core::node::NodeFnUpdate;
use juncture_core::{END, JunctureError, RunnableConfig, StateGraph};
use juncture_derive::State;

#[derive(State, Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Looping {
    count: u32,
    limit: u32,
    #[reducer(append)]
    messages: Vec<String>,
}

/// A node's future may not borrow the state: it is made ready from what the node read.
type Done = std::future::Ready<Result<LoopingUpdate, JunctureError>>;

fn step(s: &Looping) -> Done {
    std::future::ready(Ok(LoopingUpdate {
        count: Some(s.count + 1),
        messages: Some(vec![format!("step {}", s.count)]),
        ..LoopingUpdate::default()
    }))
}

fn again(s: &Looping) -> &str {
    if s.count < s.limit { "step" } else { END }
}

fn bump(s: &Looping) -> Done {
    std::future::ready(Ok(LoopingUpdate {
        count: Some(s.count + 1),
        ..LoopingUpdate::default()
    }))
}

/// The median of `runs` timed calls of `run`, in µs, after three untimed ones.
async fn median<F, Fut>(runs: usize, mut run: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..3 {
        run().await;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        run().await;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    const STEPS: u32 = 200;
    const CHAIN: usize = 3_000;

    let mut graph = StateGraph::<Looping>::new();
    graph.add_node_simple("step", NodeFnUpdate(step)).unwrap();
    graph.set_entry_point("step");
    graph.add_conditional_edges(
        "step",
        std::sync::Arc::new(again),
        juncture_core::edge::PathMap::from(&[("step", "step"), (END, END)]),
    );
    let looping = graph.compile().unwrap();
    let config = RunnableConfig::new().with_recursion_limit(10_000);
    let per_run = median(30, || async {
        let input = Looping {
            limit: STEPS,
            ..Looping::default()
        };
        let out = looping.invoke_async(input, &config).await.unwrap();
        assert_eq!(out.value.count, STEPS);
    })
    .await;
    println!("juncture_loop_200_steps {:.2}", per_run / f64::from(STEPS));

    let mut graph = StateGraph::<Looping>::new();
    let names: Vec<String> = (0..CHAIN).map(|i| format!("n{i}")).collect();
    for name in &names {
        graph.add_node_simple(name.as_str(), NodeFnUpdate(bump)).unwrap();
    }
    graph.set_entry_point(names[0].as_str());
    for pair in names.windows(2) {
        graph.add_edge(pair[0].as_str(), pair[1].as_str());
    }
    graph.set_finish_point(names[CHAIN - 1].as_str());
    let chain = graph.compile().unwrap();
    let per_run = median(10, || async {
        let out = chain
            .invoke_async(Looping::default(), &config)
            .await
            .unwrap();
        assert_eq!(out.value.count as usize, CHAIN);
    })
    .await;
    println!("juncture_chain_3000_nodes {:.2}", per_run / CHAIN as f64);
}
