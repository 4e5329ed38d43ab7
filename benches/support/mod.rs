//! What the benchmarks share: the loop graph and the workloads run on every backend.
#![allow(dead_code)] // each benchmark binary uses its own part

pub mod loop_graph;
pub mod workloads;
