//! The research example's graph: its run with stand-in and test-double services, and the
//! diagram the README shows, which must match the graph as compiled.

#[path = "../examples/research_agent/graph.rs"]
mod graph;

use async_trait::async_trait;
use graph::{
    Documents, Llm, ResearchStateUpdate, Search, ServiceError, Services, StandIn, Verdict, research,
};
use stategraph::{GraphDef, GraphError, MemorySaver};

#[tokio::test]
async fn the_stand_ins_reach_a_pass_after_a_new_search_and_a_revision() {
    let graph = research::graph(Services::stand_ins())
        .checkpointer(MemorySaver::new())
        .compile()
        .unwrap();
    let done = graph
        .thread("research-test")
        .invoke(ResearchStateUpdate::new().query("q"))
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    assert_eq!(done.review_verdict, Some(Verdict::Pass));
    assert_eq!(done.retry_count, 2);
    assert_eq!(done.messages.len(), 8);
}

/// A search service that is down.
struct Down;

#[async_trait]
impl Search for Down {
    async fn search(&self, _: &str, _: u32) -> Result<Vec<String>, ServiceError> {
        Err(ServiceError("search API unavailable".to_owned()))
    }
}

#[tokio::test]
async fn a_test_double_replaces_one_service_and_its_error_names_the_node() {
    let services = Services {
        search: Box::new(Down),
        documents: Box::new(StandIn) as Box<dyn Documents>,
        llm: Box::new(StandIn) as Box<dyn Llm>,
    };
    let graph = research::graph(services).compile().unwrap();
    let err = graph
        .invoke(ResearchStateUpdate::new().query("q"))
        .await
        .unwrap_err();
    match &err {
        GraphError::Node { node, source, .. } => {
            assert_eq!(*node, "search");
            assert!(source.downcast_ref::<ServiceError>().is_some());
        }
        other => panic!("expected the search node to fail, got {other:?}"),
    }
}

/// The text between `<!-- begin: {name} -->` and `<!-- end: {name} -->` in the README, without
/// its code fence.
fn readme_block(name: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let begin = format!("<!-- begin: {name} -->");
    let end = format!("<!-- end: {name} -->");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README.md has no `{begin}` marker"))
        + begin.len();
    let stop = readme[start..]
        .find(&end)
        .unwrap_or_else(|| panic!("README.md has no `{end}` marker"))
        + start;
    let block = readme[start..stop].trim();
    let block = block
        .strip_prefix("```mermaid")
        .and_then(|b| b.strip_suffix("```"))
        .unwrap_or_else(|| panic!("the `{name}` block is not a ```mermaid fence"));
    block.trim_start_matches('\n').to_owned()
}

#[test]
fn the_readme_shows_the_research_agent_as_compiled() {
    let compiled = <research::Graph as GraphDef>::MERMAID;
    assert_eq!(
        readme_block("research diagram"),
        compiled,
        "README.md's research agent diagram is stale; replace the block with:\n{compiled}"
    );
}
