//! A process killed with SIGKILL at any point resumes, in a new process with the same thread
//! id, to the final state an uninterrupted run reaches; completed steps are not run again, and
//! a task runs again only if its writes were not saved.
//!
//! Paused runs too: a process killed while a node asks a question, or right after an answer was
//! saved, resumes in a new process without losing the question or the answer.
//!
//! This binary is its own child: run with `STATEGRAPH_CRASH_CHILD` set, it runs (or resumes)
//! the pipeline graph on the backend named by `STATEGRAPH_CRASH_BACKEND` and prints the final
//! state; without it, it drives the scenarios below, each in fresh child processes, on every
//! backend compiled in (SQLite always; PostgreSQL and Redis with their features, against the
//! servers in `STATEGRAPH_POSTGRES_URL` and `STATEGRAPH_REDIS_URL`; the object store on a local
//! directory with its feature, and on an S3 server, moto, that this binary starts, with
//! `object-store-aws`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stategraph::sqlite::SqliteSaver;
use stategraph::{
    Checkpointer, Durability, GraphError, ListQuery, MemorySaver, NodeContext, NodeResult, Resume,
    State, StreamMode, StreamOptions,
};

const ROUNDS: u32 = 3;

/// Where the children keep their checkpoints.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "redis")]
    Redis,
    #[cfg(feature = "object-store")]
    ObjectStore,
    #[cfg(feature = "object-store-aws")]
    S3,
}

impl Backend {
    fn all() -> Vec<Backend> {
        vec![
            Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Backend::Postgres,
            #[cfg(feature = "redis")]
            Backend::Redis,
            #[cfg(feature = "object-store")]
            Backend::ObjectStore,
            #[cfg(feature = "object-store-aws")]
            Backend::S3,
        ]
    }

    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres => "postgres",
            #[cfg(feature = "redis")]
            Backend::Redis => "redis",
            #[cfg(feature = "object-store")]
            Backend::ObjectStore => "object-store",
            #[cfg(feature = "object-store-aws")]
            Backend::S3 => "s3",
        }
    }

    /// How many times longer than the others a run takes here, so that kills at random
    /// instants spread over the whole run: moto serves one request at a time, in Python.
    fn slowness(self) -> u32 {
        match self {
            #[cfg(feature = "object-store-aws")]
            Backend::S3 => 10,
            _ => 1,
        }
    }

    fn from_name(name: &str) -> Backend {
        Backend::all()
            .into_iter()
            .find(|b| b.name() == name)
            .expect("a compiled-in backend")
    }

    /// A saver on this backend; SQLite keeps its file in `dir`, the object store its objects.
    async fn saver(self, dir: &Path) -> Result<std::sync::Arc<dyn Checkpointer>, String> {
        match self {
            Backend::Sqlite => Ok(std::sync::Arc::new(
                SqliteSaver::open(dir.join("checkpoints.db"))
                    .await
                    .map_err(|e| e.to_string())?,
            )),
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let url = env_or(
                    "STATEGRAPH_POSTGRES_URL",
                    "postgres://postgres@127.0.0.1:5432/test",
                );
                let saver = stategraph::postgres::PostgresSaver::connect(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(std::sync::Arc::new(saver))
            }
            #[cfg(feature = "redis")]
            Backend::Redis => {
                // The client process dies here, not the server: a server without persistence is
                // enough, and the shared one has none.
                let url = env_or("STATEGRAPH_REDIS_URL", "redis://127.0.0.1:6379");
                let saver = stategraph::redis::RedisSaver::builder(&url)
                    .allow_volatile(true)
                    .connect()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(std::sync::Arc::new(saver))
            }
            #[cfg(feature = "object-store")]
            Backend::ObjectStore => {
                let saver = stategraph::object_store::ObjectStoreSaver::local(dir.join("objects"))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(std::sync::Arc::new(saver))
            }
            #[cfg(feature = "object-store-aws")]
            Backend::S3 => {
                let endpoint = s3_endpoint()?;
                let saver = moto::saver_at(&endpoint, "crash");
                saver.setup().await.map_err(|e| e.to_string())?;
                Ok(std::sync::Arc::new(saver))
            }
        }
    }
}

/// The S3-compatible server the S3 scenarios use: moto, started by the parent (which passes
/// its address to the children in `STATEGRAPH_CRASH_S3`) and stopped when the parent ends.
#[cfg(feature = "object-store-aws")]
#[allow(dead_code)] // the harness uses only the server and its savers
#[path = "../backends/object_store/tests/support/moto.rs"]
mod moto;

#[cfg(feature = "object-store-aws")]
static MOTO: std::sync::Mutex<Option<moto::Moto>> = std::sync::Mutex::new(None);

/// The address of the moto server: the child's from its parent, the parent's own (started on
/// first use).
#[cfg(feature = "object-store-aws")]
fn s3_endpoint() -> Result<String, String> {
    if let Ok(endpoint) = std::env::var("STATEGRAPH_CRASH_S3") {
        return Ok(endpoint);
    }
    let mut moto = MOTO.lock().unwrap();
    if moto.is_none() {
        *moto = moto::Moto::start_or_skip("crash recovery on s3");
    }
    moto.as_ref()
        .map(moto::Moto::endpoint)
        .ok_or_else(|| "moto is not installed".to_owned())
}

#[cfg(any(feature = "postgres", feature = "redis"))]
fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Job {
    round: u32,
    plan: Vec<String>,
    #[state(reducer = append)]
    items: Vec<String>,
    #[state(reducer = add)]
    total: u64,
}

