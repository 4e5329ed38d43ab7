//! The store conformance kit: the whole [`Store`] contract as executable cases, runnable
//! against any store. Invoke [`store_conformance!`](crate::store_conformance) once in an
//! integration test, with an async expression that makes a fresh store:
//!
//! ```
//! stategraph_checkpoint::store_conformance!(async { stategraph_checkpoint::MemoryStore::new() });
//! # fn main() {}
//! ```
//!
//! Each case is also a public async function (`testing::store::round_trip(&store).await`) that
//! panics, saying what it expected, when the store breaks the contract. Cases work in fresh
//! namespaces (`kit-<uuid>/…`), so many tests may share one database.

use std::time::Duration;

use serde_json::{Value, json};

use crate::store::{
    Filter, Namespace, NamespaceQuery, SearchQuery, Store, StoreError, StoreExt, object,
};

/// Every case, by name; [`store_conformance!`](crate::store_conformance) makes a test of each.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($callback:ident { $($args:tt)* }) => {
        $crate::$callback! {
            { $($args)* }
            setup_is_idempotent,
            round_trip,
            put_replaces_and_keeps_created_at,
            missing_items_are_none,
            delete_removes_and_forgives,
            namespaces_are_apart,
            values_round_trip_exactly,
            non_objects_are_refused,
            bad_keys_are_refused,
            bad_ttls_are_refused,
            unreadable_values_are_refused,
            expired_items_are_never_returned,
            sweep_removes_expired_items,
            refreshing_reads_renew_the_ttl,
            search_by_prefix_label_by_label,
            search_filters_compare_by_kind,
            numbers_compare_exactly_beyond_2_53,
            missing_fields_never_match,
            bad_filter_fields_are_refused,
            search_pages_newest_first,
            list_namespaces_by_prefix_depth_and_page,
            list_namespaces_by_suffix,
            concurrent_puts_all_land,
            refreshing_reads_never_undo_a_put_or_a_delete,
            semantic_search_ranks_what_the_query_selects,
        }
    };
}

/// Generates one `#[test]` per case (the expansion of [`store_conformance!`](crate::store_conformance)).
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_tests {
    ({} $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::block_on(async {
                    let store = __conformance_store().await;
                    $crate::testing::store::prepare(&store).await;
                    $crate::testing::store::$case(&store).await;
                })
            }
        )*
    };
}

/// Generates the conformance tests for a store: a module `store_conformance` with one
/// `#[test]` per case, each on a fresh store from the async expression given (evaluated on
/// that test's tokio runtime; names resolve in the invoking module).
#[macro_export]
macro_rules! store_conformance {
    ($factory:expr $(,)?) => {
        #[allow(unused_imports, non_snake_case, clippy::all)]
        mod store_conformance {
            use super::*;

            async fn __conformance_store() -> impl $crate::Store {
                $factory.await
            }

            $crate::__store_conformance_cases!(__store_conformance_tests {});
        }
    };
}

/// Runs every case in sequence, recording failures (the body of [`run_all`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_run {
    ({ $factory:ident $report:ident } $($case:ident),* $(,)?) => {
        $(
            $report
                .record(
                    stringify!($case),
                    ::std::boxed::Box::pin(async {
                        let store = $factory().await;
                        $crate::testing::store::prepare(&store).await;
                        $crate::testing::store::$case(&store).await;
                    }),
                )
                .await;
        )*
    };
}

/// Runs every case in sequence, each against a fresh store from `factory`, and reports which
/// failed (a case fails by panicking) — for a store that needs one setup for the whole run.
pub async fn run_all<S, F, Fut>(mut factory: F) -> super::Report
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let mut report = super::Report::default();
    crate::__store_conformance_cases!(__store_conformance_run { factory report });
    report
}

/// Prepares a fresh store for a case: `setup()` must succeed, idempotently.
pub async fn prepare<S: Store + ?Sized>(store: &S) {
    if let Err(e) = store.setup().await {
        panic!("setup() must succeed on a fresh store (and be idempotent), but failed: {e}");
    }
}

/// A fresh namespace root for a case: `kit-<uuid>`.
fn root() -> String {
    format!("kit-{}", uuid::Uuid::now_v7())
}

fn ns(labels: &[&str]) -> Namespace {
    Namespace::new(labels.iter().copied()).expect("a valid namespace")
}

async fn put<S: Store + ?Sized>(store: &S, namespace: &Namespace, key: &str, value: Value) {
    store
        .put_value(namespace, key, object(&value).expect("an object"), None)
        .await
        .unwrap_or_else(|e| panic!("put({namespace}, {key}) should succeed: {e}"));
}

