//! Rough numbers for the SQLite saver (not a benchmark suite: the criterion benches live in
//! the workspace's `benches/`).
//!
//! ```text
//! cargo run --release -p stategraph-sqlite --example sqlite_latency [DIR]
//! ```
//!
//! For `synchronous` FULL and NORMAL, on a fresh file in DIR (default: the system temp dir):
//! serial puts of a 3-channel checkpoint; 50 concurrent writers, each advancing its own
//! thread; the same writers with 50 concurrent readers; and reads of the latest checkpoint and
//! of a 20-checkpoint history page.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use stategraph_runtime::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointId, CheckpointMetadata, Checkpointer, ListQuery,
    NewCheckpoint, PutMode, Source, ThreadId, now,
};
use stategraph_sqlite::{SqliteSaver, Synchronous};

/// A checkpoint writing three channels of about 100 bytes each.
fn step(thread: &ThreadId, parent: Option<CheckpointId>, i: usize) -> NewCheckpoint {
    let id = CheckpointId::new();
    let values = [
        (
            "messages",
            json!([{"role": "assistant", "content": format!("step {i} says hello to the user")}]),
        ),
        ("phase", json!("synthesize")),
        (
            "notes",
            json!({"retries": i % 3, "source_ids": ["a1", "b2", "c3"], "ok": true}),
        ),
    ];
    let mut checkpoint = Checkpoint {
        id,
        thread_id: thread.clone(),
        ns: String::new(),
        parent_id: parent,
        created_at: now(),
        channel_versions: Default::default(),
        next: vec!["review".to_owned()],
        barriers: Default::default(),
        metadata: {
            let mut metadata = CheckpointMetadata::new(Source::Loop, i64::try_from(i).unwrap());
            metadata.writes = [("synthesize".to_owned(), vec!["messages".to_owned()])].into();
            metadata.user = [("run_id".to_owned(), json!("run-1"))]
                .into_iter()
                .collect();
            metadata
        },
    };
    let blobs = values
        .into_iter()
        .map(|(channel, value)| {
            checkpoint.channel_versions.insert(channel.to_owned(), id);
            ChannelBlob {
                channel: channel.to_owned(),
                version: id,
                kind: BlobKind::Snapshot,
                data: serde_json::to_vec(&value).unwrap(),
            }
        })
        .collect();
    NewCheckpoint {
        checkpoint,
        blobs,
        mode: PutMode::Advance,
        epoch: None,
    }
}

struct Latencies(Vec<Duration>);

impl Latencies {
    fn report(mut self, what: &str, elapsed: Duration) {
        self.0.sort();
        let at = |q: f64| self.0[((self.0.len() - 1) as f64 * q) as usize];
        println!(
            "  {what:<44} n={:<6} {:>8.0} ops/s   p50 {:>8.1?}  p95 {:>8.1?}  p99 {:>8.1?}",
            self.0.len(),
            self.0.len() as f64 / elapsed.as_secs_f64(),
            at(0.50),
            at(0.95),
            at(0.99),
        );
    }
}

async fn serial_puts(saver: &SqliteSaver, n: usize) {
    let thread = ThreadId::new("serial");
    let mut parent = None;
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let new = step(&thread, parent, i);
        parent = Some(new.checkpoint.id);
        let t = Instant::now();
        saver.put(new).await.unwrap();
        latencies.push(t.elapsed());
    }
    Latencies(latencies).report("serial put, 3 channels", started.elapsed());
}

async fn concurrent(saver: Arc<SqliteSaver>, writers: usize, readers: usize, puts: usize) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let saver = Arc::clone(&saver);
        tasks.push(tokio::spawn(async move {
            let thread = ThreadId::new(format!("w{w}-{}", CheckpointId::new()));
            let mut parent = None;
            let mut latencies = Vec::with_capacity(puts);
            for i in 0..puts {
                let new = step(&thread, parent, i);
                parent = Some(new.checkpoint.id);
                let t = Instant::now();
                saver.put(new).await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut reads = Vec::new();
    for _ in 0..readers {
        let saver = Arc::clone(&saver);
        let stop = Arc::clone(&stop);
        reads.push(tokio::spawn(async move {
            let thread = ThreadId::new("serial");
            let mut latencies = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                saver.get(&thread, "", None).await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut read_latencies = Vec::new();
    for task in reads {
        read_latencies.extend(task.await.unwrap());
    }
    let label = if readers == 0 {
        format!("{writers} concurrent writers, put")
    } else {
        format!("{writers} writers + {readers} readers, put")
    };
    Latencies(latencies).report(&label, elapsed);
    if readers > 0 {
        Latencies(read_latencies).report(
            &format!("{writers} writers + {readers} readers, get"),
            elapsed,
        );
    }
}

async fn reads(saver: &SqliteSaver, n: usize) {
    let thread = ThreadId::new("serial");
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        saver.get(&thread, "", None).await.unwrap().unwrap();
        latencies.push(t.elapsed());
    }
    Latencies(latencies).report("get latest (serial)", started.elapsed());
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    let query = ListQuery::thread(thread.clone()).ns("").limit(20);
    for _ in 0..n {
        let t = Instant::now();
        assert_eq!(saver.list(&query).await.unwrap().len(), 20);
        latencies.push(t.elapsed());
    }
    Latencies(latencies).report("list 20 newest, thread+ns (serial)", started.elapsed());
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    let query = ListQuery::thread(thread).limit(20);
    for _ in 0..n {
        let t = Instant::now();
        assert_eq!(saver.list(&query).await.unwrap().len(), 20);
        latencies.push(t.elapsed());
    }
    Latencies(latencies).report("list 20 newest, any ns (serial)", started.elapsed());
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    for synchronous in [Synchronous::Full, Synchronous::Normal] {
        let path = dir.join(format!("stategraph-latency-{}.db", CheckpointId::new()));
        let saver = Arc::new(
            SqliteSaver::builder(&path)
                .synchronous(synchronous)
                .open()
                .await
                .unwrap(),
        );
        println!("synchronous = {synchronous:?} ({})", path.display());
        serial_puts(&saver, 2000).await;
        concurrent(Arc::clone(&saver), 50, 0, 200).await;
        concurrent(Arc::clone(&saver), 50, 50, 200).await;
        reads(&saver, 2000).await;
        drop(saver);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
