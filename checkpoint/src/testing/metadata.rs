//! Metadata: reserved keys, and metadata filters that are data, never query text.
//!
//! A filter key or value is compared literally against the stored metadata: keys that look
//! like SQL, JSON paths or quoting never widen a listing and never make it fail. Values compare
//! by JSON equality (an object or array filter matches only an equal object or array, not one
//! that merely contains it, and `"1"` never equals `1`).

use serde_json::{Value, json};

use crate::{CheckpointError, CheckpointMetadata, Checkpointer, ListQuery};

use super::fixtures::*;

async fn reserved<C: Checkpointer + ?Sized>(saver: &C, key: &str) {
    let t = thread("meta-reserved");
    let result = checkpoint(&t, "").user(key, "mine").put(saver).await;
    match result {
        Err(CheckpointError::ReservedMetadataKey(k)) => {
            assert_eq!(k, key, "ReservedMetadataKey should name the offending key")
        }
        Err(e) => {
            panic!("a user metadata key `{key}` should fail with ReservedMetadataKey, got: {e}")
        }
        Ok(_) => panic!("a user metadata key `{key}` is reserved; the put should fail"),
    }
}

/// A user metadata key `source` fails with `ReservedMetadataKey("source")`.
pub async fn reserved_key_source<C: Checkpointer + ?Sized>(saver: &C) {
    reserved(saver, "source").await;
}

/// A user metadata key `step` fails with `ReservedMetadataKey("step")`.
pub async fn reserved_key_step<C: Checkpointer + ?Sized>(saver: &C) {
    reserved(saver, "step").await;
}

/// A user metadata key `parents` fails with `ReservedMetadataKey("parents")`.
pub async fn reserved_key_parents<C: Checkpointer + ?Sized>(saver: &C) {
    reserved(saver, "parents").await;
}

/// A user metadata key `writes` fails with `ReservedMetadataKey("writes")`.
pub async fn reserved_key_writes<C: Checkpointer + ?Sized>(saver: &C) {
    reserved(saver, "writes").await;
}

/// A user metadata key `failures` fails with `ReservedMetadataKey("failures")`.
pub async fn reserved_key_failures<C: Checkpointer + ?Sized>(saver: &C) {
    reserved(saver, "failures").await;
}

/// A user metadata key `subgraphs` fails with `ReservedMetadataKey("subgraphs")`.
pub async fn reserved_key_subgraphs<C: Checkpointer + ?Sized>(saver: &C) {
    reserved(saver, "subgraphs").await;
}

/// A user metadata key `token_usage` fails with `ReservedMetadataKey("token_usage")`.
pub async fn reserved_key_token_usage<C: Checkpointer + ?Sized>(saver: &C) {
    reserved(saver, "token_usage").await;
}

/// A user metadata key `state_version` fails with `ReservedMetadataKey("state_version")`.
pub async fn reserved_key_state_version<C: Checkpointer + ?Sized>(saver: &C) {
    reserved(saver, "state_version").await;
}

/// The version of the state type that wrote a checkpoint round-trips through `get` and `list`,
/// and a checkpoint that records none reads as version 1.
pub async fn state_version_round_trips<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-version");
    let first = checkpoint(&t, "").put_ok(saver).await;
    let later = child(&first).state_version(7).put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(first.id)).await;
    assert_eq!(got.checkpoint.metadata.state_version, 1);
    let got = must_get(saver, &t, "", Some(later.id)).await;
    assert_eq!(got.checkpoint.metadata.state_version, 7);
    assert_eq!(got.checkpoint.metadata, later.metadata);
    let listed = saver
        .list(&ListQuery::thread(t.clone()))
        .await
        .expect("list should succeed");
    assert_eq!(listed[0].checkpoint.metadata.state_version, 7);
}

/// A run's token usage comes back as it was put, and a checkpoint without one has none.
pub async fn token_usage_round_trips<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-usage");
    let first = checkpoint(&t, "").put_ok(saver).await;
    let usage = crate::TokenUsage::new(1200, 34, 1234);
    let later = child(&first).token_usage(usage).put_ok(saver).await;
    let got = must_get(saver, &t, "", Some(first.id)).await;
    assert_eq!(got.checkpoint.metadata.token_usage, None);
    let got = must_get(saver, &t, "", Some(later.id)).await;
    assert_eq!(got.checkpoint.metadata.token_usage, Some(usage));
}