async fn get<S: Store + ?Sized>(store: &S, namespace: &Namespace, key: &str) -> Option<Value> {
    store
        .get(namespace, key, false)
        .await
        .unwrap_or_else(|e| panic!("get({namespace}, {key}) should succeed: {e}"))
        .map(|item| Value::Object(item.value))
}

async fn search<S: Store + ?Sized>(store: &S, query: SearchQuery) -> Vec<String> {
    store
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("search should succeed: {e}"))
        .into_iter()
        .map(|item| item.key)
        .collect()
}

/// `setup()` runs again without harm.
pub async fn setup_is_idempotent<S: Store + ?Sized>(store: &S) {
    prepare(store).await;
    prepare(store).await;
}

/// An item reads back with its namespace, key, value and times.
pub async fn round_trip<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root(), "users", "u-7"]);
    let before = crate::checkpointer::now();
    put(
        store,
        &namespace,
        "profile",
        json!({"name": "Ada", "age": 36}),
    )
    .await;
    let item = store
        .get(&namespace, "profile", false)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(item.namespace, namespace);
    assert_eq!(item.key, "profile");
    assert_eq!(
        Value::Object(item.value.clone()),
        json!({"name": "Ada", "age": 36})
    );
    assert!(item.created_at >= before && item.updated_at == item.created_at);
    assert_eq!((item.ttl, item.expires_at), (None, None));
}

/// A second put replaces the value, keeps the creation time and moves the update time.
pub async fn put_replaces_and_keeps_created_at<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    put(store, &namespace, "k", json!({"v": 1})).await;
    let first = store.get(&namespace, "k", false).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    put(store, &namespace, "k", json!({"v": 2})).await;
    let second = store.get(&namespace, "k", false).await.unwrap().unwrap();
    assert_eq!(Value::Object(second.value), json!({"v": 2}));
    assert_eq!(second.created_at, first.created_at, "created_at is kept");
    assert!(second.updated_at > first.updated_at, "updated_at moves");
}

/// A key or namespace never written reads as `None`.
pub async fn missing_items_are_none<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    assert_eq!(get(store, &namespace, "nothing").await, None);
    put(store, &namespace, "k", json!({})).await;
    assert_eq!(
        get(store, &ns(&[&root()]), "k").await,
        None,
        "another namespace"
    );
}

/// `delete` removes an item; deleting what is not there is not an error.
pub async fn delete_removes_and_forgives<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    put(store, &namespace, "k", json!({"v": 1})).await;
    store.delete(&namespace, "k").await.unwrap();
    assert_eq!(get(store, &namespace, "k").await, None);
    store
        .delete(&namespace, "k")
        .await
        .expect("deleting nothing is fine");
    let listed = store
        .list_namespaces(&NamespaceQuery::under([namespace.labels()[0].clone()]))
        .await
        .unwrap();
    assert!(
        listed.is_empty(),
        "an emptied namespace is not listed: {listed:?}"
    );
}

/// One key in two namespaces is two items; a namespace is not a prefix of a longer one.
pub async fn namespaces_are_apart<S: Store + ?Sized>(store: &S) {
    let r = root();
    let (a, ab, a_b) = (ns(&[&r, "a"]), ns(&[&r, "ab"]), ns(&[&r, "a", "b"]));
    put(store, &a, "k", json!({"in": "a"})).await;
    put(store, &ab, "k", json!({"in": "ab"})).await;
    put(store, &a_b, "k", json!({"in": "a/b"})).await;
    assert_eq!(get(store, &a, "k").await, Some(json!({"in": "a"})));
    assert_eq!(get(store, &ab, "k").await, Some(json!({"in": "ab"})));
    assert_eq!(get(store, &a_b, "k").await, Some(json!({"in": "a/b"})));
}

/// Nested values, unicode, large and fractional numbers and odd keys round-trip exactly.
pub async fn values_round_trip_exactly<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root(), "naïve ☃", "%_*?[]"]);
    let value = json!({
        "nested": {"list": [1, "two", null, {"three": 3.5}]},
        "big": u64::MAX,
        "negative": i64::MIN,
        "ratio": 2.718281828459045e-3,
        "text": "line\nbreak \"quoted\" \\ \u{1F600}",
        "empty": {},
    });
    for key in ["plain", "with space", "%_*?[]'\"", "ünïcødé", "a:b.c"] {
        put(store, &namespace, key, value.clone()).await;
        assert_eq!(
            get(store, &namespace, key).await,
            Some(value.clone()),
            "key {key:?}"
        );
    }
}

/// A value that is not a JSON object is refused, and nothing is stored.
pub async fn non_objects_are_refused<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    for value in [
        json!([1, 2]),
        json!("text"),
        json!(7),
        json!(null),
        json!(true),
    ] {
        let Err(error) = store.put(&namespace, "k", &value, None).await else {
            panic!("{value} was accepted");
        };
        assert!(matches!(error, StoreError::NotAnObject { .. }), "{error}");
    }
    assert_eq!(get(store, &namespace, "k").await, None);
}

