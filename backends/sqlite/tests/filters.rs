//! Metadata filters: any key is data, never SQL; values compare by JSON equality; `limit`
//! counts matches. Every query is checked against MemorySaver, the reference semantics.

mod support;

use serde_json::{Value, json};
use stategraph_runtime::{Checkpointer, ListQuery, MemorySaver, ThreadId};
use support::{Step, TempSaver};

/// Keys a user might pick that mean something to SQL or to JSON paths.
const KEYS: &[&str] = &[
    "run_id",
    "with space",
    "dot.ted",
    "$",
    "$.run_id",
    "br[0]",
    "[0]",
    "quo\"te",
    "'single'",
    "back\\slash",
    "x') OR 1=1 --",
    "\"",
    "",
    "ünïcødé ✓",
    "tab\tnew\nline",
    "a.b[\"c\"]",
];

/// Values of every JSON kind, including ones SQLite and serde could disagree on.
fn values() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-7),
        json!(1.0),
        json!(0.1),
        json!(2.5e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!("1"),
        json!("true"),
        json!("null"),
        json!("quo\"te"),
        json!("{\"a\":1}"),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!({"a": 1, "b": [true]}),
        json!({"b": [true], "a": 1}),
        json!({"a": 1.0}),
    ]
}

/// Puts the same checkpoints into both savers: one per (key, value), plus some without user
/// keys. Returns the thread used.
async fn populate(sqlite: &TempSaver, memory: &MemorySaver) -> ThreadId {
    let thread = ThreadId::new("filters");
    let mut parent = None;
    let mut i = 0;
    for key in KEYS {
        for value in values() {
            let step = Step::new(&thread, "", parent)
                .user(key, value)
                .user("n", json!(i % 3))
                .step(i);
            parent = Some(step.id());
            let new = step.build();
            sqlite.put(new.clone()).await.unwrap();
            memory.put(new).await.unwrap();
            i += 1;
        }
    }
    for _ in 0..3 {
        let step = Step::new(&thread, "", parent).step(i);
        parent = Some(step.id());
        let new = step.build();
        sqlite.put(new.clone()).await.unwrap();
        memory.put(new).await.unwrap();
        i += 1;
    }
    thread
}

async fn ids(saver: &impl Checkpointer, query: &ListQuery) -> Vec<String> {
    saver
        .list(query)
        .await
        .unwrap_or_else(|e| panic!("list {query:?} failed: {e}"))
        .into_iter()
        .map(|t| t.checkpoint.id.to_string())
        .collect()
}

#[tokio::test]
async fn every_key_and_value_filters_exactly_like_memory_saver() {
    let sqlite = TempSaver::new().await;
    let memory = MemorySaver::new();
    populate(&sqlite, &memory).await;
    for key in KEYS {
        for value in values() {
            let query = ListQuery::default().filter(*key, value.clone());
            let expected = ids(&memory, &query).await;
            assert!(!expected.is_empty(), "{key:?} = {value} matches something");
            assert_eq!(
                ids(&*sqlite, &query).await,
                expected,
                "key {key:?} = {value}"
            );
        }
    }
}

#[tokio::test]
async fn null_matches_a_present_null_but_not_a_missing_key() {
    let sqlite = TempSaver::new().await;
    let memory = MemorySaver::new();
    populate(&sqlite, &memory).await;
    let query = ListQuery::default().filter("run_id", Value::Null);
    let found = sqlite.list(&query).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].checkpoint.metadata.user["run_id"], Value::Null);
}

#[tokio::test]
async fn numbers_compare_as_json_not_as_sql() {
    let sqlite = TempSaver::new().await;
    let memory = MemorySaver::new();
    populate(&sqlite, &memory).await;
    for value in [json!(1), json!(1.0), json!("1"), json!(true)] {
        let query = ListQuery::default().filter("run_id", value.clone());
        let found = sqlite.list(&query).await.unwrap();
        assert_eq!(found.len(), 1, "{value}");
        assert_eq!(found[0].checkpoint.metadata.user["run_id"], value);
    }
}

#[tokio::test]
async fn built_in_keys_and_several_filters_combine() {
    let sqlite = TempSaver::new().await;
    let memory = MemorySaver::new();
    let thread = populate(&sqlite, &memory).await;
    let queries = [
        ListQuery::default().filter("step", 3),
        ListQuery::default().filter("source", "loop").limit(5),
        ListQuery::default().filter("source", "input"),
        ListQuery::default()
            .filter("n", 1)
            .filter("dot.ted", json!("1")),
        ListQuery::thread(thread.clone()).filter("n", 2).limit(7),
        ListQuery::thread(ThreadId::new("elsewhere")).filter("n", 2),
        ListQuery::default().filter("writes", json!({})),
        ListQuery::default().filter("parents", json!({})).limit(3),
    ];
    for query in queries {
        assert_eq!(
            ids(&*sqlite, &query).await,
            ids(&memory, &query).await,
            "{query:?}"
        );
    }
}

#[tokio::test]
async fn limit_counts_matches_when_rows_are_rechecked_in_rust() {
    // Object and float filters are narrowed by type in SQL and compared in Rust: many rows of
    // the right type but the wrong value must not eat the limit.
    let sqlite = TempSaver::new().await;
    let memory = MemorySaver::new();
    let thread = ThreadId::new("limit");
    let mut parent = None;
    for i in 0..40 {
        let value = if i % 10 == 0 {
            json!({"wanted": true})
        } else {
            json!({"wanted": false, "i": i})
        };
        let step = Step::new(&thread, "", parent)
            .user("obj", value)
            .user("f", json!(if i % 10 == 0 { 0.5 } else { 1.5 }));
        parent = Some(step.id());
        let new = step.build();
        sqlite.put(new.clone()).await.unwrap();
        memory.put(new).await.unwrap();
    }
    for query in [
        ListQuery::default()
            .filter("obj", json!({"wanted": true}))
            .limit(3),
        ListQuery::default().filter("f", 0.5).limit(2),
        ListQuery::default()
            .filter("obj", json!({"wanted": true}))
            .filter("f", 0.5)
            .limit(10),
    ] {
        let got = ids(&*sqlite, &query).await;
        assert_eq!(got, ids(&memory, &query).await, "{query:?}");
        assert_eq!(got.len(), query.limit.unwrap().min(4), "{query:?}");
    }
}

#[tokio::test]
async fn hostile_keys_leave_the_database_intact() {
    let sqlite = TempSaver::new().await;
    let memory = MemorySaver::new();
    populate(&sqlite, &memory).await;
    for key in [
        "'; DROP TABLE stategraph_checkpoints; --",
        "\"); DELETE FROM stategraph_blobs; --",
        "$[0]",
        "$.a",
        "a' || 'b",
    ] {
        let found = sqlite
            .list(&ListQuery::default().filter(key, 1))
            .await
            .unwrap();
        assert!(found.is_empty(), "{key}");
    }
    assert_eq!(
        ids(&*sqlite, &ListQuery::default()).await,
        ids(&memory, &ListQuery::default()).await
    );
}