/// A put rejected for a reserved key stores nothing: no checkpoint, and its blob does not
/// shadow a later put of the same id.
pub async fn reserved_key_stores_nothing<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-reserved-nothing");
    let rejected = checkpoint(&t, "")
        .snapshot("a", json!("rejected"))
        .user("step", 5);
    let id = rejected.checkpoint().id;
    assert!(
        rejected.put(saver).await.is_err(),
        "a reserved key should fail the put"
    );
    assert!(
        get_ok(saver, &t, "", None).await.is_none(),
        "nothing should be stored"
    );
    assert!(
        list_ok(saver, &ListQuery::thread(t.clone()))
            .await
            .is_empty()
    );
    let ok = checkpoint(&t, "")
        .id(id)
        .snapshot("a", json!("accepted"))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(ok.id)).await;
    assert_eq!(
        value(&got, "a"),
        json!("accepted"),
        "the rejected put's blob should not have been stored"
    );
}

/// Keys shaped like SQL injection, JSON paths and quoting.
fn hostile_keys() -> Vec<String> {
    [
        "x') OR 1=1 --",
        "source' OR '1'='1",
        "' OR 1=1; DROP TABLE checkpoints; --",
        "$.a",
        "$",
        "a.b",
        "a\"b",
        "a'b",
        "a\\b",
        "{a}",
        "%",
        "_",
        "*",
        "",
        "a b",
    ]
    .iter()
    .map(|k| (*k).to_owned())
    .collect()
}

/// Hostile filter keys (SQL, JSON paths, quotes, wildcards, the empty key) and hostile values
/// match nothing on a thread whose checkpoints have no such key — 0 results, never a wider
/// listing, never an error.
pub async fn filter_injection_no_match<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-inject");
    let first = checkpoint(&t, "")
        .user("a", json!({"b": 1}))
        .user("plain", "x")
        .put_ok(saver)
        .await;
    child(&first).put_ok(saver).await;
    for key in hostile_keys() {
        for value in [json!("x"), json!(1), json!("x' OR '1'='1")] {
            let query = ListQuery::thread(t.clone()).filter(key.clone(), value.clone());
            match saver.list(&query).await {
                Ok(got) => assert!(
                    got.is_empty(),
                    "filter {{{key:?}: {value}}} should match nothing, got {} checkpoints",
                    got.len()
                ),
                Err(e) => panic!("filter {{{key:?}: {value}}} should list nothing, not fail: {e}"),
            }
            let across = ListQuery::default().filter(key.clone(), value.clone());
            let got = saver.list(&across).await.unwrap_or_else(|e| {
                panic!("filter {{{key:?}: {value}}} across threads should not fail: {e}")
            });
            assert!(
                only_threads(got, &[&t]).is_empty(),
                "filter {{{key:?}: {value}}} across threads should not match this thread"
            );
        }
    }
    let got = list_ok(
        saver,
        &ListQuery::thread(t.clone()).filter("plain", "x' OR '1'='1"),
    )
    .await;
    assert!(got.is_empty(), "a hostile value should match nothing");
}

/// Hostile keys stored literally as user keys are filterable exactly: each matches only the
/// checkpoint that has it with that value.
pub async fn filter_injection_literal_key<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-literal");
    let mut head = checkpoint(&t, "").put_ok(saver).await;
    let mut tagged = Vec::new();
    for (n, key) in hostile_keys().into_iter().enumerate() {
        let cp = child(&head).user(&key, n).put_ok(saver).await;
        let other = child(&cp).user(&key, n + 1000).put_ok(saver).await;
        tagged.push((key, n, cp.id));
        head = other;
    }
    for (key, n, id) in tagged {
        let got = list_ok(saver, &ListQuery::thread(t.clone()).filter(key.clone(), n)).await;
        assert_eq!(
            ids(&got),
            [id],
            "filter {{{key:?}: {n}}} should match exactly the checkpoint with that key and value"
        );
    }
}