/// An empty key, a key with the separator or NUL, and an overlong key are refused by every
/// method, and nothing is stored.
pub async fn bad_keys_are_refused<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    let long = "k".repeat(crate::store::namespace_limits::MAX_KEY_BYTES + 1);
    for key in ["", "a/b", "nul\0", long.as_str()] {
        let put = store
            .put_value(&namespace, key, Default::default(), None)
            .await;
        assert!(put.is_err(), "put accepted key {key:?}");
        assert!(
            store.get(&namespace, key, false).await.is_err(),
            "get accepted {key:?}"
        );
        assert!(
            store.delete(&namespace, key).await.is_err(),
            "delete accepted {key:?}"
        );
        if let Err(error) = put {
            assert!(error.to_string().len() < 300, "bounded: {error}");
        }
    }
    let listed = store
        .list_namespaces(&NamespaceQuery::under([namespace.labels()[0].clone()]))
        .await
        .unwrap();
    assert!(listed.is_empty(), "nothing stored: {listed:?}");
}

/// A time to live of zero or longer than a hundred years is refused.
pub async fn bad_ttls_are_refused<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    let zero = store
        .put_value(&namespace, "k", Default::default(), Some(Duration::ZERO))
        .await;
    assert!(matches!(zero, Err(StoreError::ZeroTtl)), "{zero:?}");
    let forever = store
        .put_value(&namespace, "k", Default::default(), Some(Duration::MAX))
        .await;
    assert!(
        matches!(forever, Err(StoreError::TtlTooLong)),
        "{forever:?}"
    );
    assert_eq!(get(store, &namespace, "k").await, None);
}

/// A value that could not be read back — nested too deep, or with a NUL character in a string
/// or a field name — is refused with a typed error, and nothing is stored.
pub async fn unreadable_values_are_refused<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    let mut deep = json!("bottom");
    for _ in 0..crate::limits::MAX_JSON_DEPTH + 5 {
        deep = json!([deep]);
    }
    for value in [
        json!({ "deep": deep }),
        json!({ "text": "a\u{0}b" }),
        json!({ "nested": { "na\u{0}me": 1 } }),
        json!({ "li\u{0}st": [1] }),
    ] {
        let result = store
            .put_value(&namespace, "k", object(&value).unwrap(), None)
            .await;
        let Err(error) = result else {
            panic!("a value that would not read back was stored");
        };
        assert!(
            matches!(
                error,
                StoreError::TooDeep { .. } | StoreError::Forbidden { .. }
            ),
            "{error}"
        );
        assert!(error.to_string().len() < 300, "bounded: {error}");
    }
    assert_eq!(get(store, &namespace, "k").await, None);
    // The deepest value allowed reads back whole.
    let mut deepest = json!(1);
    for _ in 0..crate::limits::MAX_JSON_DEPTH - 2 {
        deepest = json!([deepest]);
    }
    put(
        store,
        &namespace,
        "deepest",
        json!({ "v": deepest.clone() }),
    )
    .await;
    assert_eq!(
        get(store, &namespace, "deepest").await,
        Some(json!({ "v": deepest }))
    );
}

