//! What the tests share: finding the server (or skipping), fresh schemas, and the extra
//! services some tests start (pgbouncer in transaction mode, a private PostgreSQL instance).
#![allow(dead_code)]

pub mod slow_loop;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stategraph_postgres::PostgresSaver;
use stategraph_runtime::{Checkpointer, MemorySaver};

/// The server the tests use: `STATEGRAPH_POSTGRES_URL`, or the local default.
pub fn url() -> String {
    std::env::var("STATEGRAPH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The ONE place that decides what an unreachable server means: with
/// `STATEGRAPH_REQUIRE_SERVICES` set (CI) the test fails; otherwise it prints why it is
/// skipped and the caller returns. `Some(url)` when the server answers.
pub async fn server() -> Option<String> {
    let url = url();
    let attempt = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await;
    let error = match attempt {
        Ok(Ok((client, connection))) => {
            drop(client);
            drop(connection);
            return Some(url);
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out after 5 s".to_owned(),
    };
    if std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_some() {
        panic!(
            "PostgreSQL at {url} is unreachable ({error}) and STATEGRAPH_REQUIRE_SERVICES is set"
        );
    }
    eprintln!(
        "SKIPPED: PostgreSQL at {url} is unreachable ({error}); set STATEGRAPH_POSTGRES_URL, \
         or STATEGRAPH_REQUIRE_SERVICES to make this a failure"
    );
    None
}

/// Skips (returns from) the test when the server is unreachable; see [`server`].
#[macro_export]
macro_rules! require_server {
    () => {
        match support::server().await {
            Some(url) => url,
            None => return,
        }
    };
}

/// A schema name no other test uses: `sgtest_<label>_<pid>_<nanos>`.
pub fn fresh_schema(label: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("sgtest_{label}_{}_{nanos}", std::process::id())
}

/// Drops `schema` and everything in it.
pub async fn drop_schema(url: &str, schema: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
    drop(client);
    let _ = task.await;
}

/// A plain connection for SQL the tests run themselves.
pub async fn sql_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The saver of a conformance case: a [`PostgresSaver`] on this test binary's schema
/// (`sgtest_<label>`, shared by every run), or — when the server is
/// unreachable and not required — a [`MemorySaver`], after saying so loudly.
pub async fn conformance_saver(label: &str, prepared_statements: bool) -> Arc<dyn Checkpointer> {
    let Some(url) = server().await else {
        eprintln!("SKIPPED against PostgreSQL: this case ran against MemorySaver only");
        return Arc::new(MemorySaver::new());
    };
    // One schema per label, reused by every run: the kit's random thread ids keep runs apart,
    // and nothing piles up in the test database.
    let schema = format!("sgtest_{label}");
    Arc::new(
        PostgresSaver::builder(url)
            .pool_size(4)
            .schema(schema)
            .prepared_statements(prepared_statements)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect failed: {e}")),
    )
}

/// A store on the test server for a conformance case (`label` names its schema, reused by
/// every run), or the in-memory store when no server is reachable and services are not
/// required.
pub async fn conformance_store(label: &str) -> Arc<dyn stategraph_runtime::Store> {
    let Some(url) = server().await else {
        eprintln!("SKIPPED against PostgreSQL: this case ran against MemoryStore only");
        return Arc::new(stategraph_runtime::MemoryStore::new());
    };
    Arc::new(
        PostgresSaver::builder(url)
            .pool_size(4)
            .schema(format!("sgtest_{label}"))
            .connect_store()
            .await
            .unwrap_or_else(|e| panic!("connect failed: {e}")),
    )
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the process runs as root (so services that refuse root run as `postgres`).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as the `postgres` user when we are root.
fn command_as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A temporary directory the `postgres` user can write.
fn shared_temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "stategraph-{label}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    if is_root() {
        let status = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not start listening on port {port}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// The pgbouncer binary: `STATEGRAPH_PGBOUNCER`, else `pgbouncer` on PATH, else /usr/sbin.
pub fn pgbouncer_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("STATEGRAPH_PGBOUNCER") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbouncer"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/pgbouncer")).filter(|p| p.is_file()))
}