/// Records that `node` ran in `round` (to the file named by `STATEGRAPH_CRASH_LOG`), then kills
/// this process if `STATEGRAPH_CRASH_AT` names this node and round.
fn mark(node: &str, round: u32) {
    if let Ok(log) = std::env::var("STATEGRAPH_CRASH_LOG") {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        // One write of the whole line: an O_APPEND write this small is atomic, so a kill never
        // leaves half a line for the next process to append to.
        file.write_all(format!("{node} {round}\n").as_bytes())
            .unwrap();
    }
    if std::env::var("STATEGRAPH_CRASH_AT").is_ok_and(|at| at == format!("{node}:{round}")) {
        let pid = std::process::id().to_string();
        let _ = Command::new("kill").args(["-9", &pid]).status();
        std::thread::sleep(Duration::from_secs(10)); // the signal arrives first
        unreachable!("SIGKILL did not arrive");
    }
}

async fn work(millis: u64) {
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// The pipeline's saver and durability mode, so its slow branch can wait for its siblings'
/// writes to be saved.
struct Saved(std::sync::Arc<dyn Checkpointer>, Durability);

impl Saved {
    /// Waits (up to 30 s, then goes on and lets the scenario's counts report it) until
    /// `fetch_a` and `fetch_b` have saved their writes against the step's checkpoint — in
    /// `Sync` and `Async` mode; `Exit` mode keeps a step's writes until it ends.
    async fn siblings(&self, ctx: &NodeContext<Saved>, round: u32) {
        let (Some(thread), Some(checkpoint)) = (ctx.thread_id(), ctx.checkpoint_id()) else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        if self.1 == Durability::Exit {
            // That mode saves a step's writes when it ends: wait until the siblings ran.
            let Ok(log) = std::env::var("STATEGRAPH_CRASH_LOG") else {
                return;
            };
            while Instant::now() < deadline {
                let ran = std::fs::read_to_string(&log).unwrap_or_default();
                let done = |node: &str| ran.lines().any(|l| l == format!("{node} {round}"));
                if done("fetch_a") && done("fetch_b") {
                    return;
                }
                work(2).await;
            }
            return;
        }
        while Instant::now() < deadline {
            let tuple = self.0.get(thread, "", Some(checkpoint)).await.unwrap();
            let saved = |node: &str| {
                tuple.as_ref().is_some_and(|t| {
                    t.pending_writes
                        .iter()
                        .any(|w| w.node == node && w.idx >= 0)
                })
            };
            if saved("fetch_a") && saved("fetch_b") {
                return;
            }
            work(2).await;
        }
    }
}

impl Saved {
    /// Waits (up to 30 s) until `n` tasks of the step have saved their writes.
    async fn tasks_saved(&self, ctx: &NodeContext<Saved>, n: usize) {
        let (Some(thread), Some(checkpoint)) = (ctx.thread_id(), ctx.checkpoint_id()) else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let tuple = self.0.get(thread, "", Some(checkpoint)).await.unwrap();
            let mut saved: Vec<_> = tuple
                .iter()
                .flat_map(|t| &t.pending_writes)
                .filter(|w| w.idx >= 0)
                .map(|w| w.task_id)
                .collect();
            saved.sort_unstable();
            saved.dedup();
            if saved.len() >= n {
                return;
            }
            work(2).await;
        }
    }
}

#[stategraph::graph(state = Job, deps = Saved)]
mod pipeline {
    use super::*;

    #[node]
    async fn plan(s: &Job) -> NodeResult<Job> {
        work(1).await;
        mark("plan", s.round);
        Ok(JobUpdate::new().plan(vec![format!("round {}", s.round)]))
    }

    #[node]
    async fn fetch_a(s: &Job) -> NodeResult<Job> {
        work(1).await;
        mark("fetch_a", s.round);
        Ok(JobUpdate::new()
            .items(vec![format!("a{}", s.round)])
            .total(1))
    }

    #[node]
    async fn fetch_b(s: &Job) -> NodeResult<Job> {
        work(2).await;
        mark("fetch_b", s.round);
        Ok(JobUpdate::new()
            .items(vec![format!("b{}", s.round)])
            .total(10))
    }

    /// The slow branch: its siblings have finished and saved their writes when it goes on.
    #[node]
    async fn fetch_c(s: &Job, ctx: &NodeContext<Saved>) -> NodeResult<Job> {
        ctx.deps().siblings(ctx, s.round).await;
        mark("fetch_c", s.round);
        Ok(JobUpdate::new()
            .items(vec![format!("c{}", s.round)])
            .total(100))
    }

    #[node]
    async fn merge(s: &Job) -> NodeResult<Job> {
        work(1).await;
        mark("merge", s.round);
        Ok(JobUpdate::new()
            .round(s.round + 1)
            .items(vec![format!("merged {}", s.items.len())]))
    }

    pub(super) enum More {
        Again,
        Done,
    }

    #[route]
    fn more(s: &Job) -> More {
        if s.round < ROUNDS {
            More::Again
        } else {
            More::Done
        }
    }

    edges! {
        START -> plan -> [fetch_a, fetch_b, fetch_c] -> merge;
        merge -> more { Again => plan, Done => END };
    }
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Review {
    approved: bool,
    #[state(reducer = append)]
    log: Vec<String>,
}

/// A question asked while a sibling works.
#[stategraph::graph(state = Review)]
mod review {
    use super::*;

