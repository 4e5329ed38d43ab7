//! What the tests that run on every durable backend share: a saver of its own on each, as
//! two processes would open it, on a place every run of the test can share.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use stategraph::Checkpointer;
use stategraph::object_store::ObjectStoreSaver;
use stategraph::postgres::PostgresSaver;
use stategraph::redis::RedisSaver;
use stategraph::sqlite::SqliteSaver;

/// Where a backend keeps a test's threads: a file, a schema, a key prefix or a directory.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
    Redis,
    ObjectStore,
}

impl Backend {
    pub const ALL: [Backend; 4] = [
        Backend::Sqlite,
        Backend::Postgres,
        Backend::Redis,
        Backend::ObjectStore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Redis => "redis",
            Backend::ObjectStore => "object-store",
        }
    }

    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .expect("a backend name")
    }

    /// A saver of its own (its own connection, pool or cache) on the shared `place`.
    pub async fn open(self, place: &str) -> Result<Arc<dyn Checkpointer>, String> {
        let pg_url = std::env::var("STATEGRAPH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let redis_url = std::env::var("STATEGRAPH_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let saver: Arc<dyn Checkpointer> = match self {
            Backend::Sqlite => Arc::new(SqliteSaver::open(place).await.map_err(show)?),
            Backend::Postgres => Arc::new(
                PostgresSaver::builder(pg_url)
                    .schema(place)
                    .pool_size(2)
                    .connect()
                    .await
                    .map_err(show)?,
            ),
            Backend::Redis => Arc::new(
                RedisSaver::builder(&redis_url)
                    .key_prefix(place)
                    .allow_volatile(true)
                    .connect()
                    .await
                    .map_err(show)?,
            ),
            Backend::ObjectStore => Arc::new(ObjectStoreSaver::local(place).await.map_err(show)?),
        };
        Ok(saver)
    }

    /// Where the race is kept: a file or a directory under `dir`, or a schema or key prefix
    /// every run shares (each run's thread ids are its own, and are deleted after).
    pub fn place(self, dir: &Path) -> String {
        match self {
            Backend::Sqlite => dir.join("threads.db").display().to_string(),
            Backend::Postgres => "sg_backends_test".to_owned(),
            Backend::Redis => "sg-backends-test".to_owned(),
            Backend::ObjectStore => dir.join("bucket").display().to_string(),
        }
    }
}

/// A name for this run of a test, so runs sharing a database never share a thread.
pub fn run_name() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_string()
}

fn show(error: impl std::fmt::Display) -> String {
    format!("{error:.300}")
}

/// Two savers on `backend`, or `None` (skipped, or a failure under
/// `STATEGRAPH_REQUIRE_SERVICES`) when its server is unreachable.
pub async fn pair(backend: Backend, place: &str) -> Option<[Arc<dyn Checkpointer>; 2]> {
    match (backend.open(place).await, backend.open(place).await) {
        (Ok(first), Ok(second)) => Some([first, second]),
        (first, second) => {
            let why = format!("{:?} / {:?}", first.err(), second.err());
            assert!(
                std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_none(),
                "{} is required: {why}",
                backend.name()
            );
            eprintln!("SKIPPED: {} unreachable: {why}", backend.name());
            None
        }
    }
}

/// A fresh directory for test `label`.
pub fn tempdir(label: &str) -> PathBuf {
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("stategraph-backends-{label}-{nonce}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An instant two seconds from now, in microseconds since the Unix epoch: child processes
/// started now all begin their work at it.
pub fn start_soon() -> u128 {
    micros_now() + 2_000_000
}

/// Waits until `start`, in microseconds since the Unix epoch.
pub async fn wait_until(start: u128) {
    let wait = u64::try_from(start.saturating_sub(micros_now())).unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
}

fn micros_now() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// Runs test `test` of this test binary in a child process with `env` set, and returns what it
/// printed once it exited successfully (failing with its output otherwise).
pub async fn run_child(test: &'static str, env: Vec<(&'static str, String)>) -> String {
    let done = tokio::task::spawn_blocking(move || {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .envs(env)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(
        done.status.success(),
        "a child failed: {stdout}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    stdout
}
