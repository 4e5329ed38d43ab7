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
//! // A run finishes, or pauses for an answer; `into_finished` treats a pause as an error.
//! let done = thread.invoke(DraftUpdate::new().text("start")).await?.into_finished()?;
//! assert_eq!(done.rounds, 3);
//! assert_eq!(done.log, ["round 1", "round 2", "round 3"]);
//! assert_eq!(thread.history().await?.len(), 4); // the input, then one per step
//! # Ok(())
//! # }
//! ```
//!
//! # Streaming a run that pauses for approval
//!
//! A run streamed to a user pauses at a question like any other: the question arrives as an
//! [`EventData::Interrupt`] event, the stream ends there without an error, and
//! [`RunStream::output`] says the run paused. Days later, another process answers and streams
//! the rest with [`ResumeWith::stream`].
//!
//! ```
//! use futures::StreamExt;
//! use serde::{Deserialize, Serialize};
//! use stategraph::sqlite::SqliteSaver;
//! use stategraph::{EventData, NodeContext, NodeResult, Outcome, Resume, State, StreamMode};
//!
//! #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
//! pub struct Post {
//!     pub text: String,
//!     pub published: bool,
//! }
//!
//! #[stategraph::graph(state = Post)]
//! pub mod posting {
//!     use super::*;
//!
//!     #[node]
//!     async fn draft(_: &Post, ctx: &NodeContext) -> NodeResult<Post> {
//!         for word in ["Durable", "agents", "in", "Rust"] {
//!             ctx.emit(word.to_owned()).await; // tokens, as a model would stream them
//!         }
//!         Ok(PostUpdate::new().text("Durable agents in Rust"))
//!     }
//!
//!     #[node]
//!     async fn approve(s: &Post, ctx: &NodeContext) -> NodeResult<Post> {
//!         let ok: bool = ctx.interrupt(format!("publish {:?}?", s.text)).await?;
//!         Ok(PostUpdate::new().published(ok))
//!     }
//!
//!     edges! { START -> draft -> approve -> END; }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("stategraph-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("posts.db");
//! let modes = StreamMode::CUSTOM | StreamMode::INTERRUPTS;
//!
//! // The first process streams the draft's tokens, then sees the question.
//! let graph = posting::graph().checkpointer(SqliteSaver::open(&path).await?).compile()?;
//! let mut run = graph.thread("post-1").stream(PostUpdate::new(), modes);
//! let mut question = None;
//! while let Some(event) = run.next().await {
//!     match event?.data {
//!         EventData::Custom(token) => print!("{} ", token.get::<String>().unwrap()),
//!         EventData::Interrupt(asked) => question = Some(asked),
//!         _ => {}
//!     }
//! }
//! let question = question.expect("the run asked");
//! assert_eq!(question.payload_as::<String>()?, "publish \"Durable agents in Rust\"?");
//! assert!(run.output().await?.is_paused()); // the stream ended at the pause
//!
//! // Later, another process answers by the question's id and streams the rest.
//! let graph = posting::graph().checkpointer(SqliteSaver::open(&path).await?).compile()?;
//! let rest = graph.thread("post-1").resume_with(Resume::answer(question.id, true)).stream(modes);
//! match rest.output().await? {
//!     Outcome::Finished(post) => assert!(post.published),
//!     Outcome::Paused(_) => unreachable!("one question only"),
//! }
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

pub mod guide;

pub use stategraph_macros::State;
#[doc = include_str!("docs/graph.md")]
#[doc(inline)]
pub use stategraph_macros::graph;
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
/// of immutable objects, advanced with create-if-absent, and `object_store::ObjectStoreStore`
/// the Store's items as immutable versions on the same guarantees.
#[cfg(feature = "object-store")]
#[doc(inline)]
pub use stategraph_object_store as object_store;

/// Agents (feature `agent`): chat messages in LangChain's shape for a `messages` field, and
/// trimming a conversation to a model's context window without separating a tool call from its
/// results.
#[cfg(feature = "agent")]
#[doc(inline)]
pub use stategraph_agent as agent;

#[cfg(feature = "agent")]
#[doc = include_str!("docs/tool.md")]
#[doc(inline)]
pub use stategraph_macros::tool;

#[cfg(feature = "agent")]
pub mod prebuilt;

// The macros' generated code names `::stategraph`; this lets the crate use them itself.
extern crate self as stategraph;
