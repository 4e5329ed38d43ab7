use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
#[state(removed("draft"))]
pub struct S {
    pub title: String,
    #[state(renamed_from = "title")]
    pub name: String,
    #[state(renamed_from = "draft")]
    pub text: String,
}

fn main() {}
