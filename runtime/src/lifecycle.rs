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
use crate::interrupt;

/// What becomes of a paused thread that waited too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
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

    /// This policy, handling at most `threads` threads a sweep.
    pub fn batch(mut self, threads: usize) -> Self {
        self.batch = threads;
        self
    }
}

/// Applies `policy` once, at time `now`, to one batch of the threads `saver` holds, and
/// returns the threads it expired (or, with `dry_run`, would expire, changing nothing).
///
/// A thread's age is counted from when its open question was asked (the latest, when it waits
/// on several), not from its latest checkpoint: a node that asks, is answered and asks again
/// within one step writes no checkpoint, and its new question is as young as it is.
///
/// A thread it expires can no longer be resumed: `resume`, `resume_with`, `invoke` and
/// `start_or_resume` fail with [`GraphError::Expired`](crate::GraphError::Expired) (an update
/// written as a node, or a fork, still can go back in its history). Each thread is decided on
/// what was read of it — its ownership epoch, then its open questions — and changed only if
/// no run claimed it since, in one atomic step ([`Checkpointer::claim_if`] for the mark,
/// [`Checkpointer::delete_thread_if`] for a delete): a thread answered meanwhile is left
/// alone, and two processes may sweep at once. Call it from a periodic task; each call handles
/// one batch, the oldest-named threads first.
pub async fn expire_paused<C: Checkpointer + ?Sized>(
    saver: &C,
    policy: &ExpirePaused,
    now: SystemTime,
    dry_run: bool,
) -> Result<Vec<ThreadId>, CheckpointError> {
    let batch = policy.batch.max(1);
    let cutoff = now - policy.older_than;
    let mut expired = Vec::new();
    let mut after = None;
    while expired.len() < batch {
        // A question is asked after the checkpoint its step starts from, so only threads whose
        // latest checkpoint is older than the cutoff can hold one that old.
        let page = saver
            .list_threads(&ThreadQuery {
                status: Some(ThreadStatus::Interrupted),
                updated_before: Some(cutoff),
                after: after.clone(),
                limit: Some(batch),
                ..ThreadQuery::default()
            })
            .await?;
        // A page may be short while more follow (unreadable threads left out): on to an empty one.
        let Some(last) = page.last() else { break };
        after = Some(last.thread_id.clone());
        for info in &page {
            if expired.len() == batch {
                break;
            }
            if expire(saver, &info.thread_id, policy.then, now, cutoff, dry_run).await? {
                expired.push(info.thread_id.clone());
            }
        }
    }
    if policy.then == AfterExpiry::Prune && !dry_run && !expired.is_empty() {
        saver.prune(&expired, Prune::KeepLatest).await?;
    }
    Ok(expired)
}

/// Expires thread `thread_id` (marks it, or deletes it for [`AfterExpiry::Delete`]) if every
/// question it waits on was asked before `cutoff`, unless a run claimed it after it was read.
/// Whether it did (or, with `dry_run`, would).
async fn expire<C: Checkpointer + ?Sized>(
    saver: &C,
    thread_id: &ThreadId,
    then: AfterExpiry,
    now: SystemTime,
    cutoff: SystemTime,
    dry_run: bool,
) -> Result<bool, CheckpointError> {
    let expected = saver.epoch(thread_id).await?;
    let Some(head) = saver.get(thread_id, "", None).await? else {
        return Ok(false);
    };
    let asked = interrupt::open(&head.pending_writes)
        .iter()
        .map(|question| question.raised_at)
        .max();
    if head.checkpoint.next.is_empty() || asked.is_none_or(|asked| asked >= cutoff) {
        return Ok(false);
    }
    if dry_run {
        return Ok(true);
    }
    let changed = match then {
        AfterExpiry::Delete => saver.delete_thread_if(thread_id, expected).await,
        AfterExpiry::Keep | AfterExpiry::Prune => {
            let id = head.checkpoint.id;
            let mark = PendingWrite {
                task_id: TaskId::derive(id, "", head.checkpoint.metadata.step + 1, EXPIRED),
                node: EXPIRED.to_owned(),
                idx: PendingWrite::EXPIRED_IDX,
                channel: EXPIRED.to_owned(),
                value: serde_json::to_vec(&json!({ "at": to_micros(now) }))
                    .expect("a time encodes"),
            };
            saver
                .claim_if(thread_id, expected, "", id, vec![mark])
                .await
                .map(drop)
        }
    };
    match changed {
        Ok(()) => Ok(true),
        // Resumed (or otherwise claimed) since it was read: it is not waiting any more.
        Err(CheckpointError::Superseded { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}

const EXPIRED: &str = PendingWrite::EXPIRED;

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
