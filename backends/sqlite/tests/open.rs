//! Opening a database: files, migrations, options, durability settings.

mod support;

use std::time::Duration;

use stategraph_runtime::{Checkpointer, ThreadId};
use stategraph_sqlite::{SqliteSaver, SqliteSaverBuilder, Synchronous};
use support::{Step, TempSaver, chain};

#[tokio::test]
async fn open_creates_the_file_in_wal_mode_with_the_schema_recorded() {
    let saver = TempSaver::new().await;
    assert!(saver.path().exists());
    let raw = saver.raw();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let versions: Vec<i64> = raw
        .prepare("SELECT version FROM stategraph_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4]);
    for table in [
        "stategraph_checkpoints",
        "stategraph_blobs",
        "stategraph_owners",
        "stategraph_writes",
        "stategraph_threads",
        "stategraph_cache",
        "stategraph_store",
    ] {
        let n: i64 = raw
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "table {table}");
    }
}

#[tokio::test]
async fn setup_is_idempotent_and_reopening_keeps_the_data() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("kept");
    let ids = chain(&*saver, &thread, 3).await;
    saver.setup().await.unwrap();
    saver.setup().await.unwrap();
    let again = SqliteSaver::open(saver.path()).await.unwrap();
    let latest = again.get(&thread, "", None).await.unwrap().unwrap();
    assert_eq!(latest.checkpoint.id, ids[2]);
    let n: i64 = saver
        .raw()
        .query_row("SELECT count(*) FROM stategraph_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 4, "re-running setup records no migration twice");
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_with_a_clear_error() {
    let saver = TempSaver::new().await;
    saver
        .raw()
        .execute(
            "INSERT INTO stategraph_migrations VALUES (99, 'from the future', 0)",
            [],
        )
        .unwrap();
    let error = SqliteSaver::open(saver.path()).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("schema version 99"), "{text}");
    assert!(text.contains("setup"), "{text}");
}

#[tokio::test]
async fn builder_options_are_kept_and_default_to_full_and_five_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = SqliteSaver::open(dir.path().join("a.db")).await.unwrap();
    assert_eq!(defaults.synchronous(), Synchronous::Full);
    assert_eq!(defaults.busy_timeout(), Duration::from_secs(5));
    assert_eq!(
        SqliteSaverBuilder::DEFAULT_BUSY_TIMEOUT,
        Duration::from_secs(5)
    );

    let tuned = SqliteSaver::builder(dir.path().join("b.db"))
        .synchronous(Synchronous::Normal)
        .busy_timeout(Duration::from_millis(250))
        .open()
        .await
        .unwrap();
    assert_eq!(tuned.synchronous(), Synchronous::Normal);
    assert_eq!(tuned.busy_timeout(), Duration::from_millis(250));
    let debug = format!("{tuned:?}");
    assert!(
        debug.contains("b.db") && debug.contains("Normal"),
        "{debug}"
    );

    // Both settings store and read back the same way.
    let thread = ThreadId::new("t");
    chain(&tuned, &thread, 2).await;
    assert_eq!(tuned.list(&Default::default()).await.unwrap().len(), 2);
}

#[tokio::test]
async fn in_memory_saver_is_private_and_complete() {
    let a = SqliteSaver::open_in_memory().await.unwrap();
    let b = SqliteSaver::open_in_memory().await.unwrap();
    assert_eq!(a.path(), None);
    assert!(format!("{a:?}").contains(":memory:"));
    let thread = ThreadId::new("t");
    let ids = chain(&a, &thread, 2).await;
    assert_eq!(
        a.get(&thread, "", None)
            .await
            .unwrap()
            .unwrap()
            .checkpoint
            .id,
        ids[1]
    );
    assert!(b.get(&thread, "", None).await.unwrap().is_none());
}

#[tokio::test]
async fn opening_a_path_that_cannot_exist_names_the_operation() {
    let dir = tempfile::tempdir().unwrap();
    let error = SqliteSaver::open(dir.path().join("missing-dir").join("x.db"))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("SQLite open failed"), "{text}");
    let source = std::error::Error::source(&error).expect("a source");
    let sqlite = source
        .downcast_ref::<stategraph_sqlite::SqliteError>()
        .expect("a SqliteError");
    assert_eq!(sqlite.operation(), "open");
    assert!(!sqlite.is_busy());
}

#[tokio::test]
async fn the_saver_works_from_a_current_thread_runtime_too() {
    // The worker threads are plain OS threads: no multi-threaded runtime is needed.
    let saver = SqliteSaver::open_in_memory().await.unwrap();
    let thread = ThreadId::new("t");
    let first = Step::new(&thread, "", None).snapshot("x", serde_json::json!(1));
    saver.put(first.build()).await.unwrap();
    assert!(saver.get(&thread, "", None).await.unwrap().is_some());
}
