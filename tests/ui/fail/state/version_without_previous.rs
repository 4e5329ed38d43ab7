use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
#[state(version = 2)]
pub struct Notes {
    pub notes: Vec<String>,
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
#[state(version = 0)]
pub struct Zero {
    pub notes: Vec<String>,
}

fn main() {}
