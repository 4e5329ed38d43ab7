//! Redis checkpoint costs next to Redis's own SET rate, on a `redis-server` this benchmark
//! starts itself (loopback, a fresh directory, `appendonly yes`), once with
//! `appendfsync everysec` and once with `appendfsync always`:
//!
//! - the physical reference: `redis-benchmark -t set` (one client, then 50) on the same server;
//! - per step: a 200-step loop graph on one thread, each step durable before the next;
//! - throughput: 50 threads × 100 steps at once through one saver (checkpoints/s and the
//!   p50/p95/p99 time between a thread's consecutive steps);
//! - write latency: p50/p95/p99 of `put` alone, replaying the real checkpoints of a 200-step
//!   run into fresh threads;
//! - growth: per-step time and AOF bytes per step for a thread already holding 0, 100, 1,000
//!   and 10,000 messages of 200 bytes, appending one per step.
//!
//! ```text
//! cargo bench --bench redis_checkpoints --features redis
//! ```
//! Prints Markdown; BENCHMARKS.md records a run. Needs `redis-server` and `redis-benchmark` on
//! PATH.

#[path = "support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stategraph::redis::RedisSaver;
use stategraph::{Checkpointer, ListQuery, NewCheckpoint, NodeResult, PutMode, State, ThreadId};
use support::loop_graph::{self, looping};
use support::workloads::{STEPS, concurrent, per_step};

const REPLAYS: usize = 10;
const GROWTH_STEPS: u32 = 100;
/// The shorter of the two growth runs.
const SHORT_RUN: u32 = 10;
const MESSAGE: usize = 200;

