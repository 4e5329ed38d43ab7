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
    async fn review(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn revise(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    pub enum Verdict {
        Pass,
        Revise,
        Retry,
    }

    #[route]
    fn after_review(_: &S) -> Verdict {
        Verdict::Revise
    }

    edges! {
        START -> search -> review;
        review -> after_review { Pass => END, Revise => revise, Retry => revise };
        revise -> revise;
    }
}

fn main() {}
