//! A thread as its log has built it so far: its records and its owner's epoch, with what a new
//! entry may do to them.

use stategraph_checkpoint::{
    CheckpointError, CheckpointId, Epoch, NewCheckpoint, PendingWrite, ThreadId, ThreadRecords,
};

use crate::entry::{Entry, Kind};

/// One thread's contents.
#[derive(Debug, Default, Clone)]
pub(crate) struct View {
    /// Checkpoints, blobs and writes.
    pub(crate) records: ThreadRecords,
    /// The epoch of the thread's owner.
    pub(crate) epoch: Option<Epoch>,
}

impl View {
    /// Applies one entry read from (or just added to) the log.
    pub(crate) fn apply(&mut self, entry: Entry) {
        match entry.kind {
            // A conditional claim carries the writes it was made with.
            Kind::Claim => {
                self.epoch = entry.epoch;
                self.add(entry);
            }
            Kind::Seal | Kind::Base => {
                *self = View {
                    epoch: entry.epoch,
                    ..View::default()
                };
                self.add(entry);
            }
            Kind::Put | Kind::Writes | Kind::Import => self.add(entry),
        }
    }

    fn add(&mut self, entry: Entry) {
        for (ns, blob) in entry.blobs {
            self.records.insert_blob(&ns, blob);
        }
        for checkpoint in entry.checkpoints {
            self.records.insert_checkpoint(checkpoint, Vec::new());
        }
        for (ns, id, write) in entry.writes {
            self.records.insert_writes(&ns, id, [write]);
        }
    }

    /// The entry that stores `new`, if the thread as it stands allows it: the writer's epoch
    /// is the owner's, and the parent is the latest checkpoint (advance) or exists (fork).
    /// Blobs the thread already has are left out.
    pub(crate) fn put_entry(&self, new: &NewCheckpoint) -> Result<Entry, CheckpointError> {
        let checkpoint = &new.checkpoint;
        CheckpointError::check_fence(&checkpoint.thread_id, new.epoch, self.epoch)?;
        self.records.check_parent(new)?;
        let mut entry = Entry::new(Kind::Put);
        entry.checkpoints.push(checkpoint.clone());
        entry.blobs = new
            .blobs
            .iter()
            .filter(|b| !self.records.has_blob(&checkpoint.ns, &b.channel, b.version))
            .map(|b| (checkpoint.ns.clone(), b.clone()))
            .collect();
        Ok(entry)
    }

    /// The entry that stores a task's `writes`, if `epoch` is still the owner's.
    pub(crate) fn writes_entry(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: &[PendingWrite],
        epoch: Option<Epoch>,
    ) -> Result<Entry, CheckpointError> {
        CheckpointError::check_fence(thread_id, epoch, self.epoch)?;
        let mut entry = Entry::new(Kind::Writes);
        entry.writes = writes
            .iter()
            .map(|w| (ns.to_owned(), id, w.clone()))
            .collect();
        Ok(entry)
    }
}
