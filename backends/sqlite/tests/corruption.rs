//! Rows damaged behind the saver's back are reported as corrupt, naming the thread and the
//! checkpoint — never a panic, never a silent default.

mod support;

use serde_json::json;
use stategraph_runtime::{
    CheckpointError, CheckpointId, Checkpointer, ListQuery, ThreadId, ThreadQuery,
};
use support::{Step, TempSaver};

/// A thread with two checkpoints, `log` written as a snapshot then a delta, plus a write.
async fn thread_with_delta(saver: &TempSaver) -> (ThreadId, CheckpointId, CheckpointId) {
    let thread = ThreadId::new("damaged");
    let first = Step::new(&thread, "", None)
        .snapshot("log", json!(["a"]))
        .user("run_id", json!("r1"));
    let a = first.id();
    saver.put(first.build()).await.unwrap();
    let second = Step::new(&thread, "", Some(a))
        .delta("log", a, json!(["b"]))
        .user("run_id", json!("r1"));
    let b = second.id();
    saver.put(second.build()).await.unwrap();
    saver
        .put_writes(
            &thread,
            "",
            b,
            vec![stategraph_runtime::PendingWrite {
                task_id: stategraph_runtime::TaskId::from_uuid(uuid::Uuid::now_v7()),
                node: "n".to_owned(),
                idx: 0,
                channel: "log".to_owned(),
                value: b"[\"c\"]".to_vec(),
            }],
            None,
        )
        .await
        .unwrap();
    (thread, a, b)
}

/// `get` and `list` (plain and filtered) of the latest checkpoint all fail as corrupt,
/// naming the thread, the checkpoint and `needle`.
async fn assert_corrupt(saver: &TempSaver, thread: &ThreadId, at: CheckpointId, needle: &str) {
    let attempts = [
        saver.get(thread, "", None).await.map(|_| ()),
        saver.get(thread, "", Some(at)).await.map(|_| ()),
        saver
            .list(&ListQuery::thread(thread.clone()))
            .await
            .map(|_| ()),
        saver
            .list(&ListQuery::default().filter("run_id", "r1"))
            .await
            .map(|_| ()),
    ];
    for outcome in attempts {
        match outcome {
            Err(CheckpointError::Corrupt {
                thread_id,
                checkpoint,
                detail,
            }) => {
                assert_eq!(&thread_id, thread);
                assert_eq!(checkpoint, at);
                assert!(
                    detail.contains(needle),
                    "{detail:?} should mention {needle:?}"
                );
                let message = CheckpointError::Corrupt {
                    thread_id,
                    checkpoint,
                    detail,
                }
                .to_string();
                assert!(message.contains("damaged") && message.contains(&at.to_string()));
            }
            other => panic!("expected Corrupt mentioning {needle:?}, got {other:?}"),
        }
    }
}

fn damage(saver: &TempSaver, sql: &str, id: CheckpointId) {
    let changed = saver.raw().execute(sql, [id.to_string()]).unwrap();
    assert!(changed > 0, "{sql} changed nothing");
}

