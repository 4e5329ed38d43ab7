//! A join inside a loop that runs every source of the join again: the join fires each round.

use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub rounds: u32,
}

#[stategraph::graph(state = S)]
mod rounds {
    use super::*;

    #[node]
    async fn plan(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn search(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn fetch(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn merge(s: &S) -> NodeResult<S> {
        Ok(SUpdate::new().rounds(s.rounds + 1))
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn again(s: &S) -> Next {
        if s.rounds < 3 {
            Next::Again
        } else {
            Next::Done
        }
    }

    edges! {
        START -> plan -> [search, fetch];
        [search, fetch] -> merge;
        merge -> again { Again => plan, Done => END };
    }
}

fn main() {
    let graph = rounds::graph().compile().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let done = runtime.block_on(graph.invoke(SUpdate::new())).unwrap();
    assert_eq!(done.rounds, 3, "the join fired every round");
}
