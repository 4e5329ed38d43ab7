//! The research agent's graph from the design: a chain, a route with a table, a revision loop,
//! a node taking the context, and every reducer kind on the state.

#![deny(missing_docs, warnings)]

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use stategraph::{Message, NodeContext, NodeResult, State};

/// A chat message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Msg {
    /// Its id.
    pub id: String,
}

impl Message for Msg {
    fn id(&self) -> Option<&str> {
        Some(&self.id)
    }
}

fn keep_max(current: &mut u32, write: u32) {
    *current = (*current).max(write);
}

/// The research state.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct ResearchState {
    /// The task.
    pub task_id: String,
    /// Notes, appended.
    #[state(reducer = append)]
    pub notes: Vec<String>,
    /// Retries, summed.
    #[state(reducer = add)]
    pub retry_count: u32,
    /// The conversation.
    #[state(reducer = messages)]
    pub messages: Vec<Msg>,
    /// Scores by source.
    #[state(reducer = merge)]
    pub scores: HashMap<String, f64>,
    /// The best score seen.
    #[state(reducer = keep_max)]
    pub best: u32,
    /// Whether the review passed.
    pub approved: bool,
}

/// The research graph.
#[stategraph::graph(state = ResearchState)]
pub mod research {
    use super::*;

    #[node]
    async fn search(_: &ResearchState) -> NodeResult<ResearchState> {
        Ok(ResearchStateUpdate::new().notes(vec!["found".to_owned()]))
    }

    #[node]
    async fn synthesize(_: &ResearchState) -> NodeResult<ResearchState> {
        Ok(ResearchStateUpdate::new().messages(Msg { id: "s".into() }))
    }

    #[node]
    async fn review(s: &ResearchState, ctx: &NodeContext) -> NodeResult<ResearchState> {
        let _ = ctx.step();
        Ok(ResearchStateUpdate::new()
            .approved(s.retry_count > 0)
            .best(s.retry_count))
    }

    #[node]
    async fn handle_revision(_: &ResearchState) -> NodeResult<ResearchState> {
        Ok(ResearchStateUpdate::new()
            .retry_count(1)
            .replace_notes(Vec::<String>::new()))
    }

    /// Where a review leads.
    pub enum AfterReview {
        /// Done.
        Pass,
        /// Revise the synthesis.
        Revise,
        /// Search again.
        RetrySearch,
    }

    #[route]
    fn after_review(s: &ResearchState) -> AfterReview {
        if s.approved {
            AfterReview::Pass
        } else if s.retry_count < 2 {
            AfterReview::Revise
        } else {
            AfterReview::RetrySearch
        }
    }

    edges! {
        START -> search -> synthesize -> review;
        review -> after_review { Pass => END, Revise => handle_revision, RetrySearch => search };
        handle_revision -> synthesize;
    }
}

fn main() {
    use stategraph::{GraphDef, NodeId};
    let _ = research::graph();
    assert_eq!(research::Node::Review.name(), "review");
    assert_eq!(research::Graph::spec().nodes.len(), 4);
    assert_eq!(ResearchState::CHANNELS.len(), 7);
}
