//! The shape of a graph as `#[graph]` generates it: nodes, edges, routes and joins.
//!
//! One import runs up the layers (see ARCHITECTURE.md): a subgraph node is a kind of node of
//! the shape, and its type ([`Subgraph`], with [`SubgraphInfo`]) lives with the code that runs a
//! graph inside another; the shape only holds it.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use crate::node::NodeFn;
use crate::policy::{CachePolicy, RetryPolicy};
use crate::send::{InputCodec, SentInput};
use crate::state::State;
use crate::subgraph::{Subgraph, SubgraphInfo};

/// Where an edge leads. It prints as the node's name (or `END`), as everywhere a person reads
/// node names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The node with this index and name.
    Node(usize, &'static str),
    /// The end of the graph.
    End,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Node(_, name) => f.write_str(name),
            Target::End => f.write_str("END"),
        }
    }
}

impl Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// An edge leaving a node (or START), in a graph over state `S` with dependencies `D`.
#[non_exhaustive]
pub enum Edge<S, D = ()> {
    /// Always go to the target.
    To(Target),
    /// Ask a routing function, which maps the merged state (and the dependencies) to one
    /// target.
    Route {
        /// The routing function's name.
        name: &'static str,
        /// The routing function with its table applied.
        pick: fn(&S, &D) -> Target,
    },
    /// Ask a `#[send]` function, which maps the merged state (and the dependencies) to inputs:
    /// one task of the target node runs on each, in the next step.
    Send {
        /// The send function's name.
        name: &'static str,
        /// The node that receives the inputs.
        target: usize,
        /// The send function.
        fan: fn(&S, &D) -> Vec<SentInput>,
        /// Where the run goes when the function sends nothing (`None`: nowhere on this edge).
        otherwise: Option<Target>,
    },
}

/// A fan-in (`[a, b] -> c`): `c` runs once every source has finished since it last ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// The key under which checkpoints keep which sources have finished.
    pub key: String,
    /// The source nodes.
    pub sources: Vec<usize>,
    /// The target node.
    pub target: usize,
}

/// A node: its name, its function and its policies.
pub struct NodeSpec<S: State, D = ()> {
    /// The name, as written in the graph.
    pub name: &'static str,
    /// The function.
    pub run: Arc<dyn NodeFn<S, D>>,
    /// Its retry policy (`#[node(retry = …)]`); the graph's when `None`.
    pub retry: Option<RetryPolicy>,
    /// The time limit of each attempt (`#[node(timeout = …)]`); the graph's when `None`.
    pub timeout: Option<Duration>,
    /// The node that handles its failure (`#[node(on_error = handler)]`), by index.
    pub on_error: Option<usize>,
    /// How its inputs are stored, for a node that runs on sent inputs (one task per input a
    /// `#[send]` function returns) instead of on the state.
    pub input: Option<InputCodec>,
    /// How its results are cached (`#[node(cache = …)]`).
    pub cache: Option<CachePolicy>,
    /// The graph it runs, for a subgraph node (`#[subgraph] type name = other::Graph;`).
    pub subgraph: Option<SubgraphInfo<D>>,
}

/// A whole graph over state `S` with dependencies `D`.
pub struct GraphSpec<S: State, D = ()> {
    /// The graph's name (its module's name).
    pub name: &'static str,
    /// The nodes; a node's index is its position here.
    pub nodes: Vec<NodeSpec<S, D>>,
    /// The edges leaving START.
    pub start: Vec<Edge<S, D>>,
    /// The edges leaving each node, by node index.
    pub edges: Vec<Vec<Edge<S, D>>>,
    /// The fan-ins.
    pub joins: Vec<Join>,
    /// The nodes every run pauses before (`interrupt_before`), by index.
    pub interrupt_before: Vec<usize>,
    /// The nodes every run pauses after (`interrupt_after`), by index.
    pub interrupt_after: Vec<usize>,
    /// The nodes whose steps are not checkpointed (`#[node(checkpoint = false)]`), by index: a
    /// step that ran only such nodes is saved with the next step that ran another, or when the
    /// run ends, pauses or fails.
    pub skip_checkpoint: Vec<usize>,
    /// The retry policy of every node that has none of its own (`#[graph(retry = …)]`).
    pub retry: Option<RetryPolicy>,
    /// The time limit of each attempt of every node that has none of its own
    /// (`#[graph(timeout = …)]`).
    pub timeout: Option<Duration>,
}

