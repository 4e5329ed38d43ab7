//! `list_threads`: threads by id, each described by its latest root checkpoint.
//!
//! The store may hold other tests' threads, so each case names its threads
//! `{prefix}-{n}` under a fresh unique prefix and lists with `after = prefix`: no foreign id
//! sorts between the prefix and its threads, so the first results are the case's own, and the
//! results are then filtered to the prefix.

use std::time::Duration;

use serde_json::json;

use crate::{
    Checkpointer, PendingWrite, ThreadId, ThreadInfo, ThreadQuery, ThreadStatus, from_micros,
};

use super::fixtures::*;

/// `n` fresh thread ids sharing a unique prefix, in id order, and the prefix.
fn family(label: &str, n: usize) -> (ThreadId, Vec<ThreadId>) {
    let prefix = thread(label);
    let ids = (0..n)
        .map(|i| ThreadId::new(format!("{prefix}-{i:03}")))
        .collect();
    (prefix, ids)
}

/// `list_threads` with `after = prefix` and `query`'s other fields, restricted to the family.
async fn own<C: Checkpointer + ?Sized>(
    saver: &C,
    prefix: &ThreadId,
    query: ThreadQuery,
) -> Vec<ThreadInfo> {
    let query = ThreadQuery {
        after: Some(query.after.unwrap_or_else(|| prefix.clone())),
        ..query
    };
    let got = saver
        .list_threads(&query)
        .await
        .unwrap_or_else(|e| panic!("list_threads({query:?}) should succeed, but failed: {e}"));
    let ordered = got.windows(2).all(|w| w[0].thread_id < w[1].thread_id);
    assert!(ordered, "list_threads should return threads ordered by id");
    got.into_iter()
        .filter(|i| i.thread_id.as_str().starts_with(prefix.as_str()))
        .collect()
}

fn thread_ids(infos: &[ThreadInfo]) -> Vec<ThreadId> {
    infos.iter().map(|i| i.thread_id.clone()).collect()
}

/// A thread whose head schedules nothing is `Finished`; one whose head has `next` nodes is
/// `Pending`; the status follows the head, not earlier checkpoints.
pub async fn status_finished_and_pending<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-status", 3);
    checkpoint(&t[0], "").put_ok(saver).await;
    checkpoint(&t[1], "").next(&["n"]).put_ok(saver).await;
    let pending = checkpoint(&t[2], "").next(&["n"]).put_ok(saver).await;
    child(&pending).put_ok(saver).await;
    let got = own(saver, &prefix, ThreadQuery::default()).await;
    let status: Vec<_> = got
        .iter()
        .map(|i| (i.thread_id.clone(), i.status))
        .collect();
    assert_eq!(
        status,
        [
            (t[0].clone(), ThreadStatus::Finished),
            (t[1].clone(), ThreadStatus::Pending),
            (t[2].clone(), ThreadStatus::Finished),
        ],
        "status should be Pending exactly when the head has next nodes"
    );
}

/// The description is the latest root checkpoint's: its id, step and `created_at`.
pub async fn head_is_latest_root<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-head", 1);
    let chain = linear(saver, &t[0], "", 3).await;
    let got = own(saver, &prefix, ThreadQuery::default()).await;
    assert_eq!(
        got,
        [ThreadInfo::from_head(&chain[2], &[])],
        "the thread should be described by its latest checkpoint"
    );
}

/// Subgraph checkpoints do not describe a thread: a later checkpoint in namespace `sub` (even
/// a pending one) leaves the head at the root's latest, and a thread with only subgraph
/// checkpoints is not listed.
pub async fn subgraph_checkpoints_do_not_move_head<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-sub", 2);
    let root = checkpoint(&t[0], "").put_ok(saver).await;
    checkpoint(&t[0], "sub")
        .next(&["x"])
        .step(9)
        .put_ok(saver)
        .await;
    checkpoint(&t[1], "sub").put_ok(saver).await;
    let got = own(saver, &prefix, ThreadQuery::default()).await;
    assert_eq!(
        got,
        [ThreadInfo::from_head(&root, &[])],
        "only the root namespace describes a thread"
    );
}

