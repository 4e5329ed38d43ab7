//! `put_writes`: a task's writes, saved against the checkpoint its step started from
//! (LangGraph's 10 PUT_WRITES cases, plus insert-or-ignore vs. replace and ordering).
//!
//! Writes are keyed by (thread, namespace, checkpoint, task, index). A regular write
//! (index ≥ 0) is insert-or-ignore: the first one stored stays. A write at a negative index (an
//! error) replaces the earlier one. `get` and `list` return a checkpoint's writes ordered by
//! task id, then index.

use serde_json::json;

use crate::{Checkpointer, PendingWrite, TaskId};

use super::fixtures::*;

/// One write comes back exactly: `(task, 0, "channel1", "value1")`.
pub async fn basic<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-basic");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    put_writes_ok(
        saver,
        &cp,
        vec![write(task, 0, "channel1", json!("value1"))],
    )
    .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        writes(&got),
        [(task, 0, "channel1".to_owned(), json!("value1"))],
        "exactly the one write stored should come back"
    );
}

/// Three writes of one task in one call come back as three, each with its channel and value.
pub async fn multiple_writes_same_task<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-multi");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    put_writes_ok(
        saver,
        &cp,
        vec![
            write(task, 0, "ch1", json!("v1")),
            write(task, 1, "ch2", json!(2)),
            write(task, 2, "ch3", json!(["v", 3])),
        ],
    )
    .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        writes(&got),
        [
            (task, 0, "ch1".to_owned(), json!("v1")),
            (task, 1, "ch2".to_owned(), json!(2)),
            (task, 2, "ch3".to_owned(), json!(["v", 3])),
        ]
    );
}

/// Two tasks writing the same channel give two writes, each with its task's value.
pub async fn multiple_tasks<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-tasks");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let (a, b) = (task(), task());
    put_writes_ok(saver, &cp, vec![write(a, 0, "ch", json!("from a"))]).await;
    put_writes_ok(saver, &cp, vec![write(b, 0, "ch", json!("from b"))]).await;
    let got = writes(&must_get(saver, &t, "", Some(cp.id)).await);
    assert_eq!(
        got.len(),
        2,
        "two tasks' writes should both be stored: {got:?}"
    );
    assert!(got.contains(&(a, 0, "ch".to_owned(), json!("from a"))));
    assert!(got.contains(&(b, 0, "ch".to_owned(), json!("from b"))));
}

/// The task id and the node name round-trip.
pub async fn preserves_task_id_and_node<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-task-id");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = TaskId::derive(cp.id, "", 0, "my_node");
    let mut w = write(task, 0, "ch", json!(1));
    w.node = "my_node".to_owned();
    put_writes_ok(saver, &cp, vec![w.clone()]).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(got.pending_writes.len(), 1);
    assert_eq!(
        got.pending_writes[0].task_id, task,
        "the task id should round-trip"
    );
    assert_eq!(
        got.pending_writes[0].node, "my_node",
        "the node should round-trip"
    );
    assert_eq!(got.pending_writes[0].idx, 0);
}

/// The channel and a nested JSON object value round-trip.
pub async fn preserves_channel_and_value<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-value");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    let value = json!({"key": "value", "nested": {"list": [1, 2.5, null, true], "s": "ü'\""}});
    put_writes_ok(
        saver,
        &cp,
        vec![write(task, 0, "my_channel", value.clone())],
    )
    .await;
    let got = writes(&must_get(saver, &t, "", Some(cp.id)).await);
    assert_eq!(got, [(task, 0, "my_channel".to_owned(), value)]);
}

/// The same write stored twice is stored once.
pub async fn idempotent<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-idempotent");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    let batch = vec![
        write(task, 0, "ch", json!("v")),
        write(task, 1, "ch2", json!("w")),
    ];
    put_writes_ok(saver, &cp, batch.clone()).await;
    put_writes_ok(saver, &cp, batch).await;
    let got = writes(&must_get(saver, &t, "", Some(cp.id)).await);
    assert_eq!(
        got.len(),
        2,
        "re-saving the same (task, index) writes should not duplicate them: {got:?}"
    );
}

/// A regular write (index ≥ 0) is insert-or-ignore: a second write at the same task and index
/// with another value leaves the first value.
pub async fn regular_write_is_insert_or_ignore<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-ignore");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    put_writes_ok(saver, &cp, vec![write(task, 0, "ch", json!("first"))]).await;
    put_writes_ok(saver, &cp, vec![write(task, 0, "ch", json!("second"))]).await;
    let got = writes(&must_get(saver, &t, "", Some(cp.id)).await);
    assert_eq!(
        got,
        [(task, 0, "ch".to_owned(), json!("first"))],
        "a regular write is insert-or-ignore: the first value stays"
    );
}

