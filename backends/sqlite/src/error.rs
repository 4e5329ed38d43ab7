//! How SQLite failures reach callers: [`SqliteError`] inside [`CheckpointError::Backend`], and
//! [`CheckpointError::Corrupt`] for rows that cannot be read back.

use std::sync::Arc;

use stategraph_checkpoint::{CheckpointError, Operation, ThreadId};

/// SQLite failed while the saver was doing something for a thread: the source of a
/// [`CheckpointError::Backend`] raised by [`SqliteSaver`](crate::SqliteSaver).
///
/// Its message names the operation and the thread (`SQLite put of thread `t` failed: disk I/O
/// error`); its [`source`](std::error::Error::source) is the `rusqlite` error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("SQLite {operation} failed: {cause}")]
pub struct SqliteError {
    operation: Operation,
    #[source]
    cause: Cause,
}

#[derive(Debug, Clone, thiserror::Error)]
enum Cause {
    #[error(transparent)]
    Sqlite(Arc<rusqlite::Error>),
    #[error("the transaction this write was committed in failed: {0}")]
    Group(Arc<rusqlite::Error>),
    #[error("the SQLite worker thread stopped before answering")]
    WorkerStopped,
    #[error("{0}")]
    Other(String),
}

impl SqliteError {
    /// What the saver was doing: `open`, `setup`, `get`, `list`, `put`, `put_writes`,
    /// `delete_thread`, `copy_thread`, `prune` or `list_threads`.
    pub fn operation(&self) -> &'static str {
        self.operation.name()
    }

    /// The thread the operation was for, if it was for one.
    pub fn thread_id(&self) -> Option<&ThreadId> {
        self.operation.thread_id()
    }

    /// Whether SQLite gave up waiting for a lock ("database is locked") after the busy timeout.
    pub fn is_busy(&self) -> bool {
        match &self.cause {
            Cause::Sqlite(error) | Cause::Group(error) => crate::config::is_busy(error),
            Cause::WorkerStopped | Cause::Other(_) => false,
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
        CheckpointError::Backend(Box::new(SqliteError {
            operation: Operation::new(self.operation, self.thread_id),
            cause,
        }))
    }

    /// A SQLite error met while running this operation.
    pub(crate) fn sqlite(self, error: rusqlite::Error) -> CheckpointError {
        self.error(Cause::Sqlite(Arc::new(error)))
    }

    /// The shared transaction of a group commit failed, after this operation had run in it.
    pub(crate) fn group(self, error: &Arc<rusqlite::Error>) -> CheckpointError {
        self.error(Cause::Group(Arc::clone(error)))
    }

    /// The worker thread went away (it panicked, or the saver is shutting down).
    pub(crate) fn worker_stopped(self) -> CheckpointError {
        self.error(Cause::WorkerStopped)
    }

    /// Anything else, described in words.
    pub(crate) fn other(self, detail: impl Into<String>) -> CheckpointError {
        self.error(Cause::Other(detail.into()))
    }
}
