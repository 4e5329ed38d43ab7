//! A listing leaves out a thread it cannot read and reports it by its id — on the object
//! store, where threads are stored under their id's hash, too.

#[path = "support/trace.rs"]
#[allow(dead_code)] // the span records are not read here
mod trace;

use stategraph::object_store::ObjectStoreSaver;
use stategraph::{CheckpointId, Checkpointer, ThreadId, ThreadQuery};

#[tokio::test(flavor = "current_thread")]
async fn an_unreadable_thread_is_reported_by_its_id_not_its_hash() {
    let dir = std::env::temp_dir().join(format!("sg-unreadable-{}", CheckpointId::new()));
    let saver = ObjectStoreSaver::local(&dir)
        .await
        .unwrap()
        .with_cached_threads(0);
    let thread = ThreadId::new("tenant 7 / report ✓");
    let graph_input = stategraph::testing::fixtures::checkpoint(&thread, "");
    graph_input.put_ok(&saver).await;
    let threads = dir.join("stategraph/threads");
    for entry in walk(&threads)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "id"))
    {
        std::fs::write(entry, b"garbage").unwrap();
    }
    // Another process lists the threads.
    let saver = ObjectStoreSaver::local(&dir).await.unwrap();
    let recorder = trace::Recorder::default();
    let listed = {
        let _guard = tracing::subscriber::set_default(recorder.clone());
        saver.list_threads(&ThreadQuery::default()).await.unwrap()
    };
    assert!(listed.is_empty(), "{listed:?}");
    let events = recorder.0.events.lock().unwrap();
    let skipped: Vec<_> = events
        .iter()
        .filter(|e| {
            e.fields
                .get("message")
                .is_some_and(|m| m.contains("left out of a listing"))
        })
        .collect();
    assert_eq!(skipped.len(), 1, "{events:?}");
    assert_eq!(
        skipped[0].fields["thread"],
        thread.as_str(),
        "named by its id"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
