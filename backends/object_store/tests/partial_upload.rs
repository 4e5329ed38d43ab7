//! Uploads interrupted halfway. An object is stored whole or not at all, so a process killed
//! while it uploads a checkpoint leaves the thread as it was before the put or with the whole
//! checkpoint, never part of it; what an interrupted upload leaves behind (an unfinished
//! multipart upload at the next key) does not stop the next write; and an object cut short by
//! anything else is reported as unreadable, naming it, without touching what is stored.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use stategraph_object_store::ObjectStoreSaver;
use stategraph_object_store::object_store::aws::S3ConditionalPut;
use stategraph_object_store::object_store::path::Path;
use stategraph_object_store::object_store::{ObjectStoreExt, PutPayload};
use stategraph_runtime::testing::fixtures::{checkpoint, child, must_get, thread};
use stategraph_runtime::{CheckpointError, Checkpointer, ThreadId};
use support::Moto;

/// The size of the checkpoint the child uploads: large enough that a kill lands mid-upload.
const BLOB_BYTES: usize = 48 << 20;

/// The blob the child uploads: a JSON string of letters, `BLOB_BYTES` long with its quotes.
fn big_blob() -> Vec<u8> {
    let letters = b"abcdefghijklmnopqrstuvwxyz".repeat(BLOB_BYTES / 26 + 1);
    [&b"\""[..], &letters[..BLOB_BYTES - 2], &b"\""[..]].concat()
}

/// The child's part: continues the thread's head with one large checkpoint, then waits to be
/// killed.
async fn upload(target: &str, t: &ThreadId) {
    let saver = support::target_saver(target, "partial").await;
    let head = must_get(&saver, t, "", None).await.checkpoint;
    let next = child(&head).snapshot_bytes("blob", big_blob()).build();
    println!("uploading");
    saver.put(next).await.unwrap();
    println!("stored");
    std::thread::sleep(Duration::from_secs(60));
}

/// Kills a child (this binary again, running `test`) `after` the moment it starts uploading,
/// then checks that the thread holds either nothing new or the whole checkpoint, and goes on.
async fn kill_during_upload(
    test: &str,
    target: &str,
    saver: &ObjectStoreSaver,
    after: Duration,
) -> bool {
    let t = thread("interrupted");
    let root = checkpoint(&t, "")
        .snapshot("blob", json!(""))
        .put_ok(saver)
        .await;
    let mut child = support::child_of(test, target, &t)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("the child prints before uploading")
            .unwrap();
        if line.contains("uploading") {
            break;
        }
    }
    std::thread::sleep(after);
    child.kill().unwrap();
    child.wait().unwrap();
    // A fresh saver: nothing of the dead child's memory.
    let reader = support::target_saver(target, "partial").await;
    let head = must_get(&reader, &t, "", None).await;
    let completed = head.checkpoint.id != root.id;
    if completed {
        assert_eq!(head.checkpoint.parent_id, Some(root.id));
        assert!(
            head.channels["blob"][0].data == big_blob(),
            "a stored checkpoint is whole"
        );
    }
    let after_kill = child_of(&head.checkpoint).put_ok(&reader).await;
    assert_eq!(
        must_get(saver, &t, "", None).await.checkpoint.id,
        after_kill.id,
        "the thread goes on after the kill"
    );
    completed
}

fn child_of(
    parent: &stategraph_runtime::Checkpoint,
) -> stategraph_runtime::testing::fixtures::CheckpointBuilder {
    child(parent).snapshot("blob", json!("small"))
}

