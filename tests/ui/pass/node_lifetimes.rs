//! A node may name the lifetime of its arguments.

use serde::{Deserialize, Serialize};
use stategraph::{NodeContext, NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub text: String,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn a<'a>(s: &'a S) -> NodeResult<S> {
        let text: &'a str = &s.text;
        Ok(SUpdate::new().text(format!("{text}a")))
    }

    #[node]
    async fn b<'s, 'c>(s: &'s S, ctx: &'c NodeContext) -> NodeResult<S> {
        Ok(SUpdate::new().text(format!("{}{}", s.text, ctx.node())))
    }

    edges! {
        START -> a -> b -> END;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let out = g::graph().compile().unwrap().invoke(SUpdate::new()).await.unwrap();
    assert_eq!(out.text, "ab");
}
