//! The behaviour of the code `#[graph]` generates: the node enum and the graph's spec.

#![allow(missing_docs)]

use serde::{Deserialize, Serialize};
use stategraph::{Edge, GraphDef, GraphSpec, NodeId, NodeResult, Target};

#[derive(stategraph::State, Clone, Debug, Default, Serialize, Deserialize)]
pub struct Flow {
    #[state(reducer = append)]
    pub visited: Vec<String>,
    pub approved: bool,
}

fn visit(name: &str) -> NodeResult<Flow> {
    Ok(FlowUpdate::new().visited(vec![name.to_owned()]))
}

#[stategraph::graph(state = Flow)]
pub mod research {
    use super::*;
    use stategraph::NodeContext;

    #[node]
    async fn search(_: &Flow) -> NodeResult<Flow> {
        visit("search")
    }
    #[node]
    async fn synthesize(_: &Flow) -> NodeResult<Flow> {
        visit("synthesize")
    }
    #[node]
    async fn review(_: &Flow, ctx: &NodeContext) -> NodeResult<Flow> {
        visit(ctx.node())
    }
    #[node]
    async fn handle_revision(_: &Flow) -> NodeResult<Flow> {
        visit("handle_revision")
    }

    pub enum AfterReview {
        Pass,
        Revise,
        RetrySearch,
    }

    #[route]
    fn after_review(s: &Flow) -> AfterReview {
        if s.approved {
            AfterReview::Pass
        } else {
            AfterReview::Revise
        }
    }

    edges! {
        START -> search -> synthesize -> review;
        review -> after_review { Pass => END, Revise => handle_revision, RetrySearch => search };
        handle_revision -> synthesize;
    }
}

#[stategraph::graph(state = Flow)]
mod fan {
    use super::*;

    #[node]
    async fn plan(_: &Flow) -> NodeResult<Flow> {
        visit("plan")
    }
    #[node]
    async fn left(_: &Flow) -> NodeResult<Flow> {
        visit("left")
    }
    #[node]
    async fn right(_: &Flow) -> NodeResult<Flow> {
        visit("right")
    }
    #[node]
    async fn merge(_: &Flow) -> NodeResult<Flow> {
        visit("merge")
    }

    edges! {
        START -> plan -> [left, right] -> merge;
        merge -> END;
    }
}

fn to(edge: &Edge<Flow>) -> Target {
    match edge {
        Edge::To(target) => *target,
        Edge::Route { name, .. } => panic!("expected a plain edge, found route `{name}`"),
        Edge::Send { name, .. } => panic!("expected a plain edge, found send `{name}`"),
        _ => panic!("expected a plain edge"),
    }
}

fn targets(edges: &[Edge<Flow>]) -> Vec<Target> {
    edges.iter().map(to).collect()
}

fn names(spec: &GraphSpec<Flow>) -> Vec<&'static str> {
    spec.nodes.iter().map(|node| node.name).collect()
}