/// A filter key with a NUL byte lists nothing (no checkpoint can have it) and does not fail.
pub async fn filter_nul_byte_key<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-nul");
    checkpoint(&t, "").user("a", "x").put_ok(saver).await;
    for key in ["a\0", "\0", "a\0' OR 1=1 --"] {
        let query = ListQuery::thread(t.clone()).filter(key, "x");
        match saver.list(&query).await {
            Ok(got) => assert!(got.is_empty(), "filter key {key:?} should match nothing"),
            Err(e) => panic!("filter key {key:?} should list nothing, not fail: {e}"),
        }
    }
    let query = ListQuery::thread(t.clone()).filter("a", "x\0");
    match saver.list(&query).await {
        Ok(got) => assert!(got.is_empty(), "filter value \"x\\0\" should match nothing"),
        Err(e) => panic!("filter value \"x\\0\" should list nothing, not fail: {e}"),
    }
}

/// A 100 000-byte filter key lists nothing and does not fail; a 1 000-byte user key is stored
/// and filterable.
pub async fn filter_long_key<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-long");
    let long_key = "k".repeat(1000);
    let cp = checkpoint(&t, "").user(&long_key, 1).put_ok(saver).await;
    let huge = "k".repeat(100_000);
    match saver
        .list(&ListQuery::thread(t.clone()).filter(huge, 1))
        .await
    {
        Ok(got) => assert!(got.is_empty(), "a 100 000-byte key should match nothing"),
        Err(e) => panic!("a 100 000-byte filter key should list nothing, not fail: {e}"),
    }
    let got = list_ok(saver, &ListQuery::thread(t).filter(long_key, 1)).await;
    assert_eq!(
        ids(&got),
        [cp.id],
        "a 1 000-byte user key should be filterable"
    );
}

/// Unicode keys and values are stored and filterable.
pub async fn filter_unicode_key<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-unicode");
    let first = checkpoint(&t, "")
        .user("ключ ✓", "значение 🚀")
        .put_ok(saver)
        .await;
    child(&first).user("ключ ✓", "другое").put_ok(saver).await;
    let got = list_ok(saver, &ListQuery::thread(t).filter("ключ ✓", "значение 🚀")).await;
    assert_eq!(ids(&got), [first.id]);
}

/// Object, array, boolean and null filter values compare by JSON equality: `{"x":[1,2]}`
/// matches only an equal object (key order aside), not `{"x":[1,2],"y":3}`; `[1]` does not
/// match `[1,"a"]`; `null` matches a key stored as null, not a missing key.
pub async fn filter_json_values<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-json");
    let exact = checkpoint(&t, "")
        .user("obj", json!({"x": [1, 2], "z": {"n": true}}))
        .user("arr", json!([1, "a"]))
        .user("flag", true)
        .user("nothing", Value::Null)
        .put_ok(saver)
        .await;
    let wider = child(&exact)
        .user("obj", json!({"x": [1, 2], "z": {"n": true}, "y": 3}))
        .user("arr", json!([1, "a", 2]))
        .user("flag", false)
        .put_ok(saver)
        .await;
    let q = |key: &str, value: Value| ListQuery::thread(t.clone()).filter(key, value);
    let cases = [
        (
            q("obj", json!({"z": {"n": true}, "x": [1, 2]})),
            vec![exact.id],
        ),
        (q("obj", json!({"x": [1, 2]})), vec![]),
        (
            q("obj", json!({"x": [1, 2], "z": {"n": true}, "y": 3})),
            vec![wider.id],
        ),
        (q("arr", json!([1, "a"])), vec![exact.id]),
        (q("arr", json!([1])), vec![]),
        (q("arr", json!(["a", 1])), vec![]),
        (q("flag", json!(true)), vec![exact.id]),
        (q("flag", json!(false)), vec![wider.id]),
        (q("nothing", Value::Null), vec![exact.id]),
        (q("missing", Value::Null), vec![]),
    ];
    for (query, expected) in cases {
        let got = list_ok(saver, &query).await;
        assert_eq!(
            ids(&got),
            expected,
            "filter {:?} should compare by JSON equality",
            query.filter
        );
    }
}

