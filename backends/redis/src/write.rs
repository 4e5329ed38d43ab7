//! Puts, writes, deletes, copies and pruning: each one script, so each is atomic.

use redis::Value;
use stategraph_checkpoint::{
    CheckpointError, CheckpointId, Epoch, NewCheckpoint, PendingWrite, Prune, PutMode, ThreadId,
    limits,
};

use crate::RedisSaver;
use crate::codec::{Record, blob_field, blob_value, parse_id, write_field, write_value};
use crate::error::Context;
use crate::reply::{array, text};

impl RedisSaver {
    pub(crate) async fn claim_thread(&self, thread: &ThreadId) -> Result<Epoch, CheckpointError> {
        limits::check_thread_id(thread)?;
        let ctx = Context::new("claim", Some(thread));
        let epoch: i64 = self
            .scripts
            .claim
            .key(self.keys.thread(thread))
            .arg(Epoch::next_after(None).get())
            .arg(self.config.write_ttl_ms())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        Ok(Epoch::from_i64(epoch))
    }

    pub(crate) async fn thread_epoch(
        &self,
        thread: &ThreadId,
    ) -> Result<Option<Epoch>, CheckpointError> {
        limits::check_thread_id(thread)?;
        let ctx = Context::new("epoch", Some(thread));
        let epoch: Option<String> = redis::cmd("GET")
            .arg(format!("{}:epoch", self.keys.thread(thread)))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        epoch
            .map(|e| parse_epoch(&e).ok_or_else(|| ctx.other("the stored epoch is not a number")))
            .transpose()
    }

    pub(crate) async fn claim_thread_if(
        &self,
        thread: &ThreadId,
        expected: Option<Epoch>,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
    ) -> Result<Epoch, CheckpointError> {
        limits::check_writes(thread, ns, &writes)?;
        let ctx = Context::new("claim_if", Some(thread));
        let mut invocation = self.scripts.claim_if.prepare_invoke();
        invocation
            .key(self.keys.thread(thread))
            .arg(Epoch::next_after(None).get())
            .arg(self.config.write_ttl_ms())
            .arg(epoch_arg(expected))
            .arg(ns);
        write_args(&mut invocation, id, &writes);
        let reply: Value = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        let reply = array(reply).unwrap_or_default();
        match reply.first().and_then(text) {
            Some("ok") => reply
                .get(1)
                .and_then(text)
                .and_then(parse_epoch)
                .ok_or_else(|| ctx.other("the claim_if script returned no epoch")),
            Some("superseded") => Err(superseded_error(thread, expected, &reply)),
            _ => Err(ctx.other(format!(
                "unexpected reply from the claim_if script: {reply:?}"
            ))),
        }
    }

    pub(crate) async fn put_checkpoint(&self, new: NewCheckpoint) -> Result<(), CheckpointError> {
        limits::check_put(&new)?;
        let NewCheckpoint {
            checkpoint,
            blobs,
            mode,
            epoch,
        } = new;
        let thread = &checkpoint.thread_id;
        let ctx = Context::new("put", Some(thread));
        let mut invocation = self.scripts.put.prepare_invoke();
        invocation
            .key(self.keys.thread(thread))
            .key(self.keys.registry())
            .arg(match mode {
                PutMode::Advance => "advance",
                PutMode::Fork => "fork",
            })
            .arg(&checkpoint.ns)
            .arg(checkpoint.id.to_string())
            .arg(
                checkpoint
                    .parent_id
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            )
            .arg(Record::encode(&checkpoint))
            .arg(thread.as_str())
            .arg(self.config.write_ttl_ms())
            .arg(epoch_arg(epoch));
        for blob in &blobs {
            invocation.arg(blob_field(blob)).arg(blob_value(blob));
        }
        let reply: Value = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        let reply = array(reply).unwrap_or_default();
        match reply.first().and_then(text) {
            Some("ok") => Ok(()),
            Some("fenced") => Err(fenced_error(thread, epoch, &reply, ctx)),
            Some("conflict") => {
                let latest = reply.get(1).and_then(text).unwrap_or("");
                Err(CheckpointError::Conflict {
                    thread_id: thread.clone(),
                    ns: checkpoint.ns.clone(),
                    expected: checkpoint.parent_id,
                    latest: if latest.is_empty() {
                        None
                    } else {
                        Some(parse_id(latest.as_bytes()).ok_or_else(|| {
                            CheckpointError::corrupt(
                                thread,
                                checkpoint.id,
                                format!("head `{latest}` is no id"),
                            )
                        })?)
                    },
                })
            }
            Some("missing_parent") => Err(CheckpointError::MissingParent {
                thread_id: thread.clone(),
                parent: checkpoint.parent_id.unwrap_or(checkpoint.id),
            }),
            _ => Err(ctx.other(format!("unexpected reply from the put script: {reply:?}"))),
        }
    }