/// Paging with `limit = 2` and `after` = the last id of the previous page walks the threads
/// in id order, each once.
pub async fn paging_after_and_limit<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-paging", 5);
    for id in &t {
        checkpoint(id, "").put_ok(saver).await;
    }
    let mut seen = Vec::new();
    let mut after = prefix.clone();
    for page in 0..3 {
        let got = own(
            saver,
            &prefix,
            ThreadQuery {
                after: Some(after.clone()),
                limit: Some(2),
                ..ThreadQuery::default()
            },
        )
        .await;
        let expected = &t[page * 2..(page * 2 + 2).min(5)];
        assert_eq!(
            thread_ids(&got),
            expected,
            "page {page} (after `{after}`, limit 2) should hold the next threads by id"
        );
        seen.extend(thread_ids(&got));
        after = seen.last().cloned().unwrap_or_else(|| prefix.clone());
    }
    assert_eq!(seen, t);
}

/// `updated_before` keeps the threads whose head is older than the given time.
pub async fn updated_before<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-updated", 3);
    let y2001 = from_micros(978_307_200_000_000);
    let y2002 = from_micros(1_009_843_200_000_000);
    checkpoint(&t[0], "").created_at(y2001).put_ok(saver).await;
    checkpoint(&t[1], "").created_at(y2002).put_ok(saver).await;
    checkpoint(&t[2], "").put_ok(saver).await;
    let query = |before| ThreadQuery {
        updated_before: Some(before),
        ..ThreadQuery::default()
    };
    let got = own(saver, &prefix, query(y2001 + Duration::from_secs(86_400))).await;
    assert_eq!(
        thread_ids(&got),
        &t[..1],
        "only the 2001 thread is older than 2001-01-02"
    );
    let got = own(saver, &prefix, query(y2002)).await;
    assert_eq!(
        thread_ids(&got),
        &t[..1],
        "updated_before is strict: a head at exactly that time is not older"
    );
    let got = own(saver, &prefix, query(from_micros(1_262_304_000_000_000))).await;
    assert_eq!(thread_ids(&got), &t[..2]);
    let got = own(saver, &prefix, ThreadQuery::default()).await;
    assert_eq!(thread_ids(&got), t);
}

