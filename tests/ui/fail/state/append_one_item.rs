use serde::{Deserialize, Serialize};
use stategraph::State;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct Chat {
    #[state(reducer = append)]
    pub messages: Vec<String>,
}

fn main() {
    let _ = ChatUpdate::new().messages("hello".to_owned());
}
