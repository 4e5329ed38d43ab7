use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub docs: Vec<String>,
}

#[stategraph::graph(state = S)]
mod inner {
    use super::*;

    #[node]
    async fn speak(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! { START -> speak -> END; }
}

#[stategraph::graph(state = S)]
mod outer {
    use super::*;

    #[node]
    async fn plan(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    #[send]
    fn per_doc(s: &S) -> Vec<String> {
        s.docs.clone()
    }

    #[subgraph]
    type talk = super::inner::Graph;

    edges! {
        START -> plan;
        plan -> per_doc => talk;
        talk -> END;
    }
}

fn main() {}
