//! Reads: whole checkpoints (one script call), paged listings filtered exactly, and threads.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt};
use redis::Value;
use stategraph_checkpoint::{
    BlobKind, ChannelBlob, Checkpoint, CheckpointError, CheckpointId, CheckpointTuple, ListQuery,
    PendingWrite, ThreadId, ThreadInfo, ThreadQuery, limits,
};

use crate::RedisSaver;
use crate::codec::{ID_LEN, Record, parse_blob, parse_id, parse_write};
use crate::error::Context;
use crate::reply::{array, bytes, text};

/// Checkpoints fetched per script call while scanning a listing.
const PAGE: usize = 256;
/// Threads scanned at once by a listing across every thread.
const PARALLEL_THREADS: usize = 16;

/// A checkpoint found by a scan, before its blobs and writes are loaded.
struct Found {
    ns: String,
    checkpoint: Checkpoint,
}

impl RedisSaver {
    pub(crate) async fn get_tuple(
        &self,
        thread: &ThreadId,
        ns: &str,
        id: Option<CheckpointId>,
    ) -> Result<Option<CheckpointTuple>, CheckpointError> {
        limits::check_thread_id(thread)?;
        limits::check_namespace(ns)?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let mut tuples = self
            .load(
                thread,
                &[(ns, id.as_str())],
                Context::new("get", Some(thread)),
            )
            .await?;
        Ok(tuples.pop().flatten())
    }

    pub(crate) async fn list_tuples(
        &self,
        query: &ListQuery,
    ) -> Result<Vec<CheckpointTuple>, CheckpointError> {
        limits::check_query(query)?;
        let limit = query.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut found: Vec<(ThreadId, Found)> = match &query.thread_id {
            Some(thread) => self
                .scan(thread, query, limit)
                .await?
                .into_iter()
                .map(|f| (thread.clone(), f))
                .collect(),
            None => {
                let threads = self.registered_threads(None, usize::MAX, "list").await?;
                let scans: Vec<Vec<Found>> = futures::stream::iter(threads.clone())
                    .map(|thread| {
                        let (saver, query) = (self.clone(), query.clone());
                        async move { saver.scan(&thread, &query, limit).await }
                    })
                    .buffered(PARALLEL_THREADS)
                    .try_collect()
                    .await?;
                threads
                    .iter()
                    .zip(scans)
                    .flat_map(|(t, found)| found.into_iter().map(move |f| (t.clone(), f)))
                    .collect()
            }
        };
        found.sort_by_key(|f| std::cmp::Reverse(f.1.checkpoint.id));
        found.truncate(limit);

        // Load the whole tuples, one script call per thread, then restore the order.
        let mut by_thread: BTreeMap<&ThreadId, Vec<usize>> = BTreeMap::new();
        for (i, (thread, _)) in found.iter().enumerate() {
            by_thread.entry(thread).or_default().push(i);
        }
        let mut tuples: Vec<Option<CheckpointTuple>> = vec![None; found.len()];
        for (thread, positions) in by_thread {
            let ids: Vec<String> = positions
                .iter()
                .map(|&i| found[i].1.checkpoint.id.to_string())
                .collect();
            let pairs: Vec<(&str, &str)> = positions
                .iter()
                .zip(&ids)
                .map(|(&i, id)| (found[i].1.ns.as_str(), id.as_str()))
                .collect();
            let loaded = self
                .load(thread, &pairs, Context::new("list", Some(thread)))
                .await?;
            for (&i, tuple) in positions.iter().zip(loaded) {
                tuples[i] = tuple;
            }
        }
        // A checkpoint deleted between the scan and the load is left out.
        Ok(tuples.into_iter().flatten().collect())
    }

