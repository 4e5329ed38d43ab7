use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct V1 {
    pub notes: Vec<String>,
}

// Version 3 migrating straight from version 1: version 2 is missing from the chain.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
#[state(version = 3, migrate_from = V1)]
pub struct V3 {
    pub notes: Vec<String>,
}

impl From<V1> for V3 {
    fn from(v1: V1) -> Self {
        Self { notes: v1.notes }
    }
}

fn main() {}
