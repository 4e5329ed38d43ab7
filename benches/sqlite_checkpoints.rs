//! SQLite checkpoint costs next to SQLite's own commit rate, at both `synchronous` settings:
//!
//! - the raw floor: one single-row INSERT committed per transaction (WAL), with rusqlite;
//! - per step: a 200-step loop graph on one thread, each step durable before the next;
//! - throughput: 50 threads × 100 steps at once through one saver (checkpoints/s and the
//!   p50/p95/p99 time between a thread's consecutive steps).
//!
//! ```text
//! cargo bench --bench sqlite_checkpoints
//! ```
//! Prints a Markdown table; BENCHMARKS.md records a run.

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Instant;

use stategraph::sqlite::{SqliteSaver, Synchronous};
use support::workloads::{concurrent, per_step};

const RAW_COMMITS: u32 = 2000;

/// Microseconds per single-row commit.
fn raw_commit(path: &Path, synchronous: &str) -> f64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", synchronous)
        .unwrap();
    conn.execute(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)",
        [],
    )
    .unwrap();
    let payload = vec![7u8; 200];
    let start = Instant::now();
    for _ in 0..RAW_COMMITS {
        conn.execute("INSERT INTO t (v) VALUES (?1)", [&payload])
            .unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(RAW_COMMITS)
}

async fn open(path: &Path, synchronous: Synchronous) -> SqliteSaver {
    SqliteSaver::builder(path)
        .synchronous(synchronous)
        .open()
        .await
        .unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks every bench for its list
    }
    let dir = std::env::temp_dir().join(format!("stategraph-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| synchronous | raw commit | per step | per step / raw | 50×100 checkpoints/s | p50 | p95 | p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, setting) in [("FULL", Synchronous::Full), ("NORMAL", Synchronous::Normal)] {
        let raw = raw_commit(&dir.join(format!("raw-{name}.db")), name);
        let step = rt.block_on(async {
            per_step(
                open(&dir.join(format!("step-{name}.db")), setting).await,
                name,
            )
            .await
        });
        let t = rt.block_on(async {
            concurrent(
                open(&dir.join(format!("many-{name}.db")), setting).await,
                name,
            )
            .await
        });
        println!(
            "| {name} | {raw:.1} µs | {step:.1} µs | {:.2}× | {:.0} | {:.2?} | {:.2?} | {:.2?} |",
            step / raw,
            t.checkpoints_per_s,
            t.p50,
            t.p95,
            t.p99
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
