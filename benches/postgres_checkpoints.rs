//! PostgreSQL checkpoint costs next to PostgreSQL's own single-row insert rate (pgbench), all
//! measured in the same run against the same server:
//!
//! - per step: a 200-step loop graph on one thread, each step's checkpoint durable (committed)
//!   before the next step starts;
//! - throughput: 50 threads × 100 steps at once through one saver (checkpoints/s and the
//!   p50/p95/p99 time between a thread's consecutive steps);
//! - growth: per-step time and WAL bytes per step for a thread already holding 0, 100, 1,000
//!   and 10,000 messages of about 200 bytes, appending one per step;
//! - the physical reference: `pgbench -M prepared` running `INSERT INTO t VALUES (…)` with 1
//!   and 50 clients.
//!
//! ```text
//! STATEGRAPH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench --features postgres --bench postgres_checkpoints
//! ```
//! Prints Markdown tables; BENCHMARKS.md records a run.

#[path = "support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use stategraph::postgres::PostgresSaver;
use stategraph::{NodeResult, State};
use support::workloads::{concurrent, per_step};

const GROWTH_STEPS: u32 = 100;
/// The shorter of the two growth runs.
const SHORT_RUN: u32 = 10;

fn url() -> String {
    std::env::var("STATEGRAPH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs one SQL command with psql and returns its single value.
fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .args([url().as_str(), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Bytes of WAL written so far by the whole server.
fn wal_position() -> u64 {
    psql("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
        .parse()
        .unwrap()
}

async fn open(schema: &str, pool_size: usize, prepared: bool) -> PostgresSaver {
    PostgresSaver::builder(url())
        .schema(schema)
        .pool_size(pool_size)
        .prepared_statements(prepared)
        .connect()
        .await
        .unwrap()
}

/// A thread of ~200-byte messages, appending one per step until `count` reaches `limit`.
#[derive(State, Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Chat {
    limit: u32,
    count: u32,
    #[state(reducer = append)]
    messages: Vec<String>,
}

fn message(i: usize) -> String {
    format!("{i:>8} {}", "lorem ipsum dolor sit amet ".repeat(7))
}

#[stategraph::graph(state = Chat)]
mod chat {
    use super::*;

    #[node]
    async fn reply(s: &Chat) -> NodeResult<Chat> {
        Ok(ChatUpdate::new()
            .count(s.count + 1)
            .messages(vec![message(s.messages.len())]))
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

/// Per-step microseconds and WAL bytes per step, for a thread already holding `held`
/// messages, over `GROWTH_STEPS` appending steps.
/// For a thread holding `held` messages: (µs per step, WAL bytes per step, µs to load the
/// thread when a run starts). Two runs of different lengths from the same history, so the
/// per-step figures are the difference between them and the load (which every `invoke`
/// pays once, to rebuild the state) cancels out.
async fn growth(schema: &str, held: usize) -> (f64, f64, f64) {
    let graph = chat::graph()
        .checkpointer(open(schema, 4, false).await)
        .compile()
        .unwrap();
    let thread = graph.thread(format!("growth-{held}"));
    // The history: `held - 1` messages in the input, one more from the first step.
    let history: Vec<String> = (0..held.saturating_sub(1)).map(message).collect();
    thread
        .invoke(ChatUpdate::new().messages(history).limit(1))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let mut runs = Vec::new();
    let mut count = 1;
    for steps in [SHORT_RUN, SHORT_RUN + GROWTH_STEPS] {
        let before_wal = wal_position();
        let start = Instant::now();
        count += steps;
        let out = thread
            .invoke(ChatUpdate::new().limit(count))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        runs.push((
            start.elapsed().as_secs_f64() * 1e6,
            (wal_position() - before_wal) as f64,
        ));
        assert_eq!(out.count, count);
    }
    let per_step = (runs[1].0 - runs[0].0) / f64::from(GROWTH_STEPS);
    let wal = (runs[1].1 - runs[0].1) / f64::from(GROWTH_STEPS);
    (per_step, wal, runs[0].0 - per_step * f64::from(SHORT_RUN))
}

/// pgbench's transactions/s for a single-row 200-byte INSERT, with `clients` clients.
fn pgbench(clients: u32) -> Option<f64> {
    let script = std::env::temp_dir().join(format!("sg-pgbench-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        "INSERT INTO sg_pgbench_t (id, v) VALUES (gen_random_uuid(), repeat('x', 200));\n",
    )
    .unwrap();
    let out = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-T", "5", "-j", "4", "-f"])
        .arg(&script)
        .args(["-c", &clients.to_string(), url().as_str()])
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|tps| tps.parse().ok())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks every bench for its list
    }
    if Command::new("psql")
        .args([url().as_str(), "-XAtqc", "SELECT 1"])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        eprintln!("SKIPPED: PostgreSQL at {} is unreachable", url());
        return;
    }
    let schema = format!("sgbench_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    psql("DROP TABLE IF EXISTS sg_pgbench_t");
    psql("CREATE TABLE sg_pgbench_t (id uuid PRIMARY KEY, v text)");
    let raw_1 = pgbench(1);
    let raw_50 = pgbench(50);
    psql("DROP TABLE IF EXISTS sg_pgbench_t");

    let step = rt.block_on(async { per_step(open(&schema, 4, false).await, "unnamed").await });
    let t = rt.block_on(async { concurrent(open(&schema, 50, false).await, "unnamed").await });
    let step_prepared =
        rt.block_on(async { per_step(open(&schema, 4, true).await, "prepared").await });
    let t_prepared =
        rt.block_on(async { concurrent(open(&schema, 50, true).await, "prepared").await });
    let growth: Vec<(usize, (f64, f64, f64))> = [0, 100, 1_000, 10_000]
        .into_iter()
        .map(|held| (held, rt.block_on(growth(&schema, held))))
        .collect();
    psql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));

    let show = |tps: Option<f64>| tps.map_or("n/a".to_owned(), |t| format!("{t:.0}/s"));
    println!(
        "pgbench INSERT: {} with 1 client ({}), {} with 50 clients",
        show(raw_1),
        raw_1.map_or("n/a".to_owned(), |t| format!("{:.0} µs each", 1e6 / t)),
        show(raw_50),
    );
    println!();
    println!("| statements | per step (200-step loop) | 50×100 checkpoints/s | p50 | p95 | p99 |");
    println!("|---|---|---|---|---|---|");
    for (name, step, t) in [
        ("unnamed (default)", step, t),
        ("prepared_statements(true)", step_prepared, t_prepared),
    ] {
        println!(
            "| {name} | {step:.0} µs | {:.0} | {:.2?} | {:.2?} | {:.2?} |",
            t.checkpoints_per_s, t.p50, t.p95, t.p99
        );
    }
    println!();
    println!(
        "| messages held | per step | WAL bytes per step | per step vs 0 | load at run start |"
    );
    println!("|---|---|---|---|---|");
    let base = growth[0].1.0;
    for (held, (micros, wal, load)) in &growth {
        println!(
            "| {held} | {micros:.0} µs | {wal:.0} B | {:.2}× | {:.1} ms |",
            micros / base,
            load / 1000.0
        );
    }
}