impl<S: State, D> GraphSpec<S, D> {
    /// An empty graph named `name`.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            nodes: Vec::new(),
            start: Vec::new(),
            edges: Vec::new(),
            joins: Vec::new(),
            interrupt_before: Vec::new(),
            interrupt_after: Vec::new(),
            skip_checkpoint: Vec::new(),
            retry: None,
            timeout: None,
        }
    }

    /// Pauses every run before node `node` runs, until the pause is answered.
    pub fn interrupt_before(mut self, node: usize) -> Self {
        self.interrupt_before.push(node);
        self
    }

    /// Pauses every run after node `node` ran (once its step is saved), until the pause is
    /// answered.
    pub fn interrupt_after(mut self, node: usize) -> Self {
        self.interrupt_after.push(node);
        self
    }

    /// Does not checkpoint the steps that run only node `node` and other such nodes: they are
    /// saved with the next checkpointed step. After a crash, the run re-executes them from the
    /// last checkpoint.
    pub fn skip_checkpoint(mut self, node: usize) -> Self {
        self.skip_checkpoint.push(node);
        self
    }

    /// Retries node `node` under `policy` when it fails.
    pub fn retry(mut self, node: usize, policy: RetryPolicy) -> Self {
        self.nodes[node].retry = Some(policy);
        self
    }

    /// Limits each attempt of node `node` to `after`.
    pub fn timeout(mut self, node: usize, after: Duration) -> Self {
        self.nodes[node].timeout = Some(after);
        self
    }

    /// When node `node` fails (after its retries), runs `handler` next instead of failing the
    /// run; `handler` is handed the failure ([`NodeContext::failure`](crate::NodeContext::failure)).
    pub fn on_error(mut self, node: usize, handler: usize) -> Self {
        self.nodes[node].on_error = Some(handler);
        self
    }

    /// Caches the results of node `node` under `policy`.
    pub fn cache(mut self, node: usize, policy: CachePolicy) -> Self {
        self.nodes[node].cache = Some(policy);
        self
    }

    /// Makes node `node` one that runs on sent inputs, stored with `codec`.
    pub fn input(mut self, node: usize, codec: InputCodec) -> Self {
        self.nodes[node].input = Some(codec);
        self
    }

    /// Retries every node without a policy of its own under `policy`.
    pub fn default_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Limits each attempt of every node without a limit of its own to `after`.
    pub fn default_timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// The graph as it runs: each node's function wrapped in its policies (its own, else the
    /// graph's), each node's `retry` and `timeout` set to the ones in effect.
    pub(crate) fn with_policies(mut self) -> Self
    where
        D: Send + Sync + 'static,
    {
        for node in &mut self.nodes {
            node.retry = node.retry.take().or_else(|| self.retry.clone());
            node.timeout = node.timeout.or(self.timeout);
            let policies = crate::policy::NodePolicies {
                timeout: node.timeout,
                retry: node.retry.as_ref(),
                cache: node.cache,
            };
            node.run = crate::policy::wrap(
                self.name,
                node.name,
                Arc::clone(&node.run),
                policies,
                node.input,
            );
        }
        self
    }

    /// Adds a node; nodes must be added in the order of their indexes.
    pub fn node(mut self, name: &'static str, run: Arc<dyn NodeFn<S, D>>) -> Self {
        self.nodes.push(NodeSpec {
            name,
            run,
            retry: None,
            timeout: None,
            on_error: None,
            input: None,
            cache: None,
            subgraph: None,
        });
        self.edges.push(Vec::new());
        self
    }

    /// Adds a node that runs another graph (`#[subgraph]`); nodes must be added in the order
    /// of their indexes.
    pub fn subgraph(mut self, name: &'static str, subgraph: Subgraph<S, D>) -> Self {
        self = self.node(name, subgraph.run);
        let node = self.nodes.last_mut().expect("just added");
        node.subgraph = Some(subgraph.info);
        self
    }

    /// Adds an edge leaving `from` (`None` is START).
    pub fn edge(mut self, from: Option<usize>, edge: Edge<S, D>) -> Self {
        match from {
            None => self.start.push(edge),
            Some(node) => self.edges[node].push(edge),
        }
        self
    }

    /// Adds a fan-in from `sources` to `target`.
    pub fn join(mut self, sources: Vec<usize>, target: usize) -> Self {
        let mut key: Vec<&str> = sources.iter().map(|&s| self.nodes[s].name).collect();
        key.sort_unstable();
        let key = format!("{}->{}", key.join("+"), self.nodes[target].name);
        self.joins.push(Join {
            key,
            sources,
            target,
        });
        self
    }

    /// The index of the node named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

/// The node enum `#[graph]` generates (`research::Node::Review`): names a node wherever the
/// API takes one, so a misspelt node is a compile error.
///
/// It prints (`{}` and `{:?}`) as the node's name as written in the graph — `handle_revision`,
/// not `HandleRevision` — the spelling checkpoints, metadata and errors use.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a node of a graph",
    label = "name the node with its graph's generated enum",
    note = "each `#[graph]` module generates `Node`, with a variant per node: `my_graph::Node::MyNode`; a misspelt name is then a compile error"
)]
pub trait NodeId: Copy + Eq + Hash + Debug + std::fmt::Display + Send + Sync + 'static {
    /// The name of the graph the nodes belong to (its module's name).
    const GRAPH: &'static str;
    /// Every node, in declaration order.
    const ALL: &'static [Self];
    /// The node's name as written in the graph.
    fn name(self) -> &'static str;
    /// The node's index in declaration order.
    fn index(self) -> usize;
}

/// A graph declared with `#[graph]`: its state, its dependencies, its node enum and its shape.
pub trait GraphDef: Send + Sync + 'static {
    /// The state type.
    type State: State;
    /// The dependencies nodes and routes may use (`#[graph(deps = …)]`; `()` without).
    type Deps: Send + Sync + 'static;
    /// The node enum.
    type Node: NodeId;
    /// The graph drawn as a Mermaid flowchart (made at compile time): START, END, every node,
    /// every edge, every route's arms as dashed edges labelled with their variants, and every
    /// join as a junction its sources lead into.
    const MERMAID: &'static str;
    /// The same drawing as Graphviz DOT (`dot -Tsvg`).
    const DOT: &'static str;
    /// Builds the graph.
    fn spec() -> GraphSpec<Self::State, Self::Deps>;
}
