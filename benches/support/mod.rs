//! What the benchmarks share: the loop graph and the workloads run on every backend.
#![allow(dead_code)] // each benchmark binary uses its own part

pub mod loop_graph;
pub mod workloads;

/// Runs a benchmark's `body` on a multi-threaded runtime, handing it a scratch directory that
/// is removed afterwards — unless cargo only asks for the list of benchmarks
/// (`cargo test --benches` does), which a harness-less benchmark answers with nothing.
pub fn run<F, Fut>(name: &str, body: F)
where
    F: FnOnce(std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("stategraph-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(body(dir.clone()));
    std::fs::remove_dir_all(dir).unwrap();
}
