//! How PostgreSQL failures reach callers: [`PostgresError`] inside
//! [`CheckpointError::Backend`], and [`CheckpointError::Corrupt`] for rows that cannot be read
//! back.

use std::sync::Arc;

use stategraph_checkpoint::{CheckpointError, Operation, ThreadId};

/// PostgreSQL failed while the saver was doing something (for a thread): the source of a
/// [`CheckpointError::Backend`] raised by [`PostgresSaver`](crate::PostgresSaver).
///
/// Its message names the operation, the thread and the server
/// (`PostgreSQL put of thread `t` failed (127.0.0.1:5432): connection closed`); its
/// [`source`](std::error::Error::source) is the driver or pool error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("PostgreSQL {operation} failed ({server}): {cause}")]
pub struct PostgresError {
    operation: Operation,
    server: Arc<str>,
    #[source]
    cause: Cause,
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Cause {
    #[error("{}", describe(.0))]
    Postgres(Arc<tokio_postgres::Error>),
    #[error("cannot get a connection from the pool: {}", describe_pool(.0))]
    Pool(Arc<deadpool_postgres::PoolError>),
    #[error("{0}")]
    Other(String),
}

/// The driver's message with the server's detail and hint, which `Display` leaves out.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

fn describe_pool(error: &deadpool_postgres::PoolError) -> String {
    match error {
        deadpool_postgres::PoolError::Backend(e) => describe(e),
        other => other.to_string(),
    }
}

impl PostgresError {
    /// What the saver was doing: `connect`, `setup`, `get`, `list`, `put`, `put_writes`,
    /// `delete_thread`, `copy_thread`, `prune` or `list_threads`.
    pub fn operation(&self) -> &'static str {
        self.operation.name()
    }

    /// The thread the operation was for, if it was for one.
    pub fn thread_id(&self) -> Option<&ThreadId> {
        self.operation.thread_id()
    }

    /// The server (`host:port`) the saver talks to.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The SQLSTATE code the server answered with, if it answered with an error.
    pub fn code(&self) -> Option<&str> {
        match &self.cause {
            Cause::Postgres(error) => error.code().map(|c| c.code()),
            Cause::Pool(error) => match &**error {
                deadpool_postgres::PoolError::Backend(e) => e.code().map(|c| c.code()),
                _ => None,
            },
            Cause::Other(_) => None,
        }
    }

    /// Whether the connection failed (refused, closed, reset, or the server shutting down),
    /// rather than the statement: the operation may succeed on a new connection.
    pub fn is_connection_error(&self) -> bool {
        match &self.cause {
            Cause::Postgres(error) => is_connection_error(error),
            Cause::Pool(error) => match &**error {
                deadpool_postgres::PoolError::Backend(e) => is_connection_error(e),
                deadpool_postgres::PoolError::Timeout(_) => true,
                _ => false,
            },
            Cause::Other(_) => false,
        }
    }
}

pub(crate) fn is_connection_error(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    if let Some(code) = error.code() {
        // Class 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now.
        let code = code.code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    // No server answer at all: an I/O error on the socket.
    error.as_db_error().is_none()
        && std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>())
}

/// Where a failure happened: the operation, the thread it was for and the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) operation: &'static str,
    pub(crate) thread_id: Option<&'a ThreadId>,
    pub(crate) server: &'a Arc<str>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(
        operation: &'static str,
        thread_id: Option<&'a ThreadId>,
        server: &'a Arc<str>,
    ) -> Self {
        Self {
            operation,
            thread_id,
            server,
        }
    }

    pub(crate) fn error(self, cause: Cause) -> CheckpointError {
        CheckpointError::Backend(Box::new(PostgresError {
            operation: Operation::new(self.operation, self.thread_id),
            server: Arc::clone(self.server),
            cause,
        }))
    }

    /// A driver error met while running this operation.
    pub(crate) fn pg(self, error: tokio_postgres::Error) -> CheckpointError {
        self.error(Cause::Postgres(Arc::new(error)))
    }

    /// No connection could be had.
    pub(crate) fn pool(self, error: deadpool_postgres::PoolError) -> CheckpointError {
        self.error(Cause::Pool(Arc::new(error)))
    }

    /// Anything else, described in words.
    pub(crate) fn other(self, detail: impl Into<String>) -> CheckpointError {
        self.error(Cause::Other(detail.into()))
    }
}

/// Whether `error` is a [`PostgresError`] for which a new connection may help.
pub(crate) fn retryable(error: &CheckpointError) -> bool {
    match error {
        CheckpointError::Backend(source) => source
            .downcast_ref::<PostgresError>()
            .is_some_and(PostgresError::is_connection_error),
        _ => false,
    }
}
