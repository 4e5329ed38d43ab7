//! Store latency: `put`, `get` and a filtered `search` on each backend — memory, SQLite (a file,
//! WAL), PostgreSQL and Redis — one operation at a time, as a node would call them. Prints the
//! median and 99th percentile of each operation in microseconds.
//!
//! ```text
//! cargo bench --bench store --features full
//! ```
//! BENCHMARKS.md records a run beside LangGraph's stores for the same operations from
//! `benches/langgraph/store.py`, run by `benches/side_by_side.sh store` in the same invocation.

mod support;

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use stategraph::store::{Filter, Namespace, SearchQuery};
use stategraph::{MemoryStore, Store, StoreExt};

const ITEMS: usize = 1_000;
const SEARCHES: usize = 200;

/// Median and 99th percentile of `times` (microseconds).
fn spread(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

async fn measure(name: &str, store: Arc<dyn Store>) {
    let ns = Namespace::new([
        "bench",
        &format!("run-{}", stategraph::CheckpointId::new()),
        "docs",
    ])
    .unwrap();
    let mut puts = Vec::with_capacity(ITEMS);
    for i in 0..ITEMS {
        let value = json!({"title": format!("document {i}"), "words": i % 100, "lang": "en"});
        let start = Instant::now();
        store
            .put(&ns, &format!("doc-{i}"), &value, None)
            .await
            .unwrap();
        puts.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let mut gets = Vec::with_capacity(ITEMS);
    for i in 0..ITEMS {
        let start = Instant::now();
        let item = store.get(&ns, &format!("doc-{i}"), false).await.unwrap();
        gets.push(start.elapsed().as_secs_f64() * 1e6);
        assert!(item.is_some());
    }
    let mut searches = Vec::with_capacity(SEARCHES);
    for i in 0..SEARCHES {
        let query = SearchQuery::under(ns.labels().iter().cloned())
            .filter(Filter::eq("words", (i % 100) as u64))
            .limit(10);
        let start = Instant::now();
        let found = store.search(&query).await.unwrap();
        searches.push(start.elapsed().as_secs_f64() * 1e6);
        assert_eq!(found.len(), ITEMS / 100);
    }
    for i in 0..ITEMS {
        store.delete(&ns, &format!("doc-{i}")).await.unwrap();
    }
    let (put50, put99) = spread(puts);
    let (get50, get99) = spread(gets);
    let (s50, s99) = spread(searches);
    println!(
        "| {name} | {put50:.0} / {put99:.0} | {get50:.0} / {get99:.0} | {s50:.0} / {s99:.0} |"
    );
}

fn main() {
    support::run("store", |dir| async move {
        println!(
            "\nstategraph: µs per operation, median / p99, over {ITEMS} items (search: {SEARCHES} filtered searches, 10 of {ITEMS} match)\n"
        );
        println!("| store | put | get | search |");
        println!("|---|---|---|---|");
        measure("memory", Arc::new(MemoryStore::new())).await;
        let sqlite = stategraph::sqlite::SqliteStore::open(dir.join("store.db"))
            .await
            .unwrap();
        measure("SQLite (WAL, synchronous = FULL)", Arc::new(sqlite)).await;
        let pg_url = std::env::var("STATEGRAPH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        match stategraph::postgres::PostgresSaver::builder(pg_url)
            .schema("sg_bench_store")
            .connect_store()
            .await
        {
            Ok(store) => measure("PostgreSQL", Arc::new(store)).await,
            Err(e) => println!("| PostgreSQL | skipped: {e} | | |"),
        }
        let redis_url = std::env::var("STATEGRAPH_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        match stategraph::redis::RedisSaver::builder(&redis_url)
            .key_prefix("sg-bench-store")
            .allow_volatile(true)
            .connect_store()
            .await
        {
            Ok(store) => measure("Redis", Arc::new(store)).await,
            Err(e) => println!("| Redis | skipped: {e} | | |"),
        }
    });
}
