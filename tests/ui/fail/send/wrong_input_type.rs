use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub docs: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub struct Doc {
    pub text: String,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn plan(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    #[send]
    fn per_doc(s: &S) -> Vec<Doc> {
        s.docs.iter().map(|text| Doc { text: text.clone() }).collect()
    }

    #[node]
    async fn summarize(_: &String) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! {
        START -> plan;
        plan -> per_doc => summarize;
        summarize -> END;
    }
}

fn main() {}
