//! What the Redis tests share: the one place deciding whether the shared server is there
//! (skip, or fail in CI), a key prefix unique to this test binary run, and a guard for
//! `redis-server` processes the tests start themselves.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stategraph_redis::{RedisSaver, Ttl};

/// The shared server: `STATEGRAPH_REDIS_URL`, or `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("STATEGRAPH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The shared server's URL if it answers `PING`. When it does not: panics if
/// `STATEGRAPH_REQUIRE_SERVICES` is set (CI), otherwise prints why `test` is skipped and
/// returns `None`.
pub async fn shared_server_or_skip(test: &str) -> Option<String> {
    let url = redis_url();
    match ping(&url).await {
        Ok(()) => Some(url),
        Err(why) if std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_some() => panic!(
            "{test}: the Redis server at {url} is unreachable ({why}) and \
             STATEGRAPH_REQUIRE_SERVICES is set"
        ),
        Err(why) => {
            eprintln!(
                "SKIPPED {test}: no Redis server at {url} ({why}); start one or set \
                 STATEGRAPH_REDIS_URL, and set STATEGRAPH_REQUIRE_SERVICES to make this a failure"
            );
            None
        }
    }
}

async fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    }
}

/// A key prefix unique to this run of this test binary, so concurrent runs never collide.
pub fn prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("sgtest-{}-{nanos}", std::process::id())
    })
}

/// A saver on the shared server (which runs without persistence) under this run's prefix.
/// Its threads expire 10 minutes after their last use, so test runs leave nothing behind.
/// A store on the shared server, under a prefix unique to this run.
#[allow(dead_code)] // not every test binary uses it
pub async fn volatile_store(url: &str) -> stategraph_redis::RedisStore {
    RedisSaver::builder(url)
        .key_prefix(prefix())
        .allow_volatile(true)
        .connect_store()
        .await
        .expect("a store on the shared server")
}

pub async fn volatile_saver(url: &str) -> RedisSaver {
    RedisSaver::builder(url)
        .key_prefix(prefix())
        .ttl(Ttl {
            after: Duration::from_secs(600),
            refresh_on_read: true,
        })
        .allow_volatile(true)
        .connect()
        .await
        .expect("a saver on the shared server")
}

/// A raw connection, for inspecting keys.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Every key under `pattern`.
pub async fn keys(url: &str, pattern: &str) -> Vec<String> {
    let mut conn = raw(url).await;
    let mut out: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .unwrap();
    out.sort();
    out
}

/// A `redis-server` this test started on a free loopback port with its own directory, killed
/// with SIGKILL when dropped (also when the test panics).
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts `redis-server` (from PATH) with `args` (for example `--appendonly yes`).
    pub fn start(args: &[&str]) -> Self {
        let port = free_port();
        let mut server = Self {
            child: None,
            port,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes in the server's directory (its AOF and RDB files).
    pub fn disk_bytes(&self) -> u64 {
        fn walk(path: PathBuf) -> u64 {
            std::fs::read_dir(path)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => walk(e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(self.dir.path().to_owned())
    }

    /// SIGKILL: no shutdown, no final save.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, with the same arguments.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
