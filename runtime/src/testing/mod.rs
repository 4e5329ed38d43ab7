//! The conformance kits of the checkpoint contract (from `stategraph-checkpoint`, re-exported
//! whole), with what only the runtime can check: that checkpoints read back as a typed state
//! ([`decode`], over the hand-written [`state::Counter`]).
//!
//! [`checkpointer_conformance!`](crate::checkpointer_conformance) here runs the contract's
//! cases and the typed-state ones:
//!
//! ```
//! // tests/conformance.rs of your backend crate, with your saver in place of MemorySaver
//! use stategraph_runtime::MemorySaver;
//!
//! stategraph_runtime::checkpointer_conformance!(async { MemorySaver::new() });
//! # fn main() {}
//! ```

pub mod decode;
pub mod state;

pub use stategraph_checkpoint::testing::*;

use crate::{CheckpointError, CheckpointTuple, State};

/// Rebuilds the typed state `S` a stored checkpoint holds, exactly as the executor does when it
/// resumes a thread: each channel from its snapshot and the deltas after it. A value that does
/// not decode as `S`'s field is [`CheckpointError::Decode`] naming the thread, checkpoint and
/// channel; a broken delta chain is [`CheckpointError::Corrupt`].
pub fn restore<S: State>(tuple: &CheckpointTuple) -> Result<S, CheckpointError> {
    crate::executor::restore_state::<S>(tuple).map(|(state, _)| state)
}

/// Generates the conformance tests for a checkpointer: the contract's cases (a module
/// `checkpointer_conformance`, as `stategraph_checkpoint::checkpointer_conformance!` makes) and
/// the typed-state ones (a module `typed_state_conformance`), each on a fresh saver from the
/// async expression given.
#[macro_export]
macro_rules! checkpointer_conformance {
    ($factory:expr $(,)?) => {
        $crate::__checkpoint::checkpointer_conformance!($factory);

        #[allow(unused_imports, non_snake_case, clippy::all)]
        mod typed_state_conformance {
            use super::*;

            async fn __conformance_saver() -> impl $crate::Checkpointer {
                $factory.await
            }

            $crate::__typed_state_tests! {
                wrong_type_is_decode_error,
                stored_bytes_returned_as_is,
                typed_state_round_trips,
                delta_chain_rebuilds_state,
                missing_field_keeps_default,
                unknown_channel_is_an_error,
            }
        }
    };
}

/// One `#[test]` per typed-state case (the second half of
/// [`checkpointer_conformance!`](crate::checkpointer_conformance)).
#[doc(hidden)]
#[macro_export]
macro_rules! __typed_state_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::block_on(async {
                    let saver = __conformance_saver().await;
                    $crate::testing::prepare(&saver).await;
                    $crate::testing::decode::$case(&saver).await;
                })
            }
        )*
    };
}
