//! Graphs as nodes of other graphs: `#[subgraph] type draft = drafting::Graph;` in a `#[graph]`
//! module makes the graph `drafting` a node named `draft`.
//!
//! A subgraph shares its graph's state type, or maps it: a function from the enclosing state
//! to the subgraph's input, and one from its final state to the enclosing graph's update. How
//! its runs are checkpointed is chosen per subgraph ([`SubgraphCheckpoint`]). Running one call
//! is `node.rs`; the enclosing state of a shared-state subgraph is updated as `shared.rs` says;
//! a thread's subgraph calls are read and corrected through `handle.rs`.

mod handle;
pub(crate) mod migrate;
mod node;
mod shared;

use std::any::{Any, TypeId};
use std::sync::Arc;

pub use handle::{SubgraphCall, SubgraphThread};

use crate::executor::Begin;
use crate::graph::GraphDef;
use crate::node::NodeFn;
use crate::state::State;

/// How a subgraph's runs are checkpointed (`#[subgraph(checkpoint = …)]`) — LangGraph's
/// `checkpointer=None | True | False` on a subgraph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubgraphCheckpoint {
    /// Each call checkpoints every step in a namespace of its own (`node:task`), through the
    /// enclosing thread's checkpointer: a crash inside the call resumes inside it, a question
    /// asked inside it pauses the enclosing thread, and each call starts from a fresh state. The
    /// default.
    #[default]
    PerCall,
    /// Like `PerCall`, in one namespace per node (`node`) kept across calls on the thread:
    /// each call starts from the state the previous call ended with (a subgraph sharing its
    /// graph's state starts from that state instead, and keeps only its history).
    PerThread,
    /// No checkpoints inside the call — the seed's selective checkpointing: high-frequency
    /// work inside an enclosing graph that checkpoints at its own step boundaries. A crash
    /// inside the call runs the whole call again on resume, and a question asked inside it is
    /// an error (a paused run needs a checkpoint to resume from).
    None,
}

/// A subgraph node of a graph over state `S` with dependencies `D`, as `#[subgraph]`
/// generates it; [`GraphSpec::subgraph`](crate::GraphSpec::subgraph) adds it.
pub struct Subgraph<S: State, D> {
    pub(crate) run: Arc<dyn NodeFn<S, D>>,
    pub(crate) info: SubgraphInfo<D>,
}

impl<S: State, D: Send + Sync + 'static> Subgraph<S, D> {
    /// Graph `G`, which runs on the same state type: each call starts from the enclosing
    /// state, and the channels it changed are written back, whole. Its dependencies are made
    /// from the enclosing graph's with `deps`.
    pub fn shared<G>(checkpoint: SubgraphCheckpoint, deps: fn(&Arc<D>) -> Arc<G::Deps>) -> Self
    where
        G: SharesState<S>,
    {
        let enter = |state: &S| Begin {
            state: Some(G::inner(state)),
            input: Default::default(),
        };
        let leave = |before: &S, after: G::State| shared::changes(before, &G::outer(after));
        Self::build::<G>(checkpoint, deps, Box::new(enter), Box::new(leave))
    }

    /// Graph `G` over its own state: each call runs on `input` of the enclosing state, and
    /// `output` of its final state is the enclosing graph's update. Its dependencies are made
    /// from the enclosing graph's with `deps`.
    pub fn mapped<G: GraphDef>(
        checkpoint: SubgraphCheckpoint,
        deps: fn(&Arc<D>) -> Arc<G::Deps>,
        input: fn(&S) -> <G::State as State>::Update,
        output: fn(&G::State) -> S::Update,
    ) -> Self {
        let enter = move |state: &S| Begin {
            state: None,
            input: input(state),
        };
        let leave = move |_: &S, after: G::State| Ok(output(&after));
        Self::build::<G>(checkpoint, deps, Box::new(enter), Box::new(leave))
    }

    fn build<G: GraphDef>(
        checkpoint: SubgraphCheckpoint,
        deps: fn(&Arc<D>) -> Arc<G::Deps>,
        enter: node::Enter<G, S>,
        leave: node::Leave<G, S>,
    ) -> Self {
        let run = node::SubgraphNode::<G, S, D>::new(checkpoint, deps, enter, leave);
        let info = SubgraphInfo {
            graph: GraphName::of::<G>(),
            checkpoint,
            deps: Arc::new(move |outer: &Arc<D>| deps(outer) as Arc<dyn Any + Send + Sync>),
            migrate: migrate::migrate_ns::<G>(),
        };
        Self {
            run: Arc::new(run),
            info,
        }
    }
}

