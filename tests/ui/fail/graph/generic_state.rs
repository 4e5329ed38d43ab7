use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S<T> {
    pub n: T,
}

#[stategraph::graph(state = S<u32>)]
mod g {
    use super::*;

    #[node]
    async fn a(_: &S<u32>) -> NodeResult<S<u32>> {
        Err("x".into())
    }

    edges! {
        START -> a -> END;
    }
}

fn main() {}