#[test]
fn the_node_enum_lists_every_node_in_declaration_order() {
    use research::Node;
    assert_eq!(
        Node::ALL,
        [
            Node::Search,
            Node::Synthesize,
            Node::Review,
            Node::HandleRevision
        ]
    );
    assert_eq!(
        Node::ALL.iter().map(|n| n.name()).collect::<Vec<_>>(),
        ["search", "synthesize", "review", "handle_revision"]
    );
    assert_eq!(
        Node::ALL.iter().map(|n| n.index()).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(Node::Search < Node::HandleRevision);
    // Printed, a node is spelt as in the graph and in checkpoints.
    assert_eq!(format!("{:?}", Node::HandleRevision), "handle_revision");
    assert_eq!(Node::HandleRevision.to_string(), "handle_revision");
    assert_eq!(
        format!("{:?}", [Node::Review, Node::HandleRevision]),
        "[review, handle_revision]"
    );
    let spec = research::Graph::spec();
    for node in Node::ALL {
        assert_eq!(spec.index_of(node.name()), Some(node.index()));
    }
}

#[test]
fn chains_become_edges_and_routes_map_their_table() {
    let spec = research::Graph::spec();
    assert_eq!(spec.name, "research");
    assert_eq!(
        names(&spec),
        ["search", "synthesize", "review", "handle_revision"]
    );
    assert_eq!(targets(&spec.start), [Target::Node(0, "search")]);
    assert_eq!(targets(&spec.edges[0]), [Target::Node(1, "synthesize")]);
    assert_eq!(targets(&spec.edges[1]), [Target::Node(2, "review")]);
    assert_eq!(targets(&spec.edges[3]), [Target::Node(1, "synthesize")]);
    assert!(spec.joins.is_empty());

    let [Edge::Route { name, pick }] = spec.edges[2].as_slice() else {
        panic!("review should leave through one route");
    };
    assert_eq!(*name, "after_review");
    assert_eq!(
        pick(
            &Flow {
                approved: true,
                ..Flow::default()
            },
            &()
        ),
        Target::End
    );
    assert_eq!(
        pick(&Flow::default(), &()),
        Target::Node(3, "handle_revision")
    );
}

#[test]
fn fan_out_and_join() {
    let spec = fan::Graph::spec();
    assert_eq!(names(&spec), ["plan", "left", "right", "merge"]);
    assert_eq!(targets(&spec.start), [Target::Node(0, "plan")]);
    assert_eq!(
        targets(&spec.edges[0]),
        [Target::Node(1, "left"), Target::Node(2, "right")]
    );
    // left and right lead on only through the join.
    assert!(spec.edges[1].is_empty() && spec.edges[2].is_empty());
    assert_eq!(spec.joins.len(), 1);
    assert_eq!(spec.joins[0].sources, [1, 2]);
    assert_eq!(spec.joins[0].target, 3);
    assert_eq!(spec.joins[0].key, "left+right->merge");
    assert_eq!(targets(&spec.edges[3]), [Target::End]);
}

#[tokio::test]
async fn a_generated_graph_runs() {
    let graph = research::graph().compile().unwrap();
    let state = graph
        .invoke(FlowUpdate::new().approved(true))
        .await
        .unwrap();
    assert_eq!(state.visited, ["search", "synthesize", "review"]);

    let graph = fan::graph().compile().unwrap();
    let mut state = graph.invoke(FlowUpdate::new()).await.unwrap();
    state.visited[1..3].sort();
    assert_eq!(state.visited, ["plan", "left", "right", "merge"]);
}

/// A helper takes a compiled graph by its generated name: `Compiled` with a checkpointer,
/// `Compiled<Ephemeral>` without one.
async fn visited(graph: &research::Compiled, thread: &str) -> Vec<String> {
    let thread = graph.thread(thread);
    let done = thread.invoke(FlowUpdate::new().approved(true)).await;
    done.unwrap().into_finished().unwrap().visited
}

async fn visited_without_saving(graph: &fan::Compiled<stategraph::Ephemeral>) -> usize {
    graph.invoke(FlowUpdate::new()).await.unwrap().visited.len()
}

#[tokio::test]
async fn a_compiled_graph_is_named_by_its_generated_alias() {
    let durable: research::Compiled = research::graph()
        .checkpointer(stategraph::MemorySaver::new())
        .compile()
        .unwrap();
    assert_eq!(
        visited(&durable, "t").await,
        ["search", "synthesize", "review"]
    );
    let ephemeral = fan::graph().compile().unwrap();
    assert_eq!(visited_without_saving(&ephemeral).await, 4);
}

#[test]
fn the_graph_draws_itself_with_fan_out_joins_and_labelled_routes() {
    assert_eq!(
        fan::Graph::MERMAID,
        "flowchart TD
    __start__([START])
    plan[\"plan\"]
    left[\"left\"]
    right[\"right\"]
    merge[\"merge\"]
    __join0__{{\"join\"}}
    __end__([END])
    __start__ --> plan
    plan --> left
    plan --> right
    merge --> __end__
    left --> __join0__
    right --> __join0__
    __join0__ --> merge
"
    );
    assert_eq!(
        fan::Graph::DOT,
        "digraph \"fan\" {
    \"__start__\" [label=\"START\", shape=oval];
    \"plan\" [label=\"plan\", shape=box];
    \"left\" [label=\"left\", shape=box];
    \"right\" [label=\"right\", shape=box];
    \"merge\" [label=\"merge\", shape=box];
    \"__join0__\" [label=\"join\", shape=diamond];
    \"__end__\" [label=\"END\", shape=oval];
    \"__start__\" -> \"plan\";
    \"plan\" -> \"left\";
    \"plan\" -> \"right\";
    \"merge\" -> \"__end__\";
    \"left\" -> \"__join0__\";
    \"right\" -> \"__join0__\";
    \"__join0__\" -> \"merge\";
}
"
    );
    let routes = research::Graph::DOT;
    for arm in ["Pass", "Revise", "RetrySearch"] {
        assert!(
            routes.contains(&format!("[label=\"{arm}\", style=dashed]")),
            "{routes}"
        );
    }
}
