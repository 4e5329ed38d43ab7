use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S<T> {
    pub value: T,
}

fn main() {}
