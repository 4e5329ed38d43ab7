//! The Store from nodes: configured on the builder, reached through the node context, by
//! subgraph nodes too, and kept apart from the checkpoints (it may live on another backend).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use stategraph::store::{Namespace, SearchQuery};
use stategraph::{MemorySaver, MemoryStore, NodeContext, NodeResult, State, Store, StoreExt};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Notes {
    user: String,
    /// Ids of archived notes: references, not content.
    #[state(reducer = append)]
    archived: Vec<String>,
    recalled: Vec<String>,
}

fn user_ns(user: &str) -> Namespace {
    Namespace::new(["notes", user]).unwrap()
}

#[stategraph::graph(state = Notes)]
mod recall {
    use super::*;

    #[node]
    async fn recall(s: &Notes, ctx: &NodeContext) -> NodeResult<Notes> {
        let store = ctx.store().ok_or("no store")?;
        let query = SearchQuery::under(["notes", s.user.as_str()]).limit(100);
        let mut texts: Vec<String> = store
            .search(&query)
            .await?
            .into_iter()
            .map(|item| item.value["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        texts.sort();
        Ok(NotesUpdate::new().recalled(texts))
    }

    edges! { START -> recall -> END; }
}

#[stategraph::graph(state = Notes)]
mod notes {
    use super::*;

    #[node]
    async fn archive(s: &Notes, ctx: &NodeContext) -> NodeResult<Notes> {
        let store = ctx.store().ok_or("no store")?;
        let id = format!("note-{}", s.archived.len());
        store
            .put(
                &user_ns(&s.user),
                &id,
                &json!({"text": format!("text of {id}")}),
                None,
            )
            .await?;
        Ok(NotesUpdate::new().push_archived(id))
    }

    #[subgraph]
    type remember = super::recall::Graph;

    edges! { START -> archive -> remember -> END; }
}

#[tokio::test]
async fn nodes_and_subgraph_nodes_reach_the_store_given_to_the_builder() {
    let store = Arc::new(MemoryStore::new());
    let graph = notes::graph()
        .checkpointer(MemorySaver::new())
        .store(store.clone())
        .compile()
        .unwrap();
    let thread = graph.thread("notes-1");
    let input = || NotesUpdate::new().user("ada".to_owned());
    thread
        .invoke(input())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    let done = thread
        .invoke(input())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.archived, ["note-0", "note-1"]);
    assert_eq!(done.recalled, ["text of note-0", "text of note-1"]);
    // The content is in the store, not in the checkpoints.
    let item = store
        .get(&user_ns("ada"), "note-1", false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.value["text"], "text of note-1");
    let checkpoint = graph
        .checkpointer()
        .get(&"notes-1".into(), "", None)
        .await
        .unwrap()
        .unwrap();
    let archived: String = checkpoint.channels["archived"]
        .iter()
        .map(|blob| String::from_utf8_lossy(&blob.data).into_owned())
        .collect();
    assert!(archived.contains("note-1"), "{archived}");
    assert!(
        !archived.contains("text of"),
        "ids, not content: {archived}"
    );
}

#[tokio::test]
async fn without_a_store_a_node_is_told_so() {
    let graph = notes::graph().compile().unwrap();
    let error = graph
        .invoke(NotesUpdate::new().user("ada".to_owned()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no store"), "{error}");
}

#[tokio::test]
async fn the_sweeper_removes_expired_items_in_the_background() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let ns = user_ns("eve");
    store
        .put(
            &ns,
            "short",
            &json!({"v": 1}),
            Some(std::time::Duration::from_millis(20)),
        )
        .await
        .unwrap();
    store
        .put(&ns, "kept", &json!({"v": 2}), None)
        .await
        .unwrap();
    let sweeper =
        stategraph::store::spawn_sweeper(store.clone(), std::time::Duration::from_millis(10));
    // Long after it expired, the background task has swept it: a sweep of our own finds
    // nothing left (without the sweeper it would remove it now).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let left = store.sweep().await.unwrap();
    sweeper.abort();
    assert_eq!(left, 0, "swept in the background");
    assert!(store.get(&ns, "kept", false).await.unwrap().is_some());
}
