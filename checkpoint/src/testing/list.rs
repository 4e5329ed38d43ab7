//! `list`: checkpoints matching a query, newest first (LangGraph's 16 LIST cases, the JS
//! suite's filter matrix, and listings across threads).
//!
//! Most cases use the same data: four chained checkpoints on a fresh thread with
//! sources input / loop / input / loop and steps 0–3.

use serde_json::json;

use crate::{Checkpoint, CheckpointId, Checkpointer, ListQuery, Source, ThreadId};

use super::fixtures::*;

/// Four chained checkpoints on a fresh thread: sources input, loop, input, loop; steps 0–3.
async fn four<C: Checkpointer + ?Sized>(saver: &C, label: &str) -> (ThreadId, Vec<CheckpointId>) {
    let t = thread(label);
    let chain = chain(
        saver,
        &t,
        "",
        &[
            (Source::Input, 0),
            (Source::Loop, 1),
            (Source::Input, 2),
            (Source::Loop, 3),
        ],
    )
    .await;
    (t, checkpoint_ids(&chain))
}

/// Reverses `ids` (insertion order) into the newest-first order `list` returns.
fn newest_first(ids: &[CheckpointId]) -> Vec<CheckpointId> {
    ids.iter().rev().copied().collect()
}

/// A listing across every thread (`thread_id: None`) holds the case's four checkpoints.
pub async fn all<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, ids) = four(saver, "list-all").await;
    let got = only_threads(list_ok(saver, &ListQuery::default()).await, &[&t]);
    assert_eq!(
        super::fixtures::ids(&got),
        newest_first(&ids),
        "a listing of every thread should hold this thread's 4 checkpoints, newest first"
    );
}

/// Listing by thread: an unknown thread gives 0, the real thread 4.
pub async fn by_thread<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, _) = four(saver, "list-thread").await;
    let unknown = list_ok(saver, &ListQuery::thread(thread("list-unknown"))).await;
    assert!(unknown.is_empty(), "an unknown thread should list nothing");
    let got = list_ok(saver, &ListQuery::thread(t.clone())).await;
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|c| c.checkpoint.thread_id == t));
}

/// Listing by namespace: `""` and `"child:1"` each give their one checkpoint.
pub async fn by_namespace<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("list-ns");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let sub = checkpoint(&t, "child:1").put_ok(saver).await;
    let got = list_ok(saver, &ListQuery::thread(t.clone()).ns("")).await;
    assert_eq!(super::fixtures::ids(&got), [root.id]);
    let got = list_ok(saver, &ListQuery::thread(t.clone()).ns("child:1")).await;
    assert_eq!(super::fixtures::ids(&got), [sub.id]);
    assert_eq!(got[0].checkpoint.ns, "child:1");
}

/// Results are newest first: exactly the reverse of insertion order.
pub async fn ordering<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, ids) = four(saver, "list-order").await;
    let got = list_ok(saver, &ListQuery::thread(t)).await;
    assert_eq!(
        super::fixtures::ids(&got),
        newest_first(&ids),
        "list should return newest first"
    );
}

/// Filter `{source: "input"}` gives the two input checkpoints.
pub async fn filter_single_key<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, ids) = four(saver, "list-filter").await;
    let got = list_ok(saver, &ListQuery::thread(t).filter("source", "input")).await;
    assert_eq!(super::fixtures::ids(&got), [ids[2], ids[0]]);
}

/// Filter `{step: 1}` gives the one checkpoint of step 1.
pub async fn filter_step<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, ids) = four(saver, "list-step").await;
    let got = list_ok(saver, &ListQuery::thread(t).filter("step", 1)).await;
    assert_eq!(super::fixtures::ids(&got), [ids[1]]);
}

/// Filter on two keys: (input, 1), (loop, 1), (input, 2) filtered by
/// `{source: "input", step: 2}` gives exactly the third.
pub async fn filter_multiple_keys<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("list-multi-key");
    let c = chain(
        saver,
        &t,
        "",
        &[(Source::Input, 1), (Source::Loop, 1), (Source::Input, 2)],
    )
    .await;
    let got = list_ok(
        saver,
        &ListQuery::thread(t)
            .filter("source", "input")
            .filter("step", 2),
    )
    .await;
    assert_eq!(super::fixtures::ids(&got), [c[2].id]);
}

/// A filter nothing matches gives 0.
pub async fn filter_no_match<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, _) = four(saver, "list-no-match").await;
    let got = list_ok(
        saver,
        &ListQuery::thread(t)
            .filter("source", "update")
            .filter("step", 99),
    )
    .await;
    assert!(
        got.is_empty(),
        "no checkpoint has source update and step 99"
    );
}

