use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

#[stategraph::graph(state = S, interrupt_before = [reveiw])]
mod g {
    use super::*;

    #[node]
    async fn review(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! {
        START -> review -> END;
    }
}

fn main() {}
