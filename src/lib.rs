//! stategraph: durable, stateful agent graphs whose edges are checked at compile time.
//!
//! State is a struct whose fields are channels with reducers; a graph is a module of async
//! node functions and routes whose edges the `#[graph]` macro checks; a compiled graph with a
//! checkpointer runs through a [`Thread`] and saves a checkpoint after every step.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use stategraph::{MemorySaver, NodeResult, State};
//!
//! #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
//! pub struct Draft {
//!     pub text: String,
//!     pub rounds: u32,
//!     #[state(reducer = append)]
//!     pub log: Vec<String>,
//! }
//!
//! #[stategraph::graph(state = Draft)]
//! pub mod editing {
//!     use super::*;
//!
//!     #[node]
//!     async fn write(s: &Draft) -> NodeResult<Draft> {
//!         Ok(DraftUpdate::new()
//!             .text(format!("{} more", s.text))
//!             .rounds(s.rounds + 1)
//!             .log(vec![format!("round {}", s.rounds + 1)]))
//!     }
//!
//!     pub enum Check { Again, Done }
//!
//!     #[route]
//!     fn check(s: &Draft) -> Check {
//!         if s.rounds < 3 { Check::Again } else { Check::Done }
//!     }
//!
//!     edges! {
//!         START -> write;
//!         write -> check { Again => write, Done => END };
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), stategraph::GraphError> {
//! let graph = editing::graph().checkpointer(MemorySaver::new()).compile()?;
//! let thread = graph.thread("draft-7");
//! let done = thread.invoke(DraftUpdate::new().text("start")).await?;
//! assert_eq!(done.rounds, 3);
//! assert_eq!(done.log, ["round 1", "round 2", "round 3"]);
//! assert_eq!(thread.history().await?.len(), 4); // the input, then one per step
//! # Ok(())
//! # }
//! ```

pub use stategraph_macros::{State, graph};
pub use stategraph_runtime::*;

#[doc(hidden)]
pub use stategraph_runtime::__private;

/// The SQLite backend (feature `sqlite`, on by default): [`sqlite::SqliteSaver`] keeps every
/// checkpoint in one database file.
#[cfg(feature = "sqlite")]
#[doc(inline)]
pub use stategraph_sqlite as sqlite;

/// The PostgreSQL backend (feature `postgres`): `postgres::PostgresSaver` keeps checkpoints in
/// pooled PostgreSQL, as a queryable JSONB audit log.
#[cfg(feature = "postgres")]
#[doc(inline)]
pub use stategraph_postgres as postgres;

/// The Redis backend (feature `redis`): `redis::RedisSaver` keeps checkpoints in Redis and
/// refuses a server that would lose them on restart unless told otherwise.
#[cfg(feature = "redis")]
#[doc(inline)]
pub use stategraph_redis as redis;

/// The object-store backend (feature `object-store`, plus `object-store-aws`, `-gcp` or
/// `-azure` for a cloud bucket): `object_store::ObjectStoreSaver` keeps each thread as a log
/// of immutable objects, advanced with create-if-absent.
#[cfg(feature = "object-store")]
#[doc(inline)]
pub use stategraph_object_store as object_store;