    pub(crate) async fn put_task_writes(
        &self,
        thread: &ThreadId,
        ns: &str,
        id: CheckpointId,
        writes: Vec<PendingWrite>,
        epoch: Option<Epoch>,
    ) -> Result<(), CheckpointError> {
        limits::check_writes(thread, ns, &writes)?;
        if writes.is_empty() {
            return Ok(());
        }
        let ctx = Context::new("put_writes", Some(thread));
        let mut invocation = self.scripts.put_writes.prepare_invoke();
        invocation
            .key(self.keys.thread(thread))
            .arg(ns)
            .arg(self.config.write_ttl_ms())
            .arg(epoch_arg(epoch));
        write_args(&mut invocation, id, &writes);
        let reply: Value = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        let reply = array(reply).unwrap_or_default();
        match reply.first().and_then(text) {
            Some("ok") => Ok(()),
            Some("fenced") => Err(fenced_error(thread, epoch, &reply, ctx)),
            _ => Err(ctx.other(format!(
                "unexpected reply from the put_writes script: {reply:?}"
            ))),
        }
    }

    /// Deletes the thread; with `expected`, only if its epoch is still that one.
    pub(crate) async fn delete(
        &self,
        thread: &ThreadId,
        expected: Option<Option<Epoch>>,
        operation: &'static str,
    ) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread)?;
        let ctx = Context::new(operation, Some(thread));
        let reply: Value = self
            .scripts
            .delete
            .key(self.keys.thread(thread))
            .key(self.keys.registry())
            .arg(thread.as_str())
            .arg(expected.map_or_else(|| "-".to_owned(), epoch_arg))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        let reply = array(reply).unwrap_or_default();
        match reply.first().and_then(text) {
            Some("ok") => Ok(()),
            Some("superseded") => Err(superseded_error(thread, expected.flatten(), &reply)),
            _ => Err(ctx.other(format!(
                "unexpected reply from the delete script: {reply:?}"
            ))),
        }
    }

    pub(crate) async fn copy(&self, from: &ThreadId, to: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(from)?;
        limits::check_thread_id(to)?;
        let ctx = Context::new("copy_thread", Some(from));
        let reply: Value = self
            .scripts
            .copy
            .key(self.keys.thread(from))
            .key(self.keys.thread(to))
            .key(self.keys.registry())
            .arg(to.as_str())
            .arg(self.config.write_ttl_ms())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        match text(&reply) {
            Some("ok" | "empty") => Ok(()),
            Some("exists") => Err(CheckpointError::ThreadExists(to.clone())),
            _ => Err(ctx.other(format!("unexpected reply from the copy script: {reply:?}"))),
        }
    }

    pub(crate) async fn prune_threads(
        &self,
        threads: &[ThreadId],
        policy: Prune,
    ) -> Result<(), CheckpointError> {
        for thread in threads {
            match policy {
                Prune::Delete => self.delete(thread, None, "prune").await?,
                Prune::KeepLatest => self.keep_latest(thread).await?,
            }
        }
        Ok(())
    }

    async fn keep_latest(&self, thread: &ThreadId) -> Result<(), CheckpointError> {
        limits::check_thread_id(thread)?;
        let ctx = Context::new("prune", Some(thread));
        let reply: Value = self
            .scripts
            .prune
            .key(self.keys.thread(thread))
            .arg(self.config.write_ttl_ms())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| ctx.redis(e))?;
        let reply = array(reply).unwrap_or_default();
        match reply.first().and_then(text) {
            Some("ok") => Ok(()),
            Some("corrupt") => {
                let field = |i: usize| reply.get(i).and_then(text).unwrap_or("?").to_owned();
                let checkpoint = parse_id(field(2).as_bytes()).unwrap_or_default();
                Err(CheckpointError::corrupt(
                    thread,
                    checkpoint,
                    format!(
                        "namespace `{}`: channel `{}` has no blob at version {}",
                        field(1),
                        field(3),
                        field(4)
                    ),
                ))
            }
            _ => Err(ctx.other(format!("unexpected reply from the prune script: {reply:?}"))),
        }
    }
}

/// An epoch as the scripts compare it: its decimal digits, or `''` for an unfenced write.
fn epoch_arg(epoch: Option<Epoch>) -> String {
    epoch.map(|e| e.to_string()).unwrap_or_default()
}

/// Adds `writes` against checkpoint `id` to a script's arguments, as field/value/replace
/// triples (replace: an error write, at a negative index).
fn write_args(
    invocation: &mut redis::ScriptInvocation<'_>,
    id: CheckpointId,
    writes: &[PendingWrite],
) {
    for write in writes {
        invocation
            .arg(write_field(id, write))
            .arg(write_value(write))
            .arg(if write.idx < 0 { "1" } else { "0" });
    }
}

/// An epoch as the scripts return it.
fn parse_epoch(text: &str) -> Option<Epoch> {
    text.parse::<i64>().ok().map(Epoch::from_i64)
}

/// The error for a script's `{'superseded', current}` reply.
fn superseded_error(
    thread: &ThreadId,
    expected: Option<Epoch>,
    reply: &[Value],
) -> CheckpointError {
    CheckpointError::Superseded {
        thread_id: thread.clone(),
        expected,
        current: reply.get(1).and_then(text).and_then(parse_epoch),
    }
}

/// The error for a script's `{'fenced', current}` reply.
fn fenced_error(
    thread: &ThreadId,
    epoch: Option<Epoch>,
    reply: &[Value],
    ctx: Context<'_>,
) -> CheckpointError {
    let Some(epoch) = epoch else {
        return ctx.other("an unfenced write was refused as fenced");
    };
    let current = reply
        .get(1)
        .and_then(text)
        .and_then(|c| c.parse::<i64>().ok())
        .map(Epoch::from_i64);
    CheckpointError::Fenced {
        thread_id: thread.clone(),
        epoch,
        current,
    }
}