/// An error write (negative index) replaces the task's earlier error write, so a task retried
/// and failing again records its latest error, once.
pub async fn error_write_replaces_earlier<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-error");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    put_writes_ok(saver, &cp, vec![error_write(task, "boom 1")]).await;
    put_writes_ok(saver, &cp, vec![error_write(task, "boom 2")]).await;
    let got = writes(&must_get(saver, &t, "", Some(cp.id)).await);
    assert_eq!(
        got,
        [(
            task,
            PendingWrite::ERROR_IDX,
            PendingWrite::ERROR.to_owned(),
            json!("boom 2")
        )],
        "a later error write should replace the earlier one"
    );
}

/// Special channels in one call — an error (`__error__`, index -1), an interrupt
/// (`__interrupt__`, index -3) and `__no_writes__` — are all stored with their values.
pub async fn special_channels<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-special");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let (a, b) = (task(), task());
    put_writes_ok(
        saver,
        &cp,
        vec![
            error_write(a, "failed"),
            write(
                a,
                -3,
                "__interrupt__",
                json!({"value": "approve?", "id": "i1"}),
            ),
        ],
    )
    .await;
    put_writes_ok(
        saver,
        &cp,
        vec![write(b, 0, PendingWrite::NO_WRITES, json!(null))],
    )
    .await;
    let got = writes(&must_get(saver, &t, "", Some(cp.id)).await);
    assert_eq!(
        got.len(),
        3,
        "all three special writes should be stored: {got:?}"
    );
    assert!(got.contains(&(a, -1, "__error__".to_owned(), json!("failed"))));
    assert!(got.contains(&(
        a,
        -3,
        "__interrupt__".to_owned(),
        json!({"value": "approve?", "id": "i1"})
    )));
    assert!(got.contains(&(b, 0, "__no_writes__".to_owned(), json!(null))));
}

/// The interrupt protocol: a task's question (channel `__interrupt__`, index -2), its answers
/// (`__resume__`, -3), the ids of the questions they answered (`__answered__`, -4) and its
/// `once` results (`__once__`, -6) are each replaced by a later write of the same task, stay
/// beside its error (-1) and regular writes, and come back ordered by task and index.
pub async fn interrupt_and_answers_replace_by_index<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-interrupt");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let a = task();
    let special = |idx: i32, channel: &str, value: serde_json::Value| PendingWrite {
        task_id: a,
        node: "review".to_owned(),
        idx,
        channel: channel.to_owned(),
        value: encode(&value),
    };
    let question = |n: u32| {
        special(
            PendingWrite::INTERRUPT_IDX,
            PendingWrite::INTERRUPT,
            json!({"index": n, "payload": format!("q{n}")}),
        )
    };
    let answers = |v: serde_json::Value| special(PendingWrite::RESUME_IDX, PendingWrite::RESUME, v);
    let once = |v: serde_json::Value| special(PendingWrite::ONCE_IDX, PendingWrite::ONCE, v);
    let answered =
        |v: serde_json::Value| special(PendingWrite::ANSWERED_IDX, PendingWrite::ANSWERED, v);
    put_writes_ok(saver, &cp, vec![question(0), once(json!({"0": 7}))]).await;
    put_writes_ok(
        saver,
        &cp,
        vec![answers(json!({"0": true})), answered(json!({"0": "q0"}))],
    )
    .await;
    put_writes_ok(
        saver,
        &cp,
        vec![question(1), once(json!({"0": 7, "1": "sent"}))],
    )
    .await;
    put_writes_ok(
        saver,
        &cp,
        vec![
            answers(json!({"0": true, "1": "x"})),
            answered(json!({"0": "q0", "1": "q1"})),
        ],
    )
    .await;
    put_writes_ok(
        saver,
        &cp,
        vec![error_write(a, "failed"), write(a, 0, "log", json!("done"))],
    )
    .await;
    let got = writes(&must_get(saver, &t, "", Some(cp.id)).await);
    assert_eq!(
        got,
        [
            (
                a,
                PendingWrite::ONCE_IDX,
                PendingWrite::ONCE.to_owned(),
                json!({"0": 7, "1": "sent"})
            ),
            (
                a,
                PendingWrite::ANSWERED_IDX,
                PendingWrite::ANSWERED.to_owned(),
                json!({"0": "q0", "1": "q1"})
            ),
            (
                a,
                PendingWrite::RESUME_IDX,
                PendingWrite::RESUME.to_owned(),
                json!({"0": true, "1": "x"})
            ),
            (
                a,
                PendingWrite::INTERRUPT_IDX,
                PendingWrite::INTERRUPT.to_owned(),
                json!({"index": 1, "payload": "q1"})
            ),
            (a, -1, PendingWrite::ERROR.to_owned(), json!("failed")),
            (a, 0, "log".to_owned(), json!("done")),
        ],
        "the latest `once` results, answered ids, answers and question, the error and the write, by index"
    );
}