/// Kills from immediately (the upload cannot have finished) to long after (it has), with
/// points in between that land during the upload; the children run `test`.
async fn kills(test: &str, target: &str, saver: &ObjectStoreSaver) {
    let mut outcomes = Vec::new();
    for millis in [0, 10, 40, 150, 5000] {
        let after = Duration::from_millis(millis);
        outcomes.push(kill_during_upload(test, target, saver, after).await);
    }
    println!("uploads completed before the kill: {outcomes:?}");
    assert!(!outcomes[0], "a kill at once stores nothing");
    assert!(outcomes[4], "an upload given five seconds is stored whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_an_upload_to_a_directory_leaves_all_or_nothing() {
    if let Some((target, t)) = support::child_part() {
        return upload(&target, &t).await;
    }
    let (saver, dir) = support::local_saver().await;
    let test = "a_kill_during_an_upload_to_a_directory_leaves_all_or_nothing";
    kills(test, dir.to_str().unwrap(), &saver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_an_upload_to_s3_leaves_all_or_nothing() {
    if let Some((target, t)) = support::child_part() {
        return upload(&target, &t).await;
    }
    let Some(moto) = Moto::start_or_skip("interrupted upload to S3") else {
        return;
    };
    let target = format!("s3:{}", moto.endpoint());
    let saver = support::target_saver(&target, "partial").await;
    saver.setup().await.unwrap();
    let test = "a_kill_during_an_upload_to_s3_leaves_all_or_nothing";
    kills(test, &target, &saver).await;
}

/// An unfinished multipart upload at the key the next entry takes (what a client killed
/// mid-multipart leaves) is not an object: the next put takes the key and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_multipart_upload_does_not_block_the_next_write() {
    let Some(moto) = Moto::start_or_skip("unfinished multipart upload") else {
        return;
    };
    let saver = moto.saver("multipart").await;
    let t = thread("multipart");
    let root = checkpoint(&t, "")
        .snapshot("n", json!(0))
        .put_ok(&saver)
        .await;
    let next_key = entry_path("multipart", &t, 0, 1);
    let s3 = moto.s3(S3ConditionalPut::ETagMatch);
    let mut upload = s3.put_multipart(&next_key).await.unwrap();
    upload
        .put_part(PutPayload::from(vec![b'x'; 5 << 20]))
        .await
        .unwrap();
    drop(upload); // never completed, never aborted
    let next = child(&root).snapshot("n", json!(1)).put_ok(&saver).await;
    let reader = moto.saver("multipart").await;
    assert_eq!(must_get(&reader, &t, "", None).await.checkpoint.id, next.id);
}

/// The key of entry `seq` of `generation` of thread `t` under `prefix`.
fn entry_path(prefix: &str, t: &ThreadId, generation: u64, seq: u64) -> Path {
    Path::from(format!(
        "{prefix}/{}/{generation:020}/{seq:020}",
        support::thread_dir(t)
    ))
}

/// An entry cut short (by a store that is not atomic, or by hand) is reported as unreadable,
/// naming the object, and the thread's other entries stay as they were: once the bad object
/// is removed, the thread reads as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_entry_is_a_clear_error_and_loses_nothing_else() {
    let (saver, dir) = support::local_saver().await;
    let t = thread("truncated");
    let root = checkpoint(&t, "")
        .snapshot("n", json!(1))
        .put_ok(&saver)
        .await;
    let file = dir
        .join("stategraph")
        .join(support::thread_dir(&t))
        .join(format!("{:020}", 0))
        .join(format!("{:020}", 1));
    std::fs::write(
        &file,
        b"SGLOG1\n\x40\x00\x00\x00{\"kind\":\"put\",\"checkpo",
    )
    .unwrap();
    let reader = ObjectStoreSaver::local(&dir).await.unwrap();
    match reader.get(&t, "", None).await {
        Err(CheckpointError::Backend(e)) => {
            let message = e.to_string();
            assert!(message.contains("is not a readable log entry"), "{message}");
            assert!(message.contains("truncated"), "{message}");
            assert!(message.contains(&format!("{:020}", 1)), "{message}");
        }
        other => panic!("a truncated entry must be a clear error, got {other:?}"),
    }
    std::fs::remove_file(&file).unwrap();
    let again = ObjectStoreSaver::local(&dir).await.unwrap();
    assert_eq!(must_get(&again, &t, "", None).await.checkpoint.id, root.id);
}
