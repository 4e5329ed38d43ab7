//! Keeping the thread table in bounds: expiring threads that waited too long for an answer
//! ([`expire_paused`], the seed's missing "TTL for paused threads"), and a retention policy
//! swept in batches ([`apply_retention`], [`spawn_retention`]) — the table no longer grows
//! forever.

use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::checkpoint::{
    CheckpointError, Checkpointer, PendingWrite, Prune, ThreadQuery, ThreadStatus, to_micros,
};
use crate::ids::{TaskId, ThreadId};

/// What becomes of a paused thread that waited too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExpiry {
    /// It is marked expired and kept whole: its history stays for audits.
    Keep,
    /// It is marked expired and only its latest checkpoint is kept.
    Prune,
    /// It is deleted.
    Delete,
}

/// A TTL for paused threads: threads waiting for an answer (status
/// [`ThreadStatus::Interrupted`]) whose latest checkpoint is older than `older_than`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpirePaused {
    /// How long a thread may wait for an answer.
    pub older_than: Duration,
    /// What becomes of it then.
    pub then: AfterExpiry,
    /// How many threads one sweep handles at most (a batch).
    pub batch: usize,
}

impl ExpirePaused {
    /// Threads paused for longer than `older_than` are marked expired and kept; 500 a sweep.
    pub fn after(older_than: Duration) -> Self {
        Self {
            older_than,
            then: AfterExpiry::Keep,
            batch: 500,
        }
    }

    /// This policy, with `then` done to the expired threads.
    pub fn then(mut self, then: AfterExpiry) -> Self {
        self.then = then;
        self
    }
}

/// Applies `policy` once, at time `now`, to one batch of the threads `saver` holds, and
/// returns the threads it expired (or, with `dry_run`, would expire, changing nothing).
///
/// A thread it expires can no longer be resumed: `resume`, `resume_with`, `invoke` and
/// `start_or_resume` fail with [`GraphError::Expired`](crate::GraphError::Expired) (an update
/// written as a node, or a fork, still can go back in its history). Marking is a write on the
/// thread's latest checkpoint: a thread resumed meanwhile moved on from it and is not affected,
/// so two processes may sweep at once. Call it from a periodic task; each call handles one
/// batch, the oldest-named threads first.
pub async fn expire_paused<C: Checkpointer + ?Sized>(
    saver: &C,
    policy: &ExpirePaused,
    now: SystemTime,
    dry_run: bool,
) -> Result<Vec<ThreadId>, CheckpointError> {
    let threads = saver
        .list_threads(&ThreadQuery {
            status: Some(ThreadStatus::Interrupted),
            updated_before: Some(now - policy.older_than),
            limit: Some(policy.batch),
            ..ThreadQuery::default()
        })
        .await?;
    let ids: Vec<ThreadId> = threads.iter().map(|t| t.thread_id.clone()).collect();
    if dry_run || ids.is_empty() {
        return Ok(ids);
    }
    match policy.then {
        AfterExpiry::Delete => saver.prune(&ids, Prune::Delete).await?,
        keep => {
            for info in &threads {
                let mark = PendingWrite {
                    task_id: TaskId::derive(info.head, "", info.step + 1, PendingWrite::EXPIRED),
                    node: PendingWrite::EXPIRED.to_owned(),
                    idx: PendingWrite::EXPIRED_IDX,
                    channel: PendingWrite::EXPIRED.to_owned(),
                    value: serde_json::to_vec(&json!({ "at": to_micros(now) }))
                        .expect("a time encodes"),
                };
                saver
                    .put_writes(&info.thread_id, "", info.head, vec![mark], None)
                    .await?;
            }
            if keep == AfterExpiry::Prune {
                saver.prune(&ids, Prune::KeepLatest).await?;
            }
        }
    }
    Ok(ids)
}

/// A retention policy: how long threads keep their history, and when finished ones go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What a retention sweep did (or, for a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
        if let Some(policy) = change.filter(|_| !ids.is_empty()) {
            saver.prune(&ids, policy).await?;
        }
        after = ids.last().cloned();
        let full = ids.len() == batch;
        all.extend(ids);
        if !full {
            return Ok(all);
        }
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
