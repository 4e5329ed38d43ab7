//! Behind pgbouncer in `pool_mode = transaction` (where a named prepared statement made in one
//! transaction is gone, or on another server connection, in the next): the whole conformance
//! kit, and 50 threads × 20 steps of a graph at once.

mod support;

use serde::{Deserialize, Serialize};
use stategraph::{NodeResult, State};
use stategraph_postgres::PostgresSaver;
use stategraph_runtime::{Checkpointer, ListQuery, ThreadId};
use support::Pgbouncer;

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Counter {
    limit: u32,
    count: u32,
    #[state(reducer = append)]
    log: Vec<String>,
}

#[stategraph::graph(state = Counter)]
mod counting {
    use super::*;

    #[node]
    async fn step(s: &Counter) -> NodeResult<Counter> {
        Ok(CounterUpdate::new()
            .count(s.count + 1)
            .log(vec![format!("step {}", s.count)]))
    }

    pub enum Next {
        Again,
        Done,
    }

    #[route]
    fn again(s: &Counter) -> Next {
        if s.count < s.limit {
            Next::Again
        } else {
            Next::Done
        }
    }

    edges! {
        START -> step;
        step -> again { Again => step, Done => END };
    }
}

/// Runs a kit through a pgbouncer of its own in transaction mode, on a fresh schema: `kit`
/// gets pgbouncer's URL and the schema and returns the kit's report, which must pass with at
/// least `cases` cases. On a thread with a large stack: a kit's one big future needs more than
/// a test thread has in debug builds.
fn kit_through_pgbouncer<F, Fut>(label: &'static str, cases: usize, kit: F)
where
    F: FnOnce(String, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = stategraph_runtime::testing::Report>,
{
    let run = move || async move {
        let url = require_server!();
        let Some(bouncer) = Pgbouncer::start(&url) else {
            return;
        };
        let schema = support::fresh_schema(label);
        let report = Box::pin(kit(bouncer.url.clone(), schema.clone())).await;
        support::drop_schema(&url, &schema).await;
        if !report.all_passed() {
            eprintln!("pgbouncer log:\n{}", bouncer.log());
        }
        report.assert_passed();
        assert!(
            report.passed.len() >= cases,
            "{} cases ran",
            report.passed.len()
        );
    };
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || stategraph_runtime::testing::block_on(run()))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn conformance_kit_passes_through_pgbouncer_in_transaction_mode() {
    kit_through_pgbouncer("bouncer_kit", 100, |url, schema| {
        stategraph_runtime::testing::run_all(move || {
            let (url, schema) = (url.clone(), schema.clone());
            async move {
                PostgresSaver::builder(url)
                    .pool_size(4)
                    .schema(schema)
                    .connect()
                    .await
                    .unwrap_or_else(|e| panic!("connect through pgbouncer failed: {e}"))
            }
        })
    });
}

#[test]
fn store_kit_passes_through_pgbouncer_in_transaction_mode() {
    kit_through_pgbouncer("bouncer_store", 20, |url, schema| {
        stategraph_runtime::testing::store::run_all(move || {
            let (url, schema) = (url.clone(), schema.clone());
            async move {
                PostgresSaver::builder(url)
                    .pool_size(4)
                    .schema(schema)
                    .connect_store()
                    .await
                    .unwrap_or_else(|e| panic!("connect through pgbouncer failed: {e}"))
            }
        })
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_threads_of_twenty_steps_through_pgbouncer() {
    let url = require_server!();
    let Some(bouncer) = Pgbouncer::start(&url) else {
        return;
    };
    let schema = support::fresh_schema("bouncer_load");
    let saver = PostgresSaver::builder(bouncer.url.clone())
        .pool_size(30)
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let graph = counting::graph().checkpointer(saver).compile().unwrap();
    let runs: Vec<_> = (0..50)
        .map(|i| {
            let thread = graph.thread(format!("bouncer-{i}"));
            tokio::spawn(async move {
                thread
                    .invoke(CounterUpdate::new().limit(20))
                    .await
                    .and_then(stategraph::Outcome::into_finished)
            })
        })
        .collect();
    for run in runs {
        let state = run.await.unwrap().unwrap_or_else(|e| {
            panic!(
                "a run through pgbouncer failed: {e}\npgbouncer log:\n{}",
                bouncer.log()
            )
        });
        assert_eq!(state.count, 20);
        assert_eq!(state.log.len(), 20);
    }
    let saver = graph.checkpointer();
    for i in [0, 17, 49] {
        let history = saver
            .list(&ListQuery::thread(ThreadId::new(format!("bouncer-{i}"))))
            .await
            .unwrap();
        assert_eq!(history.len(), 21, "the input and one checkpoint per step");
    }
    support::drop_schema(&url, &schema).await;
}

/// The control: the driver's ordinary `query` (a named prepared statement per call) is what
/// pgbouncer in transaction mode breaks once server connections are shared; the saver's
/// statement path (`query_typed`, unnamed) is not. Run many of each concurrently.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unnamed_statements_work_where_named_ones_may_not() {
    let url = require_server!();
    let Some(bouncer) = Pgbouncer::start(&url) else {
        return;
    };
    let clients: Vec<_> = futures_join((0..40).map(|_| support::sql_client(&bouncer.url))).await;
    let mut tasks = Vec::new();
    for client in clients {
        tasks.push(tokio::spawn(async move {
            for i in 0..50i64 {
                let rows = client
                    .query_typed(
                        "SELECT $1::int8 + 1",
                        &[(&i, tokio_postgres::types::Type::INT8)],
                    )
                    .await
                    .expect("an unnamed statement through pgbouncer");
                assert_eq!(rows[0].get::<_, i64>(0), i + 1);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    for f in futures {
        out.push(f.await);
    }
    out
}
