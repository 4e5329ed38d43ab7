//! A thread's log: immutable entries under create-if-absent keys, which is all the
//! compare-and-swap the saver needs.
//!
//! Entries live at `<root>/threads/<sha256 of thread id>/<generation>/<sequence>` (both numbers
//! zero-padded to 20 digits, so listing order is numeric order). A writer that knows the log up
//! to entry `n` creates entry `n + 1` with `PutMode::Create`: if another writer created it
//! first the store answers "already exists", the writer reads what it missed and decides
//! again. Nothing is ever overwritten, so there is no read-modify-write to lose an update in.
//!
//! Deleting or pruning a thread appends a *seal* holding what the thread keeps, starts the
//! next generation with a *base* holding the same, then deletes the old generation's entries
//! in ascending order, one at a time. That order is what makes "entry `n + 1` is absent"
//! trustworthy: it means "not written yet" only if entry `n` still exists afterwards. A writer
//! checks exactly that after each create, so an entry created in a generation already being
//! deleted is noticed, removed and retried in the live one.

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use stategraph_checkpoint::{CheckpointError, ThreadId};

use crate::entry::{self, Entry, Kind};
use crate::error::Context;
use crate::view::View;

/// How many times a read starts over because entries it listed were deleted under it.
const RELOADS: usize = 20;

/// Where a process stands in one thread's log.
#[derive(Debug, Default)]
pub(crate) struct Log {
    generation: u64,
    /// The last entry applied; `None` before the thread's first entry.
    tail: Option<u64>,
    /// What the entries up to `tail` hold.
    pub(crate) view: View,
}

impl Log {
    /// How many entries the current generation holds.
    pub(crate) fn len(&self) -> u64 {
        self.tail.map_or(0, |t| t + 1)
    }

    /// Whether the thread has never been written: no entry in any generation.
    pub(crate) fn is_new(&self) -> bool {
        self.generation == 0 && self.tail.is_none()
    }
}

/// The logs of every thread under one root.
#[derive(Debug, Clone)]
pub(crate) struct Logs {
    store: Arc<dyn ObjectStore>,
    threads: Path,
}

/// The directory name of a thread: its id hashed.
pub(crate) fn thread_key(thread_id: &ThreadId) -> String {
    crate::name::hashed(thread_id.as_str())
}

/// The name, within a thread's directory, of the object holding its id (never a number, so a
/// listing of the log's entries passes it by).
const NAME: &str = "id";

fn number(n: u64) -> String {
    format!("{n:020}")
}

