//! MemorySaver passes the checkpointer conformance kit, and the kit catches broken savers
//! (MemorySaver wrapped with one deliberate bug each).

use std::collections::BTreeMap;

use async_trait::async_trait;
use stategraph_checkpoint::testing::{CASES, Report, block_on, run_all};
use stategraph_checkpoint::{
    BlobKind, CheckpointError, CheckpointId, CheckpointTuple, Checkpointer, Epoch, ListQuery,
    MemorySaver, NewCheckpoint, PendingWrite, Prune, PutMode, ThreadId, ThreadInfo, ThreadQuery,
    from_micros, to_micros,
};

stategraph_checkpoint::checkpointer_conformance!(async { MemorySaver::new() });

#[test]
fn run_all_reports_every_case_passing() {
    let report = block_on(run_all(|| async { MemorySaver::new() }));
    report.assert_passed();
    assert_eq!(
        report.passed.len(),
        CASES.len(),
        "run_all should run every listed case"
    );
    assert!(CASES.len() > 90, "the kit has {} cases", CASES.len());
}

#[test]
fn the_kit_runs_on_a_trait_object_inside_a_spawned_task() {
    // `run_all` (so every case) is a `Send` future: it can run on any tokio worker.
    let report = block_on(async {
        tokio::spawn(run_all(|| async {
            std::sync::Arc::new(MemorySaver::new()) as std::sync::Arc<dyn Checkpointer>
        }))
        .await
        .expect("the spawned kit should not panic")
    });
    report.assert_passed();
}

/// One deliberate contract violation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bug {
    ListIgnoresLimit,
    ListOldestFirst,
    ListBeforeInclusive,
    FilterByContainment,
    NoConflictCheck,
    WritesUnordered,
    RestampsCreatedAt,
    MillisecondTimestamps,
    PruneDropsAncestorBlobs,
    ThreadsIgnoreStatus,
    CopyDropsNamespaces,
    DeleteKeepsChildNamespaces,
    IgnoresEpochs,
    CacheNeverExpires,
}

/// MemorySaver with one bug.
struct Mutant {
    inner: MemorySaver,
    bug: Bug,
}

/// Whether `have` contains `want` (objects by key, arrays element-wise as a subset).
fn contains(have: &serde_json::Value, want: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| contains(hv, v))),
        (Value::Array(h), Value::Array(w)) => w.iter().all(|v| h.iter().any(|hv| contains(hv, v))),
        _ => have == want,
    }
}

#[async_trait]
impl Checkpointer for Mutant {
    async fn setup(&self) -> Result<(), CheckpointError> {
        self.inner.setup().await
    }

    async fn get(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        let mut got = self.inner.get(thread_id, ns, id).await?;
        if self.bug == Bug::WritesUnordered
            && let Some(tuple) = &mut got
        {
            tuple.pending_writes.reverse();
        }
        Ok(got)
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        let mut query = query.clone();
        match self.bug {
            Bug::ListIgnoresLimit => query.limit = None,
            Bug::ListOldestFirst => {
                let mut unlimited = query.clone();
                unlimited.limit = None;
                let mut all = self.inner.list(&unlimited).await?;
                all.reverse();
                all.truncate(query.limit.unwrap_or(usize::MAX));
                return Ok(all);
            }
            Bug::ListBeforeInclusive => {
                if let Some(before) = query.before.take() {
                    let limit = query.limit.take();
                    let mut all = self.inner.list(&query).await?;
                    all.retain(|t| t.checkpoint.id <= before);
                    all.truncate(limit.unwrap_or(usize::MAX));
                    return Ok(all);
                }
            }
            Bug::FilterByContainment => {
                let filter = std::mem::take(&mut query.filter);
                let limit = query.limit.take();
                let mut all = self.inner.list(&query).await?;
                all.retain(|t| {
                    let meta = t.checkpoint.metadata.to_json();
                    filter
                        .iter()
                        .all(|(k, v)| meta.get(k).is_some_and(|m| contains(m, v)))
                });
                all.truncate(limit.unwrap_or(usize::MAX));
                return Ok(all);
            }
            _ => {}
        }
        self.inner.list(&query).await
    }

