//! Watching a run as it happens: [`Thread::stream`](crate::Thread::stream) runs a graph and
//! hands out its [`Event`]s as they occur — each step's state, each task's update, what nodes
//! emit (`ctx.emit(token)`), task starts and ends, checkpoints, questions — chosen by
//! [`StreamMode`], from subgraphs too when asked.
//!
//! The events pass through a bounded buffer: a consumer slower than the run slows the run (a
//! node's `emit` waits for room) instead of letting memory grow. Dropping the stream stops the
//! run at its next step boundary with its state checkpointed, as a stop token does, so a later
//! `resume()` continues it. Streaming writes nothing of its own: the checkpoints are those
//! `invoke` writes, and the final state is the one it returns. The events themselves, and the
//! sending side the executor and nodes hold, are the lower layer `events`; here `start.rs`
//! starts a streamed run, `run.rs` is the receiving [`RunStream`], `sse.rs` its Server-Sent
//! Events form.

mod run;
mod sse;
mod start;

pub use run::{Custom, RunStream};
pub(crate) use start::Streamed;
