//! Concurrent use: many threads written at once (a backend must neither fail — "database is
//! locked" — nor mix threads up), and many tasks writing to one checkpoint at once.
//!
//! The calls run concurrently as futures joined on the case's task, so a backend that does
//! its I/O asynchronously (or on a blocking pool) has them in flight together.

use futures::future::join_all;
use serde_json::json;

use crate::{Checkpointer, ListQuery, TaskId};

use super::fixtures::*;

/// 32 threads, each advanced three times, all at once: every put succeeds and each thread
/// reads back exactly its own history and values.
pub async fn puts_to_many_threads<C: Checkpointer + ?Sized>(saver: &C) {
    let threads: Vec<_> = (0..32).map(|n| (n, thread(&format!("many-{n}")))).collect();
    join_all(threads.iter().map(|(n, t)| async move {
        let mut head = checkpoint(t, "")
            .snapshot("owner", json!(t.as_str()))
            .snapshot("n", json!(n))
            .put_ok(saver)
            .await;
        for step in 0..2 {
            head = child(&head)
                .snapshot("n", json!(n * 100 + step))
                .put_ok(saver)
                .await;
        }
    }))
    .await;
    for (n, t) in &threads {
        let history = list_ok(saver, &ListQuery::thread(t.clone())).await;
        assert_eq!(
            history.len(),
            3,
            "thread {n} should have exactly its 3 checkpoints"
        );
        assert!(history.iter().all(|c| &c.checkpoint.thread_id == t));
        let head = &history[0];
        assert_eq!(
            value(head, "owner"),
            json!(t.as_str()),
            "thread {n} read another's value"
        );
        assert_eq!(value(head, "n"), json!(n * 100 + 1));
        assert_eq!(value(&history[2], "n"), json!(n));
    }
}

/// 32 threads, each with four tasks saving writes at once: each thread's checkpoint reads back
/// exactly its own 8 writes.
pub async fn put_writes_to_many_threads<C: Checkpointer + ?Sized>(saver: &C) {
    let mut heads = Vec::new();
    for n in 0..32 {
        let t = thread(&format!("many-writes-{n}"));
        heads.push(checkpoint(&t, "").put_ok(saver).await);
    }
    let tasks: Vec<TaskId> = (0..4).map(|_| task()).collect();
    join_all(heads.iter().flat_map(|head| {
        tasks.iter().map(move |&task| {
            let label = format!("{}", head.thread_id);
            put_writes_ok(
                saver,
                head,
                vec![
                    write(task, 0, "owner", json!(label)),
                    write(task, 1, "task", json!(task.to_string())),
                ],
            )
        })
    }))
    .await;
    for head in &heads {
        let got = must_get(saver, &head.thread_id, "", Some(head.id)).await;
        assert_eq!(
            got.pending_writes.len(),
            8,
            "thread `{}` should have exactly its 4 tasks × 2 writes",
            head.thread_id
        );
        for w in &got.pending_writes {
            if w.channel == "owner" {
                assert_eq!(decode(&w.value), json!(head.thread_id.as_str()));
            }
        }
    }
}

/// 16 tasks saving writes to one checkpoint at once: all 32 writes are stored, ordered by
/// task and index.
pub async fn concurrent_writes_same_checkpoint<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("same-checkpoint");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let tasks: Vec<TaskId> = (0..16).map(|_| task()).collect();
    join_all(tasks.iter().map(|&task| {
        put_writes_ok(
            saver,
            &cp,
            vec![
                write(task, 0, "a", json!(task.to_string())),
                write(task, 1, "b", json!(1)),
            ],
        )
    }))
    .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    let keys: Vec<(TaskId, i32)> = got
        .pending_writes
        .iter()
        .map(|w| (w.task_id, w.idx))
        .collect();
    let mut expected: Vec<(TaskId, i32)> = tasks.iter().flat_map(|&t| [(t, 0), (t, 1)]).collect();
    expected.sort();
    assert_eq!(keys, expected, "all 32 writes, ordered by (task, index)");
}
