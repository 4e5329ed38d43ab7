use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct V1 {
    pub notes: Vec<String>,
}

// No `From<V1>` (or `TryFrom<V1>`) for V2.
#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
#[state(version = 2, migrate_from = V1)]
pub struct V2 {
    pub entries: Vec<String>,
}

fn main() {}
