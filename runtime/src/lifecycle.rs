//! Expiring threads that waited too long for an answer ([`expire_paused`], the seed's missing
//! "TTL for paused threads"). The retention policy that keeps the thread table in bounds
//! (`apply_retention`, `spawn_retention`) is the checkpoint contract's: it needs nothing but a
//! checkpointer.

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
            .list_threads(&{
                let mut query = ThreadQuery::default()
                    .status(ThreadStatus::Interrupted)
                    .updated_before(cutoff)
                    .limit(batch);
                query.after = after.clone();
                query
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