/// Filter values are typed: `"1"` does not match step 1, `1` does not match `true`, and
/// `"42"` does not match a user value 42.
pub async fn filter_type_strict<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-types");
    let cp = checkpoint(&t, "")
        .step(1)
        .user("score", 42)
        .user("flag", true)
        .put_ok(saver)
        .await;
    let q = |key: &str, value: Value| ListQuery::thread(t.clone()).filter(key, value);
    for (query, expected) in [
        (q("step", json!("1")), vec![]),
        (q("step", json!(1)), vec![cp.id]),
        (q("score", json!("42")), vec![]),
        (q("score", json!(42)), vec![cp.id]),
        (q("flag", json!(1)), vec![]),
        (q("flag", json!("true")), vec![]),
        (q("source", json!("Input")), vec![]),
        (q("source", json!("input")), vec![cp.id]),
    ] {
        let got = list_ok(saver, &query).await;
        assert_eq!(
            ids(&got),
            expected,
            "filter {:?} should be type-strict",
            query.filter
        );
    }
}

/// Nested user values (objects in arrays in objects) round-trip exactly.
pub async fn nested_user_values_round_trip<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-nested");
    let value =
        json!({"approver": {"name": "ann", "roles": ["a", {"b": [1, 2.5, null]}]}, "empty": {}});
    let cp = checkpoint(&t, "")
        .user("review", value.clone())
        .user("tags", json!([]))
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    let expected: CheckpointMetadata = cp.metadata.clone();
    assert_eq!(got.checkpoint.metadata, expected);
    assert_eq!(got.checkpoint.metadata.user.get("review"), Some(&value));
}

/// The failures a step hands to error handlers (`metadata.failures`) round-trip exactly, in
/// order, through `get` and `list`, beside user keys.
pub async fn failures_round_trip<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-failures");
    let cp = checkpoint(&t, "")
        .step(3)
        .failure("search", "recover", "the backend is down")
        .failure("fetch", "recover", "timed out: \"quoted\" \u{1F600}")
        .user("run", "r1")
        .next(&["recover"])
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", Some(cp.id)).await;
    assert_eq!(got.checkpoint.metadata, cp.metadata);
    assert_eq!(got.checkpoint.metadata.failures.len(), 2);
    let listed = saver
        .list(&ListQuery::thread(t.clone()))
        .await
        .expect("list should succeed");
    assert_eq!(listed[0].checkpoint.metadata.failures, cp.metadata.failures);
}

/// A subgraph call's checkpoint records the checkpoints of its enclosing graphs
/// (`metadata.parents`), and the enclosing graph's checkpoint records the calls its step
/// finished (`metadata.subgraphs`): both round-trip exactly through `get` and `list`, and the
/// namespaces stay apart.
pub async fn subgraph_links_round_trip<C: Checkpointer + ?Sized>(saver: &C) {
    let t = thread("meta-subgraphs");
    let root = checkpoint(&t, "")
        .step(0)
        .next(&["draft"])
        .put_ok(saver)
        .await;
    let ns = format!("draft:{}", task());
    let deeper = format!("{ns}|stream:{}", task());
    let inner = checkpoint(&t, &ns)
        .step(2)
        .parent_ns("", root.id)
        .put_ok(saver)
        .await;
    let deepest = checkpoint(&t, &deeper)
        .step(1)
        .parent_ns("", root.id)
        .parent_ns(&ns, inner.id)
        .put_ok(saver)
        .await;
    let after = child(&root)
        .step(1)
        .subgraph_call(&ns, inner.id)
        .subgraph_call(&deeper, deepest.id)
        .put_ok(saver)
        .await;
    let got = must_get(saver, &t, "", None).await;
    assert_eq!(got.checkpoint.id, after.id, "the root's head is the root's");
    assert_eq!(got.checkpoint.metadata, after.metadata);
    assert_eq!(got.checkpoint.metadata.subgraphs.len(), 2);
    let got = must_get(saver, &t, &deeper, None).await;
    assert_eq!(got.checkpoint.metadata, deepest.metadata);
    let listed = saver
        .list(&ListQuery::thread(t.clone()).ns(deeper.clone()))
        .await
        .expect("list should succeed");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].checkpoint.metadata.parents,
        deepest.metadata.parents
    );
}
