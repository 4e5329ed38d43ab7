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

fn to_chat(outer: &Outer) -> ChatUpdate {
    ChatUpdate::new().prompt(outer.topic.clone())
}

#[stategraph::graph(state = Outer)]
mod outer {
    use super::*;

    #[subgraph(input = to_chat, checkpoint = every_step)]
    type talk = super::chat::Graph;

    edges! { START -> talk -> END; }
}

fn main() {}
