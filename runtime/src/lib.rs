//! The stategraph runtime: state and reducers, the superstep executor, the checkpointer
//! contract and [`MemorySaver`].
//!
//! Use it through the `stategraph` crate, which adds the `#[derive(State)]` and `#[graph]`
//! macros and the storage backends.

mod budget;
mod checkpoint;
mod compiled;
mod error;
mod executor;
mod graph;
mod ids;
mod interrupt;
mod lifecycle;
mod node;
mod once;
mod outcome;
mod policy;
mod reducer;
mod reducer_fn;
mod send;
mod state;
pub mod store;
mod stream;
mod subgraph;
mod thread;

#[doc(hidden)]
pub mod __private;
#[cfg(feature = "testing")]
pub mod testing;

pub use budget::{SizeBudget, StateSize};
pub use checkpoint::limits;
pub use checkpoint::{
    Answer, BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointMetadata,
    CheckpointTuple, Checkpointer, ListQuery, MemorySaver, NewCheckpoint, Operation, Pauses,
    PendingWrite, Prune, PutMode, Source, ThreadInfo, ThreadQuery, ThreadRecords, ThreadStatus,
    Transferred, from_micros, now, to_micros, transfer_thread, walk_chain,
};
pub use compiled::{
    Builder, CompiledGraph, DEFAULT_RECURSION_LIMIT, Durable, Ephemeral, MigrationReport,
    RunsWithoutThread,
};
pub use error::GraphError;
pub use executor::Durability;
pub use graph::{Edge, GraphDef, GraphSpec, Join, NodeId, NodeSpec, Target};
pub use ids::{CheckpointId, Epoch, TaskId, ThreadId};
pub use interrupt::{Interrupt, InterruptError, InterruptId, Resume};
pub use lifecycle::{
    AfterExpiry, ExpirePaused, Retention, RetentionReport, apply_retention, expire_paused,
    spawn_retention,
};
pub use node::{NodeContext, NodeError, NodeFn, NodeResult};
pub use once::OnceError;
pub use outcome::{Outcome, Paused};
pub use policy::{Attempt, CachePolicy, NodeFailure, NodeTimeout, RetryPolicy};
pub use reducer::{
    Add, Append, Appendable, Merge, Mergeable, Message, MessageList, MessageOp, Messages,
    MessagesUpdate, Reducer, Summable,
};
pub use send::{InputCodec, SENDS, SentInput};
pub use state::{ChannelSet, ChannelSpec, State, StateUpdate, Write};
pub use store::{MemoryStore, Store, StoreError, StoreExt};
pub use stream::{
    CheckpointEvent, Custom, Event, EventData, Payload, RunStream, StreamMode, StreamOptions,
};
pub use subgraph::{
    GraphName, SameDeps, SharesState, Subgraph, SubgraphCall, SubgraphCheckpoint, SubgraphInfo,
    SubgraphThread,
};
pub use thread::{History, ResumeWith, StateSnapshot, TaskError, Thread, Update};
/// The token that asks running graphs to stop at their next step boundary
/// ([`Thread::stop_on`], [`Builder::stop_on`]); from `tokio-util`.
pub use tokio_util::sync::CancellationToken;
