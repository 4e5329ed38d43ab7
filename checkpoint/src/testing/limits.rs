//! The limits of the contract ([`crate::limits`]): every value inside them round-trips exactly,
//! every value outside them is refused with [`CheckpointError::Limit`] before anything is
//! stored, and no error message quotes the refused value.

use serde_json::{Value, json};

use super::fixtures::*;
use crate::limits::{
    LimitError, MAX_JSON_DEPTH, MAX_METADATA_BYTES, MAX_METADATA_KEY_BYTES, MAX_NAME_BYTES,
    MAX_NAMESPACE_BYTES, MAX_THREAD_ID_BYTES,
};
use crate::{CheckpointError, Checkpointer, ListQuery, PendingWrite, Prune, ThreadId, ThreadQuery};

/// A thread id of exactly `bytes` bytes (multi-byte characters, a unique prefix).
fn id_of(bytes: usize) -> ThreadId {
    let base = thread("lim").as_str().to_owned();
    let mut id = base.clone();
    while id.len() + 'é'.len_utf8() <= bytes {
        id.push('é');
    }
    while id.len() < bytes {
        id.push('x');
    }
    assert_eq!(id.len(), bytes, "fixture error");
    ThreadId::new(id)
}

/// JSON nested `depth` levels deep: arrays around `1`.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| Value::Array(vec![inner]))
}

#[track_caller]
fn expect_limit<T: std::fmt::Debug>(result: Result<T, CheckpointError>, what: &str) -> LimitError {
    match result {
        Err(CheckpointError::Limit(error)) => {
            let message = CheckpointError::Limit(error.clone()).to_string();
            assert!(
                message.len() < 400,
                "{what}: the error message should not quote the refused value ({} bytes): {message:.200}",
                message.len()
            );
            error
        }
        other => panic!("{what} should be refused with CheckpointError::Limit, got {other:?}"),
    }
}

/// A thread id of the longest allowed length, made of multi-byte characters, works in every
/// operation and comes back byte for byte.
pub async fn longest_thread_id_round_trips<C: Checkpointer + ?Sized>(saver: &C) {
    let t = id_of(MAX_THREAD_ID_BYTES);
    let cp = checkpoint(&t, "")
        .snapshot("count", json!(1))
        .put_ok(saver)
        .await;
    put_writes_ok(saver, &cp, vec![write(task(), 0, "count", json!(2))]).await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.thread_id, t);
    assert_eq!(got.pending_writes.len(), 1);
    let listed = list_ok(saver, &ListQuery::thread(t.clone())).await;
    assert_eq!(ids(&listed), [cp.id]);
    let threads = saver
        .list_threads(&ThreadQuery::default())
        .await
        .unwrap_or_else(|e| panic!("list_threads failed: {e}"));
    assert!(
        threads.iter().any(|info| info.thread_id == t),
        "the thread should be listed under its full id"
    );
    let copy = id_of(MAX_THREAD_ID_BYTES);
    saver
        .copy_thread(&t, &copy)
        .await
        .unwrap_or_else(|e| panic!("copy failed: {e}"));
    assert_eq!(must_get(saver, &copy, "", None).await.checkpoint.id, cp.id);
    saver
        .delete_thread(&t)
        .await
        .unwrap_or_else(|e| panic!("delete failed: {e}"));
    saver
        .delete_thread(&copy)
        .await
        .unwrap_or_else(|e| panic!("delete failed: {e}"));
    assert!(get_ok(saver, &t, "", None).await.is_none());
}

/// Thread ids and namespaces inside the limits may hold any other character — control
/// characters, quotes, braces, percent signs, SQL and JSON syntax, emoji — and round-trip
/// exactly, each thread apart from the others.
pub async fn odd_ids_round_trip<C: Checkpointer + ?Sized>(saver: &C) {
    let base = thread("lim-odd");
    let odd = [
        "line\nbreak\ttab\r",
        "{braces}%25%{",
        "quote' \" back\\slash",
        "'; DROP TABLE checkpoints; --",
        "$.a[0] ? @> {\"k\": 1}",
        "🚀 ключ 鍵",
        " ",
        "\u{7f}\u{1}",
    ];
    let mut stored = Vec::new();
    for (n, suffix) in odd.iter().enumerate() {
        let t = ThreadId::new(format!("{base}{suffix}"));
        let ns = format!("ns{suffix}");
        let cp = checkpoint(&t, &ns)
            .snapshot("n", json!(n))
            .user("odd", *suffix)
            .put_ok(saver)
            .await;
        stored.push((t, ns, cp.id));
    }
    for (n, (t, ns, id)) in stored.iter().enumerate() {
        let got = must_get(saver, t, ns, None).await;
        assert_eq!(got.checkpoint.id, *id, "thread {t:?}");
        assert_eq!(got.checkpoint.thread_id, *t);
        assert_eq!(got.checkpoint.ns, *ns);
        assert_eq!(value(&got, "n"), json!(n));
        let listed = list_ok(saver, &ListQuery::thread(t.clone()).ns(ns.clone())).await;
        assert_eq!(
            ids(&listed),
            [*id],
            "thread {t:?} lists only its own checkpoint"
        );
    }
}

