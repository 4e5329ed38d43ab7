//! Several processes open one new database file at the same instant: every `setup()`
//! succeeds, and their writes all land.
//!
//! The child processes are this test binary itself, run with `HELPER_DB` set so that only
//! `helper_process` does anything.

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stategraph_runtime::{Checkpointer, ListQuery, ThreadId, ThreadQuery};
use stategraph_sqlite::SqliteSaver;

const HELPER_DB: &str = "STATEGRAPH_SQLITE_HELPER_DB";
const HELPER_NAME: &str = "STATEGRAPH_SQLITE_HELPER_NAME";
const HELPER_START: &str = "STATEGRAPH_SQLITE_HELPER_START_MICROS";
const PROCESSES: usize = 4;
const ROUNDS: usize = 15;
const PUTS: usize = 5;

fn micros_now() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// In a child: waits for the agreed instant, opens the file (running setup), runs setup again,
/// and advances its own thread.
#[test]
fn helper_process() {
    let Ok(path) = std::env::var(HELPER_DB) else {
        return; // Not a child: nothing to do.
    };
    let name = std::env::var(HELPER_NAME).unwrap();
    let start: u64 = std::env::var(HELPER_START).unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_micros(start.saturating_sub(micros_now())));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let saver = SqliteSaver::open(&path)
                .await
                .unwrap_or_else(|e| panic!("{name}: open failed: {e}"));
            saver
                .setup()
                .await
                .unwrap_or_else(|e| panic!("{name}: second setup failed: {e}"));
            let thread = ThreadId::new(name.clone());
            let mut parent = None;
            for i in 0..PUTS {
                let id = stategraph_runtime::CheckpointId::new();
                let checkpoint = stategraph_runtime::Checkpoint {
                    id,
                    thread_id: thread.clone(),
                    ns: String::new(),
                    parent_id: parent,
                    created_at: stategraph_runtime::now(),
                    channel_versions: [("i".to_owned(), id)].into(),
                    next: vec![],
                    barriers: Default::default(),
                    metadata: stategraph_runtime::CheckpointMetadata::new(
                        stategraph_runtime::Source::Loop,
                        i64::try_from(i).unwrap(),
                    ),
                };
                let blob = stategraph_runtime::ChannelBlob {
                    channel: "i".to_owned(),
                    version: id,
                    kind: stategraph_runtime::BlobKind::Snapshot,
                    data: i.to_string().into_bytes(),
                };
                saver
                    .put(stategraph_runtime::NewCheckpoint {
                        checkpoint,
                        blobs: vec![blob],
                        mode: stategraph_runtime::PutMode::Advance,
                        epoch: None,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{name}: put {i} failed: {e}"));
                parent = Some(id);
            }
        });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_opening_one_new_file_at_once_all_set_up_and_write() {
    let exe = std::env::current_exe().unwrap();
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        let start = micros_now() + 150_000;
        let children: Vec<_> = (0..PROCESSES)
            .map(|i| {
                Command::new(&exe)
                    .args([
                        "--exact",
                        "helper_process",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(HELPER_DB, &path)
                    .env(HELPER_NAME, format!("p{i}"))
                    .env(HELPER_START, start.to_string())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}: a child failed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let saver = SqliteSaver::open(&path).await.unwrap();
        let threads = saver.list_threads(&ThreadQuery::default()).await.unwrap();
        assert_eq!(threads.len(), PROCESSES, "round {round}");
        for thread in threads {
            let history = saver
                .list(&ListQuery::thread(thread.thread_id.clone()))
                .await
                .unwrap();
            assert_eq!(history.len(), PUTS, "round {round}, {}", thread.thread_id);
        }
        let raw = rusqlite::Connection::open(&path).unwrap();
        let migrations: i64 = raw
            .query_row("SELECT count(*) FROM stategraph_migrations", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            migrations, 4,
            "round {round}: each migration was applied once"
        );
    }
}