/// A graph whose state type is `S`: a subgraph that needs no mapping in a graph over `S`.
/// `#[graph]` implements it for the graph's own state type.
#[diagnostic::on_unimplemented(
    message = "subgraph `{Self}` runs on another state type than this graph's `{S}`, and has no mapping",
    label = "its state is not `{S}`",
    note = "share the state type, or map it: `#[subgraph(input = to_inner, output = from_inner)]` with `fn to_inner(state: &{S}) -> InnerUpdate` and `fn from_inner(inner: &Inner) -> {S}Update`"
)]
pub trait SharesState<S>: GraphDef {
    /// The enclosing state as this graph's.
    fn inner(state: &S) -> Self::State;
    /// This graph's state as the enclosing graph's.
    fn outer(state: Self::State) -> S;
}

/// Dependencies a subgraph can take as they are: its graph's, when they are of its type.
#[diagnostic::on_unimplemented(
    message = "the subgraph takes dependencies of type `{I}`, and this graph's are `{Self}`",
    label = "not the subgraph's dependencies",
    note = "make them from this graph's: `#[subgraph(deps = inner_deps)]` with `fn inner_deps(deps: &{Self}) -> Arc<{I}>`"
)]
pub trait SameDeps<I> {
    /// The dependencies, shared.
    fn same(deps: &Arc<Self>) -> Arc<I>;
}

impl<D> SameDeps<D> for D {
    fn same(deps: &Arc<D>) -> Arc<D> {
        Arc::clone(deps)
    }
}

/// What a graph knows of one of its subgraph nodes.
pub struct SubgraphInfo<D> {
    /// The graph the node runs.
    pub graph: GraphName,
    /// How its calls are checkpointed.
    pub checkpoint: SubgraphCheckpoint,
    /// Its dependencies, made from the enclosing graph's.
    pub(crate) deps: MakeDeps<D>,
    /// Migrates a thread's namespace of it (and those it nests) to the current state version.
    pub(crate) migrate: migrate::MigrateNs,
}

/// Makes a subgraph's dependencies from its graph's, type-erased.
pub(crate) type MakeDeps<D> = Arc<dyn Fn(&Arc<D>) -> Arc<dyn Any + Send + Sync> + Send + Sync>;

impl<D> Clone for SubgraphInfo<D> {
    fn clone(&self) -> Self {
        Self {
            graph: self.graph,
            checkpoint: self.checkpoint,
            deps: Arc::clone(&self.deps),
            migrate: Arc::clone(&self.migrate),
        }
    }
}

/// A graph type, by name and identity, with what it nests in turn.
#[derive(Clone, Copy)]
pub struct GraphName {
    name: fn() -> &'static str,
    pub(crate) type_id: fn() -> TypeId,
    /// The graphs its own subgraph nodes run.
    pub(crate) nested: fn() -> Vec<GraphName>,
}

impl std::fmt::Debug for GraphName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl GraphName {
    /// Graph `G`.
    pub fn of<G: GraphDef>() -> Self {
        Self {
            name: || G::spec().name,
            type_id: TypeId::of::<G>,
            nested: nested::<G>,
        }
    }

    /// The graph's name (its module's).
    pub fn name(&self) -> &'static str {
        (self.name)()
    }

    /// Whether this is graph `G`.
    pub(crate) fn is<G: GraphDef>(&self) -> bool {
        (self.type_id)() == TypeId::of::<G>()
    }
}

/// The graphs the subgraph nodes of `G` run.
fn nested<G: GraphDef>() -> Vec<GraphName> {
    G::spec()
        .nodes
        .iter()
        .filter_map(|node| node.subgraph.as_ref().map(|s| s.graph))
        .collect()
}

/// Refuses a graph that contains itself through its subgraph nodes (`a` runs `b`, which runs
/// `a`): it would nest calls without end. Named by the path that closes the cycle.
pub(crate) fn check_nesting(root: GraphName) -> Result<(), String> {
    fn walk(graph: GraphName, path: &mut Vec<GraphName>) -> Result<(), String> {
        let id = (graph.type_id)();
        if path.iter().any(|g| (g.type_id)() == id) {
            let names: Vec<&str> = path.iter().chain([&graph]).map(GraphName::name).collect();
            return Err(format!(
                "graph `{}` contains itself through its subgraph nodes ({}); a subgraph cannot \
                 run a graph that encloses it",
                graph.name(),
                names.join(" -> ")
            ));
        }
        path.push(graph);
        for inner in (graph.nested)() {
            walk(inner, path)?;
        }
        path.pop();
        Ok(())
    }
    walk(root, &mut Vec::new())
}
