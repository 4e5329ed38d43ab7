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
    async fn generate(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    pub enum More {
        Again,
        Done,
    }

    #[route(cache = CachePolicy::forever())]
    fn more(s: &S) -> More {
        if s.n < 3 { More::Again } else { More::Done }
    }

    edges! {
        START -> generate;
        generate -> more { Again => generate, Done => END };
    }
}

fn main() {}