#[tokio::test]
async fn channel_versions_that_are_not_json() {
    let saver = TempSaver::new().await;
    let (thread, _, b) = thread_with_delta(&saver).await;
    damage(
        &saver,
        "UPDATE stategraph_checkpoints SET channel_versions = '{not json' WHERE id = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "channel_versions").await;
}

#[tokio::test]
async fn channel_versions_with_a_version_that_is_not_an_id() {
    let saver = TempSaver::new().await;
    let (thread, _, b) = thread_with_delta(&saver).await;
    damage(
        &saver,
        "UPDATE stategraph_checkpoints SET channel_versions = '{\"log\": 42}' WHERE id = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "channel_versions").await;
}

#[tokio::test]
async fn metadata_that_is_not_json_is_not_hidden_by_a_filter() {
    let saver = TempSaver::new().await;
    let (thread, _, b) = thread_with_delta(&saver).await;
    damage(
        &saver,
        "UPDATE stategraph_checkpoints SET metadata = 'garbage' WHERE id = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "metadata").await;
    // A listing filtered by metadata leaves the thread out (and reports it) instead of failing.
    let listed = saver
        .list_threads(&ThreadQuery::default().filter("run_id", "r1"))
        .await
        .unwrap();
    assert!(listed.iter().all(|t| t.thread_id != thread), "{listed:?}");
}

#[tokio::test]
async fn next_and_barriers_of_the_wrong_shape() {
    let saver = TempSaver::new().await;
    let (thread, _, b) = thread_with_delta(&saver).await;
    damage(
        &saver,
        "UPDATE stategraph_checkpoints SET next = '{\"a\": 1}' WHERE id = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "next").await;
    damage(
        &saver,
        "UPDATE stategraph_checkpoints SET next = '[]', barriers = '[1]' WHERE id = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "barriers").await;
}

#[tokio::test]
async fn an_unknown_blob_kind() {
    let saver = TempSaver::new().await;
    let (thread, _, b) = thread_with_delta(&saver).await;
    damage(
        &saver,
        "UPDATE stategraph_blobs SET kind = 'zstd' WHERE version = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "unknown blob kind `zstd`").await;
}

#[tokio::test]
async fn a_delta_whose_base_is_missing() {
    let saver = TempSaver::new().await;
    let (thread, a, b) = thread_with_delta(&saver).await;
    damage(&saver, "DELETE FROM stategraph_blobs WHERE version = ?1", a);
    assert_corrupt(&saver, &thread, b, &format!("no blob at version {a}")).await;
}

#[tokio::test]
async fn a_delta_without_a_base_and_a_base_that_is_not_an_id() {
    let saver = TempSaver::new().await;
    let (thread, _, b) = thread_with_delta(&saver).await;
    damage(
        &saver,
        "UPDATE stategraph_blobs SET base = NULL WHERE version = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "unknown blob kind `delta`").await;
    damage(
        &saver,
        "UPDATE stategraph_blobs SET base = 'yesterday' WHERE version = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "malformed base `yesterday`").await;
}

#[tokio::test]
async fn a_delta_chain_that_loops() {
    let saver = TempSaver::new().await;
    let (thread, a, b) = thread_with_delta(&saver).await;
    // a's snapshot becomes a delta on b, whose base is a.
    saver
        .raw()
        .execute(
            "UPDATE stategraph_blobs SET kind = 'delta', base = ?2 WHERE version = ?1",
            [a.to_string(), b.to_string()],
        )
        .unwrap();
    assert_corrupt(&saver, &thread, b, "loops").await;
}

#[tokio::test]
async fn a_pending_write_with_a_malformed_task_id() {
    let saver = TempSaver::new().await;
    let (thread, _, b) = thread_with_delta(&saver).await;
    damage(
        &saver,
        "UPDATE stategraph_writes SET task_id = 'task-1' WHERE checkpoint_id = ?1",
        b,
    );
    assert_corrupt(&saver, &thread, b, "task id `task-1`").await;
}

#[tokio::test]
async fn a_malformed_checkpoint_id_is_reported_not_panicked_on() {
    let saver = TempSaver::new().await;
    let (thread, _, b) = thread_with_delta(&saver).await;
    damage(
        &saver,
        "UPDATE stategraph_checkpoints SET id = 'zzzz' WHERE id = ?1",
        b,
    );
    match saver.get(&thread, "", None).await {
        Err(CheckpointError::Corrupt {
            thread_id, detail, ..
        }) => {
            assert_eq!(thread_id, thread);
            assert!(detail.contains("`zzzz`"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn a_thread_with_a_malformed_head_is_left_out_of_listings() {
    let saver = TempSaver::new().await;
    let raw = saver.raw();
    stategraph_runtime::testing::threads::listing_skips_an_unreadable_thread(
        &*saver,
        |t| async move {
            let sql = "UPDATE stategraph_threads SET head = 'nope' WHERE thread_id = ?1";
            assert_eq!(raw.execute(sql, [t.as_str()]).unwrap(), 1);
        },
    )
    .await;
}

#[tokio::test]
async fn a_thread_whose_metadata_is_not_json_is_left_out_of_filtered_listings() {
    let saver = TempSaver::new().await;
    let raw = saver.raw();
    stategraph_runtime::testing::threads::listing_skips_an_unreadable_thread(
        &*saver,
        |t| async move {
            let sql = "UPDATE stategraph_checkpoints SET metadata = 'garbage' WHERE thread_id = ?1";
            assert_eq!(raw.execute(sql, [t.as_str()]).unwrap(), 1);
        },
    )
    .await;
}

#[tokio::test]
async fn other_threads_stay_readable() {
    let saver = TempSaver::new().await;
    let (_, _, b) = thread_with_delta(&saver).await;
    let healthy = ThreadId::new("healthy");
    support::chain(&*saver, &healthy, 2).await;
    damage(
        &saver,
        "UPDATE stategraph_checkpoints SET channel_versions = 'x' WHERE id = ?1",
        b,
    );
    assert_eq!(
        saver
            .list(&ListQuery::thread(healthy.clone()))
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(saver.get(&healthy, "", None).await.unwrap().is_some());
}
