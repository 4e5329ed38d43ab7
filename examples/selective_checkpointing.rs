//! The seed's selective checkpointing: an outer `prepare -> generate -> review` graph that
//! checkpoints at its phase boundaries, around a token-streaming inner graph that writes no
//! checkpoint of its own (`#[subgraph(checkpoint = none)]`). The same work runs a second time
//! with the inner graph checkpointed per call (the default), and the example prints how many
//! checkpoints each layer wrote and how long each took, on SQLite (`selective.db`, or
//! `SELECTIVE_DB`).
//!
//! The trade-off: coarse checkpointing writes a handful of checkpoints whatever the number of
//! tokens, and a crash inside `generate` runs the whole generation again; fine checkpointing
//! writes one per token, and a crash resumes at the token in flight.
//!
//! ```text
//! cargo run --example selective_checkpointing
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{Checkpointer, ListQuery, NodeResult, State};

/// How many tokens the inner graph streams.
const TOKENS: usize = 200;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Draft {
    topic: String,
    outline: Vec<String>,
    /// One entry per streamed token.
    #[state(reducer = append)]
    tokens: Vec<String>,
    text: String,
    verdict: Option<String>,
}

/// The high-frequency inner work: one token per step, then the buffer is flushed.
#[stategraph::graph(state = Draft)]
mod streaming {
    use super::*;

    /// Stands in for one chunk of a model's streamed answer.
    #[node]
    async fn stream_tokens(s: &Draft) -> NodeResult<Draft> {
        let n = s.tokens.len();
        let word = &s.outline[n % s.outline.len()];
        Ok(DraftUpdate::new().push_tokens(format!("{word}#{n}")))
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

async fn prepare_outline(s: &Draft) -> NodeResult<Draft> {
    let outline: Vec<String> = s.topic.split_whitespace().map(str::to_owned).collect();
    Ok(DraftUpdate::new().outline(outline))
}

async fn review_text(s: &Draft) -> NodeResult<Draft> {
    let verdict = if s.text.is_empty() { "revise" } else { "pass" };
    Ok(DraftUpdate::new().verdict(verdict.to_owned()))
}

/// Checkpoints at the phase boundaries only: `generate` writes none.
#[stategraph::graph(state = Draft)]
mod coarse {
    use super::*;

    #[node]
    async fn prepare(s: &Draft) -> NodeResult<Draft> {
        prepare_outline(s).await
    }

    #[subgraph(checkpoint = none)]
    type generate = super::streaming::Graph;

    #[node]
    async fn review(s: &Draft) -> NodeResult<Draft> {
        review_text(s).await
    }

    edges! { START -> prepare -> generate -> review -> END; }
}

/// The same graph with `generate` checkpointed per call: one checkpoint per token.
#[stategraph::graph(state = Draft)]
mod fine {
    use super::*;

    #[node]
    async fn prepare(s: &Draft) -> NodeResult<Draft> {
        prepare_outline(s).await
    }

    #[subgraph]
    type generate = super::streaming::Graph;

    #[node]
    async fn review(s: &Draft) -> NodeResult<Draft> {
        review_text(s).await
    }

    edges! { START -> prepare -> generate -> review -> END; }
}

/// What one run wrote: checkpoints per layer (the outer graph's namespace is `""`, the inner
/// graph's `generate:<task>`), and how long it took.
struct Layers {
    outer: usize,
    inner: usize,
    millis: f64,
    draft: Draft,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("SELECTIVE_DB").unwrap_or_else(|_| "selective.db".to_owned());
    let (coarse, fine) = run(&db).await?;
    println!("{TOKENS} tokens streamed by the inner graph; checkpoints written per layer:");
    println!("  layer        coarse (checkpoint = none)   fine (per call)");
    println!("  outer        {:>26}   {:>15}", coarse.outer, fine.outer);
    println!("  inner        {:>26}   {:>15}", coarse.inner, fine.inner);
    println!(
        "  time (ms)    {:>26.1}   {:>15.1}",
        coarse.millis, fine.millis
    );
    println!(
        "review: {}; the text starts \"{}…\"",
        coarse.draft.verdict.as_deref().unwrap_or("-"),
        coarse.draft.text.chars().take(40).collect::<String>()
    );
    Ok(())
}

/// Runs the same work coarse and fine on the database at `db`.
async fn run(db: &str) -> Result<(Layers, Layers), Box<dyn std::error::Error>> {
    let saver: Arc<dyn Checkpointer> = Arc::new(SqliteSaver::open(db).await?);
    let job = stategraph::CheckpointId::new();
    let input = || DraftUpdate::new().topic("durable agents resume where they stopped".to_owned());

    let started = Instant::now();
    let graph = coarse::graph().checkpointer(saver.clone()).compile()?;
    let thread = format!("coarse-{job}");
    let draft = graph
        .thread(thread.as_str())
        .invoke(input())
        .await?
        .into_finished()?;
    let coarse = layers(&saver, &thread, started, draft).await?;

    let started = Instant::now();
    let graph = fine::graph().checkpointer(saver.clone()).compile()?;
    let thread = format!("fine-{job}");
    let draft = graph
        .thread(thread.as_str())
        .invoke(input())
        .await?
        .into_finished()?;
    let fine = layers(&saver, &thread, started, draft).await?;
    Ok((coarse, fine))
}

async fn layers(
    saver: &Arc<dyn Checkpointer>,
    thread: &str,
    started: Instant,
    draft: Draft,
) -> Result<Layers, Box<dyn std::error::Error>> {
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let mut by_layer: BTreeMap<bool, usize> = BTreeMap::new();
    for tuple in saver.list(&ListQuery::thread(thread.into())).await? {
        *by_layer.entry(tuple.checkpoint.ns.is_empty()).or_default() += 1;
    }
    Ok(Layers {
        outer: by_layer.get(&true).copied().unwrap_or(0),
        inner: by_layer.get(&false).copied().unwrap_or(0),
        millis,
        draft,
    })
}

#[cfg(test)]
mod tests {
    use super::TOKENS;

    #[tokio::test]
    async fn the_outer_layer_checkpoints_at_its_phases_and_the_inner_one_as_chosen() {
        let dir = std::env::temp_dir().join(format!("sg-selective-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("selective.db");
        let (coarse, fine) = super::run(db.to_str().unwrap()).await.unwrap();
        // START, prepare, generate, review.
        assert_eq!(coarse.outer, 4);
        assert_eq!(fine.outer, 4);
        assert_eq!(coarse.inner, 0, "the unchecked subgraph writes nothing");
        // The call's input, one per token, the flush.
        assert_eq!(fine.inner, 1 + TOKENS + 1);
        for layers in [&coarse, &fine] {
            assert_eq!(layers.draft.tokens.len(), TOKENS);
            assert_eq!(layers.draft.verdict.as_deref(), Some("pass"));
            assert!(layers.draft.text.starts_with("durable#0 agents#1"));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
