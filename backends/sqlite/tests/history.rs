//! Puts against the thread's history, pending writes, and whole-thread operations.

mod support;

use serde_json::json;
use stategraph_runtime::{
    BlobKind, CheckpointError, CheckpointId, Checkpointer, ListQuery, PendingWrite, Prune, TaskId,
    ThreadId, ThreadQuery, ThreadStatus, from_micros, to_micros,
};
use support::{Step, TempSaver, chain};

fn write(task: TaskId, idx: i32, channel: &str, value: serde_json::Value) -> PendingWrite {
    PendingWrite {
        task_id: task,
        node: "node".to_owned(),
        idx,
        channel: channel.to_owned(),
        value: serde_json::to_vec(&value).unwrap(),
    }
}

fn task() -> TaskId {
    TaskId::from_uuid(uuid::Uuid::now_v7())
}

#[tokio::test]
async fn advance_with_a_stale_parent_is_a_conflict_and_stores_nothing() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    let ids = chain(&*saver, &thread, 2).await;

    let stale = Step::new(&thread, "", Some(ids[0])).snapshot("count", json!("stale"));
    let stale_id = stale.id();
    match saver.put(stale.build()).await {
        Err(CheckpointError::Conflict {
            thread_id,
            ns,
            expected,
            latest,
        }) => {
            assert_eq!(thread_id, thread);
            assert_eq!(ns, "");
            assert_eq!(expected, Some(ids[0]));
            assert_eq!(latest, Some(ids[1]));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        saver
            .get(&thread, "", Some(stale_id))
            .await
            .unwrap()
            .is_none()
    );
    let blobs: i64 = saver
        .raw()
        .query_row(
            "SELECT count(*) FROM stategraph_blobs WHERE version = ?1",
            [stale_id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(blobs, 0, "the conflicting put's blobs were rolled back too");

    // A first put must have no parent.
    let orphan = Step::new(&ThreadId::new("empty"), "", Some(ids[1]));
    assert!(matches!(
        saver.put(orphan.build()).await,
        Err(CheckpointError::Conflict { latest: None, .. })
    ));
}

#[tokio::test]
async fn namespaces_have_their_own_heads() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    let root = chain(&*saver, &thread, 1).await;
    let child = Step::new(&thread, "sub:1", None).snapshot("x", json!(1));
    saver.put(child.build()).await.unwrap();
    let next_root = Step::new(&thread, "", Some(root[0]));
    saver.put(next_root.build()).await.unwrap();
}

#[tokio::test]
async fn fork_needs_an_existing_parent_and_becomes_the_latest() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    let ids = chain(&*saver, &thread, 3).await;

    let missing = CheckpointId::new();
    let from_nowhere = Step::new(&thread, "", Some(missing)).fork();
    match saver.put(from_nowhere.build()).await {
        Err(CheckpointError::MissingParent { thread_id, parent }) => {
            assert_eq!(thread_id, thread);
            assert_eq!(parent, missing);
        }
        other => panic!("expected MissingParent, got {other:?}"),
    }

    let fork = Step::new(&thread, "", Some(ids[0]))
        .keep("count", ids[0])
        .fork();
    let fork_id = fork.id();
    saver.put(fork.build()).await.unwrap();
    let latest = saver.get(&thread, "", None).await.unwrap().unwrap();
    assert_eq!(latest.checkpoint.id, fork_id);
    assert_eq!(latest.checkpoint.parent_id, Some(ids[0]));
    assert_eq!(latest.channels["count"][0].data, b"0");
}