/// User keys are filterable: `{score: 42}` gives the one checkpoint with it, whose `run_id`
/// is `run-abc`.
pub async fn filter_custom_keys<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("list-custom");
    let first = checkpoint(&t, "")
        .user("score", 42)
        .user("run_id", "run-abc")
        .put_ok(saver)
        .await;
    child(&first).user("score", 99).put_ok(saver).await;
    let got = list_ok(saver, &ListQuery::thread(t).filter("score", 42)).await;
    assert_eq!(super::fixtures::ids(&got), [first.id]);
    assert_eq!(
        got[0].checkpoint.metadata.user.get("run_id"),
        Some(&json!("run-abc"))
    );
}

/// `before = ids[2]` gives exactly `ids[1]`, `ids[0]`.
pub async fn before<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, ids) = four(saver, "list-before").await;
    let got = list_ok(saver, &ListQuery::thread(t).before(ids[2])).await;
    assert_eq!(
        super::fixtures::ids(&got),
        [ids[1], ids[0]],
        "before is strict: only ids older than ids[2]"
    );
}

/// `limit` 1 gives the newest; `limit` 2 the two newest.
pub async fn limit<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, ids) = four(saver, "list-limit").await;
    let got = list_ok(saver, &ListQuery::thread(t.clone()).limit(1)).await;
    assert_eq!(super::fixtures::ids(&got), [ids[3]]);
    let got = list_ok(saver, &ListQuery::thread(t).limit(2)).await;
    assert_eq!(super::fixtures::ids(&got), [ids[3], ids[2]]);
}

/// `before = ids[3], limit = 1` gives exactly `ids[2]`: newest first, then the limit.
pub async fn limit_plus_before<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, ids) = four(saver, "list-limit-before").await;
    let got = list_ok(saver, &ListQuery::thread(t).before(ids[3]).limit(1)).await;
    assert_eq!(super::fixtures::ids(&got), [ids[2]]);
}

/// A thread and a filter together: `{source: "loop"}` gives the two loop checkpoints.
pub async fn thread_and_filter<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, ids) = four(saver, "list-thread-filter").await;
    let (other, _) = four(saver, "list-thread-filter-other").await;
    let got = list_ok(saver, &ListQuery::thread(t).filter("source", "loop")).await;
    assert_eq!(super::fixtures::ids(&got), [ids[3], ids[1]]);
    assert!(got.iter().all(|c| c.checkpoint.thread_id != other));
}

/// An unknown thread with a filter gives 0.
pub async fn empty_result<C: Checkpointer + ?Sized>(saver: &C) {
    four(saver, "list-empty").await;
    let got = list_ok(
        saver,
        &ListQuery::thread(thread("list-empty-unknown")).filter("source", "input"),
    )
    .await;
    assert!(got.is_empty());
}

/// Listed checkpoints carry their pending writes.
pub async fn includes_pending_writes<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("list-writes");
    let cp = checkpoint(&t, "").put_ok(saver).await;
    let task = task();
    put_writes_ok(saver, &cp, vec![write(task, 0, "ch", json!("val"))]).await;
    let got = list_ok(saver, &ListQuery::thread(t)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(writes(&got[0]), [(task, 0, "ch".to_owned(), json!("val"))]);
}

/// Listed checkpoints carry the same channel blobs `get` returns, including channels carried
/// over from an ancestor.
pub async fn includes_channels<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("list-channels");
    let first = checkpoint(&t, "")
        .snapshot("a", json!("a1"))
        .snapshot("b", json!("b1"))
        .put_ok(saver)
        .await;
    child(&first).snapshot("b", json!("b2")).put_ok(saver).await;
    let listed = list_ok(saver, &ListQuery::thread(t.clone())).await;
    assert_eq!(listed.len(), 2);
    for tuple in &listed {
        let got = must_get(saver, &t, "", Some(tuple.checkpoint.id)).await;
        assert_eq!(
            values(tuple),
            values(&got),
            "list and get should return the same channels for {}",
            tuple.checkpoint.id
        );
    }
    assert_eq!(value(&listed[0], "a"), json!("a1"));
    assert_eq!(value(&listed[0], "b"), json!("b2"));
    assert_eq!(value(&listed[1], "b"), json!("b1"));
}

/// Namespaces `""`, `child:1`, `child:2`: ns `""` gives exactly 1; no ns gives all 3.
pub async fn multiple_namespaces<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("list-multi-ns");
    let root = checkpoint(&t, "").put_ok(saver).await;
    let c1 = checkpoint(&t, "child:1").put_ok(saver).await;
    let c2 = checkpoint(&t, "child:2").put_ok(saver).await;
    let got = list_ok(saver, &ListQuery::thread(t.clone()).ns("")).await;
    assert_eq!(super::fixtures::ids(&got), [root.id]);
    let got = list_ok(saver, &ListQuery::thread(t)).await;
    assert_eq!(
        super::fixtures::ids(&got),
        [c2.id, c1.id, root.id],
        "without a namespace, every namespace is listed, newest first"
    );
}

