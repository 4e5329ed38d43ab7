//! A research assistant: a model with three tools — search, read a page, and save a report,
//! which waits for a person's approval — streaming its answer to the terminal token by token,
//! every step checkpointed to SQLite (`react_agent.db`, or `REACT_AGENT_DB`).
//!
//! ```text
//! cargo run --example react_agent --features agent      # offline, a scripted model
//! OPENAI_API_KEY=… cargo run --example react_agent --features openai
//! ```
//!
//! Offline it runs against a scripted model, so it needs no key and gives the same run every
//! time; with the `openai` feature and `OPENAI_API_KEY` set it asks `gpt-4o-mini`. The report
//! is saved once approved; `REACT_AGENT_DECISION=reject` rejects it instead.

use std::io::Write as _;
use std::sync::Arc;

use futures::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;
use stategraph::agent::messages::{ChatMessage, ToolCall};
use stategraph::agent::model::{AiMessageChunk, ChatModel, ScriptedModel};
use stategraph::agent::tools::Decision;
use stategraph::prebuilt::{Agent, AgentState, AgentStateUpdate};
use stategraph::sqlite::SqliteSaver;
use stategraph::{EventData, NodeError, Outcome, Resume, StreamMode};

/// What to search for.
#[derive(Deserialize, JsonSchema)]
struct Query {
    /// The search terms.
    query: String,
}

/// Searches the web; returns titles and URLs of the top results.
#[stategraph::tool]
async fn search_web(args: Query) -> Result<String, NodeError> {
    Ok(format!(
        "Results for {:?}:\n1. Durable execution for agents — https://example.com/durable\n\
         2. Checkpointing in practice — https://example.com/checkpoints",
        args.query
    ))
}

/// Which page to read.
#[derive(Deserialize, JsonSchema)]
struct Page {
    /// The page's URL.
    url: String,
}

/// Reads a web page and returns its text.
#[stategraph::tool]
async fn read_page(args: Page) -> Result<String, NodeError> {
    Ok(match args.url.as_str() {
        "https://example.com/durable" => {
            "A durable agent saves its state after every step, so a crash loses at most one step."
        }
        _ => "Checkpoints are cheap when only the changed channels are written.",
    }
    .to_owned())
}

/// The report to save.
#[derive(Deserialize, JsonSchema)]
struct Report {
    /// Its title.
    title: String,
    /// Its text.
    body: String,
}

/// Saves a report for the user (asks the user first).
#[stategraph::tool]
async fn save_report(args: Report) -> Result<String, NodeError> {
    let path = std::env::temp_dir().join("react_agent_report.md");
    let text = format!("# {}\n\n{}\n", args.title, args.body);
    let written = path.clone();
    // File I/O on a blocking thread, off the executor.
    tokio::task::spawn_blocking(move || std::fs::write(written, text)).await??;
    Ok(format!("saved to {}", path.display()))
}

/// The model: a real one when the `openai` feature is on and `OPENAI_API_KEY` is set, the
/// scripted one otherwise.
fn model() -> Result<Arc<dyn ChatModel>, Box<dyn std::error::Error>> {
    #[cfg(feature = "openai")]
    if std::env::var_os("OPENAI_API_KEY").is_some() {
        let model = stategraph::agent::providers::Provider::openai("gpt-4o-mini").build()?;
        return Ok(Arc::new(model));
    }
    let body = "A durable agent saves its state after every step; a crash loses one step at most.";
    Ok(Arc::new(
        ScriptedModel::new()
            .tool_call("search_web", serde_json::json!({ "query": "durable agents" }))
            .tool_calls(vec![
                ToolCall::new("read_page", serde_json::json!({ "url": "https://example.com/durable" })),
                ToolCall::new("read_page", serde_json::json!({ "url": "https://example.com/checkpoints" })),
            ])
            .tool_call("save_report", serde_json::json!({ "title": "Durable agents", "body": body }))
            .reply("Durable agents checkpoint after every step, so a crash costs one step at most; I saved the report."),
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("REACT_AGENT_DB").unwrap_or_else(|_| "react_agent.db".to_owned());
    let decision = match std::env::var("REACT_AGENT_DECISION").as_deref() {
        Ok("reject") => Decision::reject("Do not save it; just answer."),
        _ => Decision::Approve,
    };
    let done = run(&db, decision).await?;
    println!("\n{} messages on the thread", done.messages.len());
    Ok(())
}

/// Asks the assistant, streaming its tokens; answers its approval question with `decision`.
async fn run(db: &str, decision: Decision) -> Result<AgentState, Box<dyn std::error::Error>> {
    let graph = Agent::new(model()?)
        .prompt("You are a research assistant. Search, read, then save a short report.")
        .tool(search_web)
        .tool(read_page)
        .with_approval(save_report)
        .graph()
        .checkpointer(SqliteSaver::open(db).await?)
        .compile()?;
    let thread = graph.thread(format!("research-{}", std::process::id()));
    let question = AgentStateUpdate::new().messages(ChatMessage::human(
        "What makes an agent durable? Save me a report.",
    ));
    let mut stream = thread.stream(question, StreamMode::MESSAGES);
    print_tokens(&mut stream).await?;
    let mut outcome = stream.output().await?;
    while let Outcome::Paused(paused) = outcome {
        // In a real service the question goes to a person; the answer may come days later,
        // to another process: the thread waits in the database.
        println!(
            "\n[approval asked: {}]",
            paused.interrupts[0].payload["action_requests"][0]
        );
        let mut stream = thread
            .resume_with(Resume::value(&decision))
            .stream(StreamMode::MESSAGES);
        print_tokens(&mut stream).await?;
        outcome = stream.output().await?;
    }
    Ok(outcome.into_finished()?)
}

/// Prints the model's text as it streams, and a line per tool it starts to call.
async fn print_tokens(
    stream: &mut stategraph::RunStream<AgentState>,
) -> Result<(), Box<dyn std::error::Error>> {
    while let Some(event) = stream.next().await {
        if let EventData::Message(piece) = event?.data
            && let Some(chunk) = piece.get::<AiMessageChunk>()
        {
            print!("{}", chunk.text);
            for call in chunk
                .tool_call_chunks
                .iter()
                .filter_map(|c| c.name.as_ref())
            {
                print!("\n[calling {call}]");
            }
            std::io::stdout().flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("sg-react-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("react_agent.db").to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn the_assistant_researches_and_saves_the_report_once_approved() {
        let done = run(&db("approve"), Decision::Approve).await.unwrap();
        let tools: Vec<&str> = done
            .messages
            .iter()
            .filter_map(|m| m.as_tool())
            .filter_map(|t| t.name())
            .collect();
        assert_eq!(
            tools,
            ["search_web", "read_page", "read_page", "save_report"]
        );
        let saved = done
            .messages
            .iter()
            .filter_map(|m| m.as_tool())
            .next_back()
            .unwrap();
        assert!(saved.text().starts_with("saved to"), "{}", saved.text());
        assert!(
            done.messages
                .last()
                .unwrap()
                .text()
                .contains("I saved the report")
        );
    }

    #[tokio::test]
    async fn a_rejected_report_is_not_saved_and_the_model_is_told_why() {
        let done = run(&db("reject"), Decision::reject("not now"))
            .await
            .unwrap();
        let last_tool = done
            .messages
            .iter()
            .filter_map(|m| m.as_tool())
            .next_back()
            .unwrap();
        assert_eq!(last_tool.text(), "not now");
    }
}