/// A pgbouncer in `pool_mode = transaction` in front of the test server, stopped on drop.
pub struct Pgbouncer {
    child: Child,
    dir: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// The URL of the test database through it.
    pub url: String,
}

impl Pgbouncer {
    /// Starts one, or `None` (after the skip/fail decision) when pgbouncer is not installed.
    pub fn start(server_url: &str) -> Option<Self> {
        let Some(binary) = pgbouncer_binary() else {
            if std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_some() {
                panic!("pgbouncer is not installed and STATEGRAPH_REQUIRE_SERVICES is set");
            }
            eprintln!("SKIPPED: pgbouncer is not installed (apt-get install pgbouncer)");
            return None;
        };
        let config: tokio_postgres::Config = server_url.parse().unwrap();
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[allow(unreachable_patterns)]
            _ => "127.0.0.1".to_owned(),
        };
        let upstream_port = config.get_ports().first().copied().unwrap_or(5432);
        let dbname = config.get_dbname().unwrap_or("test").to_owned();
        let user = config.get_user().unwrap_or("postgres").to_owned();
        let port = free_port();
        let dir = shared_temp_dir("pgbouncer");
        std::fs::write(dir.join("userlist.txt"), format!("\"{user}\" \"\"\n")).unwrap();
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 {dbname} = host={host} port={upstream_port} dbname={dbname}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {}\n\
                 pool_mode = transaction\n\
                 max_client_conn = 1000\n\
                 default_pool_size = 20\n\
                 ignore_startup_parameters = extra_float_digits,options\n\
                 logfile = {}\n\
                 pidfile = {}\n",
                dir.join("userlist.txt").display(),
                dir.join("pgbouncer.log").display(),
                dir.join("pgbouncer.pid").display(),
            ),
        )
        .unwrap();
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("a+rwX")
            .arg(&dir)
            .status();
        let child = command_as_postgres(&binary)
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        wait_for_port(port, "pgbouncer", &dir.join("pgbouncer.log"));
        Some(Self {
            child,
            port,
            url: format!("postgres://{user}@127.0.0.1:{port}/{dbname}"),
            dir,
        })
    }

    /// pgbouncer's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        // runuser forwards SIGTERM to pgbouncer, which exits.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory of PostgreSQL's server programs (`initdb`, `pg_ctl`).
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("pg_ctl").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// A private PostgreSQL instance in a temporary directory (trust auth, 127.0.0.1, a free
/// port), so a test can restart it without touching the shared server. Stopped on drop.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    /// The port it listens on.
    pub port: u16,
    /// The URL of its `postgres` database.
    pub url: String,
}

impl PrivatePostgres {
    /// Starts one, or `None` (after the skip/fail decision) when the server programs are
    /// missing.
    pub fn start() -> Option<Self> {
        let Some(bin) = postgres_bin_dir() else {
            if std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_some() {
                panic!("initdb/pg_ctl not found under /usr/lib/postgresql/*/bin");
            }
            eprintln!("SKIPPED: initdb/pg_ctl not found under /usr/lib/postgresql/*/bin");
            return None;
        };
        let dir = shared_temp_dir("pg");
        let data = dir.join("data");
        let out = command_as_postgres(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let this = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            dir,
            port,
        };
        this.pg_ctl(&["start"]);
        Some(this)
    }

    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let out = command_as_postgres(&self.bin.join("pg_ctl"))
            .args(action)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-t", "30", "-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {action:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl restart -m fast`: every connection is closed, then the server comes back.
    pub fn restart(&self) {
        self.pg_ctl(&["restart", "-m", "fast"]);
    }

    /// `pg_ctl restart -m immediate`: the server quits at once, as in a crash, and comes back
    /// after recovering from its log.
    pub fn restart_immediate(&self) {
        self.pg_ctl(&["restart", "-m", "immediate"]);
    }

    /// `pg_ctl stop -m fast`.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }

    /// `pg_ctl start`.
    pub fn start_again(&self) {
        self.pg_ctl(&["start"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = command_as_postgres(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
