//! How object-store failures reach callers: [`ObjectStoreError`] inside
//! [`CheckpointError::Backend`].

use std::sync::Arc;

use stategraph_checkpoint::{CheckpointError, Operation, ThreadId};

/// The object store failed, or held something that is not a stategraph log, while the saver
/// was doing something for a thread: the source of a [`CheckpointError::Backend`] raised by
/// [`ObjectStoreSaver`](crate::ObjectStoreSaver).
///
/// Its message names the operation and the thread (``object store put of thread `t` failed:
/// …``).
#[derive(Debug, Clone, thiserror::Error)]
#[error("object store {operation} failed: {cause}")]
pub struct ObjectStoreError {
    operation: Operation,
    #[source]
    cause: Cause,
}

#[derive(Debug, Clone, thiserror::Error)]
enum Cause {
    #[error(transparent)]
    Store(Arc<object_store::Error>),
    #[error("{0}")]
    Other(String),
}

impl ObjectStoreError {
    /// What the saver or store was doing: `setup`, `get`, `list`, `claim`, `put`,
    /// `put_writes`, `delete_thread`, `copy_thread`, `prune`, `list_threads`, `cache_get`,
    /// `cache_put`, or a store's `store_get`, `store_put`, `store_delete`, `store_search`,
    /// `store_list_namespaces` or `store_sweep`.
    pub fn operation(&self) -> &'static str {
        self.operation.name()
    }

    /// The thread the operation was for, if it was for one.
    pub fn thread_id(&self) -> Option<&ThreadId> {
        self.operation.thread_id()
    }

    /// Whether the store itself failed (a request, a connection, a file), rather than
    /// holding something unreadable.
    pub fn is_store_failure(&self) -> bool {
        matches!(self.cause, Cause::Store(_))
    }
}

/// Where a failure happened: the operation and the thread it was for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    operation: &'static str,
    thread_id: Option<&'a ThreadId>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(operation: &'static str, thread_id: Option<&'a ThreadId>) -> Self {
        Self {
            operation,
            thread_id,
        }
    }

    /// The same operation, for another thread.
    pub(crate) fn with_thread(self, thread_id: &'a ThreadId) -> Self {
        Self {
            thread_id: Some(thread_id),
            ..self
        }
    }

    fn error(self, cause: Cause) -> CheckpointError {
        CheckpointError::Backend(Box::new(ObjectStoreError {
            operation: Operation::new(self.operation, self.thread_id),
            cause,
        }))
    }

    /// A request to the store failed.
    pub(crate) fn store(self, error: object_store::Error) -> CheckpointError {
        self.error(Cause::Store(Arc::new(error)))
    }

    /// Anything else, described in words.
    pub(crate) fn other(self, detail: impl Into<String>) -> CheckpointError {
        self.error(Cause::Other(detail.into()))
    }
}
