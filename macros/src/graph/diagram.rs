//! Drawings of a checked graph, made at compile time: Mermaid and Graphviz DOT text with START,
//! END, every node, every edge, every route's arms labelled with their variants (dashed, as
//! conditional edges), every send (dashed, labelled "each" and the send function's name), every
//! error handler (dashed, "on error"), and every join as a junction its sources lead into. A
//! subgraph node has a double border (Mermaid's subroutine shape).

use std::fmt::Write;

use super::check::{Edge, Plan, Target};
use super::model::GraphModule;

/// Words Mermaid reads as syntax, which cannot be node ids there.
const MERMAID_RESERVED: &[&str] = &[
    "end",
    "graph",
    "subgraph",
    "flowchart",
    "style",
    "class",
    "classDef",
    "click",
    "linkStyle",
    "direction",
];

/// One arrow of the drawing.
struct Arrow {
    from: String,
    to: String,
    /// The route variant, for a conditional edge.
    label: Option<String>,
}

/// The drawing's parts, shared by both formats.
struct Drawing {
    /// Each node's name, and whether it runs a subgraph (drawn with a double border).
    nodes: Vec<(String, bool)>,
    joins: Vec<String>,
    arrows: Vec<Arrow>,
}

const START_ID: &str = "__start__";
const END_ID: &str = "__end__";

fn id(module: &GraphModule, target: Target) -> String {
    match target {
        Target::Node(i) => module.nodes[i].name.clone(),
        Target::End => END_ID.to_owned(),
    }
}

fn drawing(module: &GraphModule, plan: &Plan) -> Drawing {
    let mut arrows = Vec::new();
    let sources = std::iter::once((START_ID.to_owned(), &plan.start)).chain(
        plan.edges
            .iter()
            .enumerate()
            .map(|(i, edges)| (module.nodes[i].name.clone(), edges)),
    );
    for (from, edges) in sources {
        for edge in edges {
            match edge {
                Edge::To(target) => arrows.push(Arrow {
                    from: from.clone(),
                    to: id(module, *target),
                    label: None,
                }),
                Edge::Send { send, target, .. } => arrows.push(Arrow {
                    from: from.clone(),
                    to: module.nodes[*target].name.clone(),
                    label: Some(format!("each {}", module.sends[*send].name)),
                }),
                Edge::Tools {
                    target, otherwise, ..
                } => {
                    for (label, to) in [("Tools", Target::Node(*target)), ("End", *otherwise)] {
                        arrows.push(Arrow {
                            from: from.clone(),
                            to: id(module, to),
                            label: Some(label.to_owned()),
                        });
                    }
                }
                Edge::Route { arms, .. } => {
                    for (variant, target) in arms {
                        arrows.push(Arrow {
                            from: from.clone(),
                            to: id(module, *target),
                            label: Some(variant.to_string()),
                        });
                    }
                }
            }
        }
    }
    for (i, handler) in plan.handlers.iter().enumerate() {
        if let Some(handler) = handler {
            arrows.push(Arrow {
                from: module.nodes[i].name.clone(),
                to: module.nodes[*handler].name.clone(),
                label: Some("on error".to_owned()),
            });
        }
    }
    let mut joins = Vec::new();
    for (k, (sources, target)) in plan.joins.iter().enumerate() {
        let junction = format!("__join{k}__");
        for &source in sources {
            arrows.push(Arrow {
                from: module.nodes[source].name.clone(),
                to: junction.clone(),
                label: None,
            });
        }
        arrows.push(Arrow {
            from: junction.clone(),
            to: module.nodes[*target].name.clone(),
            label: None,
        });
        joins.push(junction);
    }
    Drawing {
        nodes: module
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.subgraph.is_some()))
            .collect(),
        joins,
        arrows,
    }
}

fn mermaid_id(name: &str) -> String {
    if MERMAID_RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

/// The graph as a Mermaid flowchart.
pub(crate) fn mermaid(module: &GraphModule, plan: &Plan) -> String {
    let drawing = drawing(module, plan);
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(out, "    {START_ID}([START])");
    for (node, subgraph) in &drawing.nodes {
        let id = mermaid_id(node);
        let _ = match subgraph {
            true => writeln!(out, "    {id}[[\"{node}\"]]"),
            false => writeln!(out, "    {id}[\"{node}\"]"),
        };
    }
    for join in &drawing.joins {
        let _ = writeln!(out, "    {join}{{{{\"join\"}}}}");
    }
    let _ = writeln!(out, "    {END_ID}([END])");
    for arrow in &drawing.arrows {
        let (from, to) = (mermaid_id(&arrow.from), mermaid_id(&arrow.to));
        match &arrow.label {
            None => {
                let _ = writeln!(out, "    {from} --> {to}");
            }
            Some(label) => {
                let _ = writeln!(out, "    {from} -. {label} .-> {to}");
            }
        }
    }
    out
}

/// The graph as Graphviz DOT.
pub(crate) fn dot(module: &GraphModule, plan: &Plan, graph_name: &str) -> String {
    let drawing = drawing(module, plan);
    let mut out = format!("digraph \"{graph_name}\" {{\n");
    let _ = writeln!(out, "    \"{START_ID}\" [label=\"START\", shape=oval];");
    for (node, subgraph) in &drawing.nodes {
        let border = if *subgraph { ", peripheries=2" } else { "" };
        let _ = writeln!(out, "    \"{node}\" [label=\"{node}\", shape=box{border}];");
    }
    for join in &drawing.joins {
        let _ = writeln!(out, "    \"{join}\" [label=\"join\", shape=diamond];");
    }
    let _ = writeln!(out, "    \"{END_ID}\" [label=\"END\", shape=oval];");
    for arrow in &drawing.arrows {
        let (from, to) = (&arrow.from, &arrow.to);
        match &arrow.label {
            None => {
                let _ = writeln!(out, "    \"{from}\" -> \"{to}\";");
            }
            Some(label) => {
                let _ = writeln!(
                    out,
                    "    \"{from}\" -> \"{to}\" [label=\"{label}\", style=dashed];"
                );
            }
        }
    }
    out.push_str("}\n");
    out
}
