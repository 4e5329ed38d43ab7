use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    #[state(reducer = append, reducer = merge)]
    pub log: Vec<String>,
}

fn main() {}