    async fn claim(&self, thread_id: &ThreadId) -> Result<Epoch, CheckpointError> {
        self.inner.claim(thread_id).await
    }
    async fn epoch(&self, thread_id: &ThreadId) -> Result<Option<Epoch>, CheckpointError> {
        self.inner.epoch(thread_id).await
    }
    async fn claim_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError> {
        self.inner
            .claim_if(thread_id, expected, ns, id, writes)
            .await
    }
    async fn delete_thread_if(
        &self,
        thread_id: &ThreadId,
        expected: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.inner.delete_thread_if(thread_id, expected).await
    }

    async fn put(&self, mut new: NewCheckpoint) -> Result<(), CheckpointError> {
        match self.bug {
            Bug::IgnoresEpochs => new.epoch = None,
            Bug::NoConflictCheck if new.mode == PutMode::Advance => {
                let exists = match new.checkpoint.parent_id {
                    Some(parent) => self
                        .inner
                        .get(&new.checkpoint.thread_id, &new.checkpoint.ns, Some(parent))
                        .await?
                        .is_some(),
                    None => false,
                };
                if exists {
                    new.mode = PutMode::Fork;
                }
            }
            Bug::RestampsCreatedAt => new.checkpoint.created_at = stategraph_checkpoint::now(),
            Bug::MillisecondTimestamps => {
                let micros = to_micros(new.checkpoint.created_at);
                new.checkpoint.created_at = from_micros(micros - micros % 1000);
            }
            _ => {}
        }
        self.inner.put(new).await
    }

    async fn put_writes(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        self.inner
            .put_writes(thread_id, ns, id, writes, epoch)
            .await
    }

    async fn delete_thread(&self, thread_id: &ThreadId) -> Result<(), CheckpointError> {
        if self.bug == Bug::DeleteKeepsChildNamespaces {
            let children: Vec<CheckpointTuple> = self
                .inner
                .list(&ListQuery::thread(thread_id.clone()))
                .await?
                .into_iter()
                .filter(|t| !t.checkpoint.ns.is_empty())
                .collect();
            self.inner.delete_thread(thread_id).await?;
            for tuple in children.into_iter().rev() {
                self.inner.put(rebuild(&tuple, true)).await?;
            }
            return Ok(());
        }
        self.inner.delete_thread(thread_id).await
    }

    async fn copy_thread(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        self.inner.copy_thread(from, to).await?;
        if self.bug == Bug::CopyDropsNamespaces {
            let roots: Vec<CheckpointTuple> = self
                .inner
                .list(&ListQuery::thread(to.clone()).ns(""))
                .await?;
            self.inner.delete_thread(to).await?;
            for tuple in roots.into_iter().rev() {
                self.inner.put(rebuild(&tuple, true)).await?;
                put_back_writes(&self.inner, &tuple).await?;
            }
        }
        Ok(())
    }

    async fn prune(&self, thread_ids: &[ThreadId], policy: Prune) -> Result<(), CheckpointError> {
        if self.bug == Bug::PruneDropsAncestorBlobs && policy == Prune::KeepLatest {
            for thread_id in thread_ids {
                let all = self
                    .inner
                    .list(&ListQuery::thread(thread_id.clone()))
                    .await?;
                let mut latest: BTreeMap<String, CheckpointTuple> = BTreeMap::new();
                for tuple in all {
                    latest.entry(tuple.checkpoint.ns.clone()).or_insert(tuple);
                }
                self.inner.delete_thread(thread_id).await?;
                for tuple in latest.values() {
                    // Keeps only the blobs the kept checkpoint wrote itself.
                    self.inner.put(rebuild(tuple, false)).await?;
                    put_back_writes(&self.inner, tuple).await?;
                }
            }
            return Ok(());
        }
        self.inner.prune(thread_ids, policy).await
    }

    async fn list_threads(&self, query: &ThreadQuery) -> Result<Vec<ThreadInfo>, CheckpointError> {
        let mut query = query.clone();
        if self.bug == Bug::ThreadsIgnoreStatus {
            query.status = None;
        }
        self.inner.list_threads(&query).await
    }

    async fn cache_get(&self, key: &str) -> Result<Option<Vec<u8>>, CheckpointError> {
        self.inner.cache_get(key).await
    }