    #[node]
    async fn ask(_: &Review, ctx: &NodeContext) -> NodeResult<Review> {
        work(5).await;
        mark("ask", 0);
        let approved: bool = ctx.interrupt("approve?").await?;
        mark("answered", 0);
        Ok(ReviewUpdate::new()
            .approved(approved)
            .push_log(format!("approved {approved}")))
    }

    #[node]
    async fn side(_: &Review) -> NodeResult<Review> {
        work(1).await;
        mark("side", 0);
        Ok(ReviewUpdate::new().push_log("side"))
    }

    #[node]
    async fn finish(_: &Review) -> NodeResult<Review> {
        mark("finish", 0);
        Ok(ReviewUpdate::new().push_log("finish"))
    }

    edges! {
        START -> [ask, side] -> finish -> END;
    }
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Draft {
    #[state(reducer = append)]
    tokens: Vec<String>,
    reviewed: bool,
}

/// The seed's selective checkpointing: `generate` streams tokens in steps that are not
/// checkpointed; `prepare` and `review` are.
#[stategraph::graph(state = Draft)]
mod stream {
    use super::*;

    #[node]
    async fn prepare(_: &Draft) -> NodeResult<Draft> {
        work(1).await;
        mark("prepare", 0);
        Ok(DraftUpdate::new())
    }

    #[node(checkpoint = false)]
    async fn generate(s: &Draft) -> NodeResult<Draft> {
        work(1).await;
        let token = s.tokens.len() as u32 + 1;
        mark("generate", token);
        Ok(DraftUpdate::new().push_tokens(format!("t{token}")))
    }

    #[node]
    async fn review(_: &Draft) -> NodeResult<Draft> {
        mark("review", 0);
        Ok(DraftUpdate::new().reviewed(true))
    }

    pub(super) enum More {
        Token,
        Done,
    }

    #[route]
    fn more(s: &Draft) -> More {
        if s.tokens.len() < 5 {
            More::Token
        } else {
            More::Done
        }
    }

    edges! {
        START -> prepare -> generate;
        generate -> more { Token => generate, Done => review };
        review -> END;
    }
}

/// Token generation as a graph of its own, one token per step: the inner graph of the seed's
/// selective checkpointing, run as a subgraph by `phases` and `coarse`.
#[stategraph::graph(state = Draft)]
mod tokens {
    use super::*;

    #[node]
    async fn token(s: &Draft) -> NodeResult<Draft> {
        work(1).await;
        let token = s.tokens.len() as u32 + 1;
        mark("token", token);
        Ok(DraftUpdate::new().push_tokens(format!("t{token}")))
    }

    pub(super) enum More {
        Token,
        Done,
    }

    #[route]
    fn more(s: &Draft) -> More {
        if s.tokens.len() < 5 {
            More::Token
        } else {
            More::Done
        }
    }

    edges! {
        START -> token;
        token -> more { Token => token, Done => END };
    }
}

/// The outer graph's phases around the token subgraph.
async fn phase(node: &str) -> NodeResult<Draft> {
    work(1).await;
    mark(node, 0);
    Ok(match node {
        "review" => DraftUpdate::new().reviewed(true),
        _ => DraftUpdate::new(),
    })
}

/// `prepare -> generate -> review`, where `generate` is the token graph checkpointed per call:
/// a kill inside it resumes inside it.
#[stategraph::graph(state = Draft)]
mod phases {
    use super::*;

    #[node]
    async fn prepare(_: &Draft) -> NodeResult<Draft> {
        phase("prepare").await
    }

    #[subgraph]
    type generate = super::tokens::Graph;

    #[node]
    async fn review(_: &Draft) -> NodeResult<Draft> {
        phase("review").await
    }

    edges! { START -> prepare -> generate -> review -> END; }
}

/// The same phases with the token graph not checkpointed (`checkpoint = none`): a kill inside
/// it runs the whole call again.
#[stategraph::graph(state = Draft)]
mod coarse {
    use super::*;

    #[node]
    async fn prepare(_: &Draft) -> NodeResult<Draft> {
        phase("prepare").await
    }

    #[subgraph(checkpoint = none)]
    type generate = super::tokens::Graph;

    #[node]
    async fn review(_: &Draft) -> NodeResult<Draft> {
        phase("review").await
    }

    edges! { START -> prepare -> generate -> review -> END; }
}

#[derive(State, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Batch {
    #[state(reducer = append)]
    results: Vec<u32>,
    done: bool,
}

/// Items of the fan-out scenario.
const ITEMS: u32 = 8;

/// Map-reduce: one task per item, all in one step.
#[stategraph::graph(state = Batch, deps = Saved)]
mod fanout {
    use super::*;

    #[node]
    async fn plan(_: &Batch) -> NodeResult<Batch> {
        mark("plan", 0);
        Ok(BatchUpdate::new())
    }

    #[send]
    fn per_item(_: &Batch) -> Vec<u32> {
        (0..ITEMS).collect()
    }

    /// Item 5 goes on once every other item's writes are saved.
    #[node]
    async fn item(i: &u32, ctx: &NodeContext<Saved>) -> NodeResult<Batch> {
        if *i == 5 {
            ctx.deps().tasks_saved(ctx, ITEMS as usize - 1).await;
        } else {
            work(1).await;
        }
        mark("item", *i);
        Ok(BatchUpdate::new().push_results(*i * 10))
    }

