//! MemorySaver passes the contract's conformance kit with the runtime's typed-state cases (the
//! kit itself is tested against broken savers in `stategraph-checkpoint`).

use stategraph_runtime::MemorySaver;

stategraph_runtime::checkpointer_conformance!(async { MemorySaver::new() });
