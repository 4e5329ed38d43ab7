//! Moving a thread from one checkpointer to another — MemorySaver to SQLite, SQLite to
//! PostgreSQL, any to any — with its ids, history, namespaces, channel versions and pending
//! writes, so it resumes on the destination exactly where it was.

use std::collections::HashSet;

use super::{CheckpointError, Checkpointer, ListQuery, NewCheckpoint, PutMode};
use crate::ids::{CheckpointId, ThreadId};

/// How many checkpoints a transfer reads at a time while it finds the history.
const PAGE: usize = 500;

/// What [`transfer_thread`] copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transferred {
    /// Checkpoints written to the destination.
    pub checkpoints: usize,
    /// Pending writes written to the destination.
    pub pending_writes: usize,
}

/// Copies thread `thread_id` from `from` to `to`: every checkpoint of every namespace (ids,
/// parents, metadata, times), the blobs each wrote, and every pending write. The destination
/// must not have the thread ([`CheckpointError::ThreadExists`] otherwise, and nothing is
/// written); the source is left as it is. A thread the source does not have copies nothing.
///
/// Checkpoints are written oldest first, each as a fork of its parent, so the destination's
/// head is the source's. The history is found a page at a time and each checkpoint is then read
/// on its own, so a long thread is copied without holding it in memory. Stop the thread's runs
/// while it moves: a checkpoint the source gets during the copy may be missed.
///
/// ```
/// # async fn demo(memory: &stategraph_checkpoint::MemorySaver, durable: &stategraph_checkpoint::MemorySaver)
/// # -> Result<(), stategraph_checkpoint::CheckpointError> {
/// use stategraph_checkpoint::{ThreadId, transfer_thread};
/// let moved = transfer_thread(memory, durable, &ThreadId::new("job-7")).await?;
/// println!("{} checkpoints moved", moved.checkpoints);
/// # Ok(()) }
/// ```
pub async fn transfer_thread<F, T>(
    from: &F,
    to: &T,
    thread_id: &ThreadId,
) -> Result<Transferred, CheckpointError>
where
    F: Checkpointer + ?Sized,
    T: Checkpointer + ?Sized,
{
    let existing = to
        .list(&ListQuery::thread(thread_id.clone()).limit(1))
        .await?;
    if !existing.is_empty() {
        return Err(CheckpointError::ThreadExists(thread_id.clone()));
    }
    // Every checkpoint, newest first, as (namespace, id).
    let mut order: Vec<(String, CheckpointId)> = Vec::new();
    let mut query = ListQuery::thread(thread_id.clone()).limit(PAGE);
    loop {
        let page = from.list(&query).await?;
        let read = page.len();
        order.extend(
            page.iter()
                .map(|t| (t.checkpoint.ns.clone(), t.checkpoint.id)),
        );
        match page.last() {
            Some(last) if read == PAGE => query.before = Some(last.checkpoint.id),
            _ => break,
        }
    }
    let mut done = Transferred::default();
    let mut seen = HashSet::new();
    for (ns, id) in order.into_iter().rev() {
        if !seen.insert((ns.clone(), id)) {
            continue;
        }
        let Some(tuple) = from.get(thread_id, &ns, Some(id)).await? else {
            // Pruned while the transfer ran.
            continue;
        };
        let blobs = tuple
            .channels
            .into_values()
            .flatten()
            .filter(|blob| blob.version == id)
            .collect();
        to.put(NewCheckpoint {
            checkpoint: tuple.checkpoint,
            blobs,
            mode: PutMode::Fork,
            epoch: None,
        })
        .await?;
        done.checkpoints += 1;
        if !tuple.pending_writes.is_empty() {
            done.pending_writes += tuple.pending_writes.len();
            to.put_writes(thread_id, &ns, id, tuple.pending_writes, None)
                .await?;
        }
    }
    Ok(done)
}
