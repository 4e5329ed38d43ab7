//! The seed's selective-checkpointing trade-off, measured: the outer `prepare -> generate ->
//! review` graph around a 200-step token subgraph, with the subgraph not checkpointed
//! (`checkpoint = none`, coarse) and checkpointed per call (fine), on SQLite (WAL,
//! synchronous = FULL) and with `MemorySaver`. Prints the checkpoints each run writes per layer
//! and the median time of one run.
//!
//! ```text
//! cargo bench --bench subgraphs
//! ```
//! BENCHMARKS.md records a run beside LangGraph's figures from `benches/langgraph/subgraphs.py`,
//! run by `benches/side_by_side.sh subgraphs` in the same invocation.

mod support;

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{Builder, Checkpointer, GraphDef, ListQuery, MemorySaver, NodeResult, State};

const RUNS: usize = 7;
const TOKENS: usize = 200;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Draft {
    #[state(reducer = append)]
    tokens: Vec<String>,
    text: String,
    reviewed: bool,
}

#[stategraph::graph(state = Draft)]
mod streaming {
    use super::*;

    #[node]
    async fn stream_tokens(s: &Draft) -> NodeResult<Draft> {
        Ok(DraftUpdate::new().push_tokens(format!("t{}", s.tokens.len())))
    }

    #[node]
    async fn buffer_output(s: &Draft) -> NodeResult<Draft> {
        Ok(DraftUpdate::new().text(s.tokens.join(" ")))
    }

    pub(super) enum Stream {
        More,
        Done,
    }

    #[route]
    fn more(s: &Draft) -> Stream {
        if s.tokens.len() < TOKENS {
            Stream::More
        } else {
            Stream::Done
        }
    }

    edges! {
        START -> stream_tokens;
        stream_tokens -> more { More => stream_tokens, Done => buffer_output };
        buffer_output -> END;
    }
}

#[stategraph::graph(state = Draft)]
mod coarse {
    use super::*;

    #[node]
    async fn prepare(_: &Draft) -> NodeResult<Draft> {
        Ok(DraftUpdate::new())
    }

    #[subgraph(checkpoint = none)]
    type generate = super::streaming::Graph;

    #[node]
    async fn review(_: &Draft) -> NodeResult<Draft> {
        Ok(DraftUpdate::new().reviewed(true))
    }

    edges! { START -> prepare -> generate -> review -> END; }
}

#[stategraph::graph(state = Draft)]
mod fine {
    use super::*;

    #[node]
    async fn prepare(_: &Draft) -> NodeResult<Draft> {
        Ok(DraftUpdate::new())
    }

    #[subgraph]
    type generate = super::streaming::Graph;

    #[node]
    async fn review(_: &Draft) -> NodeResult<Draft> {
        Ok(DraftUpdate::new().reviewed(true))
    }

    edges! { START -> prepare -> generate -> review -> END; }
}

/// The median time of one run, in milliseconds, and the checkpoints one run writes in the
/// outer and the inner namespaces.
async fn measure<G: GraphDef<State = Draft>>(
    build: fn() -> Builder<G>,
    saver: Arc<dyn Checkpointer>,
) -> (f64, usize, usize) {
    let graph = build().checkpointer(saver.clone()).compile().unwrap();
    let mut times = Vec::with_capacity(RUNS);
    let mut layers = (0, 0);
    for run in 0..=RUNS {
        let id = format!("sub-{run}-{}", stategraph::CheckpointId::new());
        let start = Instant::now();
        let done = graph
            .thread(id.as_str())
            .invoke(DraftUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        assert!(done.reviewed && done.tokens.len() == TOKENS);
        let all = saver
            .list(&ListQuery::thread(id.as_str().into()))
            .await
            .unwrap();
        let outer = all.iter().filter(|t| t.checkpoint.ns.is_empty()).count();
        layers = (outer, all.len() - outer);
        saver.delete_thread(&id.into()).await.unwrap();
        if run > 0 {
            times.push(elapsed); // the first run warms up
        }
    }
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], layers.0, layers.1)
}

fn main() {
    support::run("subgraphs", |dir| async move {
        let sqlite: Arc<dyn Checkpointer> =
            Arc::new(SqliteSaver::open(dir.join("sub.db")).await.unwrap());
        let memory: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
        println!(
            "\nstategraph: prepare -> generate ({TOKENS} token steps + flush) -> review, median of {RUNS}\n"
        );
        println!(
            "| subgraph | saver | outer checkpoints | inner checkpoints | one run | fine / coarse |"
        );
        println!("|---|---|---|---|---|---|");
        for (name, saver) in [("SQLite", sqlite), ("MemorySaver", memory)] {
            let coarse_run = measure::<coarse::Graph>(coarse::graph, saver.clone()).await;
            let fine_run = measure::<fine::Graph>(fine::graph, saver.clone()).await;
            for (label, (ms, outer, inner)) in [
                ("`none` (coarse)", coarse_run),
                ("`per_call` (fine)", fine_run),
            ] {
                println!(
                    "| {label} | {name} | {outer} | {inner} | {ms:.2} ms | {:.1}× |",
                    ms / coarse_run.0
                );
            }
        }
    });
}