/// The metadata `filter` keeps the threads whose latest root checkpoint's metadata has each
/// key with an equal value: strings, integers, floats, nested objects and arrays, `step`, and
/// keys no SQL would survive as text. An earlier checkpoint's metadata does not count, nor a
/// subgraph's; the limit counts matches; the filter combines with `status`.
pub async fn metadata_filter<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-metadata", 6);
    let hostile = "k'); DROP TABLE x; --\u{1}\"";
    let nested = json!({"team": ["a", "b"], "level": 2});
    checkpoint(&t[0], "")
        .user("tenant", "acme")
        .user("priority", 1)
        .user(hostile, true)
        .put_ok(saver)
        .await;
    checkpoint(&t[1], "")
        .next(&["n"])
        .user("tenant", "acme")
        .user("priority", 1.5)
        .user("owner", nested.clone())
        .put_ok(saver)
        .await;
    // Was `acme`, is now `globex`: the head decides.
    let moved = checkpoint(&t[2], "")
        .user("tenant", "acme")
        .put_ok(saver)
        .await;
    child(&moved).user("tenant", "globex").put_ok(saver).await;
    // Only a subgraph checkpoint says `acme`.
    let root = checkpoint(&t[3], "")
        .user("tenant", "initech")
        .put_ok(saver)
        .await;
    checkpoint(&t[3], "sub")
        .parent_ns("", root.id)
        .user("tenant", "acme")
        .put_ok(saver)
        .await;
    checkpoint(&t[4], "")
        .user("tenant", "acme")
        .user("owner", json!({"team": ["a", "b", "c"], "level": 2}))
        .user("priority", 2)
        .put_ok(saver)
        .await;
    checkpoint(&t[5], "").put_ok(saver).await;

    let by = |pairs: &[(&str, serde_json::Value)]| {
        pairs
            .iter()
            .fold(ThreadQuery::default(), |q, (k, v)| q.filter(*k, v.clone()))
    };
    let cases: Vec<(&str, ThreadQuery, Vec<ThreadId>)> = vec![
        (
            "a string",
            by(&[("tenant", json!("acme"))]),
            vec![t[0].clone(), t[1].clone(), t[4].clone()],
        ),
        (
            "the head's value",
            by(&[("tenant", json!("globex"))]),
            vec![t[2].clone()],
        ),
        (
            "an integer",
            by(&[("priority", json!(1))]),
            vec![t[0].clone()],
        ),
        (
            "a float",
            by(&[("priority", json!(1.5))]),
            vec![t[1].clone()],
        ),
        (
            "an object, exactly (not contained)",
            by(&[("owner", nested.clone())]),
            vec![t[1].clone()],
        ),
        (
            "a hostile key",
            by(&[(hostile, json!(true))]),
            vec![t[0].clone()],
        ),
        (
            "a value of another type",
            by(&[("priority", json!("1"))]),
            vec![],
        ),
        ("a missing key", by(&[("nobody", json!(null))]), vec![]),
        (
            "a NUL character",
            by(&[("tenant", json!("ac\u{0}me"))]),
            vec![],
        ),
        (
            "two keys",
            by(&[("tenant", json!("acme")), ("priority", json!(2))]),
            vec![t[4].clone()],
        ),
        (
            "with a status",
            by(&[("tenant", json!("acme"))]).status(ThreadStatus::Pending),
            vec![t[1].clone()],
        ),
        (
            "with `step`",
            by(&[("tenant", json!("globex")), ("step", json!(0))]),
            vec![t[2].clone()],
        ),
    ];
    for (what, query, want) in cases {
        let got = own(saver, &prefix, query.clone()).await;
        assert_eq!(thread_ids(&got), want, "filter by {what}: {query:?}");
    }
    // The limit counts matches, whether SQL or the re-check decides them.
    for value in [json!("acme"), json!({"team": ["a", "b"], "level": 2})] {
        let key = if value.is_string() { "tenant" } else { "owner" };
        let first = own(
            saver,
            &prefix,
            ThreadQuery::default().filter(key, value.clone()).limit(1),
        )
        .await;
        let want = if value.is_string() { &t[0] } else { &t[1] };
        assert_eq!(
            thread_ids(&first),
            std::slice::from_ref(want),
            "a limit of 1 with filter {key} = {value} should return the first match"
        );
    }
}

/// The `status` filter keeps only threads in that status.
pub async fn status_filter<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-status-filter", 4);
    for (n, id) in t.iter().enumerate() {
        let cp = checkpoint(id, "");
        let cp = if n % 2 == 0 { cp.next(&["n"]) } else { cp };
        cp.put_ok(saver).await;
    }
    let query = |status| ThreadQuery {
        status: Some(status),
        ..ThreadQuery::default()
    };
    let pending = own(saver, &prefix, query(ThreadStatus::Pending)).await;
    assert_eq!(thread_ids(&pending), [t[0].clone(), t[2].clone()]);
    let finished = own(saver, &prefix, query(ThreadStatus::Finished)).await;
    assert_eq!(thread_ids(&finished), [t[1].clone(), t[3].clone()]);
    let limited = own(
        saver,
        &prefix,
        ThreadQuery {
            limit: Some(1),
            ..query(ThreadStatus::Finished)
        },
    )
    .await;
    assert_eq!(
        thread_ids(&limited),
        [t[1].clone()],
        "the limit applies after the status filter"
    );
}

