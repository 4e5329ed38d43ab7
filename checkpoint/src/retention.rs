//! Keeping the thread table in bounds: a retention policy swept in batches
//! ([`apply_retention`], [`spawn_retention`]), so the table no longer grows forever. It needs
//! nothing but a [`Checkpointer`].

use std::time::{Duration, SystemTime};

use crate::checkpointer::{CheckpointError, Checkpointer, Prune, ThreadQuery, ThreadStatus};
use crate::ids::ThreadId;

/// A retention policy: how long threads keep their history, and when finished ones go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Delete finished threads whose latest checkpoint is older than this.
    pub delete_finished_after: Option<Duration>,
    /// Keep only the latest checkpoint of threads (of any status) whose latest checkpoint is
    /// older than this; the thread stays readable and resumable.
    pub keep_latest_after: Option<Duration>,
    /// How many threads one batch reads and changes.
    pub batch: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            delete_finished_after: None,
            keep_latest_after: None,
            batch: 500,
        }
    }
}

impl Retention {
    /// A policy that changes nothing yet, 500 threads a batch; say what it does with the
    /// methods below.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deletes finished threads whose latest checkpoint is older than `age`.
    pub fn delete_finished_after(mut self, age: Duration) -> Self {
        self.delete_finished_after = Some(age);
        self
    }

    /// Keeps only the latest checkpoint of threads whose latest checkpoint is older than
    /// `age`.
    pub fn keep_latest_after(mut self, age: Duration) -> Self {
        self.keep_latest_after = Some(age);
        self
    }

    /// Reads and changes at most `threads` threads a batch.
    pub fn batch(mut self, threads: usize) -> Self {
        self.batch = threads;
        self
    }
}

/// What a retention sweep did (or, for a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Finished threads deleted.
    pub deleted: Vec<ThreadId>,
    /// Threads pruned to their latest checkpoint.
    pub pruned: Vec<ThreadId>,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

/// Sweeps every thread of `saver` once, in batches of `policy.batch`, as of time `now`:
/// deletes the finished threads older than `delete_finished_after`, then prunes the threads
/// older than `keep_latest_after` to their latest checkpoint. With `dry_run` it only reports.
///
/// Both changes are idempotent, so two processes may sweep at once. A thread that was old
/// when listed but is resumed while the sweep runs keeps its new run when pruned (the latest
/// checkpoint is kept); a finished thread deleted in that moment loses the new run's first
/// checkpoint, which fails with a conflict — pick an age no thread is revived after.
pub async fn apply_retention<C: Checkpointer + ?Sized>(
    saver: &C,
    policy: &Retention,
    now: SystemTime,
    dry_run: bool,
) -> Result<RetentionReport, CheckpointError> {
    let mut report = RetentionReport {
        dry_run,
        ..RetentionReport::default()
    };
    if let Some(age) = policy.delete_finished_after {
        let change = (!dry_run).then_some(Prune::Delete);
        let finished = Some(ThreadStatus::Finished);
        report.deleted = sweep(saver, policy.batch, now - age, finished, change).await?;
    }
    if let Some(age) = policy.keep_latest_after {
        let change = (!dry_run).then_some(Prune::KeepLatest);
        report.pruned = sweep(saver, policy.batch, now - age, None, change).await?;
        if dry_run {
            report.pruned.retain(|t| !report.deleted.contains(t));
        }
    }
    Ok(report)
}

/// Walks the threads older than `before` (in `status`, if given) a batch at a time, pruning
/// each batch with `change` (if given), and returns them.
async fn sweep<C: Checkpointer + ?Sized>(
    saver: &C,
    batch: usize,
    before: SystemTime,
    status: Option<ThreadStatus>,
    change: Option<Prune>,
) -> Result<Vec<ThreadId>, CheckpointError> {
    let batch = batch.max(1);
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = saver
            .list_threads(&ThreadQuery {
                after: after.clone(),
                limit: Some(batch),
                status,
                updated_before: Some(before),
                ..ThreadQuery::default()
            })
            .await?;
        let ids: Vec<ThreadId> = page.iter().map(|t| t.thread_id.clone()).collect();
        // A page may be short while more follow (unreadable threads left out): on to an empty one.
        let Some(last) = ids.last().cloned() else {
            return Ok(all);
        };
        if let Some(policy) = change {
            saver.prune(&ids, policy).await?;
        }
        after = Some(last);
        all.extend(ids);
    }
}

/// Runs `policy` every `every` until `stop` is cancelled, logging each sweep's report
/// (`tracing`, target `stategraph::retention`) and each failure (the next sweep tries again).
pub fn spawn_retention(
    saver: std::sync::Arc<dyn Checkpointer>,
    policy: Retention,
    every: Duration,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match apply_retention(&*saver, &policy, SystemTime::now(), false).await {
                Ok(report) => tracing::info!(
                    target: "stategraph::retention",
                    deleted = report.deleted.len(),
                    pruned = report.pruned.len(),
                    "retention sweep"
                ),
                Err(error) => tracing::warn!(
                    target: "stategraph::retention",
                    %error,
                    "retention sweep failed; the next one tries again"
                ),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    })
}
