//! The guide: stategraph from a first graph to production, one chapter per topic. Every example
//! compiles and runs as a test (`cargo test --doc`); the ones that need a server say so and are
//! compiled only.
//!
//! 1. [`getting_started`]: a first graph, a thread, a checkpoint after every step.
//! 2. [`state_and_reducers`]: fields as channels, and how writes merge.
//! 3. [`graphs_and_routes`]: nodes, routes, fan-out and joins, dependencies, what the compiler
//!    checks.
//! 4. [`checkpointers`]: choosing a backend, and writing your own.
//! 5. [`human_in_the_loop`]: questions, pauses, answers days later.
//! 6. [`time_travel`]: reading, correcting and forking past checkpoints.
//! 7. [`streaming`]: a run's events as they happen, tokens to a browser.
//! 8. [`subgraphs_and_send`]: graphs inside graphs, and map-reduce.
//! 9. [`durability`]: when checkpoints are written, retries, time limits, error handlers,
//!    caching, and what a crash costs.
//! 10. [`store`]: long-term content outside the state.
//! 11. [`schema_versions`]: changing the state type without losing threads.
//! 12. [`operating`]: retention, expiry of paused threads, the size budget, stopping, tracing.
//! 13. `agents` (feature `agent`): chat messages in LangChain's shape, the context window,
//!     models, tools and the tool node, the prebuilt agent with approval, streaming tokens.
//!
//! Each backend's operation (PostgreSQL's schema and pgbouncer, Redis durability, object-store
//! conditional writes) is in that backend's own documentation: [`sqlite`](crate::sqlite), and
//! the `postgres`, `redis` and `object_store` modules with their features.

#![allow(rustdoc::redundant_explicit_links)]

macro_rules! chapter {
    ($name:ident, $file:literal) => {
        #[doc = include_str!($file)]
        pub mod $name {}
    };
}

chapter!(getting_started, "guide/getting_started.md");
chapter!(state_and_reducers, "guide/state_and_reducers.md");
chapter!(graphs_and_routes, "guide/graphs_and_routes.md");
chapter!(checkpointers, "guide/checkpointers.md");
chapter!(human_in_the_loop, "guide/human_in_the_loop.md");
chapter!(time_travel, "guide/time_travel.md");
chapter!(streaming, "guide/streaming.md");
chapter!(subgraphs_and_send, "guide/subgraphs_and_send.md");
chapter!(durability, "guide/durability.md");
chapter!(store, "guide/store.md");
chapter!(schema_versions, "guide/schema_versions.md");
chapter!(operating, "guide/operating.md");
#[cfg(feature = "agent")]
chapter!(agents, "guide/agents.md");
