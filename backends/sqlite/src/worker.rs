//! The threads that own the SQLite connections, and the group commit.
//!
//! SQLite calls block, so no connection is ever touched from an async task: each connection
//! lives on its own OS thread, which receives commands over a channel and answers through a
//! oneshot (the shape of sqlx-sqlite's `worker.rs`). The writer thread commits every write
//! queued while the previous commit was running in one transaction: one lock acquisition and
//! one `fsync` for the whole group, each write in its own savepoint so that one write's
//! conflict rolls back that write alone.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use rusqlite::Connection;
use stategraph_checkpoint::{CheckpointError, ThreadId};
use tokio::sync::oneshot;

use crate::config::{Config, Role};
use crate::error::Context;

/// The most writes committed in one transaction, so a flood of writers still gets answers in
/// bounded time.
const MAX_GROUP: usize = 512;

type Reply<T> = oneshot::Sender<Result<T, CheckpointError>>;

/// A write: runs inside the group transaction, in its own savepoint.
type WriteFn = Box<dyn FnOnce(&Connection) -> Result<(), CheckpointError> + Send>;

enum Command {
    /// Runs alone, outside any group transaction (reads, migrations).
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
    /// Joins the next group commit.
    Write(Write),
}

struct Write {
    operation: &'static str,
    thread_id: Option<ThreadId>,
    run: WriteFn,
    reply: Reply<()>,
    span: tracing::Span,
}

/// One connection on its own thread. Dropping it closes the channel; the thread finishes the
/// commands already queued, closes the connection and exits.
#[derive(Debug)]
pub(crate) struct Worker {
    commands: mpsc::Sender<Command>,
}

impl Worker {
    /// Starts a thread, opens its connection there, and returns once the connection is ready.
    pub(crate) async fn spawn(config: Arc<Config>, role: Role) -> Result<Self, CheckpointError> {
        let context = Context::new("open", None);
        let (commands, queue) = mpsc::channel();
        let (ready, opened) = oneshot::channel();
        let name = match role {
            Role::Writer => "stategraph-sqlite-writer",
            Role::Reader => "stategraph-sqlite-reader",
        };
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || match config.connect(role) {
                Ok(mut conn) => {
                    let _ = ready.send(Ok(()));
                    serve(&mut conn, &queue);
                }
                Err(error) => {
                    let _ = ready.send(Err(context.sqlite(error)));
                }
            })
            .map_err(|error| context.other(format!("cannot start the {name} thread: {error}")))?;
        opened.await.map_err(|_| context.worker_stopped())??;
        Ok(Self { commands })
    }

    /// Runs `f` on the connection, alone (a read gets the connection between two group
    /// commits; it opens its own read transaction if it needs a consistent snapshot).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        context: Context<'_>,
        f: impl FnOnce(&mut Connection) -> Result<T, CheckpointError> + Send + 'static,
    ) -> Result<T, CheckpointError> {
        let (reply, answer) = oneshot::channel();
        let span = tracing::Span::current();
        let command = Command::Run(Box::new(move |conn| {
            let _entered = span.enter();
            let _ = reply.send(f(conn));
        }));
        self.commands
            .send(command)
            .map_err(|_| context.worker_stopped())?;
        answer.await.map_err(|_| context.worker_stopped())?
    }

    /// Runs `f` in the next group commit and answers once that commit is durable.
    pub(crate) async fn write(
        &self,
        context: Context<'_>,
        f: impl FnOnce(&Connection) -> Result<(), CheckpointError> + Send + 'static,
    ) -> Result<(), CheckpointError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Write(Write {
            operation: context.operation,
            thread_id: context.thread_id.cloned(),
            run: Box::new(f),
            reply,
            span: tracing::Span::current(),
        });
        self.commands
            .send(command)
            .map_err(|_| context.worker_stopped())?;
        answer.await.map_err(|_| context.worker_stopped())?
    }
}

/// The worker loop: until every sender is gone, run each command; writes are grouped.
fn serve(conn: &mut Connection, queue: &mpsc::Receiver<Command>) {
    while let Some(command) = next_command(queue) {
        match command {
            Command::Run(job) => run_alone(conn, job),
            Command::Write(first) => {
                let mut group = vec![first];
                let mut after = Vec::new();
                while group.len() < MAX_GROUP {
                    match queue.try_recv() {
                        Ok(Command::Write(write)) => group.push(write),
                        // Nobody waiting on a read can also be waiting on a write of this
                        // group, so running reads after the commit keeps every caller's order.
                        Ok(Command::Run(job)) => after.push(job),
                        Err(_) => break,
                    }
                }
                commit_group(conn, group);
                for job in after {
                    run_alone(conn, job);
                }
            }
        }
    }
}

