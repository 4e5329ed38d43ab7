use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node(on_error = recovr)]
    async fn search(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    #[node]
    async fn recover(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! {
        START -> search -> END;
        recover -> END;
    }
}

fn main() {}
