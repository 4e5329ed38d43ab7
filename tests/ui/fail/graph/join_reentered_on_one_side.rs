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
    async fn search(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn fetch(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn merge(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn again(_: &S) -> Next {
        Next::Again
    }

    edges! {
        START -> [search, fetch];
        [search, fetch] -> merge;
        merge -> again { Again => search, Done => END };
    }
}

fn main() {}
