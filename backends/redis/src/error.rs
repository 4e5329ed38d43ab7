//! How Redis failures reach callers: [`RedisError`] inside [`CheckpointError::Backend`], and
//! [`CheckpointError::Corrupt`] for stored values that cannot be read back.

use std::sync::Arc;

use stategraph_checkpoint::{CheckpointError, Operation, ThreadId};

/// Redis failed, or refused to be used, while the saver was doing something for a thread: the
/// source of a [`CheckpointError::Backend`] raised by [`RedisSaver`](crate::RedisSaver).
///
/// Its message names the operation and the thread (``Redis put of thread `t` failed: …``).
/// A refusal to run on a server that would lose checkpoints on restart is
/// [`is_durability_refusal`](Self::is_durability_refusal).
#[derive(Debug, Clone, thiserror::Error)]
#[error("Redis {operation} failed: {cause}")]
pub struct RedisError {
    operation: Operation,
    #[source]
    cause: Cause,
}

#[derive(Debug, Clone, thiserror::Error)]
enum Cause {
    #[error(transparent)]
    Redis(Arc<redis::RedisError>),
    #[error("{0}")]
    Durability(String),
    #[error("{0}")]
    Other(String),
}

impl RedisError {
    /// What the saver was doing: `connect`, `setup`, `get`, `list`, `put`, `put_writes`,
    /// `delete_thread`, `copy_thread`, `prune` or `list_threads`.
    pub fn operation(&self) -> &'static str {
        self.operation.name()
    }

    /// The thread the operation was for, if it was for one.
    pub fn thread_id(&self) -> Option<&ThreadId> {
        self.operation.thread_id()
    }

    /// Whether this is `setup()` refusing a server whose persistence settings would lose
    /// checkpoints on restart (or could not be checked), without the `allow_volatile` opt-in.
    pub fn is_durability_refusal(&self) -> bool {
        matches!(self.cause, Cause::Durability(_))
    }

    /// Whether the server could not be reached (refused, timed out, connection dropped).
    pub fn is_unreachable(&self) -> bool {
        match &self.cause {
            Cause::Redis(e) => {
                e.is_connection_refusal() || e.is_timeout() || e.is_connection_dropped()
            }
            _ => false,
        }
    }
}

/// Where a failure happened: the operation and the thread it was for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) operation: &'static str,
    pub(crate) thread_id: Option<&'a ThreadId>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(operation: &'static str, thread_id: Option<&'a ThreadId>) -> Self {
        Self {
            operation,
            thread_id,
        }
    }

    fn error(self, cause: Cause) -> CheckpointError {
        CheckpointError::Backend(Box::new(RedisError {
            operation: Operation::new(self.operation, self.thread_id),
            cause,
        }))
    }

    /// A Redis error met while running this operation.
    pub(crate) fn redis(self, error: redis::RedisError) -> CheckpointError {
        self.error(Cause::Redis(Arc::new(error)))
    }

    /// `setup()` refusing a server that would lose data.
    pub(crate) fn durability(self, detail: String) -> CheckpointError {
        self.error(Cause::Durability(detail))
    }

    /// Anything else, described in words.
    pub(crate) fn other(self, detail: impl Into<String>) -> CheckpointError {
        self.error(Cause::Other(detail.into()))
    }
}
