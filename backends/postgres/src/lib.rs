//! The PostgreSQL checkpointer for stategraph.
