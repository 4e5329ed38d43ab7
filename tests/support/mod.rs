//! What several test files share: a saver on every backend, and a recording `tracing`
//! subscriber (`trace`).

#[allow(dead_code)] // not every test binary records traces
pub mod trace;

use std::path::Path;
use std::sync::Arc;

use stategraph::postgres::PostgresSaver;
use stategraph::redis::RedisSaver;
use stategraph::sqlite::SqliteSaver;
use stategraph::{Checkpointer, MemorySaver};

/// A saver on each backend — SQLite (a file in `dir`), PostgreSQL (schema `sg_{name}_test`),
/// Redis (prefix `sg-{name}-test`), memory — by name; or `None` (after the skip/fail
/// decision: `STATEGRAPH_REQUIRE_SERVICES` makes an unreachable server a failure) without the
/// servers.
#[allow(dead_code)] // not every test binary runs on every backend
pub async fn every_saver(
    dir: &Path,
    name: &str,
) -> Option<Vec<(&'static str, Arc<dyn Checkpointer>)>> {
    let required = std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_some();
    let pg_url = std::env::var("STATEGRAPH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let redis_url = std::env::var("STATEGRAPH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let sqlite = SqliteSaver::open(dir.join("t.db")).await.unwrap();
    let postgres = PostgresSaver::builder(pg_url)
        .schema(format!("sg_{name}_test"))
        .retry_deadline(std::time::Duration::ZERO)
        .connect()
        .await;
    let redis = RedisSaver::builder(&redis_url)
        .key_prefix(format!("sg-{name}-test"))
        .allow_volatile(true)
        .connect()
        .await;
    match (postgres, redis) {
        (Ok(postgres), Ok(redis)) => Some(vec![
            ("sqlite", Arc::new(sqlite)),
            ("postgres", Arc::new(postgres)),
            ("redis", Arc::new(redis)),
            ("memory", Arc::new(MemorySaver::new())),
        ]),
        (pg, rd) => {
            let why = format!("{:?} / {:?}", pg.err(), rd.err());
            assert!(!required, "PostgreSQL and Redis are required: {why:.300}");
            eprintln!("SKIPPED: PostgreSQL or Redis unreachable: {why:.300}");
            None
        }
    }
}
