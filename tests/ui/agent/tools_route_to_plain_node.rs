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

    #[node]
    async fn respond(_: &Chat) -> NodeResult<Chat> {
        Ok(ChatUpdate::new())
    }

    #[tools]
    fn tools() -> ToolNode<Chat> {
        ToolNode::new()
    }

    edges! {
        START -> model;
        model -> tools_condition { Tools => respond, End => END };
        respond -> model;
        tools -> model;
    }
}

fn main() {}
