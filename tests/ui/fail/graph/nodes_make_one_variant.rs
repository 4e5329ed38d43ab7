use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn step_1(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    #[node]
    async fn step1(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! {
        START -> step_1 -> step1 -> END;
    }
}

fn main() {}
