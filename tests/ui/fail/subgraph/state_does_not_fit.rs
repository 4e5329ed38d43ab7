use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct Outer {
    pub topic: String,
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct Chat {
    pub prompt: String,
}

#[stategraph::graph(state = Chat)]
mod chat {
    use super::*;

    #[node]
    async fn speak(_: &Chat) -> NodeResult<Chat> {
        Ok(ChatUpdate::new())
    }

    edges! { START -> speak -> END; }
}

#[stategraph::graph(state = Outer)]
mod outer {
    use super::*;

    // Another state type, and no `input`/`output` mapping.
    #[subgraph]
    type talk = super::chat::Graph;

    edges! { START -> talk -> END; }
}

fn main() {}
