use serde::{Deserialize, Serialize};
use stategraph::{NodeContext, NodeResult};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn a(_: &S) -> NodeResult<S> {
        Err("x".into())
    }

    #[node]
    async fn b(_: &S, _: &NodeContext) -> NodeResult<S> {
        Err("x".into())
    }

    #[node(retry = 2)]
    async fn c(_: &S) -> NodeResult<S> {
        Err("x".into())
    }

    edges! {
        START -> a -> b -> c -> END;
    }
}

fn main() {}