    #[node]
    async fn finish(_: &Batch) -> NodeResult<Batch> {
        mark("finish", 0);
        Ok(BatchUpdate::new().done(true))
    }

    edges! {
        START -> plan;
        plan -> per_item => item;
        item -> finish -> END;
    }
}

/// A child of the fan-out scenario: runs the fan-out graph, or resumes it, in `durability`.
async fn fanout_child(backend: Backend, dir: &Path, thread_id: &str, durability: Durability) {
    let saver = backend.saver(dir).await.unwrap();
    let graph = fanout::graph(Saved(saver.clone(), durability))
        .checkpointer(saver)
        .durability(durability)
        .compile()
        .unwrap();
    let thread = graph.thread(thread_id);
    let done = thread
        .start_or_resume(BatchUpdate::new())
        .await
        .and_then(stategraph::Outcome::into_finished)
        .unwrap();
    println!("FINAL {}", serde_json::to_string(&done).unwrap());
}

/// A child of the token scenarios: runs the graph `mode` names (`stream`, `phases`,
/// `coarse`), or resumes it.
async fn stream_child(mode: &str, backend: Backend, dir: &Path, thread_id: &str) {
    let saver = backend.saver(dir).await.unwrap();
    let done = match mode {
        "phases" => draft_to_end(phases::graph().checkpointer(saver), thread_id).await,
        "phases-streamed" => {
            // The same run, streamed in every mode from every level while it runs.
            let graph = phases::graph().checkpointer(saver).compile().unwrap();
            let thread = graph.thread(thread_id);
            let options = StreamOptions::new(StreamMode::ALL).subgraphs();
            let run = match thread.state().await.unwrap() {
                Some(_) => thread.stream_resume(options),
                None => thread.stream(DraftUpdate::new(), options),
            };
            run.output()
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap()
        }
        "coarse" => draft_to_end(coarse::graph().checkpointer(saver), thread_id).await,
        _ => draft_to_end(stream::graph().checkpointer(saver), thread_id).await,
    };
    println!("FINAL {}", serde_json::to_string(&done).unwrap());
}

/// Runs a graph over `Draft` on `thread_id` to its end: from the start, or resumed.
async fn draft_to_end<G: stategraph::GraphDef<State = Draft>>(
    builder: stategraph::Builder<G, stategraph::Durable>,
    thread_id: &str,
) -> Draft {
    let thread = builder.compile().unwrap().thread(thread_id);
    match thread.state().await.unwrap() {
        Some(_) => thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap(),
        None => thread
            .invoke(DraftUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap(),
    }
}

/// A child of the review scenarios: `ask` runs (or resumes) until the question and prints its
/// id; `answer` answers it; `resume` runs on with what was saved. Each prints how it ended.
async fn review_child(mode: &str, backend: Backend, dir: &Path, thread_id: &str) {
    let saver = backend.saver(dir).await.unwrap();
    let graph = review::graph().checkpointer(saver).compile().unwrap();
    let thread = graph.thread(thread_id);
    let outcome = match mode {
        "review-ask" => match thread.state().await.unwrap() {
            Some(_) => thread
                .resume()
                .await
                .and_then(stategraph::Outcome::into_finished),
            None => thread
                .invoke(ReviewUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished),
        },
        "review-answer" => thread
            .resume_with(Resume::value(true))
            .await
            .and_then(stategraph::Outcome::into_finished),
        _ => thread
            .resume()
            .await
            .and_then(stategraph::Outcome::into_finished),
    };
    match outcome {
        Ok(done) => println!("FINAL {}", serde_json::to_string(&done).unwrap()),
        Err(GraphError::Interrupted { interrupts, .. }) => {
            println!("ASKED {}", interrupts[0].id);
        }
        Err(other) => panic!("the review child failed: {other}"),
    }
}

/// The child: run (or resume) the pipeline and print the final state.
async fn child(mode: &str, backend: Backend, dir: &Path, thread_id: &str) {
    if mode.starts_with("review-") {
        return review_child(mode, backend, dir, thread_id).await;
    }
    if ["stream", "phases", "phases-streamed", "coarse"].contains(&mode) {
        return stream_child(mode, backend, dir, thread_id).await;
    }
    if mode == "fanout" {
        return fanout_child(backend, dir, thread_id, Durability::Sync).await;
    }
    if mode == "fanout-async" {
        return fanout_child(backend, dir, thread_id, Durability::Async).await;
    }
    let durability = match std::env::var("STATEGRAPH_CRASH_DURABILITY").as_deref() {
        Ok("async") => Durability::Async,
        Ok("exit") => Durability::Exit,
        _ => Durability::Sync,
    };
    let saver = backend.saver(dir).await.unwrap();
    let graph = pipeline::graph(Saved(saver.clone(), durability))
        .checkpointer(saver)
        .durability(durability)
        .compile()
        .unwrap();
    let thread = graph.thread(thread_id);
    let done = match mode {
        "run" => thread
            .invoke(JobUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap(),
        // A kill before the input checkpoint was saved leaves nothing to resume: start over.
        _ => match thread.state().await.unwrap() {
            Some(_) => thread
                .resume()
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap(),
            None => thread
                .invoke(JobUpdate::new())
                .await
                .and_then(stategraph::Outcome::into_finished)
                .unwrap(),
        },
    };
    println!("FINAL {}", serde_json::to_string(&done).unwrap());
}

struct Scenario {
    backend: Backend,
    dir: PathBuf,
    thread_id: String,
    /// The pipeline's durability mode, as the children read it.
    durability: &'static str,
}

impl Scenario {
    fn new(backend: Backend, name: &str) -> Self {
        let unique = format!("{}-{}-{name}", backend.name(), std::process::id());
        let dir = std::env::temp_dir().join(format!("stategraph-crash-{unique}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let thread_id = format!("crash-{unique}-{}", stategraph::CheckpointId::new());
        Self {
            backend,
            dir,
            thread_id,
            durability: "sync",
        }
    }

    /// This scenario, running the pipeline in durability mode `mode` (`sync`, `async`, `exit`).
    fn durability(mut self, mode: &'static str) -> Self {
        self.durability = mode;
        self
    }

    fn command(&self, mode: &str, crash_at: Option<&str>) -> Command {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .env("STATEGRAPH_CRASH_CHILD", mode)
            .env("STATEGRAPH_CRASH_BACKEND", self.backend.name())
            .env("STATEGRAPH_CRASH_DIR", &self.dir)
            .env("STATEGRAPH_CRASH_THREAD", &self.thread_id)
            .env("STATEGRAPH_CRASH_LOG", self.dir.join("ran.log"))
            .env("STATEGRAPH_CRASH_DURABILITY", self.durability)
            .env_remove("STATEGRAPH_CRASH_AT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(at) = crash_at {
            command.env("STATEGRAPH_CRASH_AT", at);
        }
        #[cfg(feature = "object-store-aws")]
        if let (Backend::S3, Ok(endpoint)) = (self.backend, s3_endpoint()) {
            command.env("STATEGRAPH_CRASH_S3", endpoint);
        }
        command
    }

    /// Runs the graph in a child that kills itself at `crash_at`; returns how it ended.
    fn crash_at(&self, crash_at: &str) -> ExitStatus {
        self.crash_in("run", crash_at)
    }

    /// Runs a child in `mode` that kills itself at `crash_at`; returns how it ended.
    fn crash_in(&self, mode: &str, crash_at: &str) -> ExitStatus {
        self.command(mode, Some(crash_at)).output().unwrap().status
    }

    /// Runs the graph in a child and kills it from outside after `delay`.
    fn kill_after(&self, delay: Duration) -> ExitStatus {
        let mut child = self.command("run", None).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        child.wait().unwrap()
    }

    /// Runs a review child in `mode`, killed at `crash_at` if given; returns how it ended and
    /// the line it printed (`ASKED <id>` or `FINAL <state>`).
    fn review(&self, mode: &str, crash_at: Option<&str>) -> (ExitStatus, String) {
        let out = self.command(mode, crash_at).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.starts_with("ASKED ") || l.starts_with("FINAL "))
            .unwrap_or_default()
            .to_owned();
        if crash_at.is_none() && !out.status.success() {
            panic!(
                "review child {mode} failed: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        (out.status, line)
    }

    /// Resumes in a new child and returns the final state it printed.
    fn resume(&self) -> Job {
        self.finish("resume")
    }

    /// Runs a child in `mode` to the end and returns the final state it printed.
    fn finish<T: serde::de::DeserializeOwned>(&self, mode: &str) -> T {
        let out = self.command(mode, None).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "resume failed: {}\n{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("FINAL "))
            .expect("the child prints its final state");
        serde_json::from_str(line).unwrap()
    }

    /// How many checkpoints the thread has (read in this process, before any resume).
    fn checkpoints(&self) -> usize {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let saver = self.backend.saver(&self.dir).await.unwrap();
            let query = ListQuery::thread(self.thread_id.as_str().into());
            saver.list(&query).await.unwrap().len()
        })
    }

    /// How many times each node ran in each round, over every process.
    fn runs(&self) -> BTreeMap<(String, u32), usize> {
        let log = std::fs::read_to_string(self.dir.join("ran.log")).unwrap_or_default();
        let mut runs = BTreeMap::new();
        for line in log.lines() {
            let (node, round) = line.split_once(' ').unwrap();
            *runs
                .entry((node.to_owned(), round.parse().unwrap()))
                .or_default() += 1;
        }
        runs
    }

    fn runs_of(&self, node: &str, round: u32) -> usize {
        self.runs()
            .get(&(node.to_owned(), round))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        // A shared database server keeps no leftovers from this run.
        if let Ok(rt) = tokio::runtime::Runtime::new() {
            rt.block_on(async {
                if let Ok(saver) = self.backend.saver(&self.dir).await {
                    let _ = saver.delete_thread(&self.thread_id.as_str().into()).await;
                }
            });
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn killed(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

/// The final state of a run nobody killed.
fn reference() -> Job {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let saver: std::sync::Arc<dyn Checkpointer> = std::sync::Arc::new(MemorySaver::new());
        let graph = pipeline::graph(Saved(saver.clone(), Durability::Sync))
            .checkpointer(saver)
            .compile()
            .unwrap();
        graph
            .thread("reference")
            .invoke(JobUpdate::new())
            .await
            .and_then(stategraph::Outcome::into_finished)
            .unwrap()
    })
}

type Run<'a> = Box<dyn Fn() -> Result<(), String> + 'a>;

fn scenarios<'a>(
    backend: Backend,
    expected: &'a Job,
    saved_at_kill: &'a RefCell<Vec<usize>>,
) -> Vec<(String, Run<'a>)> {
    let mut all: Vec<(String, Run<'a>)> = Vec::new();

    // Between steps: the kill lands as the next step starts; every earlier step is saved.
    for round in 0..ROUNDS {
        all.push((
            format!("between steps, before plan of round {round}"),
            Box::new(move || {
                let s = Scenario::new(backend, &format!("plan-{round}"));
                assert_killed(s.crash_at(&format!("plan:{round}")))?;
                check_state(&s.resume(), expected)?;
                for earlier in 0..round {
                    for node in ["plan", "fetch_a", "fetch_b", "fetch_c", "merge"] {
                        expect_runs(&s, node, earlier, 1)?;
                    }
                }
                expect_runs(&s, "plan", round, 2)
            }),
        ));
    }

    // During a step: two of three parallel branches finished and saved their writes.
    for round in 0..ROUNDS {
        all.push((
            format!("during the parallel step of round {round}"),
            Box::new(move || {
                let s = Scenario::new(backend, &format!("fetch-{round}"));
                assert_killed(s.crash_at(&format!("fetch_c:{round}")))?;
                check_state(&s.resume(), expected)?;
                expect_runs(&s, "fetch_a", round, 1)?;
                expect_runs(&s, "fetch_b", round, 1)?;
                expect_runs(&s, "fetch_c", round, 2)?;
                expect_runs(&s, "plan", round, 1)
            }),
        ));
    }

    // Paused runs: killed while the question is being asked (the sibling's write saved or
    // not), the question is asked again in a new process and keeps its id there.
    all.push((
        "while a node asks a question".to_owned(),
        Box::new(move || {
            let s = Scenario::new(backend, "ask");
            assert_killed(s.review("review-ask", Some("ask:0")).0)?;
            let (_, asked) = s.review("review-ask", None);
            let (_, again) = s.review("review-ask", None);
            if !asked.starts_with("ASKED ") || asked != again {
                return Err(format!(
                    "the question should be asked, the same: {asked} / {again}"
                ));
            }
            let (_, done) = s.review("review-answer", None);
            check_review(&done)?;
            expect_runs(&s, "answered", 0, 1)?;
            expect_runs(&s, "finish", 0, 1)
        }),
    ));
    // Killed right after the answer was saved, while the node ran on with it: a plain resume
    // in a new process uses the saved answer.
    all.push((
        "right after an answer was saved".to_owned(),
        Box::new(move || {
            let s = Scenario::new(backend, "answer");
            let (_, asked) = s.review("review-ask", None);
            if !asked.starts_with("ASKED ") {
                return Err(format!("expected a question, got {asked:?}"));
            }
            assert_killed(s.review("review-answer", Some("answered:0")).0)?;
            let (_, done) = s.review("review-resume", None);
            check_review(&done)?;
            expect_runs(&s, "answered", 0, 2)?;
            expect_runs(&s, "side", 0, 1)?;
            expect_runs(&s, "finish", 0, 1)
        }),
    ));

    // At random instants, which include the middle of a checkpoint write.
    for i in 0..24u64 {
        let delay = Duration::from_micros(500 + (i * 7919 % 24) * 3500) * backend.slowness();
        all.push((
            format!("killed from outside after {delay:?}"),
            Box::new(move || {
                let s = Scenario::new(backend, &format!("random-{i}"));
                let status = s.kill_after(delay);
                saved_at_kill.borrow_mut().push(s.checkpoints());
                let state = s.resume();
                check_state(&state, expected)?;
                if !killed(status) && !status.success() {
                    return Err(format!("the first child failed by itself: {status}"));
                }
                for ((node, round), n) in s.runs() {
                    if n > 2 {
                        return Err(format!("{node} ran {n} times in round {round}"));
                    }
                }
                Ok(())
            }),
        ));
    }
    all.extend(durability_scenarios(backend, expected, saved_at_kill));
    all
}

/// What each durability mode promises after a SIGKILL, and the uncheckpointed stretch's cost.
fn durability_scenarios<'a>(
    backend: Backend,
    expected: &'a Job,
    saved_at_kill: &'a RefCell<Vec<usize>>,
) -> Vec<(String, Run<'a>)> {
    let mut all: Vec<(String, Run<'a>)> = Vec::new();
    const NODES: [&str; 5] = ["plan", "fetch_a", "fetch_b", "fetch_c", "merge"];

    // Async: the checkpoint of the step before the running one may be in flight; everything
    // older is stored. A kill costs at most those two steps.
    for round in 0..ROUNDS {
        all.push((
            format!("async: between steps, before plan of round {round}"),
            Box::new(move || {
                let s = Scenario::new(backend, &format!("async-plan-{round}")).durability("async");
                assert_killed(s.crash_at(&format!("plan:{round}")))?;
                check_state(&s.resume(), expected)?;
                for earlier in 0..round {
                    for node in &NODES[..4] {
                        expect_runs(&s, node, earlier, 1)?;
                    }
                    // The step just before the kill: its checkpoint may not have landed.
                    let in_flight = if earlier + 1 == round { 1..=2 } else { 1..=1 };
                    expect_runs_in(&s, "merge", earlier, in_flight)?;
                }
                expect_runs(&s, "plan", round, 2)
            }),
        ));
        all.push((
            format!("async: during the parallel step of round {round}"),
            Box::new(move || {
                let s = Scenario::new(backend, &format!("async-fetch-{round}")).durability("async");
                assert_killed(s.crash_at(&format!("fetch_c:{round}")))?;
                check_state(&s.resume(), expected)?;
                for earlier in 0..round {
                    for node in NODES {
                        expect_runs(&s, node, earlier, 1)?;
                    }
                }
                // A parallel step waits for the checkpoint in flight, then saves each task's
                // writes as it finishes: only the task that was running runs again.
                expect_runs(&s, "plan", round, 1)?;
                for node in ["fetch_a", "fetch_b"] {
                    expect_runs(&s, node, round, 1)?;
                }
                expect_runs(&s, "fetch_c", round, 2)
            }),
        ));
    }

    // Exit: nothing is stored until the run ends, so a kill re-runs it from the start.
    for round in 0..ROUNDS {
        all.push((
            format!("exit: before plan of round {round}"),
            Box::new(move || {
                let s = Scenario::new(backend, &format!("exit-plan-{round}")).durability("exit");
                assert_killed(s.crash_at(&format!("plan:{round}")))?;
                if s.checkpoints() != 0 {
                    return Err("exit mode stored a checkpoint before the run ended".into());
                }
                check_state(&s.resume(), expected)?;
                for earlier in 0..round {
                    for node in NODES {
                        expect_runs(&s, node, earlier, 2)?;
                    }
                }
                expect_runs(&s, "plan", round, 2)
            }),
        ));
    }
    all.push((
        "exit: during the parallel step of round 1".to_owned(),
        Box::new(move || {
            let s = Scenario::new(backend, "exit-fetch").durability("exit");
            assert_killed(s.crash_at("fetch_c:1"))?;
            if s.checkpoints() != 0 {
                return Err("exit mode stored a checkpoint before the run ended".into());
            }
            check_state(&s.resume(), expected)?;
            for node in NODES {
                expect_runs(&s, node, 0, 2)?;
            }
            for node in ["plan", "fetch_a", "fetch_b", "fetch_c"] {
                expect_runs(&s, node, 1, 2)?;
            }
            Ok(())
        }),
    ));

    // Random instants, in both modes: the same final state, no node more than twice a round.
    for mode in ["async", "exit"] {
        for i in 0..8u64 {
            let delay = Duration::from_micros(500 + (i * 7919 % 8) * 9000) * backend.slowness();
            all.push((
                format!("{mode}: killed from outside after {delay:?}"),
                Box::new(move || {
                    let s = Scenario::new(backend, &format!("{mode}-random-{i}")).durability(mode);
                    let status = s.kill_after(delay);
                    if mode == "async" {
                        saved_at_kill.borrow_mut().push(s.checkpoints());
                    }
                    check_state(&s.resume(), expected)?;
                    if !killed(status) && !status.success() {
                        return Err(format!("the first child failed by itself: {status}"));
                    }
                    for ((node, round), n) in s.runs() {
                        if n > 2 {
                            return Err(format!("{node} ran {n} times in round {round}"));
                        }
                    }
                    Ok(())
                }),
            ));
        }
    }

    // Mid fan-out: seven of eight sent tasks saved their writes; only the eighth runs again —
    // in `Async` durability too.
    for mode in ["fanout", "fanout-async"] {
        all.push((
            format!("mid fan-out, with seven of eight sent tasks saved ({mode})"),
            Box::new(move || {
                let s = Scenario::new(backend, mode);
                assert_killed(s.crash_in(mode, "item:5"))?;
                let done: Batch = s.finish(mode);
                let results: Vec<u32> = (0..ITEMS).map(|i| i * 10).collect();
                if done.results != results || !done.done {
                    return Err(format!("unexpected final batch: {done:?}"));
                }
                expect_runs(&s, "plan", 0, 1)?;
                for i in (0..ITEMS).filter(|&i| i != 5) {
                    expect_runs(&s, "item", i, 1)?;
                }
                expect_runs(&s, "item", 5, 2)?;
                expect_runs(&s, "finish", 0, 1)
            }),
        ));
    }

    // Steps of `checkpoint = false` nodes: a kill inside the stretch re-runs it from the last
    // checkpoint (`prepare`'s), and exactly its tokens so far run twice.
    all.push((
        "inside an uncheckpointed stretch, at token 3".to_owned(),
        Box::new(move || {
            let s = Scenario::new(backend, "stream");
            assert_killed(s.crash_in("stream", "generate:3"))?;
            if s.checkpoints() != 2 {
                return Err(format!(
                    "expected the input's and prepare's checkpoints, found {}",
                    s.checkpoints()
                ));
            }
            let done: Draft = s.finish("stream");
            let tokens: Vec<String> = (1..=5).map(|t| format!("t{t}")).collect();
            if done.tokens != tokens || !done.reviewed {
                return Err(format!("unexpected final draft: {done:?}"));
            }
            expect_runs(&s, "prepare", 0, 1)?;
            for token in 1..=3 {
                expect_runs(&s, "generate", token, 2)?;
            }
            for token in 4..=5 {
                expect_runs(&s, "generate", token, 1)?;
            }
            expect_runs(&s, "review", 0, 1)
        }),
    ));

    // A subgraph checkpointed per call: a kill inside it resumes inside it, so only the token
    // in flight runs twice; its checkpoints sit in the call's namespace beside the root's.
    // Checkpointed not at all: the whole call runs again, every token so far twice.
    // Streaming a run changes none of that: a streamed run killed inside the subgraph resumes
    // exactly as the plain one does.
    for (mode, checkpoints, twice) in [
        ("phases", 2 + 3, 3..=3),
        ("phases-streamed", 2 + 3, 3..=3),
        ("coarse", 2, 1..=3),
    ] {
        all.push((
            format!("inside a subgraph ({mode}), at token 3"),
            Box::new(move || {
                let s = Scenario::new(backend, mode);
                assert_killed(s.crash_in(mode, "token:3"))?;
                if s.checkpoints() != checkpoints {
                    return Err(format!(
                        "expected {checkpoints} checkpoints over every namespace, found {}",
                        s.checkpoints()
                    ));
                }
                let done: Draft = s.finish(mode);
                let tokens: Vec<String> = (1..=5).map(|t| format!("t{t}")).collect();
                if done.tokens != tokens || !done.reviewed {
                    return Err(format!("unexpected final draft: {done:?}"));
                }
                expect_runs(&s, "prepare", 0, 1)?;
                for token in 1..=5 {
                    let n = if twice.contains(&token) { 2 } else { 1 };
                    expect_runs(&s, "token", token, n)?;
                }
                expect_runs(&s, "review", 0, 1)
            }),
        ));
    }
    all
}

/// The final state of a review answered `true`.
fn check_review(line: &str) -> Result<(), String> {
    let Some(state) = line.strip_prefix("FINAL ") else {
        return Err(format!("expected the review to finish, got {line:?}"));
    };
    let done: Review = serde_json::from_str(state).map_err(|e| e.to_string())?;
    let mut log = done.log.clone();
    log[..2].sort();
    if done.approved && log == ["approved true", "side", "finish"] {
        Ok(())
    } else {
        Err(format!("unexpected final review: {done:?}"))
    }
}

fn assert_killed(status: ExitStatus) -> Result<(), String> {
    if killed(status) {
        Ok(())
    } else {
        Err(format!("the child was not killed by SIGKILL: {status}"))
    }
}

fn check_state(got: &Job, expected: &Job) -> Result<(), String> {
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "final state differs:\n  got      {got:?}\n  expected {expected:?}"
        ))
    }
}

fn expect_runs_in(
    s: &Scenario,
    node: &str,
    round: u32,
    n: std::ops::RangeInclusive<usize>,
) -> Result<(), String> {
    let got = s.runs_of(node, round);
    if n.contains(&got) {
        Ok(())
    } else {
        Err(format!(
            "{node} ran {got} times in round {round}, expected {n:?}"
        ))
    }
}

fn expect_runs(s: &Scenario, node: &str, round: u32, n: usize) -> Result<(), String> {
    let got = s.runs_of(node, round);
    if got == n {
        Ok(())
    } else {
        Err(format!(
            "{node} ran {got} times in round {round}, expected {n}"
        ))
    }
}

/// Whether `backend`'s server answers; without one, its scenarios are skipped on a laptop and
/// fail in CI (`STATEGRAPH_REQUIRE_SERVICES`).
fn reachable(backend: Backend) -> Result<(), String> {
    let dir = std::env::temp_dir();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(backend.saver(&dir)).map(drop)
}

fn main() {
    if let Ok(mode) = std::env::var("STATEGRAPH_CRASH_CHILD") {
        let backend = Backend::from_name(&std::env::var("STATEGRAPH_CRASH_BACKEND").unwrap());
        let dir = PathBuf::from(std::env::var("STATEGRAPH_CRASH_DIR").unwrap());
        let thread_id = std::env::var("STATEGRAPH_CRASH_THREAD").unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(child(&mode, backend, &dir, &thread_id));
        return;
    }
    let expected = reference();
    assert_eq!(expected.round, ROUNDS);
    assert_eq!(expected.total, u64::from(ROUNDS) * 111);
    let started = Instant::now();
    let (mut passed, mut failed) = (0, 0);
    for backend in Backend::all() {
        let name = backend.name();
        if let Err(why) = reachable(backend) {
            if std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_some() {
                failed += 1;
                println!(
                    "crash recovery on {name} ... FAILED: its server is required and unreachable: {why}"
                );
            } else {
                println!(
                    "crash recovery on {name} ... skipped: no server ({why}); set STATEGRAPH_REQUIRE_SERVICES to make this a failure"
                );
            }
            continue;
        }
        let saved_at_kill = RefCell::new(Vec::new());
        for (scenario_name, scenario) in scenarios(backend, &expected, &saved_at_kill) {
            match scenario() {
                Ok(()) => {
                    passed += 1;
                    println!("crash recovery on {name}: {scenario_name} ... ok");
                }
                Err(why) => {
                    failed += 1;
                    println!("crash recovery on {name}: {scenario_name} ... FAILED: {why}");
                }
            }
        }
        // The random kills must have landed all over the run, not only before or after it.
        let mut points = saved_at_kill.into_inner();
        points.sort_unstable();
        points.dedup();
        let spread =
            points.len() >= 4 && points.iter().any(|&n| n > 0 && n < 1 + 3 * ROUNDS as usize);
        let verdict = if spread {
            "ok"
        } else {
            "FAILED: too few distinct points"
        };
        println!(
            "crash recovery on {name}: random kills landed after {points:?} saved checkpoints ... {verdict}"
        );
        if spread {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    #[cfg(feature = "object-store-aws")]
    drop(MOTO.lock().unwrap().take()); // stops the server
    println!("crash recovery took {:.1?}", started.elapsed());
    println!("crash_recovery: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
