use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    #[state(reducer = append)]
    pub count: u32,
}

fn main() {}
