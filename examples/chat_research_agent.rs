//! The seed's research agent on the message layer: search → synthesize → review, then pass,
//! revise or search again, with a hard exit after 3 retries — the transcript a list of chat
//! messages, the synthesis and the review calls to a model. `examples/langgraph/
//! chat_research_agent.py` is the same agent in LangGraph; `tests/line_counts.rs` holds this
//! one to at most 1.2× its lines.
//!
//! ```text
//! cargo run --example chat_research_agent --features agent
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stategraph::agent::messages::ChatMessage;
use stategraph::agent::model::{ChatModel, ChatModelExt, ScriptedModel};
use stategraph::sqlite::SqliteSaver;
use stategraph::{NodeContext, NodeResult, State};

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Research {
    task_id: String,
    query: String,
    retry_count: u32,
    #[state(reducer = messages)]
    messages: Vec<ChatMessage>,
    search_result_ids: Vec<String>,
    synthesis: String,
    verdict: String,
}

type Llm = Arc<dyn ChatModel>;

#[stategraph::graph(state = Research, deps = Llm)]
mod research {
    use super::*;

    #[node]
    async fn search(_: &Research) -> NodeResult<Research> {
        let ids = vec!["doc-001".to_owned(), "doc-002".to_owned()];
        let note = ChatMessage::system(format!("Search returned {} results", ids.len()));
        Ok(ResearchUpdate::new().search_result_ids(ids).messages(note))
    }

    #[node]
    async fn synthesize(s: &Research, ctx: &NodeContext<Llm>) -> NodeResult<Research> {
        let ids = &s.search_result_ids;
        let docs: Vec<_> = ids.iter().map(|i| format!("content of {i}")).collect();
        let ask = format!("Answer {:?} from: {}", s.query, docs.join("; "));
        let prompt = [s.messages.clone(), vec![ChatMessage::human(ask)]].concat();
        let reply = ctx.deps().invoke(&prompt).await?;
        let update = ResearchUpdate::new().synthesis(reply.text());
        Ok(update.messages(reply))
    }

    #[node]
    async fn review(s: &Research, ctx: &NodeContext<Llm>) -> NodeResult<Research> {
        let ask = ChatMessage::human(format!("Reply pass or revise: {}", s.synthesis));
        let verdict = ctx.deps().invoke(&[ask]).await?.text();
        let note = ChatMessage::system(format!("Review verdict: {verdict}"));
        Ok(ResearchUpdate::new().verdict(verdict).messages(note))
    }

    #[node]
    async fn handle_revision(s: &Research) -> NodeResult<Research> {
        let count = s.retry_count + 1;
        Ok(ResearchUpdate::new().retry_count(count).verdict(""))
    }

    enum After {
        Pass,
        Revise,
        RetrySearch,
    }

    #[route]
    fn after_review(s: &Research) -> After {
        match s.verdict.as_str() {
            "pass" => After::Pass,
            _ if s.retry_count >= 3 => After::Pass,
            "revise" => After::Revise,
            _ => After::RetrySearch,
        }
    }

    edges! {
        START -> search -> synthesize -> review;
        review -> after_review { Pass => END, Revise => handle_revision, RetrySearch => search };
        handle_revision -> synthesize;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let replies = ["A first draft.", "revise", "A better draft.", "pass"];
    let llm: Llm = Arc::new(ScriptedModel::replies(replies));
    let saver = SqliteSaver::open("chat_research_agent.db").await?;
    let graph = research::graph(llm).checkpointer(saver).compile()?;
    let thread = graph.thread(format!("task-{}", std::process::id()));
    let input = ResearchUpdate::new().task_id("t1").query("durable agents");
    let done = thread.invoke(input).await?.into_finished()?;
    println!("{} after {} revision(s)", done.synthesis, done.retry_count);
    Ok(())
}
