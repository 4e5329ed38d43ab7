//! Fan-out, join, the combined shorthand, START fanning out, a route from START to a route
//! enum declared outside the module, and a raw identifier node name.

use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    #[state(reducer = append)]
    pub log: Vec<String>,
}

pub enum Entry {
    Fast,
    Slow,
}

#[stategraph::graph(state = S)]
mod fan {
    use super::*;

    #[node]
    async fn a(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn b(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn c(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn r#type(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }
    #[node]
    async fn e(_: &S) -> NodeResult<S> {
        Ok(SUpdate::new())
    }

    #[route]
    fn entry(_: &S) -> super::Entry {
        super::Entry::Slow
    }

    edges! {
        START -> entry { Fast => e, Slow => a };
        a -> [b, c] -> r#type;
        [r#type, e] -> END;
    }
}

fn main() {
    use stategraph::{GraphDef, NodeId};
    assert_eq!(fan::Node::Type.name(), "type");
    let spec = fan::Graph::spec();
    assert_eq!(spec.joins.len(), 1);
    assert_eq!(spec.start.len(), 1);
}
