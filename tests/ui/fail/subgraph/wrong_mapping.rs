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

// Returns the outer update where the chat's input is expected.
fn to_chat(outer: &Outer) -> OuterUpdate {
    OuterUpdate::new().topic(outer.topic.clone())
}

fn from_chat(chat: &Chat) -> OuterUpdate {
    OuterUpdate::new().topic(chat.prompt.clone())
}

#[stategraph::graph(state = Outer)]
mod outer {
    use super::*;

    #[subgraph(input = to_chat, output = from_chat)]
    type talk = super::chat::Graph;

    edges! { START -> talk -> END; }
}

fn main() {}
