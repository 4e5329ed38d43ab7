//! The stategraph runtime: state and reducers, the superstep executor, threads, streams and
//! subgraphs, over the checkpoint contract of `stategraph-checkpoint` (re-exported here:
//! [`Checkpointer`], [`MemorySaver`], [`Store`], the ids).
//!
//! Use it through the `stategraph` crate, which adds the `#[derive(State)]` and `#[graph]`
//! macros and the storage backends.

mod budget;
mod compiled;
mod error;
mod events;
mod executor;
mod graph;
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
mod stream;
mod subgraph;
mod thread;

#[doc(hidden)]
pub mod __private;
#[cfg(feature = "testing")]
pub mod testing;

// The checkpoint contract, from its own crate; inside the runtime it is read as
// `crate::checkpoint::…` and `crate::ids::…`.
use stategraph_checkpoint as checkpoint;
use stategraph_checkpoint as ids;

pub use budget::{SizeBudget, StateSize};
pub use compiled::{
    Builder, CompiledGraph, DEFAULT_RECURSION_LIMIT, Durable, Ephemeral, MigrationReport,
    RunsWithoutThread,
};
pub use error::GraphError;
pub use events::{CheckpointEvent, Event, EventData, Payload, StreamMode, StreamOptions, running};
pub use executor::Durability;
pub use graph::{Edge, GraphDef, GraphSpec, Join, NodeId, NodeSpec, Target};
pub use interrupt::{Interrupt, InterruptError, Resume};
pub use lifecycle::{AfterExpiry, ExpirePaused, expire_paused};
pub use node::{NodeContext, NodeError, NodeFn, NodeFuture, NodeResult};
pub use once::OnceError;
pub use outcome::{Outcome, Paused};
pub use policy::{Attempt, CachePolicy, NodeTimeout, RetryPolicy};
pub use reducer::{
    Add, Append, Appendable, Merge, Mergeable, Message, MessageList, MessageOp, Messages,
    MessagesState, MessagesUpdate, Reducer, Summable,
};
pub use send::{InputCodec, SENDS, SentInput};
pub use state::{ChannelSet, ChannelSpec, State, StateUpdate, Write};
#[doc(hidden)]
pub use stategraph_checkpoint as __checkpoint;
#[cfg(feature = "testing")]
pub use stategraph_checkpoint::store_conformance;
pub use stategraph_checkpoint::{
    Answer, BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointMetadata,
    CheckpointTuple, Checkpointer, Epoch, InterruptId, ListQuery, MemorySaver, MemoryStore,
    NewCheckpoint, NodeFailure, Operation, Pauses, PendingWrite, Prune, PutMode, Retention,
    RetentionReport, Source, Store, StoreError, StoreExt, TaskId, ThreadId, ThreadInfo,
    ThreadQuery, ThreadRecords, ThreadStatus, TokenUsage, Transferred, apply_retention,
    from_micros, now, spawn_retention, to_micros, transfer_thread, truncated, walk_chain,
};
pub use stategraph_checkpoint::{limits, store};
pub use stream::{Custom, RunStream};
pub use subgraph::{
    GraphName, SameDeps, SharesState, Subgraph, SubgraphCall, SubgraphCheckpoint, SubgraphInfo,
    SubgraphThread,
};
pub use thread::{History, ResumeWith, StateSnapshot, TaskError, Thread, Update};
/// The token that asks running graphs to stop at their next step boundary
/// ([`Thread::stop_on`], [`Builder::stop_on`]); from `tokio-util`.
pub use tokio_util::sync::CancellationToken;