/// Writes are stored per namespace: the root and `child:1` checkpoints each see exactly their
/// own write, even under the same task id.
pub async fn across_namespaces<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-ns");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let sub = checkpoint(&t, "child:1").put_ok(saver).await;
    let task = task();
    put_writes_ok(saver, &root, vec![write(task, 0, "ch", json!("root"))]).await;
    put_writes_ok(saver, &sub, vec![write(task, 0, "ch", json!("child"))]).await;
    assert_eq!(
        writes(&must_get(saver, &t, "", None).await),
        [(task, 0, "ch".to_owned(), json!("root"))]
    );
    assert_eq!(
        writes(&must_get(saver, &t, "child:1", None).await),
        [(task, 0, "ch".to_owned(), json!("child"))]
    );
}

/// Writes belong to one checkpoint: its child starts with none.
pub async fn cleared_on_next_checkpoint<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-cleared");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    put_writes_ok(saver, &cp, vec![write(task(), 0, "ch", json!(1))]).await;
    let next = child(&cp).put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(next.id)).await;
    assert!(
        got.pending_writes.is_empty(),
        "a new checkpoint should have no writes, got {:?}",
        writes(&got)
    );
    let parent = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(parent.pending_writes.len(), 1, "the parent keeps its write");
}

/// The writes of one step come back ordered by task id, then index (negative indexes first),
/// whatever order they were saved in.
pub async fn ordered_by_task_and_index<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-order");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let mut tasks: Vec<TaskId> = (0..4).map(|_| task()).collect();
    // Save the newest task first, each batch out of index order.
    for (n, &task) in tasks.iter().enumerate().rev() {
        let mut batch = vec![
            write(task, 2, "c", json!(format!("{n}-2"))),
            write(task, 0, "a", json!(format!("{n}-0"))),
            write(task, 1, "b", json!(format!("{n}-1"))),
        ];
        if n % 2 == 1 {
            batch.push(error_write(task, &format!("{n}-err")));
        }
        put_writes_ok(saver, &cp, batch).await;
    }
    tasks.sort();
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    let order: Vec<(TaskId, i32)> = got
        .pending_writes
        .iter()
        .map(|w| (w.task_id, w.idx))
        .collect();
    let mut expected = order.clone();
    expected.sort();
    assert_eq!(
        order, expected,
        "writes should be ordered by (task id, index)"
    );
    assert_eq!(order.len(), 14, "4 tasks × 3 writes + 2 errors");
    assert_eq!(order[0].0, tasks[0], "the smallest task id comes first");
}

/// Writes saved in separate calls accumulate.
pub async fn accumulate_across_calls<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-accumulate");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    put_writes_ok(saver, &cp, vec![write(task, 0, "a", json!(1))]).await;
    put_writes_ok(saver, &cp, vec![write(task, 1, "b", json!(2))]).await;
    put_writes_ok(saver, &cp, vec![error_write(task, "late")]).await;
    let got = writes(&must_get(saver, &t, "", Some(cp.id)).await);
    assert_eq!(
        got,
        [
            (task, -1, "__error__".to_owned(), json!("late")),
            (task, 0, "a".to_owned(), json!(1)),
            (task, 1, "b".to_owned(), json!(2)),
        ],
        "writes from separate calls should all be kept, ordered by index"
    );
}

/// An empty batch succeeds and stores nothing.
pub async fn empty_batch<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("writes-empty");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    put_writes_ok(saver, &cp, Vec::new()).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert!(got.pending_writes.is_empty());
    put_writes_ok(saver, &cp, vec![write(task(), 0, "ch", json!(1))]).await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(
        got.pending_writes.len(),
        1,
        "a write after an empty batch is stored"
    );
}