/// An expired item is returned by no method, swept or not.
pub async fn expired_items_are_never_returned<S: Store + ?Sized>(store: &S) {
    let r = root();
    let namespace = ns(&[&r, "short"]);
    store
        .put_value(
            &namespace,
            "k",
            object(&json!({"v": 1})).unwrap(),
            Some(Duration::from_millis(50)),
        )
        .await
        .unwrap();
    put(store, &ns(&[&r, "long"]), "k", json!({"v": 2})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(store.get(&namespace, "k", false).await.unwrap().is_none());
    assert!(
        store.get(&namespace, "k", true).await.unwrap().is_none(),
        "a refresh does not revive it"
    );
    assert_eq!(
        search(store, SearchQuery::under([r.clone()])).await,
        ["k"],
        "only the live one"
    );
    let listed = store
        .list_namespaces(&NamespaceQuery::under([r.clone()]))
        .await
        .unwrap();
    assert_eq!(listed, [ns(&[&r, "long"])]);
}

/// `sweep` deletes expired items and keeps the rest.
pub async fn sweep_removes_expired_items<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    store
        .put_value(
            &namespace,
            "old",
            Default::default(),
            Some(Duration::from_millis(20)),
        )
        .await
        .unwrap();
    store
        .put_value(
            &namespace,
            "young",
            Default::default(),
            Some(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let removed = store.sweep().await.unwrap();
    assert!(removed >= 1, "the expired item was swept");
    assert!(
        store
            .get(&namespace, "young", false)
            .await
            .unwrap()
            .is_some()
    );
    // Putting it again after the sweep makes a new item.
    put(store, &namespace, "old", json!({})).await;
    assert!(store.get(&namespace, "old", false).await.unwrap().is_some());
}

/// A refreshing read (`get` or `search`) gives an item its time to live again from now; a plain
/// read does not.
pub async fn refreshing_reads_renew_the_ttl<S: Store + ?Sized>(store: &S) {
    let r = root();
    let namespace = ns(&[&r]);
    let ttl = Duration::from_secs(600);
    store
        .put_value(&namespace, "k", Default::default(), Some(ttl))
        .await
        .unwrap();
    let put_at = store.get(&namespace, "k", false).await.unwrap().unwrap();
    assert_eq!(put_at.ttl, Some(ttl));
    let first = put_at.expires_at.expect("an expiry");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let plain = store.get(&namespace, "k", false).await.unwrap().unwrap();
    assert_eq!(plain.expires_at, Some(first), "a plain read leaves it");
    let refreshed = store.get(&namespace, "k", true).await.unwrap().unwrap();
    let second = refreshed.expires_at.unwrap();
    assert!(second > first, "get(refresh) renews it");
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .search(&SearchQuery::under([r.clone()]).refresh())
        .await
        .unwrap();
    let third = store
        .get(&namespace, "k", false)
        .await
        .unwrap()
        .unwrap()
        .expires_at
        .unwrap();
    assert!(third > second, "search(refresh) renews it");
    // An item without a time to live stays without one.
    put(store, &namespace, "forever", json!({})).await;
    let forever = store
        .get(&namespace, "forever", true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((forever.ttl, forever.expires_at), (None, None));
}

/// A search prefix matches whole labels: `[r, "a"]` finds `r/a` and `r/a/b`, not `r/ab`.
pub async fn search_by_prefix_label_by_label<S: Store + ?Sized>(store: &S) {
    let r = root();
    put(store, &ns(&[&r, "a"]), "in-a", json!({})).await;
    put(store, &ns(&[&r, "a", "b"]), "in-a-b", json!({})).await;
    put(store, &ns(&[&r, "ab"]), "in-ab", json!({})).await;
    let mut found = search(store, SearchQuery::under([r.as_str(), "a"])).await;
    found.sort();
    assert_eq!(found, ["in-a", "in-a-b"]);
    let mut all = search(store, SearchQuery::under([r.as_str()])).await;
    all.sort();
    assert_eq!(all, ["in-a", "in-a-b", "in-ab"]);
}

/// Numbers compare by their exact values on every backend, beyond 2^53 too (where a double no
/// longer holds every integer): integers at the edges of `i64` and `u64` as themselves, a float
/// as its double's exact value, and an integer and a float spelling one number as equal. A
/// page of a search filtered on such a number holds exactly the matching items.
pub async fn numbers_compare_exactly_beyond_2_53<S: Store + ?Sized>(store: &S) {
    const P53: i64 = 1 << 53;
    let r = root();
    let namespace = ns(&[&r]);
    let numbers = [
        ("p53", json!(P53)),
        ("p53_plus", json!(P53 + 1)),
        ("p53_float", json!(9_007_199_254_740_992.0)),
        ("m53", json!(-P53)),
        ("m53_minus", json!(-P53 - 1)),
        ("i64_max", json!(i64::MAX)),
        ("i64_min", json!(i64::MIN)),
        ("u64_max", json!(u64::MAX)),
        ("five", json!(5)),
        ("five_float", json!(5.0)),
    ];
    for (key, n) in &numbers {
        put(store, &namespace, key, json!({ "n": n })).await;
    }
    let keys = |filter: Filter| {
        let query = SearchQuery::under([r.clone()]).filter(filter);
        async move {
            let mut found = search(store, query).await;
            found.sort();
            found
        }
    };
    assert_eq!(
        keys(Filter::eq("n", P53 + 1)).await,
        ["p53_plus"],
        "2^53 + 1 is itself"
    );
    assert_eq!(
        keys(Filter::eq("n", 9_007_199_254_740_992.0)).await,
        ["p53", "p53_float"],
        "2^53 and 9007199254740992.0 are one number"
    );
    assert_eq!(
        keys(Filter::gt("n", 9_007_199_254_740_992.0)).await,
        ["i64_max", "p53_plus", "u64_max"],
        "2^53 + 1 is greater than the float 2^53"
    );
    assert_eq!(keys(Filter::lt("n", -P53)).await, ["i64_min", "m53_minus"]);
    assert_eq!(keys(Filter::eq("n", i64::MAX)).await, ["i64_max"]);
    assert_eq!(keys(Filter::eq("n", u64::MAX)).await, ["u64_max"]);
    assert_eq!(keys(Filter::gt("n", i64::MAX)).await, ["u64_max"]);
    assert_eq!(keys(Filter::gte("n", u64::MAX - 1)).await, ["u64_max"]);
    assert_eq!(keys(Filter::lt("n", i64::MIN + 1)).await, ["i64_min"]);
    assert_eq!(
        keys(Filter::gt("n", 9.223_372_036_854_776e18)).await,
        ["u64_max"],
        "i64::MAX is below the double 2^63"
    );
    assert_eq!(keys(Filter::eq("n", 5)).await, ["five", "five_float"]);
    assert_eq!(keys(Filter::eq("n", 5.0)).await, ["five", "five_float"]);
    let page = search(
        store,
        SearchQuery::under([r.clone()])
            .filter(Filter::gt("n", P53))
            .limit(2)
            .offset(1),
    )
    .await;
    assert_eq!(
        page.len(),
        2,
        "a page of an exact filter holds matching items: {page:?}"
    );
}

/// Filters compare numbers as numbers and strings as strings; booleans and null by equality.
pub async fn search_filters_compare_by_kind<S: Store + ?Sized>(store: &S) {
    let r = root();
    let namespace = ns(&[&r]);
    put(
        store,
        &namespace,
        "a",
        json!({"n": 2, "s": "apple", "ok": true}),
    )
    .await;
    put(
        store,
        &namespace,
        "b",
        json!({"n": 10, "s": "banana", "ok": false}),
    )
    .await;
    put(
        store,
        &namespace,
        "c",
        json!({"n": 2.5, "s": "Cherry", "ok": null}),
    )
    .await;
    let keys = |filter: Filter| {
        let query = SearchQuery::under([r.clone()]).filter(filter);
        async move {
            let mut found = search(store, query).await;
            found.sort();
            found
        }
    };
    assert_eq!(keys(Filter::eq("n", 2)).await, ["a"]);
    assert_eq!(
        keys(Filter::eq("n", 2.0)).await,
        ["a"],
        "2 and 2.0 are one number"
    );
    assert_eq!(
        keys(Filter::gt("n", 2)).await,
        ["b", "c"],
        "10 > 2 as numbers"
    );
    assert_eq!(keys(Filter::gte("n", 2.5)).await, ["b", "c"]);
    assert_eq!(keys(Filter::lt("n", 10)).await, ["a", "c"]);
    assert_eq!(keys(Filter::lte("n", 2)).await, ["a"]);
    assert_eq!(keys(Filter::ne("n", 2)).await, ["b", "c"]);
    assert_eq!(
        keys(Filter::gt("s", "apple")).await,
        ["b"],
        "byte order: `C` < `a`"
    );
    assert_eq!(keys(Filter::lt("s", "b")).await, ["a", "c"]);
    assert_eq!(keys(Filter::eq("ok", true)).await, ["a"]);
    assert_eq!(keys(Filter::ne("ok", true)).await, ["b"]);
    assert_eq!(keys(Filter::eq("ok", Value::Null)).await, ["c"]);
    let query = SearchQuery::under([r.clone()])
        .filter(Filter::gte("n", 2))
        .filter(Filter::lt("s", "b"));
    let mut both = search(store, query).await;
    both.sort();
    assert_eq!(both, ["a", "c"], "filters combine");
}

/// A filter on a field an item lacks, or holds as another kind, never matches it (`ne`
/// included); an ordering on booleans matches nothing.
pub async fn missing_fields_never_match<S: Store + ?Sized>(store: &S) {
    let r = root();
    let namespace = ns(&[&r]);
    put(store, &namespace, "num", json!({"n": 1})).await;
    put(store, &namespace, "text", json!({"n": "1"})).await;
    put(store, &namespace, "none", json!({"other": 1})).await;
    put(store, &namespace, "flag", json!({"n": true})).await;
    let keys = |filter: Filter| search(store, SearchQuery::under([r.clone()]).filter(filter));
    assert_eq!(keys(Filter::eq("n", 1)).await, ["num"]);
    assert_eq!(keys(Filter::eq("n", "1")).await, ["text"]);
    let mut ne = keys(Filter::ne("n", 1)).await;
    ne.sort();
    assert!(
        ne.is_empty(),
        "only a number can differ from a number: {ne:?}"
    );
    assert!(keys(Filter::eq("missing", 1)).await.is_empty());
    assert!(keys(Filter::gt("n", false)).await.is_empty());
}

/// A filter naming an empty field is refused.
pub async fn bad_filter_fields_are_refused<S: Store + ?Sized>(store: &S) {
    let query = SearchQuery::under([root()]).filter(Filter::eq("", 1));
    let result = store.search(&query).await;
    assert!(
        matches!(result, Err(StoreError::BadFilter { .. })),
        "{result:?}"
    );
    let query = SearchQuery::under([root()]).filter(Filter::eq("x".repeat(10_000), 1));
    assert!(store.search(&query).await.is_err());
}

/// Results come newest update first, `limit` at a time from `offset`.
pub async fn search_pages_newest_first<S: Store + ?Sized>(store: &S) {
    let r = root();
    let namespace = ns(&[&r]);
    for i in 0..5 {
        put(store, &namespace, &format!("k{i}"), json!({"i": i})).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Touch k1: it becomes the newest.
    put(store, &namespace, "k1", json!({"i": 1})).await;
    let all = search(store, SearchQuery::under([r.clone()]).limit(100)).await;
    assert_eq!(all, ["k1", "k4", "k3", "k2", "k0"]);
    let page = search(store, SearchQuery::under([r.clone()]).limit(2).offset(1)).await;
    assert_eq!(page, ["k4", "k3"]);
    assert!(
        search(store, SearchQuery::under([r.clone()]).offset(9))
            .await
            .is_empty()
    );
    assert!(
        search(store, SearchQuery::under([r.clone()]).limit(0))
            .await
            .is_empty()
    );
}

/// Puts an item in each namespace `root/labels…` of `paths`.
async fn put_under<S: Store + ?Sized>(store: &S, root: &str, paths: &[[&str; 3]]) {
    for labels in paths {
        let mut path = vec![root];
        path.extend(labels);
        put(store, &ns(&path), "k", json!({})).await;
    }
}

/// The namespaces `query` lists, each named by its labels under the root, joined by `/`.
async fn names_listed<S: Store + ?Sized>(store: &S, query: NamespaceQuery) -> Vec<String> {
    store
        .list_namespaces(&query)
        .await
        .unwrap()
        .iter()
        .map(|n| n.labels()[1..].join("/"))
        .collect()
}

/// A suffix keeps the namespaces whose last labels it is, matched on the whole namespace before
/// it is cut to the depth, with the prefix and paging as ever; a suffix label that is empty or
/// holds the separator is refused.
pub async fn list_namespaces_by_suffix<S: Store + ?Sized>(store: &S) {
    let r = root();
    put_under(
        store,
        &r,
        &[
            ["users", "u1", "memories"],
            ["users", "u2", "memories"],
            ["users", "u2", "notes"],
            ["teams", "t1", "memories"],
        ],
    )
    .await;
    let list = |query| names_listed(store, query);
    assert_eq!(
        list(NamespaceQuery::under([r.as_str()]).suffix(["memories"])).await,
        [
            "teams/t1/memories",
            "users/u1/memories",
            "users/u2/memories"
        ]
    );
    assert_eq!(
        list(NamespaceQuery::under([r.as_str(), "users"]).suffix(["u2", "notes"])).await,
        ["users/u2/notes"]
    );
    assert_eq!(
        list(
            NamespaceQuery::under([r.as_str()])
                .suffix(["memories"])
                .max_depth(2)
        )
        .await,
        ["teams", "users"],
        "matched before the cut"
    );
    assert_eq!(
        list(
            NamespaceQuery::under([r.as_str()])
                .suffix(["memories"])
                .limit(1)
                .offset(1)
        )
        .await,
        ["users/u1/memories"]
    );
    assert!(
        list(NamespaceQuery::under([r.as_str()]).suffix(["nothing"]))
            .await
            .is_empty()
    );
    let refused = store
        .list_namespaces(&NamespaceQuery::under([r.as_str()]).suffix([""]))
        .await;
    assert!(
        refused.is_err(),
        "an empty suffix label is refused: {refused:?}"
    );
}

/// Namespaces under a prefix, cut to a depth, distinct, in label order, paged.
pub async fn list_namespaces_by_prefix_depth_and_page<S: Store + ?Sized>(store: &S) {
    let r = root();
    put_under(
        store,
        &r,
        &[
            ["users", "u1", "notes"],
            ["users", "u1", "memories"],
            ["users", "u2", "notes"],
            ["docs", "d1", "x"],
        ],
    )
    .await;
    let list = |query| names_listed(store, query);
    assert_eq!(
        list(NamespaceQuery::under([r.as_str()])).await,
        [
            "docs/d1/x",
            "users/u1/memories",
            "users/u1/notes",
            "users/u2/notes"
        ]
    );
    assert_eq!(
        list(NamespaceQuery::under([r.as_str(), "users"]).max_depth(3)).await,
        ["users/u1", "users/u2"]
    );
    assert_eq!(
        list(NamespaceQuery::under([r.as_str()]).max_depth(2)).await,
        ["docs", "users"]
    );
    assert_eq!(
        list(NamespaceQuery::under([r.as_str()]).limit(2).offset(1)).await,
        ["users/u1/memories", "users/u1/notes"]
    );
    assert!(
        list(NamespaceQuery::under([r.as_str(), "nobody"]))
            .await
            .is_empty()
    );
}

/// Puts from many tasks at once all land.
pub async fn concurrent_puts_all_land<S: Store + ?Sized>(store: &S) {
    let r = root();
    let namespace = ns(&[&r]);
    let puts = (0..32).map(|i| {
        let namespace = namespace.clone();
        async move { put(store, &namespace, &format!("k{i}"), json!({"i": i})).await }
    });
    futures::future::join_all(puts).await;
    let found = search(store, SearchQuery::under([r.clone()]).limit(100)).await;
    assert_eq!(found.len(), 32);
}

/// Refreshing reads racing a writer never put back what the writer replaced or deleted: after
/// a writer's puts of `v = 1..=n` in order, the item holds `v = n`; after its delete, there is
/// no item.
pub async fn refreshing_reads_never_undo_a_put_or_a_delete<S: Store + ?Sized>(store: &S) {
    let namespace = ns(&[&root()]);
    let ttl = Some(Duration::from_secs(3600));
    let last = 24;
    let writing = std::sync::atomic::AtomicBool::new(true);
    let writer = async {
        for v in 1..=last {
            let value = object(&json!({ "v": v })).unwrap();
            store.put_value(&namespace, "k", value, ttl).await.unwrap();
        }
        let after_puts = store.get(&namespace, "k", false).await.unwrap();
        let held = after_puts.and_then(|item| item.value.get("v").cloned());
        store.delete(&namespace, "k").await.unwrap();
        writing.store(false, std::sync::atomic::Ordering::SeqCst);
        held
    };
    let refresher = || async {
        while writing.load(std::sync::atomic::Ordering::SeqCst) {
            store.get(&namespace, "k", true).await.unwrap();
            let query = SearchQuery::under(namespace.labels().to_vec()).refresh();
            store.search(&query).await.unwrap();
            tokio::task::yield_now().await;
        }
    };
    let (held, (), ()) = futures::join!(writer, refresher(), refresher());
    assert_eq!(
        held,
        Some(json!(last)),
        "the item holds the writer's last put, not a value a refresh wrote back"
    );
    assert!(
        store.get(&namespace, "k", false).await.unwrap().is_none(),
        "a refresh does not bring back a deleted item"
    );
}

/// A store given a [`ManualClock`](crate::store::ManualClock) keeps, expires, refreshes and
/// sweeps items by that clock, not the system's: a store's tests of times to live need no
/// sleeping. `store` must have been given `clock`, started at the system's time
/// ([`ManualClock::starting_now`](crate::store::ManualClock::starting_now)); the case only moves
/// it forward. Not in [`store_conformance!`](crate::store_conformance), whose factory makes
/// stores on the system's clock: call it from the store's own tests.
pub async fn times_follow_the_stores_clock<S: Store + ?Sized>(
    store: &S,
    clock: &crate::store::ManualClock,
) {
    let minute = Duration::from_secs(60);
    let r = root();
    let short = ns(&[&r, "short"]);
    let long = ns(&[&r, "long"]);
    let put_at = clock.now();
    let with_ttl = |namespace: &Namespace, key: &'static str, ttl: Duration| {
        let namespace = namespace.clone();
        async move {
            store
                .put_value(&namespace, key, Default::default(), Some(ttl))
                .await
                .unwrap();
        }
    };
    with_ttl(&short, "k", minute).await;
    with_ttl(&long, "k", 2 * minute).await;
    put(store, &long, "forever", json!({})).await;
    let item = store.get(&short, "k", false).await.unwrap().expect("live");
    assert_eq!(
        (item.created_at, item.updated_at, item.expires_at),
        (put_at, put_at, Some(put_at + minute)),
        "the times of a put are the clock's"
    );

    clock.advance(minute / 2);
    let refreshed = store.get(&short, "k", true).await.unwrap().expect("live");
    assert_eq!(
        refreshed.expires_at,
        Some(put_at + minute / 2 + minute),
        "a refreshing read renews the time to live from the clock's now"
    );

    clock.advance(minute / 2);
    assert!(
        store.get(&short, "k", false).await.unwrap().is_some(),
        "refreshed, it outlives its first time to live"
    );
    store.sweep().await.unwrap();
    assert!(
        store.get(&short, "k", false).await.unwrap().is_some(),
        "a sweep keeps what has not expired by the clock"
    );

    clock.advance(minute / 2);
    assert!(
        store.get(&short, "k", false).await.unwrap().is_none(),
        "expired once the clock passes its time"
    );
    assert_eq!(
        search(store, SearchQuery::under([r.clone()])).await.len(),
        2
    );
    let listed = store
        .list_namespaces(&NamespaceQuery::under([r.clone()]))
        .await
        .unwrap();
    assert_eq!(
        listed,
        std::slice::from_ref(&long),
        "a namespace of expired items is not listed"
    );
    assert!(
        store.sweep().await.unwrap() >= 1,
        "the expired item is swept"
    );

    clock.advance(minute);
    assert!(store.get(&long, "k", false).await.unwrap().is_none());
    assert!(
        store.get(&long, "forever", false).await.unwrap().is_some(),
        "an item without a time to live never expires"
    );
    put(store, &short, "k", json!({})).await;
    let again = store.get(&short, "k", false).await.unwrap().expect("put");
    assert_eq!(
        again.created_at,
        clock.now(),
        "a put over an expired item makes a new one"
    );
}

/// A deterministic stand-in for an embedding model, for tests of semantic search: each word of
/// a text (lower-cased, split on anything not alphanumeric) adds one to the dimension its FNV-1a
/// hash picks among [`WordsEmbed::DIMS`].
#[derive(Debug, Clone, Copy, Default)]
pub struct WordsEmbed;

impl WordsEmbed {
    /// The length of its vectors.
    pub const DIMS: usize = 64;
}

#[async_trait::async_trait]
impl crate::store::Embed for WordsEmbed {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, crate::store::StoreError> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = vec![0.0; Self::DIMS];
                for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
                    if word.is_empty() {
                        continue;
                    }
                    let hash = word.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                    });
                    vector[(hash % Self::DIMS as u64) as usize] += 1.0;
                }
                vector
            })
            .collect())
    }
}

