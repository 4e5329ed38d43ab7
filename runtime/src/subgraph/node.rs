//! One call of a subgraph node: the subgraph runs as a graph of its own inside the task, in
//! the namespace its checkpoint mode gives it, writing with the enclosing run's ownership epoch.

use std::sync::{Arc, OnceLock};

use super::SubgraphCheckpoint;
use crate::compiled::DEFAULT_RECURSION_LIMIT;
use crate::executor::{Begin, Durability, Executor};
use crate::graph::{GraphDef, GraphSpec};
use crate::node::{NodeContext, NodeError, NodeFn, NodeFuture, NodeResult};
use crate::state::State;

/// How a call starts, from the enclosing state.
pub(super) type Enter<G, S> = Box<dyn Fn(&S) -> Begin<<G as GraphDef>::State> + Send + Sync>;
/// The enclosing graph's update, from the enclosing state the call started on and the call's
/// final state.
pub(super) type Leave<G, S> = Box<
    dyn Fn(&S, <G as GraphDef>::State) -> Result<<S as State>::Update, NodeError> + Send + Sync,
>;

/// The node that runs graph `G` inside a graph over `S` with dependencies `D`.
pub(super) struct SubgraphNode<G: GraphDef, S: State, D> {
    parts: Arc<Parts<G, S, D>>,
}

struct Parts<G: GraphDef, S: State, D> {
    checkpoint: SubgraphCheckpoint,
    deps: fn(&Arc<D>) -> Arc<G::Deps>,
    enter: Enter<G, S>,
    leave: Leave<G, S>,
    /// The subgraph, built at its first call: building it with the enclosing graph would
    /// build every graph it nests, and never end for one that nests itself.
    spec: OnceLock<GraphSpec<G::State, G::Deps>>,
}

impl<G: GraphDef, S: State, D> SubgraphNode<G, S, D> {
    pub(super) fn new(
        checkpoint: SubgraphCheckpoint,
        deps: fn(&Arc<D>) -> Arc<G::Deps>,
        enter: Enter<G, S>,
        leave: Leave<G, S>,
    ) -> Self {
        Self {
            parts: Arc::new(Parts {
                checkpoint,
                deps,
                enter,
                leave,
                spec: OnceLock::new(),
            }),
        }
    }
}

impl<G: GraphDef, S: State, D: Send + Sync + 'static> NodeFn<S, D> for SubgraphNode<G, S, D> {
    fn call(&self, state: Arc<S>, ctx: NodeContext<D>) -> NodeFuture<S> {
        let parts = Arc::clone(&self.parts);
        Box::pin(async move { parts.run(&state, &ctx).await })
    }
}

impl<G: GraphDef, S: State, D: Send + Sync + 'static> Parts<G, S, D> {
    async fn run(&self, state: &S, ctx: &NodeContext<D>) -> NodeResult<S> {
        let spec = self.spec.get_or_init(|| G::spec().with_policies());
        let scope = ctx.scope.as_deref();
        let persistence = match self.checkpoint {
            SubgraphCheckpoint::None => None,
            mode => {
                scope.and_then(|s| s.persistence(ctx.node, mode == SubgraphCheckpoint::PerCall))
            }
        };
        let ns = persistence.as_ref().map(|p| p.ns.clone());
        let executor = Executor::new(
            spec,
            persistence,
            scope.map_or(DEFAULT_RECURSION_LIMIT, |s| s.recursion_limit),
            (self.deps)(&ctx.deps),
        )
        .claimed(scope.and_then(|s| s.epoch))
        .events(scope.and_then(|s| s.events(ctx.node, spec.name)))
        .with_store(scope.and_then(|s| s.store.clone()))
        .budget(scope.and_then(|s| s.budget.clone()))
        .durability(scope.map_or(Durability::Sync, |s| s.durability));
        let parents = scope.map(|s| s.parents.clone()).unwrap_or_default();
        let keep = self.checkpoint == SubgraphCheckpoint::PerThread;
        let (after, last) = executor
            .call(
                (self.enter)(state),
                parents,
                keep,
                ctx.interrupts.as_deref(),
            )
            .await?;
        if let (Some(scope), Some(ns), Some(last)) = (scope, ns, last)
            && let Ok(mut reached) = scope.reached.lock()
        {
            *reached = Some((ns, last));
        }
        (self.leave)(state, after)
    }
}