/// A `redis-server` on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start(fsync: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!(
            "stategraph-redis-bench-{}-{fsync}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--appendonly", "yes", "--appendfsync", fsync, "--save", ""])
            // No background rewrite in the middle of a measurement of AOF growth.
            .args(["--auto-aof-rewrite-percentage", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Bytes of the append-only file(s) so far.
    fn aof_bytes(&self) -> u64 {
        fn walk(path: &Path) -> u64 {
            std::fs::read_dir(path)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => walk(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.dir)
    }

    /// `redis-benchmark -t set` against this server: its one-line summary.
    fn redis_benchmark(&self, clients: u32, requests: u32) -> String {
        let out = Command::new("redis-benchmark")
            .args(["-p", &self.port.to_string(), "-t", "set", "-q"])
            .args(["-c", &clients.to_string(), "-n", &requests.to_string()])
            .output()
            .expect("redis-benchmark on PATH");
        String::from_utf8_lossy(&out.stdout)
            .rsplit('\r')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn saver(server: &Server) -> RedisSaver {
    RedisSaver::connect(&server.url()).await.unwrap()
}

/// A chat-like thread: each step appends one 200-byte message until `count` reaches `limit`.
#[derive(State, Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Chat {
    limit: u32,
    count: u32,
    #[state(reducer = append)]
    messages: Vec<String>,
}

#[stategraph::graph(state = Chat)]
mod chat {
    use super::*;

    #[node]
    async fn reply(s: &Chat) -> NodeResult<Chat> {
        Ok(ChatUpdate::new()
            .count(s.count + 1)
            .messages(vec![super::message(s.count)]))
    }

    pub(super) enum Next {
        Again,
        Done,
    }

    #[route]
    fn again(s: &Chat) -> Next {
        if s.count < s.limit {
            Next::Again
        } else {
            Next::Done
        }
    }

    edges! {
        START -> reply;
        reply -> again { Again => reply, Done => END };
    }
}

fn message(n: u32) -> String {
    let head = format!("message {n}: ");
    format!("{head}{}", "x".repeat(MESSAGE - head.len()))
}

fn percentiles(mut samples: Vec<Duration>) -> [Duration; 3] {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    [at(0.50), at(0.95), at(0.99)]
}

/// p50/p95/p99 of `put` alone: the checkpoints of a real 200-step run, replayed (each with the
/// blobs it wrote) into fresh threads, one put timed at a time.
async fn put_latency(server: &Server) -> ([Duration; 3], usize) {
    let saver = saver(server).await;
    let graph = looping::graph()
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    graph
        .thread("source")
        .invoke(loop_graph::input(STEPS))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let mut history = saver
        .list(&ListQuery::thread(ThreadId::new("source")))
        .await
        .unwrap();
    history.reverse(); // oldest first
    let mut samples = Vec::new();
    for replay in 0..REPLAYS {
        let thread = ThreadId::new(format!("replay-{replay}"));
        for tuple in &history {
            let mut checkpoint = tuple.checkpoint.clone();
            checkpoint.thread_id = thread.clone();
            let blobs = tuple
                .channels
                .values()
                .flatten()
                .filter(|b| b.version == checkpoint.id)
                .cloned()
                .collect();
            let put = NewCheckpoint {
                checkpoint,
                blobs,
                mode: PutMode::Advance,
                epoch: None,
            };
            let start = Instant::now();
            saver.put(put).await.unwrap();
            samples.push(start.elapsed());
        }
    }
    let n = samples.len();
    (percentiles(samples), n)
}

/// For a thread holding `held` messages: (µs per step, AOF bytes per step, µs to load the
/// thread when a run starts). Two runs of different lengths from the same history, so the
/// per-step figures are the difference between them and the load (which every `invoke` pays
/// once, to rebuild the state) cancels out.
async fn growth(server: &Server, held: u32) -> (f64, f64, f64) {
    let graph = chat::graph()
        .checkpointer(saver(server).await)
        .compile()
        .unwrap();
    let thread = graph.thread(format!("chat-{held}"));
    let prefill: Vec<String> = (0..held).map(message).collect();
    // One step to store the prefill (and the first reply).
    thread
        .invoke(ChatUpdate::new().limit(1).messages(prefill))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let mut runs = Vec::new();
    let mut count = 1;
    for steps in [SHORT_RUN, SHORT_RUN + GROWTH_STEPS] {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let bytes_before = server.aof_bytes();
        let start = Instant::now();
        count += steps;
        let out = thread
            .invoke(ChatUpdate::new().limit(count))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        let elapsed = start.elapsed().as_secs_f64() * 1e6;
        assert_eq!(out.messages.len() as u32, held + count);
        tokio::time::sleep(Duration::from_millis(50)).await;
        runs.push((elapsed, (server.aof_bytes() - bytes_before) as f64));
    }
    let per_step = (runs[1].0 - runs[0].0) / f64::from(GROWTH_STEPS);
    let bytes = (runs[1].1 - runs[0].1) / f64::from(GROWTH_STEPS);
    (per_step, bytes, runs[0].0 - per_step * f64::from(SHORT_RUN))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks every bench for its list
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut growth_rows = Vec::new();
    let mut reference_rows = Vec::new();
    println!(
        "| appendfsync | per step (200-step loop) | 50×100 checkpoints/s | step gap p50 | p95 | p99 | put p50 | put p95 | put p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for fsync in ["everysec", "always"] {
        let server = Server::start(fsync);
        reference_rows.push((
            fsync,
            server.redis_benchmark(1, 20_000),
            server.redis_benchmark(50, 100_000),
        ));
        let step = rt.block_on(async { per_step(saver(&server).await, fsync).await });
        let t = rt.block_on(async { concurrent(saver(&server).await, fsync).await });
        let (put, samples) = rt.block_on(put_latency(&server));
        println!(
            "| {fsync} | {step:.1} µs | {:.0} | {:.2?} | {:.2?} | {:.2?} | {:.1?} | {:.1?} | {:.1?} |",
            t.checkpoints_per_s, t.p50, t.p95, t.p99, put[0], put[1], put[2]
        );
        let _ = samples;
        for held in [0, 100, 1_000, 10_000] {
            let (us, bytes, load) = rt.block_on(growth(&server, held));
            growth_rows.push((fsync, held, us, bytes, load));
        }
    }
    println!();
    println!(
        "Put latency: {} samples per setting ({REPLAYS} replays of a {STEPS}-step run's checkpoints).",
        REPLAYS * (STEPS as usize + 2)
    );
    println!();
    println!("| appendfsync | messages held | per step | AOF bytes per step | load at run start |");
    println!("|---|---|---|---|---|");
    for (fsync, held, us, bytes, load) in growth_rows {
        println!(
            "| {fsync} | {held} | {us:.1} µs | {bytes:.0} | {:.1} ms |",
            load / 1000.0
        );
    }
    println!();
    println!(
        "| appendfsync | `redis-benchmark -t set -c 1 -n 20000 -q` | `redis-benchmark -t set -n 100000 -q` (50 clients) |"
    );
    println!("|---|---|---|");
    for (fsync, one, many) in reference_rows {
        println!("| {fsync} | {one} | {many} |");
    }
}
