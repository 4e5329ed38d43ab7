use serde::{Deserialize, Serialize};
use stategraph::State;

fn keep_max(current: &mut u64, write: u64) {
    *current = (*current).max(write);
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    #[state(reducer = keep_max)]
    pub best: u32,
}

fn main() {}
