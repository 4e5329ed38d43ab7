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
    async fn search(_: &S) -> String {
        String::new()
    }

    edges! {
        START -> search -> END;
    }
}

fn main() {}