    async fn cache_put(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<std::time::Duration>,
    ) -> Result<(), CheckpointError> {
        let ttl = if self.bug == Bug::CacheNeverExpires {
            None
        } else {
            ttl
        };
        self.inner.cache_put(key, value, ttl).await
    }
}

/// A stored tuple as a put again (a Fork): with every blob it returned and its parent, or
/// (for the pruning bug) only the snapshots it wrote itself and no parent.
fn rebuild(tuple: &CheckpointTuple, all_blobs: bool) -> NewCheckpoint {
    let id = tuple.checkpoint.id;
    let mut checkpoint = tuple.checkpoint.clone();
    if !all_blobs {
        checkpoint.parent_id = None;
    }
    NewCheckpoint {
        checkpoint,
        blobs: tuple
            .channels
            .values()
            .flatten()
            .filter(|b| all_blobs || (b.version == id && b.kind == BlobKind::Snapshot))
            .cloned()
            .collect(),
        mode: PutMode::Fork,
        epoch: None,
    }
}

async fn put_back_writes(
    saver: &MemorySaver,
    tuple: &CheckpointTuple,
) -> Result<(), CheckpointError> {
    let c = &tuple.checkpoint;
    saver
        .put_writes(
            &c.thread_id,
            &c.ns,
            c.id,
            tuple.pending_writes.clone(),
            None,
        )
        .await
}

fn run_mutant(bug: Bug) -> Report {
    block_on(run_all(move || async move {
        Mutant {
            inner: MemorySaver::new(),
            bug,
        }
    }))
}

#[test]
fn the_kit_catches_broken_savers() {
    let expectations: &[(Bug, &[&str])] = &[
        (
            Bug::ListIgnoresLimit,
            &[
                "list::limit",
                "list::limit_plus_before",
                "list::filter_matrix",
            ],
        ),
        (
            Bug::ListOldestFirst,
            &["list::ordering", "list::all", "list::filter_matrix"],
        ),
        (
            Bug::ListBeforeInclusive,
            &["list::before", "list::filter_matrix"],
        ),
        (Bug::FilterByContainment, &["metadata::filter_json_values"]),
        (
            Bug::NoConflictCheck,
            &[
                "conflict::stale_parent_conflicts",
                "conflict::concurrent_advance_exactly_one_wins",
            ],
        ),
        (
            Bug::WritesUnordered,
            &[
                "put_writes::ordered_by_task_and_index",
                "put_writes::accumulate_across_calls",
            ],
        ),
        (
            Bug::RestampsCreatedAt,
            &["put::created_at_is_not_restamped"],
        ),
        (Bug::MillisecondTimestamps, &["put::created_at_round_trips"]),
        (
            Bug::PruneDropsAncestorBlobs,
            &[
                "prune::keep_latest_keeps_delta_chain",
                "prune::keep_latest_then_advance",
            ],
        ),
        (Bug::ThreadsIgnoreStatus, &["threads::status_filter"]),
        (
            Bug::CopyDropsNamespaces,
            &["copy::preserves_namespaces", "copy::keeps_ids_and_values"],
        ),
        (
            Bug::DeleteKeepsChildNamespaces,
            &["delete::removes_all_namespaces"],
        ),
        (
            Bug::IgnoresEpochs,
            &[
                "fencing::stale_epoch_is_fenced_and_stores_nothing",
                "fencing::unclaimed_thread_refuses_epochs",
                "fencing::delete_forgets_the_owner",
                "fencing::copy_does_not_carry_the_owner",
            ],
        ),
        (
            Bug::CacheNeverExpires,
            &["cache::expired_entries_are_not_returned"],
        ),
    ];
    for (bug, cases) in expectations {
        let report = run_mutant(*bug);
        let failed: Vec<&str> = report.failed.iter().map(|f| f.case).collect();
        for case in *cases {
            assert!(
                failed.contains(case),
                "a saver with bug {bug:?} should fail `{case}`; failed: {failed:?}"
            );
        }
        assert!(!report.all_passed());
    }
}

stategraph_checkpoint::store_conformance!(async { stategraph_checkpoint::MemoryStore::new() });
