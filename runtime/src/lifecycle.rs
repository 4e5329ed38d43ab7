//! Keeping the thread table in bounds: expiring threads that waited too long for an answer
//! ([`expire_paused`]), the seed's missing "TTL for paused threads".

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
