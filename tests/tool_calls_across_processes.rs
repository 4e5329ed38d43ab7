//! The tool node across processes, on SQLite: each tool call of a model's turn is its own task
//! with its own pending write, so a process killed with SIGKILL while some calls are running
//! resumes in a new process running only the calls that had not finished; and a call that
//! needs a person's approval waits across processes for approve, edit or reject.
//!
//! This binary is its own child: with `STATEGRAPH_TOOLS_CHILD` set it runs one command on the
//! thread named by `STATEGRAPH_TOOLS_THREAD` and prints its outcome as JSON; without it, it
//! drives the scenarios below, each step in a fresh child process.

use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stategraph::agent::messages::{AiMessage, ChatMessage, ToolCall};
use stategraph::agent::tools::{ToolContext, ToolNode};
use stategraph::sqlite::SqliteSaver;
use stategraph::{Checkpointer, NodeError, NodeResult, Outcome, Resume, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Chat {
    #[state(reducer = messages)]
    messages: Vec<ChatMessage>,
}

/// The saver, so a tool can wait until its siblings' writes are saved.
struct Deps(Arc<dyn Checkpointer>);

/// Appends `line` to the log the parent reads (one small O_APPEND write: never torn by a kill).
fn log(line: &str) {
    let path = std::env::var("STATEGRAPH_TOOLS_LOG").unwrap();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(format!("{line}\n").as_bytes()).unwrap();
}

/// Which item to look up.
#[derive(Deserialize, JsonSchema)]
struct Item {
    /// The item's number.
    n: u32,
}

/// Looks up an item. Items above 2 are slow: they wait until two calls have saved their
/// results, and then, when the parent asks for it, kill the process.
#[stategraph::tool]
async fn lookup(args: Item, ctx: &ToolContext<Chat, Deps>) -> Result<String, NodeError> {
    log(&format!("lookup {}", args.n));
    if args.n > 2 {
        saved_tasks(ctx, 2).await;
        if std::env::var_os("STATEGRAPH_TOOLS_KILL").is_some() {
            let pid = std::process::id().to_string();
            let _ = Command::new("kill").args(["-9", &pid]).status();
            std::thread::sleep(Duration::from_secs(10));
            unreachable!("SIGKILL did not arrive");
        }
    }
    Ok(format!("item {}", args.n))
}

/// Waits (up to 30 s) until `n` tasks of the step have saved their writes.
async fn saved_tasks(ctx: &ToolContext<Chat, Deps>, n: usize) {
    let node = ctx.node();
    let (Some(thread), Some(checkpoint)) = (node.thread_id(), node.checkpoint_id()) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let tuple = ctx
            .deps()
            .0
            .get(thread, "", Some(checkpoint))
            .await
            .unwrap();
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
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// An email to send.
#[derive(Deserialize, JsonSchema)]
struct Email {
    /// Who receives it.
    to: String,
    /// What it says.
    body: String,
}

/// Sends an email.
#[stategraph::tool]
async fn send_email(args: Email) -> Result<String, NodeError> {
    log(&format!("sent to {}: {}", args.to, args.body));
    Ok(format!("sent to {}", args.to))
}

#[stategraph::graph(state = Chat, deps = Deps)]
mod assistant {
    use super::*;

    /// Stands in for a model: five lookups, or an email, then a summary of the results.
    #[node]
    async fn model(s: &Chat) -> NodeResult<Chat> {
        let reply = match s.messages.last() {
            Some(ChatMessage::Human(h)) if h.text() == "look up" => {
                let calls = (1..=5)
                    .map(|n| {
                        ToolCall::new("lookup", json!({ "n": n })).with_id(format!("call-{n}"))
                    })
                    .collect();
                AiMessage::with_tool_calls("", calls)
            }
            Some(ChatMessage::Human(_)) => {
                let call = ToolCall::new("send_email", json!({ "to": "ada", "body": "hello" }));
                AiMessage::with_tool_calls("", vec![call.with_id("mail")])
            }
            _ => {
                let results: Vec<String> = s
                    .messages
                    .iter()
                    .filter_map(|m| match m {
                        ChatMessage::Tool(t) => Some(t.text()),
                        _ => None,
                    })
                    .collect();
                AiMessage::new(format!("done: {}", results.join("; ")))
            }
        };
        Ok(ChatUpdate::new().messages(ChatMessage::from(reply)))
    }

    #[tools]
    fn tools() -> ToolNode<Chat, Deps> {
        ToolNode::new().tool(lookup).with_approval(send_email)
    }

    edges! {
        START -> model;
        model -> tools_condition { Tools => tools, End => END };
        tools -> model;
    }
}

/// The child: runs one command on the thread and prints the outcome.
async fn child(command: &str, db: &Path, thread: &str) {
    let saver: Arc<dyn Checkpointer> = Arc::new(SqliteSaver::open(db).await.unwrap());
    let graph = assistant::graph(Deps(Arc::clone(&saver)))
        .checkpointer(saver)
        .compile()
        .unwrap();
    let thread = graph.thread(thread);
    let outcome = match command {
        "resume" => {
            let answer: Value =
                serde_json::from_str(&std::env::var("STATEGRAPH_TOOLS_ANSWER").unwrap()).unwrap();
            thread.resume_with(Resume::value(answer)).await.unwrap()
        }
        text => thread
            .start_or_resume(ChatUpdate::new().messages(ChatMessage::human(text)))
            .await
            .unwrap(),
    };
    let printed = match outcome {
        Outcome::Finished(chat) => json!({ "finished": chat.messages }),
        Outcome::Paused(paused) => {
            let asked: Vec<&Value> = paused.interrupts.iter().map(|i| &i.payload).collect();
            json!({ "paused": asked })
        }
    };
    println!("{printed}");
}

struct Scenario {
    dir: PathBuf,
    thread: String,
}

impl Scenario {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sg-tools-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            thread: name.to_owned(),
        }
    }

    /// Runs `command` in a new process; its printed outcome, or how it died.
    fn run(&self, command: &str, env: &[(&str, &str)]) -> Result<Value, std::process::ExitStatus> {
        let out = Command::new(std::env::current_exe().unwrap())
            .env("STATEGRAPH_TOOLS_CHILD", command)
            .env("STATEGRAPH_TOOLS_DB", self.dir.join("tools.db"))
            .env("STATEGRAPH_TOOLS_LOG", self.dir.join("log"))
            .env("STATEGRAPH_TOOLS_THREAD", &self.thread)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            return Err(out.status);
        }
        let stdout = String::from_utf8(out.stdout).unwrap();
        Ok(serde_json::from_str(stdout.lines().last().unwrap()).unwrap())
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The text of the last message of a finished run.
fn last_text(outcome: &Value) -> &str {
    outcome["finished"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
}

fn killed_with_two_of_five_calls_done_only_three_run_again() -> Result<(), String> {
    let scenario = Scenario::new("crash");
    let died = scenario
        .run("look up", &[("STATEGRAPH_TOOLS_KILL", "1")])
        .expect_err("the first process is killed");
    if died.signal() != Some(9) {
        return Err(format!("the first process ended with {died}, not SIGKILL"));
    }
    let first = scenario.log();
    let mut started: Vec<&str> = first.iter().map(String::as_str).collect();
    started.sort_unstable();
    if started != ["lookup 1", "lookup 2", "lookup 3", "lookup 4", "lookup 5"] {
        return Err(format!("the first process started {started:?}"));
    }
    let done = scenario
        .run("look up", &[])
        .map_err(|s| format!("resume: {s}"))?;
    let mut again: Vec<String> = scenario.log()[first.len()..].to_vec();
    again.sort_unstable();
    if again != ["lookup 3", "lookup 4", "lookup 5"] {
        return Err(format!(
            "the resume ran {again:?}; only the three unfinished calls should run"
        ));
    }
    let text = last_text(&done);
    if text != "done: item 1; item 2; item 3; item 4; item 5" {
        return Err(format!("final answer {text:?}"));
    }
    Ok(())
}

/// Asks for approval of the email in one process; answers `answer` in another.
fn approval(name: &str, answer: Value) -> Result<(Scenario, Value), String> {
    let scenario = Scenario::new(name);
    let asked = scenario
        .run("mail ada", &[])
        .map_err(|s| format!("ask: {s}"))?;
    let request = &asked["paused"][0];
    if request["action_requests"][0]["name"] != "send_email"
        || request["action_requests"][0]["args"] != json!({ "to": "ada", "body": "hello" })
        || request["review_configs"][0]["allowed_decisions"] != json!(["approve", "edit", "reject"])
    {
        return Err(format!("the question was {asked}"));
    }
    if !scenario.log().is_empty() {
        return Err(format!(
            "the email ran before approval: {:?}",
            scenario.log()
        ));
    }
    let answer = answer.to_string();
    let done = scenario
        .run("resume", &[("STATEGRAPH_TOOLS_ANSWER", &answer)])
        .map_err(|s| format!("answer: {s}"))?;
    Ok((scenario, done))
}

fn an_approved_call_runs_once_in_the_process_that_approved_it() -> Result<(), String> {
    let (scenario, done) = approval("approve", json!({ "type": "approve" }))?;
    if scenario.log() != ["sent to ada: hello"] || last_text(&done) != "done: sent to ada" {
        return Err(format!("log {:?}, outcome {done}", scenario.log()));
    }
    Ok(())
}

fn an_edited_call_runs_with_the_edited_arguments() -> Result<(), String> {
    let edit = json!({ "decisions": [{ "type": "edit", "edited_action": {
        "name": "send_email", "args": { "to": "bob", "body": "hi bob" } } }] });
    let (scenario, done) = approval("edit", edit)?;
    if scenario.log() != ["sent to bob: hi bob"] || last_text(&done) != "done: sent to bob" {
        return Err(format!("log {:?}, outcome {done}", scenario.log()));
    }
    Ok(())
}

fn a_rejected_call_never_runs_and_the_model_reads_why() -> Result<(), String> {
    let reject = json!({ "type": "reject", "message": "not to ada, she is on leave" });
    let (scenario, done) = approval("reject", reject)?;
    let messages = done["finished"].as_array().unwrap();
    let answer = messages.iter().find(|m| m["type"] == "tool").unwrap();
    if !scenario.log().is_empty()
        || answer["status"] != "error"
        || answer["content"] != "not to ada, she is on leave"
        || last_text(&done) != "done: not to ada, she is on leave"
    {
        return Err(format!("log {:?}, outcome {done}", scenario.log()));
    }
    Ok(())
}

/// A scenario: `Err` says what went wrong.
type Check = fn() -> Result<(), String>;

fn main() {
    if let Ok(command) = std::env::var("STATEGRAPH_TOOLS_CHILD") {
        let db = PathBuf::from(std::env::var("STATEGRAPH_TOOLS_DB").unwrap());
        let thread = std::env::var("STATEGRAPH_TOOLS_THREAD").unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(child(&command, &db, &thread));
        return;
    }
    let scenarios: [(&str, Check); 4] = [
        (
            "killed with two of five calls done, only three run again",
            killed_with_two_of_five_calls_done_only_three_run_again,
        ),
        (
            "an approved call runs once, in the process that approved it",
            an_approved_call_runs_once_in_the_process_that_approved_it,
        ),
        (
            "an edited call runs with the edited arguments",
            an_edited_call_runs_with_the_edited_arguments,
        ),
        (
            "a rejected call never runs and the model reads why",
            a_rejected_call_never_runs_and_the_model_reads_why,
        ),
    ];
    let mut failed = 0;
    for (name, scenario) in scenarios {
        match scenario() {
            Ok(()) => println!("tool calls across processes: {name} ... ok"),
            Err(why) => {
                failed += 1;
                println!("tool calls across processes: {name} ... FAILED: {why}");
            }
        }
    }
    assert_eq!(failed, 0, "{failed} scenario(s) failed");
}
