//! Migrating the state a thread keeps for its per-thread subgraphs (`checkpoint = per_thread`)
//! to the current version of each subgraph's state type, level by level.

use std::any::Any;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::SubgraphCheckpoint;
use crate::checkpoint::Checkpointer;
use crate::compiled::DEFAULT_RECURSION_LIMIT;
use crate::error::GraphError;
use crate::executor::{Executor, Migrated, Persistence, call_ns};
use crate::graph::GraphDef;
use crate::ids::ThreadId;

/// Migrates one per-thread subgraph's namespace and those its graph nests, type-erased over
/// that graph; `Subgraph::build` makes it.
pub(crate) type MigrateNs =
    Arc<dyn Fn(Namespace) -> BoxFuture<'static, Vec<NsMigrated>> + Send + Sync>;

/// A subgraph namespace of a thread to migrate, with the subgraph's dependencies.
pub(crate) struct Namespace {
    pub(crate) saver: Arc<dyn Checkpointer>,
    pub(crate) thread_id: ThreadId,
    pub(crate) ns: String,
    pub(crate) deps: Arc<dyn Any + Send + Sync>,
}

/// What migrating one namespace did.
pub(crate) struct NsMigrated {
    pub(crate) ns: String,
    pub(crate) outcome: Result<Migrated, GraphError>,
}

/// The migration of graph `G`'s namespace, then of the per-thread subgraphs it nests.
pub(super) fn migrate_ns<G: GraphDef>() -> MigrateNs {
    Arc::new(|at: Namespace| {
        Box::pin(async move {
            let deps = at
                .deps
                .downcast::<G::Deps>()
                .expect("a subgraph's dependencies are of its graph's type");
            let spec = G::spec();
            let persistence = Persistence {
                saver: Arc::clone(&at.saver),
                thread_id: at.thread_id.clone(),
                ns: at.ns.clone(),
                metadata: Default::default(),
                usage: Default::default(),
            };
            let executor = Executor::new(
                &spec,
                Some(persistence),
                DEFAULT_RECURSION_LIMIT,
                Arc::clone(&deps),
            );
            let outcome = executor.migrate_latest().await;
            let mut done = vec![NsMigrated {
                ns: at.ns.clone(),
                outcome,
            }];
            done.extend(nested::<G>(at.saver, at.thread_id, at.ns, deps).await);
            done
        })
    })
}

/// Migrates the namespaces of the per-thread subgraphs graph `G` nests, under namespace
/// `prefix` of thread `thread_id` (`""` for a thread's root graph). A per-call subgraph's
/// namespaces are left to migrate when read: each holds one call, finished or paused.
pub(crate) fn nested<G: GraphDef>(
    saver: Arc<dyn Checkpointer>,
    thread_id: ThreadId,
    prefix: String,
    deps: Arc<G::Deps>,
) -> BoxFuture<'static, Vec<NsMigrated>> {
    Box::pin(async move {
        let spec = G::spec();
        let mut done = Vec::new();
        for node in &spec.nodes {
            let Some(info) = node
                .subgraph
                .as_ref()
                .filter(|s| s.checkpoint == SubgraphCheckpoint::PerThread)
            else {
                continue;
            };
            let at = Namespace {
                saver: Arc::clone(&saver),
                thread_id: thread_id.clone(),
                ns: call_ns(&prefix, node.name, None),
                deps: (info.deps)(&deps),
            };
            done.extend((info.migrate)(at).await);
        }
        done
    })
}
