//! Object-store checkpoint costs on a local directory and on an S3-compatible server (moto,
//! started here, one request at a time), each next to the store's own floor and to the SQLite
//! saver, all in one run:
//!
//! - the floor: one 200-byte object created with create-if-absent (`PutMode::Create`), 300
//!   times at fresh keys (fsynced on the local directory, as the saver's objects are);
//! - per step: a 200-step loop graph on one thread, each step durable before the next;
//! - throughput: 50 threads × 100 steps at once through one saver (checkpoints/s and the
//!   p50/p95/p99 time between a thread's consecutive steps);
//! - cold read: the latest checkpoint of that 200-step thread, by a saver that has not read it
//!   before (what a new process pays to resume it).
//!
//! ```text
//! cargo bench --bench object_store_checkpoints --features object-store-aws
//! ```
//! Prints a Markdown table; BENCHMARKS.md records a run. Needs moto (`pip install
//! "moto[server]==5.2.1"`).

#[path = "support/mod.rs"]
mod support;

#[allow(dead_code)] // the tests use the rest
#[path = "../backends/object_store/tests/support/moto.rs"]
mod moto;

use std::sync::Arc;
use std::time::Instant;

use stategraph::object_store::ObjectStoreSaver;
use stategraph::object_store::object_store::path::Path;
use stategraph::object_store::object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use stategraph::sqlite::SqliteSaver;
use stategraph::{Checkpointer, ThreadId};
use support::workloads::{Throughput, concurrent, per_step};

const FLOOR_PUTS: u32 = 300;

/// Microseconds per create-if-absent PUT of 200 bytes.
async fn floor(store: &dyn ObjectStore) -> f64 {
    let body = vec![7u8; 200];
    let start = Instant::now();
    for n in 0..FLOOR_PUTS {
        let path = Path::from(format!("floor/{n}"));
        store
            .put_opts(
                &path,
                PutPayload::from(body.clone()),
                PutOptions::from(PutMode::Create),
            )
            .await
            .unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(FLOOR_PUTS)
}

/// Milliseconds a fresh saver takes to read the latest checkpoint of the per-step thread.
async fn cold_read(fresh: ObjectStoreSaver, label: &str) -> f64 {
    let thread = ThreadId::new(format!("per-step-{label}"));
    let start = Instant::now();
    let head = fresh.get(&thread, "", None).await.unwrap();
    assert!(head.is_some());
    start.elapsed().as_secs_f64() * 1e3
}

struct Row {
    name: &'static str,
    floor: Option<f64>,
    step: f64,
    throughput: Throughput,
    cold_ms: Option<f64>,
}

fn print(rows: &[Row], sqlite_step: f64) {
    println!(
        "| saver | create-if-absent PUT (floor) | per step (200-step loop) | per step / floor | per step / SQLite | 50×100 checkpoints/s | step gap p50 | p95 | p99 | cold read of 200 steps |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let floor = row.floor.map_or("—".to_owned(), |f| format!("{f:.1} µs"));
        let ratio = row
            .floor
            .map_or("—".to_owned(), |f| format!("{:.2}×", row.step / f));
        let cold = row
            .cold_ms
            .map_or("—".to_owned(), |ms| format!("{ms:.1} ms"));
        println!(
            "| {} | {floor} | {:.1} µs | {ratio} | {:.2}× | {:.0} | {:.2?} | {:.2?} | {:.2?} | {cold} |",
            row.name,
            row.step,
            row.step / sqlite_step,
            row.throughput.checkpoints_per_s,
            row.throughput.p50,
            row.throughput.p95,
            row.throughput.p99,
        );
    }
}

fn main() {
    support::run("object-store-bench", |dir| async move {
        let sqlite = Arc::new(SqliteSaver::open(dir.join("baseline.db")).await.unwrap());
        let sqlite_step = per_step(sqlite.clone(), "sqlite").await;
        let sqlite_throughput = concurrent(sqlite, "sqlite").await;

        let local_dir = dir.join("objects");
        let local = ObjectStoreSaver::local(&local_dir).await.unwrap();
        let floor_store =
            stategraph::object_store::object_store::local::LocalFileSystem::new_with_prefix(
                &local_dir,
            )
            .unwrap()
            .with_fsync(true);
        let local_floor = floor(&floor_store).await;
        let local_step = per_step(local.clone(), "local").await;
        let local_throughput = concurrent(local, "local").await;
        let local_cold =
            cold_read(ObjectStoreSaver::local(&local_dir).await.unwrap(), "local").await;

        let moto = moto::Moto::start_or_skip("object-store benchmark on S3")
            .expect("moto is needed for the S3 rows");
        let s3 = Arc::new(
            moto.s3(stategraph::object_store::object_store::aws::S3ConditionalPut::ETagMatch),
        );
        let s3_floor = floor(s3.as_ref()).await;
        let s3_step = per_step(moto.saver("bench").await, "s3").await;
        let s3_throughput = concurrent(moto.saver("bench").await, "s3").await;
        let s3_cold = cold_read(moto.saver("bench").await, "s3").await;

        print(
            &[
                Row {
                    name: "SQLite (baseline)",
                    floor: None,
                    step: sqlite_step,
                    throughput: sqlite_throughput,
                    cold_ms: None,
                },
                Row {
                    name: "object store, local directory",
                    floor: Some(local_floor),
                    step: local_step,
                    throughput: local_throughput,
                    cold_ms: Some(local_cold),
                },
                Row {
                    name: "object store, S3 (moto)",
                    floor: Some(s3_floor),
                    step: s3_step,
                    throughput: s3_throughput,
                    cold_ms: Some(s3_cold),
                },
            ],
            sqlite_step,
        );
    });
}
