//! The node cache on every backend: a node whose output depends only on its input runs once per
//! distinct input, across runs and threads of the graph, until its entry expires; a sent input
//! is keyed alone; a graph without a checkpointer has no cache.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stategraph::{CachePolicy, Checkpointer, MemorySaver, NodeContext, NodeResult, State};

/// How often the expensive nodes ran.
#[derive(Default)]
struct Calls {
    embed: AtomicU32,
    lookup: AtomicU32,
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Query {
    text: String,
    words: Vec<String>,
    embedding: Vec<u32>,
    #[state(reducer = append)]
    found: Vec<String>,
}

#[stategraph::graph(state = Query, deps = Calls)]
mod search {
    use super::*;

    /// Keyed by the whole state it reads.
    #[node(cache = CachePolicy::ttl(Duration::from_secs(3)))]
    async fn embed(s: &Query, ctx: &NodeContext<Calls>) -> NodeResult<Query> {
        ctx.deps().embed.fetch_add(1, Ordering::SeqCst);
        let words: Vec<String> = s.text.split_whitespace().map(str::to_owned).collect();
        Ok(QueryUpdate::new()
            .embedding(s.text.bytes().map(u32::from).collect::<Vec<_>>())
            .words(words))
    }

    #[send]
    fn per_word(s: &Query) -> Vec<String> {
        s.words.clone()
    }

    /// Keyed by the word it is sent, whatever else the state holds.
    #[node(cache = CachePolicy::ttl(Duration::from_secs(120)).version(1))]
    async fn lookup(word: &String, ctx: &NodeContext<Calls>) -> NodeResult<Query> {
        ctx.deps().lookup.fetch_add(1, Ordering::SeqCst);
        Ok(QueryUpdate::new().push_found(format!("{word}!")))
    }

    edges! {
        START -> embed;
        embed -> per_word => lookup;
        lookup -> END;
    }
}

fn input(text: &str) -> QueryUpdate {
    QueryUpdate::new().text(text.to_owned())
}

#[tokio::test]
async fn a_cached_node_runs_once_per_input_until_its_entry_expires_on_every_backend() {
    let dir = std::env::temp_dir().join(format!("sg-node-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let savers = support::every_saver(&dir, "cache")
        .await
        .unwrap_or_else(|| vec![("memory", Arc::new(MemorySaver::new()))]);
    let run = stategraph::CheckpointId::new();
    for (backend, saver) in savers {
        let calls = Arc::new(Calls::default());
        let graph = search::graph(calls.clone())
            .checkpointer(saver.clone())
            .compile()
            .unwrap();
        // Words unique to the backend and run: the cache is shared by the whole database, and
        // the servers keep it between runs.
        let word = |w: &str| format!("{w}-{backend}-{run}");
        let text = ["cats", "and", "dogs", "owls", "eels"].map(word).join(" ");
        let thread = |n: u32| graph.thread(format!("cache-{backend}-{run}-{n}"));
        let first = thread(1)
            .invoke(input(&text))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(calls.embed.load(Ordering::SeqCst), 1, "{backend}");
        assert_eq!(calls.lookup.load(Ordering::SeqCst), 5, "{backend}");
        // Another thread, the same input: every node's result comes from the cache.
        let second = thread(2)
            .invoke(input(&text))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(second, first, "{backend}: a hit gives the same state");
        assert_eq!(calls.embed.load(Ordering::SeqCst), 1, "{backend}");
        assert_eq!(calls.lookup.load(Ordering::SeqCst), 5, "{backend}");
        // Another input: `embed` runs; of the words sent, only the new one is looked up.
        thread(3)
            .invoke(input(&format!("{text} {}", word("bats"))))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(calls.embed.load(Ordering::SeqCst), 2, "{backend}");
        assert_eq!(calls.lookup.load(Ordering::SeqCst), 6, "{backend}");
        // Past `embed`'s time-to-live it runs again; `lookup`'s entries live longer.
        tokio::time::sleep(Duration::from_millis(3200)).await;
        thread(4)
            .invoke(input(&text))
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap();
        assert_eq!(calls.embed.load(Ordering::SeqCst), 3, "{backend}");
        assert_eq!(calls.lookup.load(Ordering::SeqCst), 6, "{backend}");
        for n in 1..=4 {
            saver
                .delete_thread(&format!("cache-{backend}-{run}-{n}").into())
                .await
                .unwrap();
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_graph_without_a_checkpointer_runs_cached_nodes_every_time() {
    let calls = Arc::new(Calls::default());
    let graph = search::graph(calls.clone()).compile().unwrap();
    graph.invoke(input("one two")).await.unwrap();
    graph.invoke(input("one two")).await.unwrap();
    assert_eq!(calls.embed.load(Ordering::SeqCst), 2);
    assert_eq!(calls.lookup.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn an_entry_that_no_longer_decodes_is_a_miss_not_an_error() {
    let saver: Arc<dyn Checkpointer> = Arc::new(MemorySaver::new());
    let calls = Arc::new(Calls::default());
    let graph = search::graph(calls.clone())
        .checkpointer(saver.clone())
        .compile()
        .unwrap();
    graph
        .thread("a")
        .invoke(input("word"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    // Overwrite every entry `lookup` wrote with something that is not a result.
    let key = |hash: &str| format!("search/lookup/v1/{hash}");
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(b"\"word\"")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    saver
        .cache_put(&key(&hash), b"not a result".to_vec(), None)
        .await
        .unwrap();
    let done = graph
        .thread("b")
        .invoke(input("word"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.found, ["word!"]);
    assert_eq!(
        calls.lookup.load(Ordering::SeqCst),
        2,
        "the bad entry was a miss"
    );
}
