//! Two operating-system processes advance one thread at the same time, on one local directory
//! and on one S3 bucket: each continues the head it reads and retries on a conflict, and
//! together they leave one line of history holding exactly the checkpoints they were told
//! were stored.

mod support;

use std::process::Stdio;

use serde_json::json;
use stategraph_runtime::testing::fixtures::{checkpoint, child, must_get, thread};
use stategraph_runtime::{CheckpointError, Checkpointer, ListQuery, ThreadId};
use support::Moto;

/// Puts each process makes.
const PUTS: usize = 25;

/// The child's part: advances the thread `PUTS` times, printing the id of each stored
/// checkpoint.
async fn race(target: &str, t: &ThreadId) {
    let saver = support::target_saver(target, "processes").await;
    let mut stored = 0;
    while stored < PUTS {
        let head = must_get(&saver, t, "", None).await.checkpoint;
        let next = child(&head).snapshot("n", json!(stored)).build();
        match saver.put(next.clone()).await {
            Ok(()) => {
                stored += 1;
                println!("STORED {}", next.checkpoint.id);
            }
            Err(CheckpointError::Conflict { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// Two children (this binary again, running `test`) race on `target`.
async fn two_processes_race(test: &str, target: &str) {
    let saver = support::target_saver(target, "processes").await;
    saver.setup().await.unwrap();
    let t = thread("processes");
    let root = checkpoint(&t, "")
        .snapshot("n", json!(-1))
        .put_ok(&saver)
        .await;
    let spawn = || {
        support::child_of(test, target, &t)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn(), spawn()];
    let mut reported = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a racing process failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        reported.extend(
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix("STORED "))
                .map(str::to_owned),
        );
    }
    assert_eq!(reported.len(), 2 * PUTS);
    let reader = support::target_saver(target, "processes").await;
    let history = reader.list(&ListQuery::thread(t.clone())).await.unwrap();
    assert_eq!(
        history.len(),
        2 * PUTS + 1,
        "every reported put, and the root"
    );
    for pair in history.windows(2) {
        assert_eq!(
            pair[0].checkpoint.parent_id,
            Some(pair[1].checkpoint.id),
            "one line of history"
        );
    }
    assert_eq!(history.last().unwrap().checkpoint.id, root.id);
    let mut stored: Vec<String> = history[..2 * PUTS]
        .iter()
        .map(|c| c.checkpoint.id.to_string())
        .collect();
    stored.sort();
    reported.sort();
    assert_eq!(stored, reported, "exactly the puts reported as stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_race_on_one_directory() {
    if let Some((target, t)) = support::child_part() {
        return race(&target, &t).await;
    }
    let (_, dir) = support::local_saver().await;
    let test = "two_processes_race_on_one_directory";
    two_processes_race(test, dir.to_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_race_on_one_bucket() {
    if let Some((target, t)) = support::child_part() {
        return race(&target, &t).await;
    }
    let Some(moto) = Moto::start_or_skip("racing processes on S3") else {
        return;
    };
    let test = "two_processes_race_on_one_bucket";
    two_processes_race(test, &format!("s3:{}", moto.endpoint())).await;
}