/// A thread id that is empty, one byte too long, a megabyte long, or holds a NUL character is
/// refused by every operation, and nothing is stored.
pub async fn bad_thread_ids_are_refused<C: Checkpointer + ?Sized>(saver: &C) {
    let good = thread("lim-good");
    let bad = [
        ("an empty thread id", ThreadId::new("")),
        (
            "a thread id one byte too long",
            id_of(MAX_THREAD_ID_BYTES + 1),
        ),
        ("a 1 MB thread id", ThreadId::new("x".repeat(1 << 20))),
        (
            "a thread id with NUL",
            ThreadId::new(format!("{}\0x", thread("lim-nul"))),
        ),
    ];
    for (what, t) in bad {
        expect_limit(checkpoint(&t, "").put(saver).await, what);
        expect_limit(saver.get(&t, "", None).await, what);
        expect_limit(saver.list(&ListQuery::thread(t.clone())).await, what);
        expect_limit(saver.claim(&t).await, what);
        expect_limit(
            saver
                .put_writes(&t, "", crate::CheckpointId::new(), vec![], None)
                .await,
            what,
        );
        expect_limit(saver.delete_thread(&t).await, what);
        expect_limit(saver.copy_thread(&t, &good).await, what);
        expect_limit(saver.copy_thread(&good, &t).await, what);
        expect_limit(
            saver.prune(std::slice::from_ref(&t), Prune::Delete).await,
            what,
        );
        // As a listing's cursor, an empty id is a valid start; a long or NUL one is not.
        if !t.as_str().is_empty() {
            let page = ThreadQuery {
                after: Some(t.clone()),
                ..ThreadQuery::default()
            };
            expect_limit(saver.list_threads(&page).await, what);
        }
    }
    assert!(get_ok(saver, &good, "", None).await.is_none());
}

/// A namespace of the longest allowed length round-trips; one byte longer, or with a NUL, is
/// refused.
pub async fn namespace_limits<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("lim-ns");
    let ns = "n".repeat(MAX_NAMESPACE_BYTES);
    let cp = checkpoint(&t, &ns).put_ok(saver).await;
    assert_eq!(must_get(saver, &t, &ns, None).await.checkpoint.id, cp.id);
    for (what, bad) in [
        (
            "a namespace one byte too long",
            "n".repeat(MAX_NAMESPACE_BYTES + 1),
        ),
        ("a namespace with NUL", "a\0b".to_owned()),
    ] {
        expect_limit(checkpoint(&t, &bad).put(saver).await, what);
        expect_limit(saver.get(&t, &bad, None).await, what);
        expect_limit(
            saver
                .list(&ListQuery::thread(t.clone()).ns(bad.clone()))
                .await,
            what,
        );
    }
}

/// Channel and node names: the longest allowed round-trips; longer, empty or NUL is refused.
pub async fn name_limits<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("lim-names");
    let long = "c".repeat(MAX_NAME_BYTES);
    let cp = checkpoint(&t, "")
        .snapshot(&long, json!(1))
        .next(&[&long])
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(value(&got, &long), json!(1));
    assert_eq!(got.checkpoint.next, std::slice::from_ref(&long));
    for (what, bad) in [
        (
            "a channel name one byte too long",
            "c".repeat(MAX_NAME_BYTES + 1),
        ),
        ("an empty channel name", String::new()),
        ("a channel name with NUL", "a\0".to_owned()),
    ] {
        expect_limit(child(&cp).snapshot(&bad, json!(1)).put(saver).await, what);
        expect_limit(child(&cp).next(&[&bad]).put(saver).await, what);
        expect_limit(
            saver
                .put_writes(&t, "", cp.id, vec![write(task(), 0, &bad, json!(1))], None)
                .await,
            what,
        );
    }
    assert_eq!(must_get(saver, &t, "", None).await.checkpoint.id, cp.id);
}