/// How long the worker keeps polling for the next command before it sleeps. A graph's next
/// checkpoint usually arrives within this window, and catching it here saves the thread wake-up
/// that dominates a step's latency on SQLite; an idle worker sleeps after it.
const POLL_BEFORE_SLEEP: std::time::Duration = std::time::Duration::from_micros(200);

/// The next command, or `None` once every sender is gone.
fn next_command(queue: &mpsc::Receiver<Command>) -> Option<Command> {
    let start = std::time::Instant::now();
    loop {
        match queue.try_recv() {
            Ok(command) => return Some(command),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if start.elapsed() < POLL_BEFORE_SLEEP => {
                std::thread::yield_now();
            }
            Err(mpsc::TryRecvError::Empty) => return queue.recv().ok(),
        }
    }
}

fn run_alone(conn: &mut Connection, job: Box<dyn FnOnce(&mut Connection) + Send>) {
    // A panic drops the job's reply sender, so its caller gets "worker stopped"; the thread
    // and its connection stay usable for everyone else.
    if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
        tracing::error!("a stategraph-sqlite job panicked");
    }
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Runs `group` in one `BEGIN IMMEDIATE … COMMIT`, each write in its own savepoint, and
/// answers every caller after the commit (with the commit's error if it failed).
fn commit_group(conn: &Connection, group: Vec<Write>) {
    tracing::trace!(writes = group.len(), "group commit");
    if let Err(error) = control(conn, "BEGIN IMMEDIATE") {
        let error = Arc::new(error);
        for write in group {
            let context = Context::new(write.operation, write.thread_id.as_ref());
            let _ = write.reply.send(Err(context.group(&error)));
        }
        return;
    }
    let mut done = Vec::with_capacity(group.len());
    let mut broken: Option<Arc<rusqlite::Error>> = None;
    for write in group {
        let Write {
            operation,
            thread_id,
            run,
            reply,
            span,
        } = write;
        let context = Context::new(operation, thread_id.as_ref());
        let outcome = match &broken {
            Some(error) => Err(context.group(error)),
            None => {
                let _entered = span.enter();
                let (outcome, broke) = run_in_savepoint(conn, context, run);
                if let Err(error) = &outcome {
                    tracing::debug!(%error, "write rolled back to its savepoint");
                }
                broken = broke;
                outcome
            }
        };
        done.push((operation, thread_id, reply, outcome));
    }
    let committed = match broken {
        Some(error) => Err(error),
        None => control(conn, "COMMIT").map_err(Arc::new),
    };
    if let Err(error) = &committed {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        tracing::warn!(%error, writes = done.len(), "group commit failed");
    }
    for (operation, thread_id, reply, outcome) in done {
        let outcome = match &committed {
            Ok(()) => outcome,
            // A write that failed on its own keeps its own error; the others learn that the
            // commit they were part of did not happen.
            Err(error) => {
                outcome.and_then(|()| Err(Context::new(operation, thread_id.as_ref()).group(error)))
            }
        };
        let _ = reply.send(outcome);
    }
}

/// Runs one write in a savepoint. Returns the write's outcome, and the error that broke the
/// whole transaction if the savepoint could not be opened or rolled back to.
fn run_in_savepoint(
    conn: &Connection,
    context: Context<'_>,
    run: WriteFn,
) -> (Result<(), CheckpointError>, Option<Arc<rusqlite::Error>>) {
    if let Err(error) = control(conn, "SAVEPOINT stategraph_write") {
        let error = Arc::new(error);
        return (Err(context.group(&error)), Some(error));
    }
    let outcome = match catch_unwind(AssertUnwindSafe(|| run(conn))) {
        Ok(outcome) => outcome,
        Err(panic) => Err(context.other(format!(
            "the write panicked: {}",
            panic_message(panic.as_ref())
        ))),
    };
    let finish = match &outcome {
        Ok(()) => control(conn, "RELEASE stategraph_write"),
        Err(_) => control(conn, "ROLLBACK TO stategraph_write")
            .and_then(|()| control(conn, "RELEASE stategraph_write")),
    };
    match finish {
        Ok(()) if !conn.is_autocommit() => (outcome, None),
        // SQLite rolled the whole transaction back (disk full, I/O error): nothing of the
        // group survives.
        Ok(()) => (outcome, Some(Arc::new(lost_transaction()))),
        Err(error) => (outcome, Some(Arc::new(error))),
    }
}

