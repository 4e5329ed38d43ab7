use serde::{Deserialize, Serialize};
use stategraph::agent::tools::ToolNode;
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Plain {
    text: String,
}

#[stategraph::graph(state = Plain)]
mod assistant {
    use super::*;

    #[node]
    async fn model(_: &Plain) -> NodeResult<Plain> {
        Ok(PlainUpdate::new())
    }

    #[tools]
    fn tools() -> ToolNode<Plain> {
        ToolNode::new()
    }

    edges! {
        START -> model;
        model -> tools_condition { Tools => tools, End => END };
        tools -> model;
    }
}

fn main() {}
