use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

#[stategraph::graph(state = S)]
mod outer {
    use super::*;

    #[node]
    async fn work(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    #[subgraph]
    type again = super::outer::Graph;

    edges! { START -> work -> again -> END; }
}

fn main() {}
