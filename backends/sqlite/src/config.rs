//! How a saver opens its database: durability, lock waiting, and the connection pragmas.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use stategraph_checkpoint::CheckpointError;

use crate::SqliteSaver;

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`). In both settings the
/// database is written through a write-ahead log (WAL) and is never corrupted by a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Synchronous {
    /// `FULL`, the default: the log is flushed to the disk before a commit is acknowledged, so
    /// an acknowledged checkpoint survives a process crash, an OS crash and a power loss. Each
    /// commit waits for one `fsync` (group commit shares it among every write queued at that
    /// moment).
    #[default]
    Full,
    /// `NORMAL`: the log is flushed only when SQLite copies it into the database file, so an
    /// acknowledged checkpoint survives a process crash (SIGKILL, panic, OOM kill) but the last
    /// commits before an OS crash or power loss may roll back. The database stays consistent
    /// either way: a resume then starts from an earlier checkpoint. Commits do not wait for
    /// the disk.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Options for opening a [`SqliteSaver`]; made by [`SqliteSaver::builder`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use stategraph_sqlite::{SqliteSaver, Synchronous};
///
/// let dir = tempfile::tempdir().unwrap();
/// let saver = SqliteSaver::builder(dir.path().join("checkpoints.db"))
///     .synchronous(Synchronous::Normal)
///     .busy_timeout(Duration::from_secs(10))
///     .open()
///     .await?;
/// assert_eq!(saver.synchronous(), Synchronous::Normal);
/// # Ok::<(), stategraph_checkpoint::CheckpointError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.open().await`"]
pub struct SqliteSaverBuilder {
    pub(crate) config: Config,
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    File(PathBuf),
    Memory,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) location: Location,
    pub(crate) synchronous: Synchronous,
    pub(crate) busy_timeout: Duration,
}

/// Which job a connection does; the reader refuses writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Writer,
    Reader,
}

impl SqliteSaverBuilder {
    /// The busy timeout unless [`busy_timeout`](Self::busy_timeout) says otherwise.
    pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

    pub(crate) fn new(location: Location) -> Self {
        Self {
            config: Config {
                location,
                synchronous: Synchronous::default(),
                busy_timeout: Self::DEFAULT_BUSY_TIMEOUT,
            },
        }
    }

    /// How durable an acknowledged commit is; [`Synchronous::Full`] unless set.
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.config.synchronous = synchronous;
        self
    }

    /// How long a connection waits for another one (another saver, another process) to
    /// release the database before failing with "database is locked"; 5 s unless set.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.config.busy_timeout = timeout;
        self
    }

    /// Opens (or creates) the database, starts the saver's threads and runs
    /// [`setup`](stategraph_checkpoint::Checkpointer::setup).
    pub async fn open(self) -> Result<SqliteSaver, CheckpointError> {
        SqliteSaver::start(self.config).await
    }
}

impl Config {
    pub(crate) fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(path) => Some(path),
            Location::Memory => None,
        }
    }

    /// Opens one connection and sets it up for its role. Runs on the worker thread that will
    /// own the connection.
    pub(crate) fn connect(&self, role: Role) -> rusqlite::Result<Connection> {
        let conn = match &self.location {
            Location::File(path) => Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?,
            Location::Memory => Connection::open_in_memory()?,
        };
        conn.busy_timeout(self.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(64);
        // One plan per statement whatever its parameters: otherwise SQLite marks a statement
        // whose parameter meets an indexed column as "re-plan when rebound", and the cache
        // clearing a statement's bindings on its return made every checkpoint's head lookup
        // parse and plan its SQL again (a quarter of a NORMAL commit's time).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        if matches!(self.location, Location::File(_)) {
            self.enable_wal(&conn)?;
        }
        conn.pragma_update(None, "synchronous", self.synchronous.pragma())?;
        if role == Role::Reader {
            conn.pragma_update(None, "query_only", true)?;
        }
        Ok(conn)
    }

    /// Switches the file to WAL (a persistent setting, so usually a no-op). Switching needs an
    /// exclusive lock for a moment; when another process is opening the same new file, SQLite
    /// can answer "busy" without consulting the busy handler, so retry until the busy timeout.
    fn enable_wal(&self, conn: &Connection) -> rusqlite::Result<()> {
        let deadline = Instant::now() + self.busy_timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let result = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| {
                row.get::<_, String>(0)
            });
            match result {
                Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
                Ok(mode) => {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                        Some(format!(
                            "the database refused WAL mode (journal_mode stayed `{mode}`)"
                        )),
                    ));
                }
                Err(error) if is_busy(&error) && Instant::now() < deadline => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(error) => return Err(error),
            }
        }
    }
}

pub(crate) fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pragma(conn: &Connection, name: &str) -> String {
        conn.pragma_query_value(None, name, |row| {
            Ok(match row.get_ref(0)? {
                rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                other => other.as_str()?.to_owned(),
            })
        })
        .unwrap()
    }

    #[test]
    fn connections_get_wal_the_busy_timeout_and_the_chosen_synchronous() {
        let dir = tempfile::tempdir().unwrap();
        for (synchronous, level) in [(Synchronous::Full, "2"), (Synchronous::Normal, "1")] {
            let builder = SqliteSaverBuilder::new(Location::File(dir.path().join("x.db")))
                .synchronous(synchronous)
                .busy_timeout(Duration::from_millis(1234));
            let writer = builder.config.connect(Role::Writer).unwrap();
            assert_eq!(pragma(&writer, "journal_mode"), "wal");
            assert_eq!(pragma(&writer, "synchronous"), level);
            assert_eq!(pragma(&writer, "busy_timeout"), "1234");
            assert_eq!(pragma(&writer, "query_only"), "0");
            let reader = builder.config.connect(Role::Reader).unwrap();
            assert_eq!(pragma(&reader, "query_only"), "1");
            assert!(reader.execute_batch("CREATE TABLE nope (x)").is_err());
        }
    }

    #[test]
    fn cached_statements_keep_their_plan_across_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let builder = SqliteSaverBuilder::new(Location::File(dir.path().join("x.db")));
        let conn = builder.config.connect(Role::Writer).unwrap();
        conn.execute_batch(
            "CREATE TABLE c (thread_id TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL,
                 PRIMARY KEY (thread_id, ns, id));
             CREATE INDEX c_by_thread ON c (thread_id, id);",
        )
        .unwrap();
        let sql = "SELECT max(id) FROM c WHERE thread_id = ?1 AND ns = ?2";
        for thread in ["a", "b", "a", "c"] {
            let mut statement = conn.prepare_cached(sql).unwrap();
            let latest: Option<String> =
                statement.query_row([thread, ""], |row| row.get(0)).unwrap();
            assert_eq!(latest, None);
        }
        let statement = conn.prepare_cached(sql).unwrap();
        assert_eq!(
            statement.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "the statement was planned again after being rebound"
        );
    }
}
