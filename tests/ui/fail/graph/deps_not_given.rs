use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

pub struct Deps;

#[stategraph::graph(state = S, deps = Deps)]
mod g {
    use super::*;

    #[node]
    async fn a(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! {
        START -> a -> END;
    }
}

fn main() {
    let _ = g::graph().compile();
}
