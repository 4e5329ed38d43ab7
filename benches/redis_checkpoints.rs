//! redis checkpoint benchmarks (being written).
fn main() {}