#[tokio::test]
async fn reserved_metadata_keys_are_refused() {
    let saver = TempSaver::new().await;
    for key in ["source", "step", "parents", "writes"] {
        let step = Step::new(&ThreadId::new("t"), "", None).user(key, json!(1));
        match saver.put(step.build()).await {
            Err(CheckpointError::ReservedMetadataKey(k)) => assert_eq!(k, key),
            other => panic!("expected ReservedMetadataKey({key}), got {other:?}"),
        }
    }
    assert!(saver.list(&ListQuery::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn delta_chains_come_back_snapshot_first() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    let first = Step::new(&thread, "", None).snapshot("log", json!(["a"]));
    let a = first.id();
    saver.put(first.build()).await.unwrap();
    let second = Step::new(&thread, "", Some(a)).delta("log", a, json!(["b"]));
    let b = second.id();
    saver.put(second.build()).await.unwrap();
    let third = Step::new(&thread, "", Some(b)).delta("log", b, json!(["c"]));
    let c = third.id();
    saver.put(third.build()).await.unwrap();

    let latest = saver.get(&thread, "", None).await.unwrap().unwrap();
    let log = &latest.channels["log"];
    let versions: Vec<_> = log.iter().map(|blob| blob.version).collect();
    assert_eq!(versions, [a, b, c]);
    assert_eq!(log[0].kind, BlobKind::Snapshot);
    assert_eq!(log[2].kind, BlobKind::Delta { base: b });
    // Older checkpoints in one page share blobs; each gets its own chain.
    let page = saver.list(&ListQuery::thread(thread)).await.unwrap();
    let lengths: Vec<_> = page.iter().map(|t| t.channels["log"].len()).collect();
    assert_eq!(lengths, [3, 2, 1]);
}

#[tokio::test]
async fn put_writes_keeps_the_first_regular_write_and_the_last_error() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    let ids = chain(&*saver, &thread, 1).await;
    let (t1, t2) = (task(), task());
    saver
        .put_writes(&thread, "", ids[0], vec![write(t1, 0, "a", json!(1))], None)
        .await
        .unwrap();
    saver
        .put_writes(
            &thread,
            "",
            ids[0],
            vec![
                write(t1, 0, "a", json!("ignored")),
                write(
                    t1,
                    PendingWrite::ERROR_IDX,
                    PendingWrite::ERROR,
                    json!("e1"),
                ),
                write(t2, 0, "b", json!(2)),
            ],
            None,
        )
        .await
        .unwrap();
    saver
        .put_writes(
            &thread,
            "",
            ids[0],
            vec![write(
                t1,
                PendingWrite::ERROR_IDX,
                PendingWrite::ERROR,
                json!("e2"),
            )],
            None,
        )
        .await
        .unwrap();
    let tuple = saver.get(&thread, "", None).await.unwrap().unwrap();
    let mut expected = vec![(t1, -1, json!("e2")), (t1, 0, json!(1)), (t2, 0, json!(2))];
    expected.sort_by_key(|(task, idx, _)| (*task, *idx));
    let got: Vec<_> = tuple
        .pending_writes
        .iter()
        .map(|w| {
            (
                w.task_id,
                w.idx,
                serde_json::from_slice::<serde_json::Value>(&w.value).unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn delete_thread_removes_every_row_of_that_thread_only() {
    let saver = TempSaver::new().await;
    let (gone, kept) = (ThreadId::new("gone"), ThreadId::new("kept"));
    let ids = chain(&*saver, &gone, 3).await;
    saver
        .put_writes(
            &gone,
            "",
            ids[2],
            vec![write(task(), 0, "a", json!(1))],
            None,
        )
        .await
        .unwrap();
    let sub = Step::new(&gone, "sub", None).snapshot("x", json!(1));
    saver.put(sub.build()).await.unwrap();
    chain(&*saver, &kept, 2).await;

    saver.delete_thread(&gone).await.unwrap();
    saver.delete_thread(&ThreadId::new("never")).await.unwrap();
    let raw = saver.raw();
    for table in [
        "stategraph_checkpoints",
        "stategraph_blobs",
        "stategraph_writes",
        "stategraph_threads",
    ] {
        let n: i64 = raw
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE thread_id = 'gone'"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    assert_eq!(saver.list(&ListQuery::thread(kept)).await.unwrap().len(), 2);
}

#[tokio::test]
async fn copy_thread_copies_every_namespace_and_refuses_a_used_destination() {
    let saver = TempSaver::new().await;
    let (from, to) = (ThreadId::new("from"), ThreadId::new("to"));
    let ids = chain(&*saver, &from, 3).await;
    let t = task();
    saver
        .put_writes(&from, "", ids[2], vec![write(t, 0, "a", json!(1))], None)
        .await
        .unwrap();
    let sub = Step::new(&from, "sub", None).snapshot("x", json!("sub"));
    saver.put(sub.build()).await.unwrap();

    saver.copy_thread(&from, &to).await.unwrap();
    let original = saver.list(&ListQuery::thread(from.clone())).await.unwrap();
    let copy = saver.list(&ListQuery::thread(to.clone())).await.unwrap();
    assert_eq!(copy.len(), 4);
    for (a, b) in original.iter().zip(&copy) {
        assert_eq!(a.checkpoint.id, b.checkpoint.id);
        assert_eq!(b.checkpoint.thread_id, to);
        assert_eq!(a.channels, b.channels);
        assert_eq!(a.pending_writes, b.pending_writes);
    }
    let threads = saver.list_threads(&ThreadQuery::default()).await.unwrap();
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[1].thread_id, to);
    assert_eq!(threads[1].head, ids[2]);

    match saver.copy_thread(&from, &to).await {
        Err(CheckpointError::ThreadExists(t)) => assert_eq!(t, to),
        other => panic!("expected ThreadExists, got {other:?}"),
    }
    saver
        .copy_thread(&ThreadId::new("nothing"), &ThreadId::new("empty"))
        .await
        .unwrap();
    assert!(
        saver
            .get(&ThreadId::new("empty"), "", None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn prune_keep_latest_keeps_the_head_of_each_namespace_with_its_chains() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    // count: snapshot at a, unchanged after; log: snapshot at a, deltas at b and c.
    let s1 = Step::new(&thread, "", None)
        .snapshot("count", json!(0))
        .snapshot("log", json!(["a"]));
    let a = s1.id();
    saver.put(s1.build()).await.unwrap();
    let s2 = Step::new(&thread, "", Some(a))
        .keep("count", a)
        .delta("log", a, json!(["b"]));
    let b = s2.id();
    saver.put(s2.build()).await.unwrap();
    let s3 = Step::new(&thread, "", Some(b))
        .keep("count", a)
        .delta("log", b, json!(["c"]))
        .snapshot("other", json!(1));
    let c = s3.id();
    saver.put(s3.build()).await.unwrap();
    let s4 = Step::new(&thread, "", Some(c))
        .keep("count", a)
        .delta("log", c, json!(["d"]));
    saver.put(s4.build()).await.unwrap();
    saver
        .put_writes(&thread, "", a, vec![write(task(), 0, "x", json!(1))], None)
        .await
        .unwrap();
    let sub1 = Step::new(&thread, "sub", None).snapshot("y", json!(1));
    let sub1_id = sub1.id();
    saver.put(sub1.build()).await.unwrap();
    let sub2 = Step::new(&thread, "sub", Some(sub1_id)).snapshot("y", json!(2));
    saver.put(sub2.build()).await.unwrap();
    let other = ThreadId::new("other");
    chain(&*saver, &other, 3).await;

    let before = saver.get(&thread, "", None).await.unwrap().unwrap();
    saver
        .prune(&[thread.clone(), ThreadId::new("never")], Prune::KeepLatest)
        .await
        .unwrap();
    let after = saver.get(&thread, "", None).await.unwrap().unwrap();
    assert_eq!(before.checkpoint, after.checkpoint);
    assert_eq!(before.channels, after.channels);
    let left = saver
        .list(&ListQuery::thread(thread.clone()))
        .await
        .unwrap();
    assert_eq!(left.len(), 2, "one per namespace");
    let raw = saver.raw();
    let count = |sql: &str| -> i64 { raw.query_row(sql, [], |r| r.get(0)).unwrap() };
    // count@a, log@a,b,c,d (the chain), sub's y@2; not other@c (dropped from the head).
    assert_eq!(
        count("SELECT count(*) FROM stategraph_blobs WHERE thread_id = 't'"),
        6
    );
    assert_eq!(
        count("SELECT count(*) FROM stategraph_writes WHERE thread_id = 't'"),
        0
    );
    assert_eq!(
        saver
            .list(&ListQuery::thread(other.clone()))
            .await
            .unwrap()
            .len(),
        3,
        "other threads are untouched"
    );

    saver
        .prune(std::slice::from_ref(&other), Prune::Delete)
        .await
        .unwrap();
    assert!(saver.get(&other, "", None).await.unwrap().is_none());
}

#[tokio::test]
async fn prune_refuses_to_cut_a_broken_chain_and_changes_nothing() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    let ids = chain(&*saver, &thread, 3).await;
    saver
        .raw()
        .execute(
            "DELETE FROM stategraph_blobs WHERE version = ?1",
            [ids[2].to_string()],
        )
        .unwrap();
    assert!(matches!(
        saver
            .prune(std::slice::from_ref(&thread), Prune::KeepLatest)
            .await,
        Err(CheckpointError::Corrupt { .. })
    ));
    let n: i64 = saver
        .raw()
        .query_row("SELECT count(*) FROM stategraph_checkpoints", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn list_threads_pages_by_id_and_filters_status_and_age() {
    let saver = TempSaver::new().await;
    for name in ["a", "b", "c", "d"] {
        let thread = ThreadId::new(name);
        let ids = chain(&*saver, &thread, 2).await;
        if name == "b" || name == "d" {
            let done = Step::new(&thread, "", Some(ids[1])).step(5).finished();
            saver.put(done.build()).await.unwrap();
        }
    }
    // Only subgraph checkpoints: not listed (no root checkpoint).
    let sub = Step::new(&ThreadId::new("e"), "sub", None);
    saver.put(sub.build()).await.unwrap();

    let all = saver.list_threads(&ThreadQuery::default()).await.unwrap();
    let names: Vec<_> = all.iter().map(|t| t.thread_id.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
    assert_eq!(all[1].status, ThreadStatus::Finished);
    assert_eq!(all[1].step, 5);
    assert_eq!(all[0].status, ThreadStatus::Pending);
    let head = saver
        .get(&ThreadId::new("a"), "", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all[0].head, head.checkpoint.id);
    assert_eq!(all[0].updated_at, head.checkpoint.created_at);

    let page = saver
        .list_threads(&ThreadQuery::default().after(ThreadId::new("a")).limit(2))
        .await
        .unwrap();
    let names: Vec<_> = page.iter().map(|t| t.thread_id.as_str()).collect();
    assert_eq!(names, ["b", "c"]);
    let finished = saver
        .list_threads(&ThreadQuery::default().status(ThreadStatus::Finished))
        .await
        .unwrap();
    let names: Vec<_> = finished.iter().map(|t| t.thread_id.as_str()).collect();
    assert_eq!(names, ["b", "d"]);

    // updated_before is exclusive, at sub-microsecond precision.
    let c_time = all[2].updated_at;
    let exactly = saver
        .list_threads(&ThreadQuery::default().updated_before(c_time))
        .await
        .unwrap();
    assert!(exactly.iter().all(|t| t.updated_at < c_time));
    assert!(!exactly.iter().any(|t| t.thread_id.as_str() == "c"));
    let just_after = c_time + std::time::Duration::from_nanos(1);
    assert_eq!(from_micros(to_micros(just_after)), c_time);
    let after = saver
        .list_threads(&ThreadQuery::default().updated_before(just_after))
        .await
        .unwrap();
    assert!(after.iter().any(|t| t.thread_id.as_str() == "c"));
    assert!(
        saver
            .list_threads(&ThreadQuery::default().limit(0))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn list_pages_newest_first_with_before_and_limit() {
    let saver = TempSaver::new().await;
    let thread = ThreadId::new("t");
    let ids = chain(&*saver, &thread, 10).await;
    chain(&*saver, &ThreadId::new("other"), 2).await;
    let page = saver
        .list(&ListQuery::thread(thread.clone()).limit(4))
        .await
        .unwrap();
    let got: Vec<_> = page.iter().map(|t| t.checkpoint.id).collect();
    assert_eq!(got, [ids[9], ids[8], ids[7], ids[6]]);
    let next = saver
        .list(&ListQuery::thread(thread.clone()).before(ids[6]).limit(4))
        .await
        .unwrap();
    let got: Vec<_> = next.iter().map(|t| t.checkpoint.id).collect();
    assert_eq!(got, [ids[5], ids[4], ids[3], ids[2]]);
    assert_eq!(saver.list(&ListQuery::default()).await.unwrap().len(), 12);
    assert!(
        saver
            .list(&ListQuery::default().limit(0))
            .await
            .unwrap()
            .is_empty()
    );
    let root_only = saver
        .list(&ListQuery::thread(thread).ns("sub"))
        .await
        .unwrap();
    assert!(root_only.is_empty());
}

#[tokio::test]
async fn a_copied_thread_lists_in_the_same_order_as_memory_saver() {
    // Copies share ids; ties are broken by thread then namespace, as MemorySaver does.
    let saver = TempSaver::new().await;
    let memory = stategraph_runtime::MemorySaver::new();
    let from = ThreadId::new("b-from");
    let ids = chain(&*saver, &from, 2).await;
    for tuple in saver
        .list(&ListQuery::thread(from.clone()))
        .await
        .unwrap()
        .into_iter()
        .rev()
    {
        let mut blobs = Vec::new();
        for chain in tuple.channels.values() {
            blobs.extend(chain.iter().cloned());
        }
        memory
            .put(stategraph_runtime::NewCheckpoint {
                checkpoint: tuple.checkpoint,
                blobs,
                mode: stategraph_runtime::PutMode::Fork,
                epoch: None,
            })
            .await
            .unwrap();
    }
    for to in ["a-to", "c-to"] {
        saver.copy_thread(&from, &ThreadId::new(to)).await.unwrap();
        memory.copy_thread(&from, &ThreadId::new(to)).await.unwrap();
    }
    let ours: Vec<_> = saver
        .list(&ListQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.checkpoint.id, t.checkpoint.thread_id))
        .collect();
    let theirs: Vec<_> = memory
        .list(&ListQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.checkpoint.id, t.checkpoint.thread_id))
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours[0].0, ids[1]);
}
