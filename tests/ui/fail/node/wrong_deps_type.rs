use serde::{Deserialize, Serialize};
use stategraph::{NodeContext, NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

pub struct Deps {
    pub limit: u32,
}

pub struct OtherDeps;

#[stategraph::graph(state = S, deps = Deps)]
mod g {
    use super::*;

    #[node]
    async fn a(_: &S, _: &NodeContext<OtherDeps>) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! {
        START -> a -> END;
    }
}

fn main() {}
