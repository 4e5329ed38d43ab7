use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

pub struct Deps {
    pub limit: u32,
}

#[stategraph::graph(state = S, deps = Deps)]
mod g {
    use super::*;

    #[node]
    async fn a(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn next(s: &S, limit: &u32) -> Next {
        if s.n < *limit { Next::Again } else { Next::Done }
    }

    edges! {
        START -> a;
        a -> next { Again => a, Done => END };
    }
}

fn main() {}
