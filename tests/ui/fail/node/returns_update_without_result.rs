use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn a(_: &S) -> SUpdate {
        SUpdate::new()
    }

    edges! {
        START -> a -> END;
    }
}

fn main() {}
