use serde::{Deserialize, Serialize};
use stategraph::{NodeContext, NodeResult, State, StreamMode};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn speak(_: &S, ctx: &NodeContext) -> NodeResult<S> {
        ctx.emit("token".to_owned()).await;
        Ok(SUpdate::new())
    }

    edges! {
        START -> speak -> END;
    }
}

fn main() {
    let graph = g::graph().compile().unwrap();
    let run = graph.stream(SUpdate::new(), StreamMode::CUSTOM);
    let _tokens = run.custom::<String>("speak");
}