/// Without a thread, a filter on a user key spans threads: both threads' tagged checkpoints,
/// interleaved newest first, and nothing else.
pub async fn no_thread_spans_threads<C: Checkpointer + ?Sized>(saver: &C) {
    let tag = thread("tag").to_string();
    let t1 = thread("list-span-1");
    let t2 = thread("list-span-2");
    let a = checkpoint(&t1, "")
        .user("tag", tag.as_str())
        .put_ok(saver)
        .await;
    let b = checkpoint(&t2, "")
        .user("tag", tag.as_str())
        .put_ok(saver)
        .await;
    let c = child(&a).user("tag", tag.as_str()).put_ok(saver).await;
    child(&b).put_ok(saver).await;
    let got = list_ok(saver, &ListQuery::default().filter("tag", tag.as_str())).await;
    assert_eq!(
        super::fixtures::ids(&got),
        [c.id, b.id, a.id],
        "the tagged checkpoints of both threads, newest first"
    );
}

/// `limit = 0` gives nothing.
pub async fn limit_zero<C: Checkpointer + ?Sized>(saver: &C) {
    let (t, _) = four(saver, "list-limit-zero").await;
    let got = list_ok(saver, &ListQuery::thread(t).limit(0)).await;
    assert!(
        got.is_empty(),
        "limit 0 should list nothing, got {}",
        got.len()
    );
}

/// The JS suite's matrix: thread ∈ {any, 4 real, unknown} × ns ∈ {any, "", "child"} ×
/// limit ∈ {none, 1, 2} × before ∈ {none, two ids} × filter ∈ {{}, source input, source
/// loop, step 0} — 648 queries, each compared, in order, with a model of the contract
/// (thread, namespace and metadata equality, `id < before`, newest first, then the limit).
/// A query across every thread also filters on a tag only this case's checkpoints carry, so a
/// shared store does not change the answer.
pub async fn filter_matrix<C: Checkpointer + ?Sized>(saver: &C) {
    let tag = thread("matrix").to_string();
    let threads: Vec<ThreadId> = (0..4).map(|i| thread(&format!("matrix-{i}"))).collect();
    let mut stored: Vec<Checkpoint> = Vec::new();
    for t in &threads {
        for ns in ["", "child"] {
            let parent = checkpoint(t, ns)
                .user("tag", tag.as_str())
                .put_ok(saver)
                .await;
            let kid = child(&parent)
                .step(0)
                .user("tag", tag.as_str())
                .put_ok(saver)
                .await;
            stored.push(parent);
            stored.push(kid);
        }
    }
    let thread_options: Vec<Option<ThreadId>> = std::iter::once(None)
        .chain(threads.iter().cloned().map(Some))
        .chain(std::iter::once(Some(thread("matrix-unknown"))))
        .collect();
    let ns_options = [None, Some(""), Some("child")];
    let limits = [None, Some(1), Some(2)];
    // A root-namespace parent of the second thread and a child-namespace child of the third.
    let befores = [None, Some(stored[4].id), Some(stored[11].id)];
    let filters: [&[(&str, serde_json::Value)]; 4] = [
        &[],
        &[("source", json!("input"))],
        &[("source", json!("loop"))],
        &[("step", json!(0))],
    ];
    let mut queries = 0;
    for thread_id in &thread_options {
        for ns in ns_options {
            for limit in limits {
                for before in befores {
                    for filter in filters {
                        let mut query = ListQuery {
                            thread_id: thread_id.clone(),
                            ns: ns.map(str::to_owned),
                            before,
                            limit,
                            ..ListQuery::default()
                        };
                        for (key, value) in filter {
                            query.filter.insert((*key).to_owned(), value.clone());
                        }
                        if thread_id.is_none() {
                            query.filter.insert("tag".to_owned(), json!(tag));
                        }
                        let mut expected: Vec<&Checkpoint> = stored
                            .iter()
                            .filter(|c| thread_id.as_ref().is_none_or(|t| *t == c.thread_id))
                            .filter(|c| ns.is_none_or(|ns| ns == c.ns))
                            .filter(|c| before.is_none_or(|b| c.id < b))
                            .filter(|c| {
                                let meta = c.metadata.to_json();
                                filter.iter().all(|(k, v)| meta.get(k) == Some(v))
                            })
                            .collect();
                        expected.sort_by_key(|c| std::cmp::Reverse(c.id));
                        expected.truncate(limit.unwrap_or(usize::MAX));
                        let expected: Vec<CheckpointId> = expected.iter().map(|c| c.id).collect();
                        let got = list_ok(saver, &query).await;
                        assert_eq!(
                            super::fixtures::ids(&got),
                            expected,
                            "list({query:?}) should return exactly the model's checkpoints, newest first"
                        );
                        queries += 1;
                    }
                }
            }
        }
    }
    assert_eq!(queries, 648);
}
