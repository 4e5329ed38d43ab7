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
    async fn a(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn next(_: &S) -> Next {
        Next::Done
    }

    edges! {
        START -> a -> END;
    }
}

fn main() {}
