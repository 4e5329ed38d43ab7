//! A route's enum may carry data in its variants: the table names the variant only.

use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct S {
    pub n: u32,
}

pub enum Next {
    Again(u32),
    Stop { reason: String },
    Done,
}

#[stategraph::graph(state = S)]
mod g {
    use super::*;

    #[node]
    async fn a(s: &S) -> NodeResult<S> {
        Ok(SUpdate::new().n(s.n + 1))
    }

    #[route]
    fn next(s: &S) -> Next {
        match s.n {
            0..3 => Next::Again(s.n),
            3 => Next::Stop {
                reason: "three".to_owned(),
            },
            _ => Next::Done,
        }
    }

    edges! {
        START -> a;
        a -> next { Again => a, Stop => END, Done => END };
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let out = g::graph().compile().unwrap().invoke(SUpdate::new()).await.unwrap();
    assert_eq!(out.n, 3);
}
