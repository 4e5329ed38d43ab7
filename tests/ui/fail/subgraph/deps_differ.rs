use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

pub struct Llm;
pub struct Tools;

#[stategraph::graph(state = S, deps = Llm)]
mod inner {
    use super::*;

    #[node]
    async fn speak(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! { START -> speak -> END; }
}

#[stategraph::graph(state = S, deps = Tools)]
mod outer {
    use super::*;

    #[subgraph]
    type talk = super::inner::Graph;

    edges! { START -> talk -> END; }
}

fn main() {}
