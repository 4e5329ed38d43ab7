use serde::{Deserialize, Serialize};
use stategraph::NodeResult;

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

    edges! {
        START -> a -> END;
    }
}

fn main() {}
