//! A process killed while its checkpoint write waits on a lock: the server keeps running the
//! dead connection's statement, and commits it whenever the lock is released. The process that
//! resumes the thread claims it first, so that orphaned write either lands before the resumer
//! reads the thread or is refused — the resume succeeds on its first try and the history does
//! not fork. (Before fencing, the orphan committed after the resumer had read the thread, and
//! the resumer's first write failed with a conflict.)

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use stategraph::{Checkpointer, ListQuery, ThreadId};
use stategraph_postgres::PostgresSaver;
use support::slow_loop::{input, slow};

macro_rules! require_server {
    () => {
        match support::server().await {
            Some(url) => url,
            None => return,
        }
    };
}

const CHILD_SCHEMA: &str = "STATEGRAPH_PG_FENCING_SCHEMA";
const THREAD: &str = "held";
const STEPS: u32 = 6;

/// The URL with an `application_name`, so the test can find the connection on the server.
fn tagged(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

/// In a child process only: runs the slow loop on thread `held` until it is killed.
#[test]
fn child_runs_the_held_thread() {
    let Ok(schema) = std::env::var(CHILD_SCHEMA) else {
        return; // Not a child.
    };
    stategraph_runtime::testing::block_on(async {
        let saver = PostgresSaver::builder(tagged(&support::url(), "sg-fencing-child"))
            .pool_size(1)
            .schema(schema)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("child connect failed: {e}"));
        let graph = slow::graph().checkpointer(saver).compile().unwrap();
        let _ = graph
            .thread(THREAD)
            .start_or_resume(input(STEPS, 50))
            .await
            .and_then(stategraph::Outcome::into_finished);
    });
}

async fn poll<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resume_never_loses_to_the_write_of_a_killed_process_held_by_a_lock() {
    let url = require_server!();
    let schema = support::fresh_schema("fencing");
    let setup = PostgresSaver::builder(url.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    drop(setup);
    let sql = support::sql_client(&url).await;
    let heads = format!("\"{schema}\".heads");

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_runs_the_held_thread", "--nocapture"])
        .env(CHILD_SCHEMA, &schema)
        .env("STATEGRAPH_POSTGRES_URL", &url)
        .spawn()
        .unwrap();

    // Once the child has saved a step, hold the thread's head row locked, so its next put
    // waits on the lock inside the server.
    poll("the child's first steps", || async {
        sql.query_opt(
            &format!("SELECT step FROM {heads} WHERE thread_id = $1 AND ns = '' AND step >= 1"),
            &[&THREAD],
        )
        .await
        .unwrap()
        .is_some()
    })
    .await;
    let mut locker = support::sql_client(&url).await;
    let lock = locker.transaction().await.unwrap();
    lock.execute(
        &format!("SELECT 1 FROM {heads} WHERE thread_id = $1 FOR UPDATE"),
        &[&THREAD],
    )
    .await
    .unwrap();
    poll("the child's put to wait on the lock", || async {
        let waiting: i64 = sql
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = 'sg-fencing-child' AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        waiting == 1
    })
    .await;

    // SIGKILL: the client is gone, its statement is still queued on the server.
    child.kill().unwrap();
    child.wait().unwrap();

    let saver = PostgresSaver::builder(url.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let graph = slow::graph().checkpointer(saver).compile().unwrap();
    let resumer = tokio::spawn(async move {
        graph
            .thread(THREAD)
            .start_or_resume(input(STEPS, 50))
            .await
            .and_then(stategraph::Outcome::into_finished)
    });
    // Let the resumer claim and read (or wait behind the orphan), then release the lock: the
    // orphaned write now runs to its end.
    tokio::time::sleep(Duration::from_millis(300)).await;
    lock.commit().await.unwrap();

    let done = resumer
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("the resume should succeed on its first try: {e}"));
    assert_eq!(done.count, STEPS);
    let expected: Vec<String> = (0..STEPS).map(|i| format!("step {i}")).collect();
    assert_eq!(done.log, expected, "every step once, in order");

    let check = PostgresSaver::builder(url.clone())
        .schema(schema.clone())
        .connect()
        .await
        .unwrap();
    let history = check
        .list(&ListQuery::thread(ThreadId::new(THREAD)))
        .await
        .unwrap();
    let mut parents: Vec<_> = history
        .iter()
        .filter_map(|t| t.checkpoint.parent_id)
        .collect();
    let all = parents.len();
    parents.sort();
    parents.dedup();
    assert_eq!(
        parents.len(),
        all,
        "no checkpoint has two children: no fork"
    );
    poll("the orphaned connection to end", || async {
        let left: i64 = sql
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sg-fencing-child'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        left == 0
    })
    .await;
    support::drop_schema(&url, &schema).await;
}
