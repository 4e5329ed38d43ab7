use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    #[state(reduce = append)]
    pub log: Vec<String>,
}

fn main() {}
