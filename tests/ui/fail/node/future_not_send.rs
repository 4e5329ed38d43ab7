use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};
use std::rc::Rc;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

async fn lookup() {}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn search(state: &S) -> NodeResult<S> {
        let held = Rc::new(state.n);
        lookup().await;
        Ok(SUpdate::new().n(*held + 1))
    }

    edges! {
        START -> search -> END;
    }
}

fn main() {}