/// User metadata: a NUL character in a key or in a (nested) string value is refused, and so is
/// metadata nested deeper than [`MAX_JSON_DEPTH`] (200 levels), larger than
/// [`MAX_METADATA_BYTES`], or with a key longer than [`MAX_METADATA_KEY_BYTES`]. The largest
/// accepted values round-trip exactly. Nothing refused is stored, so the thread stays readable.
pub async fn metadata_limits<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("lim-meta");
    let deep = nested(MAX_JSON_DEPTH);
    let long_key = "k".repeat(MAX_METADATA_KEY_BYTES);
    let cp = checkpoint(&t, "")
        .user("deep", deep.clone())
        .user(&long_key, "v")
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.metadata.user.get("deep"), Some(&deep));
    assert_eq!(
        got.checkpoint.metadata.user.get(&long_key),
        Some(&json!("v"))
    );
    let big = "x".repeat(MAX_METADATA_BYTES);
    let refused = [
        ("a metadata key with NUL", child(&cp).user("a\0b", 1)),
        ("a metadata value with NUL", child(&cp).user("a", "x\0y")),
        (
            "a nested metadata value with NUL",
            child(&cp).user("a", json!({"b": ["\0"]})),
        ),
        (
            "metadata nested 200 levels deep",
            child(&cp).user("a", nested(200)),
        ),
        (
            "metadata one level too deep",
            child(&cp).user("a", nested(MAX_JSON_DEPTH + 1)),
        ),
        ("metadata over the size limit", child(&cp).user("a", big)),
        (
            "a metadata key one byte too long",
            child(&cp).user(&format!("{long_key}k"), 1),
        ),
    ];
    for (what, builder) in refused {
        expect_limit(builder.put(saver).await, what);
    }
    let latest = must_get(saver, &t, "", None).await;
    assert_eq!(latest.checkpoint.id, cp.id, "nothing refused was stored");
}

/// A channel value or a pending write nested deeper than [`MAX_JSON_DEPTH`] is refused; at the
/// limit it round-trips.
pub async fn value_depth_limits<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("lim-depth");
    let deep = nested(MAX_JSON_DEPTH);
    let cp = checkpoint(&t, "")
        .snapshot("tree", deep.clone())
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(value(&got, "tree"), deep);
    put_writes_ok(saver, &cp, vec![write(task(), 0, "tree", deep.clone())]).await;
    let too_deep = nested(MAX_JSON_DEPTH + 1);
    expect_limit(
        child(&cp)
            .snapshot("tree", too_deep.clone())
            .put(saver)
            .await,
        "a snapshot one level too deep",
    );
    expect_limit(
        saver
            .put_writes(
                &t,
                "",
                cp.id,
                vec![write(task(), 0, "tree", too_deep)],
                None,
            )
            .await,
        "a write one level too deep",
    );
    let writes: Vec<PendingWrite> = must_get(saver, &t, "", None).await.pending_writes;
    assert_eq!(writes.len(), 1, "the refused write was not stored");
}

/// Numbers come back as the JSON values that were put, in metadata and in channel values:
/// floats stay floats (`1e16` does not come back as the integer `10000000000000000`), integers
/// stay integers, and the extremes of both survive. A filter on the exact value put finds it.
pub async fn numbers_round_trip_exactly<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("lim-numbers");
    let numbers = json!([
        1e16,
        -3.5e20,
        1.7976931348623157e308,
        -1.7976931348623157e308,
        5e-324,
        0.1,
        1.0,
        123456789.0,
        1e-7,
        u64::MAX,
        i64::MIN,
        0,
        -1
    ]);
    let cp = checkpoint(&t, "")
        .user("numbers", numbers.clone())
        .user("big", 1e16)
        .snapshot("numbers", numbers.clone())
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    let same_types = |got: &Value, label: &str| {
        let (Value::Array(got), Value::Array(want)) = (got, &numbers) else {
            panic!("{label}: expected an array, got {got}");
        };
        for (got, want) in got.iter().zip(want) {
            assert_eq!(got, want, "{label}: {want} came back as {got}");
            assert_eq!(
                (got.is_f64(), got.is_u64(), got.is_i64()),
                (want.is_f64(), want.is_u64(), want.is_i64()),
                "{label}: {want} changed type, came back as {got}"
            );
        }
    };
    same_types(&got.checkpoint.metadata.user["numbers"], "metadata");
    same_types(&value(&got, "numbers"), "channel value");
    let found = list_ok(saver, &ListQuery::thread(t.clone()).filter("big", 1e16)).await;
    assert_eq!(ids(&found), [cp.id], "a filter on the float put finds it");
    let found = list_ok(
        saver,
        &ListQuery::thread(t).filter("big", 10_000_000_000_000_000u64),
    )
    .await;
    assert!(
        found.is_empty(),
        "an integer filter does not match a float, as on every backend"
    );
}
