//! The Redis checkpointer for stategraph.
