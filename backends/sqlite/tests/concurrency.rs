//! Many writers through one saver, several savers on one file: no "database is locked", no
//! lost update, no silent fork.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use stategraph_runtime::{
    CheckpointError, Checkpointer, ListQuery, PendingWrite, TaskId, ThreadId, ThreadQuery,
};
use stategraph_sqlite::{SqliteError, SqliteSaver};
use support::{Step, TempSaver};

/// Advances `thread` by `steps` puts (each writing a channel and a pending write), reading the
/// head back after each.
async fn advance(saver: &impl Checkpointer, thread: ThreadId, steps: usize) {
    let mut parent = saver
        .get(&thread, "", None)
        .await
        .unwrap()
        .map(|t| t.checkpoint.id);
    for i in 0..steps {
        let step = Step::new(&thread, "", parent)
            .snapshot("count", json!(i))
            .snapshot("name", json!(thread.as_str()));
        let id = step.id();
        saver
            .put(step.build())
            .await
            .unwrap_or_else(|e| panic!("put on {thread}: {e}"));
        saver
            .put_writes(
                &thread,
                "",
                id,
                vec![PendingWrite {
                    task_id: TaskId::from_uuid(uuid::Uuid::now_v7()),
                    node: "n".to_owned(),
                    idx: 0,
                    channel: "count".to_owned(),
                    value: b"1".to_vec(),
                }],
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("put_writes on {thread}: {e}"));
        let head = saver.get(&thread, "", None).await.unwrap().unwrap();
        assert_eq!(head.checkpoint.id, id);
        parent = Some(id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_tasks_write_different_threads_through_one_saver() {
    let saver = Arc::new(TempSaver::new().await);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let saver = Arc::clone(&saver);
            tokio::spawn(
                async move { advance(&*saver, ThreadId::new(format!("t{i:02}")), 20).await },
            )
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let threads = saver.list_threads(&ThreadQuery::default()).await.unwrap();
    assert_eq!(threads.len(), 64);
    assert!(threads.iter().all(|t| t.step == 0));
    assert_eq!(
        saver.list(&ListQuery::default()).await.unwrap().len(),
        64 * 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_savers_on_one_file_write_concurrently() {
    let first = TempSaver::new().await;
    let second = Arc::new(SqliteSaver::open(first.path()).await.unwrap());
    let first = Arc::new(first);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let a = Arc::clone(&first);
        let b = Arc::clone(&second);
        tasks.push(tokio::spawn(async move {
            advance(&*a, ThreadId::new(format!("a{i}")), 10).await;
        }));
        tasks.push(tokio::spawn(async move {
            advance(&*b, ThreadId::new(format!("b{i}")), 10).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for saver in [&*first as &dyn Checkpointer, &*second] {
        let threads = saver.list_threads(&ThreadQuery::default()).await.unwrap();
        assert_eq!(threads.len(), 60, "each saver sees every thread");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_savers_racing_on_one_thread_conflict_instead_of_forking() {
    let first = TempSaver::new().await;
    let second = SqliteSaver::open(first.path()).await.unwrap();
    let savers: [Arc<dyn Checkpointer>; 2] = [Arc::new(first), Arc::new(second)];
    let thread = ThreadId::new("contended");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let saver = Arc::clone(&savers[i % 2]);
            let thread = thread.clone();
            tokio::spawn(async move {
                let (mut won, mut lost) = (0, 0);
                while won + lost < 25 {
                    let head = saver
                        .get(&thread, "", None)
                        .await
                        .unwrap()
                        .map(|t| t.checkpoint.id);
                    let step = Step::new(&thread, "", head).snapshot("by", json!(i));
                    match saver.put(step.build()).await {
                        Ok(()) => won += 1,
                        Err(CheckpointError::Conflict { .. }) => lost += 1,
                        Err(other) => panic!("only conflicts are expected, got {other}"),
                    }
                }
                won
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += task.await.unwrap();
    }
    let history = savers[0].list(&ListQuery::thread(thread)).await.unwrap();
    assert_eq!(history.len(), won, "every acknowledged put is stored");
    // Newest first: each checkpoint's parent is the one before it, so history is a line.
    for pair in history.windows(2) {
        assert_eq!(pair[0].checkpoint.parent_id, Some(pair[1].checkpoint.id));
    }
    assert_eq!(history.last().unwrap().checkpoint.parent_id, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conflicting_puts_in_a_burst_do_not_roll_back_their_neighbours() {
    let saver = Arc::new(TempSaver::new().await);
    let stale_thread = ThreadId::new("stale");
    let stale_parent = support::chain(&*saver, &stale_thread, 2).await[0];
    // Many puts arrive together, so they share group commits; every other one conflicts.
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let saver = Arc::clone(&saver);
            let stale_thread = stale_thread.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    let step = Step::new(&ThreadId::new(format!("ok{i}")), "", None)
                        .snapshot("x", json!(i));
                    saver.put(step.build()).await.map(|()| true)
                } else {
                    let step =
                        Step::new(&stale_thread, "", Some(stale_parent)).snapshot("x", json!(i));
                    match saver.put(step.build()).await {
                        Err(CheckpointError::Conflict { .. }) => Ok(false),
                        other => panic!("expected a conflict, got {other:?}"),
                    }
                }
            })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        stored += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(stored, 100);
    let threads = saver.list_threads(&ThreadQuery::default()).await.unwrap();
    assert_eq!(threads.len(), 101);
    assert_eq!(
        saver
            .list(&ListQuery::thread(stale_thread))
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_waits_for_another_connection_up_to_the_busy_timeout() {
    let saver = TempSaver::new().await;
    let impatient = SqliteSaver::builder(saver.path())
        .busy_timeout(Duration::from_millis(100))
        .open()
        .await
        .unwrap();
    let raw = saver.raw();
    raw.execute_batch("BEGIN IMMEDIATE").unwrap();

    // Past the busy timeout: a clear "busy" error naming the operation and thread.
    let thread = ThreadId::new("t");
    let step = Step::new(&thread, "", None).snapshot("x", json!(1));
    let error = impatient.put(step.build()).await.unwrap_err();
    let CheckpointError::Backend(source) = &error else {
        panic!("expected a backend error, got {error:?}");
    };
    let sqlite = source.downcast_ref::<SqliteError>().expect("a SqliteError");
    assert!(sqlite.is_busy(), "{sqlite}");
    assert_eq!(sqlite.operation(), "put");
    assert_eq!(sqlite.thread_id(), Some(&thread));
    assert!(error.to_string().contains("put of thread `t`"), "{error}");

    // Within the default timeout: the put waits for the lock and succeeds.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        raw.execute_batch("COMMIT").unwrap();
    });
    let step = Step::new(&thread, "", None).snapshot("x", json!(2));
    saver.put(step.build()).await.unwrap();
    release.join().unwrap();
    // Reads are never blocked by a writer (WAL).
    assert!(impatient.get(&thread, "", None).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_proceed_while_another_connection_holds_the_write_lock() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    support::chain(&*saver, &thread, 3).await;
    let raw = saver.raw();
    raw.execute_batch("BEGIN IMMEDIATE; DELETE FROM stategraph_checkpoints;")
        .unwrap();
    let page = saver
        .list(&ListQuery::thread(thread.clone()))
        .await
        .unwrap();
    assert_eq!(
        page.len(),
        3,
        "readers see the last commit, not the open transaction"
    );
    raw.execute_batch("ROLLBACK").unwrap();
}