impl Logs {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, root: &Path) -> Self {
        Self {
            store,
            threads: root.clone().join("threads"),
        }
    }

    fn dir(&self, key: &str) -> Path {
        self.threads.clone().join(key)
    }

    fn path(&self, key: &str, generation: u64, seq: u64) -> Path {
        self.dir(key).join(number(generation)).join(number(seq))
    }

    /// The object holding the id of the thread whose key is `key`: the key is the id's hash,
    /// so a thread whose log cannot be read is still reported by its id.
    fn name_path(&self, key: &str) -> Path {
        self.dir(key).join(NAME)
    }

    /// Records `thread_id` as the id of the thread whose key is `key`, once (a thread's first
    /// write).
    pub(crate) async fn write_name(
        &self,
        ctx: Context<'_>,
        key: &str,
        thread_id: &ThreadId,
    ) -> Result<(), CheckpointError> {
        let bytes = thread_id.as_str().as_bytes().to_vec();
        self.create(ctx, &self.name_path(key), bytes)
            .await
            .map(drop)
    }

    /// The id of the thread whose key is `key`, if it was recorded and can be read.
    pub(crate) async fn name(&self, key: &str) -> Option<ThreadId> {
        let bytes = self
            .store
            .get(&self.name_path(key))
            .await
            .ok()?
            .bytes()
            .await
            .ok()?;
        String::from_utf8(bytes.to_vec()).ok().map(ThreadId::new)
    }

    /// The keys of every thread that has a log.
    pub(crate) async fn thread_keys(
        &self,
        ctx: Context<'_>,
    ) -> Result<Vec<String>, CheckpointError> {
        let listed = self
            .store
            .list_with_delimiter(Some(&self.threads))
            .await
            .map_err(|e| ctx.store(e))?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect())
    }

    /// Entry `seq` of `generation`, or `None` if it does not exist.
    async fn read(
        &self,
        ctx: Context<'_>,
        key: &str,
        generation: u64,
        seq: u64,
    ) -> Result<Option<Entry>, CheckpointError> {
        let path = self.path(key, generation, seq);
        let bytes = match self.store.get(&path).await {
            Ok(found) => found.bytes().await,
            Err(e) => Err(e),
        };
        match bytes {
            Ok(bytes) => entry::decode(&bytes).map(Some).map_err(|why| {
                ctx.other(format!(
                    "object `{path}` is not a readable log entry: {why}"
                ))
            }),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(ctx.store(e)),
        }
    }

    async fn exists(&self, ctx: Context<'_>, path: &Path) -> Result<bool, CheckpointError> {
        match self.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(ctx.store(e)),
        }
    }

    /// Creates `path` holding `bytes` unless it exists: `Ok(false)` if it did.
    async fn create(
        &self,
        ctx: Context<'_>,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<bool, CheckpointError> {
        let options = PutOptions::from(PutMode::Create);
        match self
            .store
            .put_opts(path, PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(ctx.store(e)),
        }
    }

    /// Whether `path` holds exactly `bytes`: an entry this writer created itself, reported as
    /// existing because the client retried a request that had in fact succeeded (a timeout).
    async fn holds(
        &self,
        ctx: Context<'_>,
        path: &Path,
        bytes: &[u8],
    ) -> Result<bool, CheckpointError> {
        let found = match self.store.get(path).await {
            Ok(found) => found.bytes().await,
            Err(e) => Err(e),
        };
        match found {
            Ok(found) => Ok(found == bytes),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(ctx.store(e)),
        }
    }

    /// Deletes `path` if it exists.
    async fn remove(&self, ctx: Context<'_>, path: &Path) -> Result<(), CheckpointError> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(ctx.store(e)),
        }
    }

    /// Every entry of the thread, as (generation, sequence), in order.
    async fn listing(
        &self,
        ctx: Context<'_>,
        key: &str,
    ) -> Result<Vec<(u64, u64)>, CheckpointError> {
        let listed: Vec<_> = self
            .store
            .list(Some(&self.dir(key)))
            .try_collect()
            .await
            .map_err(|e| ctx.store(e))?;
        let mut found: Vec<(u64, u64)> = listed
            .iter()
            .filter_map(|meta| {
                let mut parts = meta.location.parts();
                let seq = parts.next_back()?.as_ref().parse().ok()?;
                let generation = parts.next_back()?.as_ref().parse().ok()?;
                Some((generation, seq))
            })
            .collect();
        found.sort_unstable();
        Ok(found)
    }

    /// The thread's log read from the store from scratch: its latest generation, from the base.
    /// Entries of older generations (left by an interrupted deletion) are deleted on the way.
    pub(crate) async fn load(&self, ctx: Context<'_>, key: &str) -> Result<Log, CheckpointError> {
        'reload: for _ in 0..RELOADS {
            let listing = self.listing(ctx, key).await?;
            let Some(&(generation, _)) = listing.last() else {
                return Ok(Log::default());
            };
            let seqs: Vec<u64> = listing
                .iter()
                .filter(|(g, _)| *g == generation)
                .map(|(_, s)| *s)
                .collect();
            if seqs.first() != Some(&0) {
                // The generation's base is not listed: a listing raced a deletion.
                continue;
            }
            self.remove_before(ctx, key, &listing, generation).await;
            let mut log = Log {
                generation,
                tail: None,
                view: View::default(),
            };
            for seq in 0..=*seqs.last().expect("not empty") {
                let Some(entry) = self.read(ctx, key, generation, seq).await? else {
                    continue 'reload;
                };
                if entry.kind == Kind::Seal {
                    // Sealed, but the next generation was not listed: finish the seal.
                    if !self.finish_seal(ctx, key, generation, seq, &entry).await? {
                        continue 'reload;
                    }
                    Self::apply(&mut log, entry);
                    break;
                }
                Self::apply(&mut log, entry);
            }
            self.refresh(ctx, key, &mut log).await?;
            return Ok(log);
        }
        Err(ctx.other(
            "the thread's log kept changing under the read (it was pruned or deleted concurrently); try again",
        ))
    }

    /// Deletes the entries of generations before `generation`, oldest first.
    async fn remove_before(
        &self,
        ctx: Context<'_>,
        key: &str,
        listing: &[(u64, u64)],
        generation: u64,
    ) {
        let mut older: Vec<(u64, u64)> = listing
            .iter()
            .copied()
            .filter(|(g, _)| *g < generation)
            .collect();
        older.sort_unstable();
        let mut at = 0;
        while at < older.len() {
            let g = older[at].0;
            let seqs: Vec<u64> = older[at..]
                .iter()
                .take_while(|(other, _)| *other == g)
                .map(|(_, s)| *s)
                .collect();
            at += seqs.len();
            self.collect(ctx, key, g, &seqs).await;
        }
    }

    /// Applies entry `tail + 1` to `log`. After a seal, `log` stands at the base of the next
    /// generation, which holds what the seal holds.
    fn apply(log: &mut Log, entry: Entry) {
        let sealed = entry.kind == Kind::Seal;
        log.view.apply(entry);
        if sealed {
            log.generation += 1;
            log.tail = Some(0);
        } else {
            log.tail = Some(log.tail.map_or(0, |t| t + 1));
        }
    }

    /// Completes the seal at entry `seq` of `generation`: creates the next generation's base
    /// from it unless it exists, then deletes the sealed generation, oldest entry first. A
    /// base created for a generation that was meanwhile sealed and deleted in turn (a newer
    /// one exists) is taken back: `Ok(false)`, read the log again.
    async fn finish_seal(
        &self,
        ctx: Context<'_>,
        key: &str,
        generation: u64,
        seq: u64,
        seal: &Entry,
    ) -> Result<bool, CheckpointError> {
        let mut base = seal.clone();
        base.kind = Kind::Base;
        let bytes = entry::encode(&base).map_err(|e| ctx.other(e))?;
        let path = self.path(key, generation + 1, 0);
        if self.create(ctx, &path, bytes).await?
            && self
                .listing(ctx, key)
                .await?
                .iter()
                .any(|(g, _)| *g > generation + 1)
        {
            self.remove(ctx, &path).await?;
            return Ok(false);
        }
        let sealed: Vec<u64> = (0..=seq).collect();
        self.collect(ctx, key, generation, &sealed).await;
        Ok(true)
    }

    /// Deletes entries `seqs` (ascending) of a superseded generation, oldest first, stopping at
    /// the first failure: what is left is deleted by the next process that reads the thread
    /// from scratch. The order keeps "entry n + 1 is absent while n exists" meaning "not yet
    /// written" for every writer still in that generation.
    async fn collect(&self, ctx: Context<'_>, key: &str, generation: u64, seqs: &[u64]) {
        for &seq in seqs {
            if let Err(error) = self.remove(ctx, &self.path(key, generation, seq)).await {
                tracing::warn!(
                    %error,
                    generation,
                    "could not delete a superseded log entry; a later read deletes it"
                );
                return;
            }
        }
    }

    /// Brings `log` up to the latest entry in the store.
    pub(crate) async fn refresh(
        &self,
        ctx: Context<'_>,
        key: &str,
        log: &mut Log,
    ) -> Result<(), CheckpointError> {
        loop {
            let Some(tail) = log.tail else {
                // Nothing known yet: only a listing can tell which generation is live.
                let listing = self.listing(ctx, key).await?;
                if listing.is_empty() {
                    return Ok(());
                }
                *log = Box::pin(self.load(ctx, key)).await?;
                return Ok(());
            };
            match self.read(ctx, key, log.generation, tail + 1).await? {
                Some(entry) => Self::apply(log, entry),
                None => {
                    if self
                        .exists(ctx, &self.path(key, log.generation, tail))
                        .await?
                    {
                        return Ok(());
                    }
                    // This generation is being deleted: the live one is newer.
                    *log = Box::pin(self.load(ctx, key)).await?;
                    return Ok(());
                }
            }
        }
    }

    /// Adds `entry` after the last entry `log` knows. `Ok(true)`: it is in the log and applied
    /// to `log.view`. `Ok(false)`: another writer got there first; `log` now holds what it
    /// wrote, and the caller decides again.
    pub(crate) async fn append(
        &self,
        ctx: Context<'_>,
        key: &str,
        log: &mut Log,
        entry: Entry,
    ) -> Result<bool, CheckpointError> {
        let seq = log.tail.map_or(0, |t| t + 1);
        let path = self.path(key, log.generation, seq);
        let bytes = entry::encode(&entry).map_err(|e| ctx.other(e))?;
        if !self.create(ctx, &path, bytes.clone()).await? && !self.holds(ctx, &path, &bytes).await?
        {
            self.refresh(ctx, key, log).await?;
            return Ok(false);
        }
        let live = match log.tail {
            Some(tail) => {
                self.exists(ctx, &self.path(key, log.generation, tail))
                    .await?
            }
            None => self
                .listing(ctx, key)
                .await?
                .iter()
                .all(|(g, _)| *g == log.generation),
        };
        if !live {
            // Created in a generation that is being deleted: take it back and start over.
            self.remove(ctx, &path).await?;
            *log = self.load(ctx, key).await?;
            return Ok(false);
        }
        if entry.kind == Kind::Seal {
            let generation = log.generation;
            if !self.finish_seal(ctx, key, generation, seq, &entry).await? {
                *log = self.load(ctx, key).await?;
                return Ok(true);
            }
        }
        Self::apply(log, entry);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use stategraph_checkpoint::Epoch;

    use super::*;

    fn claim(epoch: i64) -> Entry {
        let mut entry = Entry::new(Kind::Claim);
        entry.epoch = Some(Epoch::from_i64(epoch));
        entry
    }

    /// A create the client retried after its first attempt had in fact been stored is
    /// recognised as this writer's own entry; a different entry at the key is another
    /// writer's, and is read instead.
    #[tokio::test]
    async fn an_entry_stored_by_a_retried_request_counts_as_written() {
        let logs = Logs::new(Arc::new(InMemory::new()), &Path::from("root"));
        let ctx = Context::new("claim", None);
        let key = "thread";
        let mut log = logs.load(ctx, key).await.unwrap();
        assert!(logs.append(ctx, key, &mut log, claim(1)).await.unwrap());

        let ours = claim(2);
        let path = logs.path(key, 0, 1);
        logs.create(ctx, &path, entry::encode(&ours).unwrap())
            .await
            .unwrap();
        assert!(logs.append(ctx, key, &mut log, ours).await.unwrap());
        assert_eq!(log.view.epoch, Some(Epoch::from_i64(2)));

        let theirs = claim(3);
        let path = logs.path(key, 0, 2);
        logs.create(ctx, &path, entry::encode(&theirs).unwrap())
            .await
            .unwrap();
        assert!(!logs.append(ctx, key, &mut log, claim(4)).await.unwrap());
        assert_eq!(
            log.view.epoch,
            Some(Epoch::from_i64(3)),
            "their entry was read"
        );
    }
}
