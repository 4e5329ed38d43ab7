use serde::{Deserialize, Serialize};
use stategraph::{MemorySaver, NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn a(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    edges! {
        START -> a -> END;
    }
}

#[tokio::main]
async fn main() {
    let graph = g::graph().checkpointer(MemorySaver::new()).compile().unwrap();
    let _ = graph.invoke(SUpdate::new()).await;
}
