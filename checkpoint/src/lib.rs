//! The stategraph checkpoint contract: what every backend implements and what the runtime reads
//! back, in a crate of its own so a backend depends on nothing else of stategraph.
//!
//! - [`Checkpointer`] and its types ([`Checkpoint`], [`NewCheckpoint`], [`CheckpointTuple`],
//!   [`PendingWrite`], [`ListQuery`], [`ThreadQuery`], [`CheckpointError`], …), with the
//!   [`limits`] every backend enforces the same way, and [`MemorySaver`].
//! - The ids: [`ThreadId`], [`CheckpointId`], [`TaskId`], [`Epoch`], [`InterruptId`].
//! - The [`store`]: the [`Store`] trait for long-term items, [`MemoryStore`], and the
//!   [`store::Clock`] stores read the time from.
//! - [`Retention`]: deleting finished threads and pruning old ones, in batches.
//! - What the runtime records in checkpoints as plain data: a node's failure
//!   ([`NodeFailure`]) and the questions and answers of interrupts ([`questions`]).
//! - With the `testing` feature, the conformance kits: `checkpointer_conformance!` and
//!   `store_conformance!` hold any backend to the whole contract.
//!
//! Applications use it through the `stategraph` crate, which re-exports all of it. A backend
//! author depends on this crate alone:
//!
//! ```
//! use stategraph_checkpoint::{Checkpointer, MemorySaver, ThreadId};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let saver = MemorySaver::new();
//! saver.setup().await?;
//! assert!(saver.get(&ThreadId::new("t-1"), "", None).await?.is_none());
//! # Ok::<(), stategraph_checkpoint::CheckpointError>(())
//! # }).unwrap();
//! ```

mod checkpointer;
mod failure;
mod ids;
pub mod questions;
mod retention;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use checkpointer::limits;
pub use checkpointer::{
    Answer, BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointMetadata,
    CheckpointTuple, Checkpointer, ListQuery, MemorySaver, NewCheckpoint, Operation, Pauses,
    PendingWrite, Prune, PutMode, Source, ThreadInfo, ThreadQuery, ThreadRecords, ThreadStatus,
    TokenUsage, Transferred, from_micros, now, to_micros, transfer_thread, walk_chain,
};
pub use failure::{NodeFailure, truncated};
pub use ids::{CheckpointId, Epoch, TaskId, ThreadId};
pub use questions::InterruptId;
pub use retention::{Retention, RetentionReport, apply_retention, spawn_retention};
pub use store::{MemoryStore, Store, StoreError, StoreExt};