    /// The checkpoints of `thread` matching `query`, newest first, at most `limit`: pages of
    /// records through the thread's index, filtered here with the contract's own `matches`,
    /// so `limit` counts matches and every metadata key filters exactly.
    async fn scan(
        &self,
        thread: &ThreadId,
        query: &ListQuery,
        limit: usize,
    ) -> Result<Vec<Found>, CheckpointError> {
        let ctx = Context::new("list", Some(thread));
        let base = self.keys.thread(thread);
        let page = if query.filter.is_empty() {
            limit.clamp(1, PAGE)
        } else {
            PAGE
        };
        let mut max: Vec<u8> = match query.before {
            Some(before) => format!("({before}").into_bytes(),
            None => b"+".to_vec(),
        };
        let mut found = Vec::new();
        loop {
            let reply: Value = self
                .scripts
                .page
                .key(&base)
                .arg(if query.ns.is_some() { "1" } else { "0" })
                .arg(query.ns.as_deref().unwrap_or(""))
                .arg(&max)
                .arg(page)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(|e| ctx.redis(e))?;
            let items =
                array(reply).ok_or_else(|| ctx.other("the page script returned no array"))?;
            let rows = items.len() / 3;
            for row in items.chunks_exact(3) {
                let (Some(member), Some(ns), Some(record)) =
                    (bytes(&row[0]), text(&row[1]), bytes(&row[2]))
                else {
                    return Err(ctx.other(format!("unexpected page row {row:?}")));
                };
                max = [b"(".as_slice(), member].concat();
                if record.is_empty() {
                    continue; // deleted since the index was read
                }
                let id = member
                    .get(..ID_LEN)
                    .and_then(parse_id)
                    .ok_or_else(|| ctx.other(format!("index member {member:?} holds no id")))?;
                let checkpoint = Record::decode(record, thread, ns, id)?;
                if query.matches(&checkpoint) {
                    found.push(Found {
                        ns: ns.to_owned(),
                        checkpoint,
                    });
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
            if rows < page {
                return Ok(found);
            }
        }
    }

    /// The whole tuples of the checkpoints `(ns, id)` of `thread` (`id` empty for the latest of
    /// `ns`), `None` for those that do not exist. Refreshes the thread's expiry when asked.
    async fn load(
        &self,
        thread: &ThreadId,
        pairs: &[(&str, &str)],
        ctx: Context<'_>,
    ) -> Result<Vec<Option<CheckpointTuple>>, CheckpointError> {
        let mut invocation = self.scripts.read.prepare_invoke();
        invocation
            .key(self.keys.thread(thread))
            .arg(self.config.read_ttl_ms());
        for (ns, id) in pairs {
            invocation.arg(*ns).arg(*id);
        }
        let reply: Value = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        let entries = array(reply).ok_or_else(|| ctx.other("the read script returned no array"))?;
        if entries.len() != pairs.len() {
            return Err(ctx.other("the read script answered for a different number of checkpoints"));
        }
        entries
            .into_iter()
            .zip(pairs)
            .map(|(entry, (ns, _))| tuple(thread, ns, entry, ctx))
            .collect()
    }

    /// Registered thread ids after `after`, in order, at most `limit`.
    async fn registered_threads(
        &self,
        after: Option<&ThreadId>,
        limit: usize,
        operation: &'static str,
    ) -> Result<Vec<ThreadId>, CheckpointError> {
        let ctx = Context::new(operation, None);
        let min = match after {
            Some(after) => format!("({after}"),
            None => "-".to_owned(),
        };
        let mut cmd = redis::cmd("ZRANGEBYLEX");
        cmd.arg(self.keys.registry()).arg(min).arg("+");
        if limit != usize::MAX {
            cmd.arg("LIMIT").arg(0).arg(limit);
        }
        let ids: Vec<String> = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        Ok(ids.into_iter().map(ThreadId::new).collect())
    }

    pub(crate) async fn threads(
        &self,
        query: &ThreadQuery,
    ) -> Result<Vec<ThreadInfo>, CheckpointError> {
        let ctx = Context::new("list_threads", None);
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut after = query.after.clone();
        while out.len() < limit {
            let threads = self
                .registered_threads(after.as_ref(), PAGE, "list_threads")
                .await?;
            let Some(last) = threads.last() else { break };
            after = Some(last.clone());

            let mut heads = redis::pipe();
            for thread in &threads {
                let base = self.keys.thread(thread);
                heads
                    .cmd("ZREVRANGEBYLEX")
                    .arg(format!("{base}:ord:"))
                    .arg("+")
                    .arg("-")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(1);
            }
            let heads: Vec<Vec<String>> = heads
                .query_async(&mut self.conn.clone())
                .await
                .map_err(|e| ctx.redis(e))?;

            let mut records = redis::pipe();
            let mut with_head = Vec::new();
            for (thread, head) in threads.iter().zip(&heads) {
                match head.first() {
                    Some(head) => {
                        records.hget(format!("{}:cp:", self.keys.thread(thread)), head);
                        with_head.push((thread, head));
                    }
                    None => self.forget(thread).await?,
                }
            }
            let records: Vec<Option<Vec<u8>>> = records
                .query_async(&mut self.conn.clone())
                .await
                .map_err(|e| ctx.redis(e))?;
            for ((thread, head), record) in with_head.into_iter().zip(records) {
                let Some(record) = record else { continue };
                let (head, pending) = match self.head_of(thread, head, &record, ctx).await {
                    Ok(read) => read,
                    Err(error) => {
                        error.report_skipped(thread);
                        continue;
                    }
                };
                let info = ThreadInfo::from_head(&head, &pending);
                if query.matches(&info, &head.metadata) {
                    out.push(info);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            if threads.len() < PAGE {
                break;
            }
        }
        Ok(out)
    }

    /// The head checkpoint of `thread` (id `head`, stored as `record`) and, when it is
    /// pending, the writes saved against it, which tell whether it waits for an answer or
    /// failed.
    async fn head_of(
        &self,
        thread: &ThreadId,
        head: &str,
        record: &[u8],
        ctx: Context<'_>,
    ) -> Result<(Checkpoint, Vec<PendingWrite>), CheckpointError> {
        let id = parse_id(head.as_bytes())
            .ok_or_else(|| ctx.other("the thread's head id is malformed"))?;
        let head = Record::decode(record, thread, "", id)?;
        let pending = if head.next.is_empty() {
            Vec::new()
        } else {
            self.get_tuple(thread, "", Some(id))
                .await?
                .map(|tuple| tuple.pending_writes)
                .unwrap_or_default()
        };
        Ok((head, pending))
    }

    /// Drops `thread` from the registry if all its keys are gone (expired).
    async fn forget(&self, thread: &ThreadId) -> Result<(), CheckpointError> {
        let _: Value = self
            .scripts
            .forget
            .key(self.keys.thread(thread))
            .key(self.keys.registry())
            .arg(thread.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| Context::new("list_threads", Some(thread)).redis(e))?;
        Ok(())
    }
}

/// One entry of the read script's reply as a tuple.
fn tuple(
    thread: &ThreadId,
    ns: &str,
    entry: Value,
    ctx: Context<'_>,
) -> Result<Option<CheckpointTuple>, CheckpointError> {
    let parts = array(entry).ok_or_else(|| ctx.other("a read entry is no array"))?;
    let [id, record, channels, writes]: [Value; 4] = match parts.try_into() {
        Ok(parts) => parts,
        Err(parts) if parts.is_empty() => return Ok(None),
        Err(parts) => return Err(ctx.other(format!("unexpected read entry {parts:?}"))),
    };
    let id = bytes(&id)
        .and_then(parse_id)
        .ok_or_else(|| ctx.other("a read entry holds no checkpoint id"))?;
    let record = bytes(&record).ok_or_else(|| ctx.other("a read entry holds no record"))?;
    let checkpoint = Record::decode(record, thread, ns, id)?;

    let mut chains: HashMap<String, Vec<Value>> = HashMap::new();
    let channels = array(channels).unwrap_or_default();
    for pair in channels.chunks_exact(2) {
        if let (Some(name), Some(chain)) = (text(&pair[0]), array(pair[1].clone())) {
            chains.insert(name.to_owned(), chain);
        }
    }
    let mut out = BTreeMap::new();
    for (channel, version) in &checkpoint.channel_versions {
        let missing = |at: &str| {
            CheckpointError::corrupt(
                thread,
                id,
                format!("channel `{channel}` has no blob at version {at}"),
            )
        };
        let chain = chains
            .remove(channel)
            .ok_or_else(|| missing(&version.to_string()))?;
        if chain.first().and_then(text) == Some("!") {
            return Err(missing(chain.get(1).and_then(text).unwrap_or("?")));
        }
        let mut blobs = Vec::with_capacity(chain.len());
        let mut at = *version;
        for value in &chain {
            let (kind, data) = bytes(value).and_then(parse_blob).ok_or_else(|| {
                CheckpointError::corrupt(
                    thread,
                    id,
                    format!("channel `{channel}`: the blob at version {at} does not decode"),
                )
            })?;
            blobs.push(ChannelBlob {
                channel: channel.clone(),
                version: at,
                kind,
                data,
            });
            if let BlobKind::Delta { base } = kind {
                at = base;
            }
        }
        blobs.reverse();
        out.insert(channel.clone(), blobs);
    }

    let writes = array(writes).unwrap_or_default();
    let mut pending_writes = Vec::with_capacity(writes.len() / 2);
    for pair in writes.chunks_exact(2) {
        let write = bytes(&pair[0])
            .zip(bytes(&pair[1]))
            .and_then(|(field, value)| parse_write(field, value))
            .ok_or_else(|| {
                CheckpointError::corrupt(thread, id, "a pending write does not decode")
            })?;
        pending_writes.push(write);
    }
    Ok(Some(CheckpointTuple {
        checkpoint,
        channels: out,
        pending_writes,
    }))
}