/// Runs a transaction-control statement, prepared once per connection (they run for every
/// write, and parsing them each time shows up in profiles).
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn lost_transaction() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("SQLite rolled back the group transaction".to_owned()),
    )
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    type Answer = oneshot::Receiver<Result<(), CheckpointError>>;

    fn job(
        f: impl FnOnce(&Connection) -> Result<(), CheckpointError> + Send + 'static,
    ) -> (Write, Answer) {
        let (reply, answer) = oneshot::channel();
        let write = Write {
            operation: "put",
            thread_id: Some(ThreadId::new("t")),
            run: Box::new(f),
            reply,
            span: tracing::Span::none(),
        };
        (write, answer)
    }

    fn insert(n: i64) -> impl FnOnce(&Connection) -> Result<(), CheckpointError> + Send {
        move |conn| {
            conn.execute("INSERT INTO t (n) VALUES (?1)", [n])
                .map(|_| ())
                .map_err(|e| Context::new("put", None).sqlite(e))
        }
    }

    fn rows(conn: &Connection) -> Vec<i64> {
        conn.prepare("SELECT n FROM t ORDER BY n")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    fn answers(answers: Vec<Answer>) -> Vec<Result<(), String>> {
        answers
            .into_iter()
            .map(|mut a| a.try_recv().expect("answered").map_err(|e| e.to_string()))
            .collect()
    }

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE t (n INTEGER PRIMARY KEY,
                 p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn a_failing_write_rolls_back_alone() {
        let conn = table();
        let (a, ra) = job(insert(1));
        let (b, rb) = job(|conn| {
            insert(2)(conn)?;
            Err(CheckpointError::ReservedMetadataKey("step".into()))
        });
        let (c, rc) = job(insert(3));
        let (d, rd) = job(|_| panic!("boom"));
        let (e, re) = job(insert(4));
        commit_group(&conn, vec![a, b, c, d, e]);
        let got = answers(vec![ra, rb, rc, rd, re]);
        assert_eq!(got[0], Ok(()));
        assert!(got[1].as_ref().unwrap_err().contains("reserved"));
        assert_eq!(got[2], Ok(()));
        assert!(
            got[3].as_ref().unwrap_err().contains("panicked: boom"),
            "{:?}",
            got[3]
        );
        assert_eq!(got[4], Ok(()));
        assert_eq!(rows(&conn), [1, 3, 4]);
        assert!(conn.is_autocommit());
    }

    #[test]
    fn a_failed_commit_fails_every_write_of_the_group() {
        let conn = table();
        let (a, ra) = job(insert(1));
        // Violates a deferred foreign key: fine until COMMIT, which then fails.
        let (b, rb) = job(|conn| {
            conn.execute("INSERT INTO t (n, p) VALUES (2, 99)", [])
                .map(|_| ())
                .map_err(|e| Context::new("put", None).sqlite(e))
        });
        commit_group(&conn, vec![a, b]);
        for answer in answers(vec![ra, rb]) {
            let error = answer.unwrap_err();
            assert!(error.contains("SQLite put of thread `t` failed"), "{error}");
            assert!(error.contains("FOREIGN KEY"), "{error}");
        }
        assert!(rows(&conn).is_empty());
        assert!(conn.is_autocommit(), "the connection is usable again");
        let (c, rc) = job(insert(3));
        commit_group(&conn, vec![c]);
        assert_eq!(answers(vec![rc]), [Ok(())]);
        assert_eq!(rows(&conn), [3]);
    }

    #[test]
    fn a_write_that_ends_the_transaction_fails_the_whole_group() {
        let conn = table();
        let (a, ra) = job(insert(1));
        let (b, rb) = job(|conn| {
            conn.execute_batch("ROLLBACK")
                .map_err(|e| Context::new("put", None).sqlite(e))
        });
        let (c, rc) = job(insert(3));
        commit_group(&conn, vec![a, b, c]);
        assert!(answers(vec![ra, rb, rc]).iter().all(Result::is_err));
        assert!(rows(&conn).is_empty());
        assert!(conn.is_autocommit());
    }
}
