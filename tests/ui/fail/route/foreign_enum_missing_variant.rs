use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

pub enum Verdict {
    Pass,
    Revise,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn search(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    #[route]
    fn after_search(_: &S) -> super::Verdict {
        super::Verdict::Pass
    }

    edges! {
        START -> search;
        search -> after_search { Pass => END };
    }
}

fn main() {}
