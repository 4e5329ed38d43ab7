use serde::{Deserialize, Serialize};
use stategraph::agent::messages::{AiMessage, ChatMessage};
use stategraph::agent::tools::ToolNode;
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Chat {
    #[state(reducer = messages)]
    messages: Vec<ChatMessage>,
}

#[stategraph::graph(state = Chat)]
mod assistant {
    use super::*;

    #[node]
    async fn model(_: &Chat) -> NodeResult<Chat> {
        Ok(ChatUpdate::new().messages(ChatMessage::from(AiMessage::new("hi"))))
    }

    #[tools]
    fn tools() -> ToolNode<Chat> {
        ToolNode::new()
    }

    edges! {
        START -> model -> tools -> model;
        model -> tools_condition { Tools => tools, End => END };
    }
}

fn main() {}
