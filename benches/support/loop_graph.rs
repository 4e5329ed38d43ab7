//! The benchmarks' workload: a loop graph whose every step increments a counter and appends
//! one small message, until the counter reaches the state's `limit`.

use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

/// The loop's state.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct LoopState {
    /// Steps to run.
    pub limit: u32,
    /// Steps run.
    pub count: u32,
    /// One message per step.
    #[state(reducer = append)]
    pub messages: Vec<String>,
}

/// The loop.
#[stategraph::graph(state = LoopState)]
pub mod looping {
    use super::*;

    #[node]
    async fn step(s: &LoopState) -> NodeResult<LoopState> {
        Ok(LoopStateUpdate::new()
            .count(s.count + 1)
            .messages(vec![format!("step {}", s.count)]))
    }

    /// Whether to loop again.
    pub enum Next {
        /// Run another step.
        Again,
        /// Stop.
        Done,
    }

    #[route]
    fn again(s: &LoopState) -> Next {
        if s.count < s.limit {
            Next::Again
        } else {
            Next::Done
        }
    }

    edges! {
        START -> step;
        step -> again { Again => step, Done => END };
    }
}

/// The input of a run of `steps` steps.
pub fn input(steps: u32) -> LoopStateUpdate {
    LoopStateUpdate::new().limit(steps)
}