/// A pending head whose writes hold a task's question without a result is `interrupted`; one
/// whose writes hold a task's error without a result is `errored` (a question wins over an
/// error); a task that asked or failed and then finished counts for neither. The status
/// filter and the limit apply to these as to the others.
pub async fn status_interrupted_and_errored<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-interrupted", 9);
    let question = |task| PendingWrite {
        task_id: task,
        node: "review".to_owned(),
        idx: PendingWrite::INTERRUPT_IDX,
        channel: PendingWrite::INTERRUPT.to_owned(),
        value: encode(&json!({"index": 0, "payload": "ok?"})),
    };
    let heads: Vec<_> = futures::future::join_all(
        t.iter()
            .map(|id| checkpoint(id, "").next(&["review", "other"]).put_ok(saver)),
    )
    .await;
    let (asked, done) = (task(), task());
    // 0: asked; 1: failed; 2: asked and failed; 3: asked, then finished; 4: failed, then
    // finished; 5: only a finished task; 6: asked and answered (the run was cut short); 7:
    // asked, answered, then failed; 8: asked call 1, with only call 0 answered.
    let answers = |task, answers: serde_json::Value| PendingWrite {
        task_id: task,
        node: "review".to_owned(),
        idx: PendingWrite::RESUME_IDX,
        channel: PendingWrite::RESUME.to_owned(),
        value: encode(&answers),
    };
    put_writes_ok(saver, &heads[0], vec![question(asked)]).await;
    put_writes_ok(saver, &heads[1], vec![error_write(asked, "boom")]).await;
    put_writes_ok(
        saver,
        &heads[2],
        vec![error_write(done, "boom"), question(asked)],
    )
    .await;
    put_writes_ok(
        saver,
        &heads[3],
        vec![question(asked), write(asked, 0, "x", json!(1))],
    )
    .await;
    put_writes_ok(
        saver,
        &heads[4],
        vec![error_write(asked, "boom"), write(asked, 0, "x", json!(1))],
    )
    .await;
    put_writes_ok(saver, &heads[5], vec![write(done, 0, "x", json!(1))]).await;
    // An answer may be JSON null: it is an answer all the same.
    put_writes_ok(
        saver,
        &heads[6],
        vec![question(asked), answers(asked, json!({"0": null}))],
    )
    .await;
    put_writes_ok(
        saver,
        &heads[7],
        vec![
            question(asked),
            answers(asked, json!({"0": true})),
            error_write(asked, "boom"),
        ],
    )
    .await;
    let second = PendingWrite {
        value: encode(&json!({"index": 1, "payload": "sure?"})),
        ..question(asked)
    };
    put_writes_ok(
        saver,
        &heads[8],
        vec![second, answers(asked, json!({"0": true}))],
    )
    .await;
    let all = own(saver, &prefix, ThreadQuery::default()).await;
    let statuses: Vec<ThreadStatus> = all.iter().map(|info| info.status).collect();
    assert_eq!(
        statuses,
        [
            ThreadStatus::Interrupted,
            ThreadStatus::Errored,
            ThreadStatus::Interrupted,
            ThreadStatus::Pending,
            ThreadStatus::Pending,
            ThreadStatus::Pending,
            ThreadStatus::Pending,
            ThreadStatus::Errored,
            ThreadStatus::Interrupted,
        ],
        "statuses of threads 0..8"
    );
    let query = |status| ThreadQuery {
        status: Some(status),
        ..ThreadQuery::default()
    };
    let interrupted = own(saver, &prefix, query(ThreadStatus::Interrupted)).await;
    assert_eq!(
        thread_ids(&interrupted),
        [t[0].clone(), t[2].clone(), t[8].clone()]
    );
    let errored = own(saver, &prefix, query(ThreadStatus::Errored)).await;
    assert_eq!(thread_ids(&errored), [t[1].clone(), t[7].clone()]);
    let first = own(
        saver,
        &prefix,
        ThreadQuery {
            limit: Some(1),
            after: Some(t[0].clone()),
            ..query(ThreadStatus::Interrupted)
        },
    )
    .await;
    assert_eq!(thread_ids(&first), [t[2].clone()]);
}

