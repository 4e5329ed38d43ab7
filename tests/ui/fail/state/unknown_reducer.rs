use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    #[state(reducer = apend)]
    pub log: Vec<String>,
}

fn main() {}
