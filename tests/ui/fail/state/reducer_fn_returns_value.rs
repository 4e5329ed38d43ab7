use serde::{Deserialize, Serialize};
use stategraph::State;

fn add_lists(mut left: Vec<String>, right: Vec<String>) -> Vec<String> {
    left.extend(right);
    left
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    #[state(reducer = add_lists)]
    pub log: Vec<String>,
}

fn main() {}