/// A semantic index on this store ranks the items a query's prefix and filters select by
/// similarity to the query's text; items put without a vector are left out; the vector never
/// shows in what a read returns through the index's store; a value may not carry the vector's
/// field itself.
pub async fn semantic_search_ranks_what_the_query_selects<S: Store + ?Sized>(store: &S) {
    use crate::store::{Index, VECTOR_FIELD};
    let r = root();
    let index = Index::new(WordsEmbed, WordsEmbed::DIMS).fields(["text"]);
    let namespace = ns(&[&r, "memories"]);
    let facts = [
        ("tea", "likes green tea with honey", "taste"),
        ("oslo", "lives in Oslo near the fjord", "place"),
        ("coffee", "never drinks coffee after noon", "taste"),
    ];
    for (key, text, kind) in facts {
        let value = object(&json!({ "text": text, "kind": kind })).expect("an object");
        index
            .put(store, &namespace, key, value, None)
            .await
            .unwrap_or_else(|e| panic!("an indexed put should succeed: {e}"));
    }
    put(
        store,
        &namespace,
        "plain",
        json!({ "text": "green tea, put without the index" }),
    )
    .await;
    let search = |query: SearchQuery, text: &'static str| {
        let index = index.clone();
        async move {
            index
                .search(store, &query, text)
                .await
                .unwrap_or_else(|e| panic!("a semantic search should succeed: {e}"))
        }
    };
    let found = search(SearchQuery::under([r.clone()]), "green tea").await;
    let keys: Vec<&str> = found.iter().map(|s| s.item.key.as_str()).collect();
    assert_eq!(keys[0], "tea", "the closest item comes first: {keys:?}");
    assert!(
        !keys.contains(&"plain"),
        "an item without a vector is left out: {keys:?}"
    );
    assert_eq!(keys.len(), 3);
    assert!(found[0].score > found[1].score);
    assert!(
        found
            .iter()
            .all(|s| !s.item.value.contains_key(VECTOR_FIELD))
    );
    let places = search(
        SearchQuery::under([r.clone()]).filter(crate::store::Filter::eq("kind", "place")),
        "green tea",
    )
    .await;
    let keys: Vec<&str> = places.iter().map(|s| s.item.key.as_str()).collect();
    assert_eq!(keys, ["oslo"], "filters still apply");
    let page = search(
        SearchQuery::under([r.clone()]).offset(1).limit(1),
        "green tea",
    )
    .await;
    assert_eq!(page.len(), 1);
    assert_ne!(page[0].item.key, "tea", "offset skips the best match");
    let refused = index
        .put(
            store,
            &namespace,
            "bad",
            object(&json!({ VECTOR_FIELD: [1.0] })).expect("an object"),
            None,
        )
        .await;
    assert!(
        matches!(refused, Err(crate::store::StoreError::ReservedField { .. })),
        "a value may not carry the vector's field: {refused:?}"
    );
}
