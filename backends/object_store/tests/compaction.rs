//! A long thread is compacted: its log never holds more than the configured number of entries
//! (plus the base), the history stays whole, and a process reading it from scratch reads a
//! handful of objects.

mod support;

use serde_json::json;
use stategraph_object_store::ObjectStoreSaver;
use stategraph_runtime::testing::fixtures::value;
use stategraph_runtime::testing::fixtures::{checkpoint, child, must_get, task, thread, write};
use stategraph_runtime::{Checkpointer, ListQuery};

fn entry_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.join("stategraph/threads")];
    while let Some(at) = stack.pop() {
        for item in std::fs::read_dir(&at).into_iter().flatten().flatten() {
            let path = item.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|name| name != "id") {
                // Log entries only: `id` names the thread.
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_thread_is_compacted_and_keeps_its_history() {
    let (_, dir) = support::local_saver().await;
    let saver = ObjectStoreSaver::local(&dir)
        .await
        .unwrap()
        .with_compaction_after(8);
    let t = thread("compacted");
    let mut head = checkpoint(&t, "")
        .snapshot("n", json!(0))
        .put_ok(&saver)
        .await;
    for n in 1..40 {
        saver
            .put_writes(&t, "", head.id, vec![write(task(), 0, "n", json!(n))], None)
            .await
            .unwrap();
        head = child(&head).snapshot("n", json!(n)).put_ok(&saver).await;
        let files = entry_files(&dir).len();
        assert!(
            files <= 9,
            "at most 8 entries and a base, found {files} objects"
        );
    }
    let fresh = ObjectStoreSaver::local(&dir).await.unwrap();
    let history = fresh.list(&ListQuery::thread(t.clone())).await.unwrap();
    assert_eq!(history.len(), 40, "compaction keeps every checkpoint");
    for (n, tuple) in history.iter().rev().enumerate() {
        assert_eq!(value(tuple, "n"), json!(n));
        let writes = usize::from(n < 39);
        assert_eq!(
            tuple.pending_writes.len(),
            writes,
            "checkpoint {n} keeps its writes"
        );
    }
    assert_eq!(must_get(&fresh, &t, "", None).await.checkpoint.id, head.id);
    let next = child(&head).snapshot("n", json!(40)).put_ok(&fresh).await;
    assert_eq!(must_get(&saver, &t, "", None).await.checkpoint.id, next.id);
}
