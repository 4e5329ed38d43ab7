//! A private graph module over a private state type compiles: the generated items take the
//! module's visibility.
use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Counter {
    n: u32,
}

#[stategraph::graph(state = Counter)]
mod counting {
    use super::*;

    #[node]
    async fn bump(s: &Counter) -> NodeResult<Counter> {
        Ok(CounterUpdate::new().n(s.n + 1))
    }

    edges! {
        START -> bump -> END;
    }
}

fn main() {
    let _ = counting::graph();
    let _ = counting::Node::Bump;
}
