//! postgres checkpoint benchmarks (being written).
fn main() {}