/// A pending head marked by an expiry policy (channel `__expired__`) is `expired`, whatever
/// else its writes hold; the status filter finds it.
pub async fn status_expired<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-expired", 2);
    let mark = |task| PendingWrite {
        task_id: task,
        node: PendingWrite::EXPIRED.to_owned(),
        idx: PendingWrite::EXPIRED_IDX,
        channel: PendingWrite::EXPIRED.to_owned(),
        value: encode(&json!({"at": 1})),
    };
    for id in &t {
        let head = checkpoint(id, "").next(&["review"]).put_ok(saver).await;
        let question = PendingWrite {
            task_id: task(),
            node: "review".to_owned(),
            idx: PendingWrite::INTERRUPT_IDX,
            channel: PendingWrite::INTERRUPT.to_owned(),
            value: encode(&json!({"index": 0})),
        };
        put_writes_ok(saver, &head, vec![question]).await;
        if *id == t[1] {
            put_writes_ok(saver, &head, vec![mark(task())]).await;
        }
    }
    let all = own(saver, &prefix, ThreadQuery::default()).await;
    let statuses: Vec<ThreadStatus> = all.iter().map(|info| info.status).collect();
    assert_eq!(statuses, [ThreadStatus::Interrupted, ThreadStatus::Expired]);
    let expired = own(
        saver,
        &prefix,
        ThreadQuery {
            status: Some(ThreadStatus::Expired),
            ..ThreadQuery::default()
        },
    )
    .await;
    assert_eq!(thread_ids(&expired), [t[1].clone()]);
}

/// A deleted thread is no longer listed.
pub async fn deleted_thread_disappears<C: Checkpointer + ?Sized>(saver: &C) {
    let (prefix, t) = family("threads-deleted", 2);
    checkpoint(&t[0], "").put_ok(saver).await;
    checkpoint(&t[1], "").put_ok(saver).await;
    saver
        .delete_thread(&t[0])
        .await
        .unwrap_or_else(|e| panic!("delete_thread failed: {e}"));
    let got = own(saver, &prefix, ThreadQuery::default()).await;
    assert_eq!(thread_ids(&got), [t[1].clone()]);
}

/// A thread whose stored head cannot be read does not break a listing of every thread — nor a
/// filtered one, nor a retention or expiry sweep built on it: it is left out (and reported),
/// the others are listed as ever. Not one of the kit's cases, since only the backend can break
/// its own storage: a backend's tests call it with `corrupt`, which damages the stored head of
/// the thread it is given (a row, a record, an object) as a bad disk or a stray write would.
pub async fn listing_skips_an_unreadable_thread<C, F, Fut>(saver: &C, corrupt: F)
where
    C: Checkpointer + ?Sized,
    F: FnOnce(ThreadId) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (prefix, ids) = family("threads-corrupt", 3);
    for id in &ids {
        checkpoint(id, "").user("team", "blue").put_ok(saver).await;
    }
    corrupt(ids[1].clone()).await;
    let readable = [ids[0].clone(), ids[2].clone()];
    for query in [
        ThreadQuery::default(),
        ThreadQuery::default().filter("team", "blue"),
        ThreadQuery::default().status(ThreadStatus::Finished),
        ThreadQuery::default().limit(1),
    ] {
        let mut listed = Vec::new();
        let mut page = query.clone().after(prefix.clone());
        loop {
            let got = saver.list_threads(&page).await.unwrap_or_else(|e| {
                panic!("list_threads({query:?}) with an unreadable thread should succeed: {e}")
            });
            let Some(last) = got.last() else { break };
            page = page.after(last.thread_id.clone());
            listed.extend(
                got.into_iter()
                    .filter(|t| t.thread_id.as_str().starts_with(prefix.as_str())),
            );
        }
        let listed: Vec<ThreadId> = listed
            .into_iter()
            .map(|t| t.thread_id)
            .filter(|t| *t != ids[1])
            .collect();
        assert_eq!(
            listed, readable,
            "{query:?}: every readable thread is listed, paging on to an empty page"
        );
    }
    let report = crate::apply_retention(
        saver,
        &crate::Retention::new().keep_latest_after(Duration::ZERO),
        crate::now() + Duration::from_secs(1),
        true,
    )
    .await
    .unwrap_or_else(|e| panic!("a retention sweep over an unreadable thread: {e}"));
    for id in &readable {
        assert!(report.pruned.contains(id), "the sweep reaches {id}");
    }
}
