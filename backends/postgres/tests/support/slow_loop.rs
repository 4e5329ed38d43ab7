//! A loop graph whose steps take a while, so a test can act while a run is in flight.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

/// The loop's state.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct Slow {
    /// Steps to run.
    pub limit: u32,
    /// How long each step sleeps, in milliseconds.
    pub delay_ms: u64,
    /// Steps run.
    pub count: u32,
    /// One line per step: `step 0`, `step 1`, …
    #[state(reducer = append)]
    pub log: Vec<String>,
}

/// The loop.
#[stategraph::graph(state = Slow)]
pub mod slow {
    use super::*;

    #[node]
    async fn step(s: &Slow) -> NodeResult<Slow> {
        tokio::time::sleep(Duration::from_millis(s.delay_ms)).await;
        Ok(SlowUpdate::new()
            .count(s.count + 1)
            .log(vec![format!("step {}", s.count)]))
    }

    /// Whether to loop again.
    pub enum Next {
        /// Run another step.
        Again,
        /// Stop.
        Done,
    }

    #[route]
    fn again(s: &Slow) -> Next {
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

/// The input of a run of `limit` steps of `delay_ms` each.
pub fn input(limit: u32, delay_ms: u64) -> SlowUpdate {
    SlowUpdate::new().limit(limit).delay_ms(delay_ms)
}
