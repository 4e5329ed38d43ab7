//! The seed's summarization node, worked: a chat whose `messages` would grow without end keeps
//! its state small by folding older messages into a summary — after archiving the raw messages
//! to the Store, so nothing is lost — when their estimated tokens pass a threshold. A routing
//! function skips the node below it. Over 1,000 turns the state stays under a strict 50 KiB
//! budget (a turn that outgrew it would fail), and every message can be read back from the
//! archive. Checkpoints and the store share one SQLite file (`summarize.db`, or `SUMMARIZE_DB`).
//!
//! ```text
//! cargo run --example summarize
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use stategraph::sqlite::{SqliteSaver, SqliteStore};
use stategraph::store::{Namespace, SearchQuery};
use stategraph::{NodeContext, NodeResult, SizeBudget, State, Store, StoreExt};

/// Keep this many messages verbatim.
const WINDOW: usize = 10;
/// Summarize once the messages' estimated tokens pass this.
const TOKEN_THRESHOLD: usize = 3_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Message {
    role: String,
    content: String,
}

#[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
struct Chat {
    /// The conversation: a summary of what was archived, then the latest messages.
    #[state(reducer = append)]
    messages: Vec<Message>,
    /// The next turn's question.
    question: String,
    turns: u32,
    /// The archive keys of the messages folded into the summary, oldest first.
    #[state(reducer = append)]
    archived: Vec<String>,
}

/// The seed's token estimate: four characters a token.
fn tokens(messages: &[Message]) -> usize {
    messages.iter().map(|m| m.content.len() / 4).sum()
}

#[stategraph::graph(state = Chat)]
mod chat {
    use super::*;

    /// Stands in for a model call: answers at some length.
    #[node]
    async fn respond(s: &Chat) -> NodeResult<Chat> {
        let answer = format!(
            "Turn {}: about {:?}, the short answer is that durable agents keep references in \
             state and content in a store, and checkpoint what they decide on.",
            s.turns + 1,
            s.question
        );
        Ok(ChatUpdate::new()
            .push_messages(Message {
                role: "user".to_owned(),
                content: s.question.clone(),
            })
            .push_messages(Message {
                role: "assistant".to_owned(),
                content: answer,
            })
            .turns(s.turns + 1))
    }

    /// Archives everything but the last `WINDOW` messages to the store, then replaces them
    /// with a summary: the raw history is in the store before it leaves the state.
    #[node]
    async fn maybe_summarize(s: &Chat, ctx: &NodeContext) -> NodeResult<Chat> {
        let store = ctx
            .store()
            .ok_or("the chat needs a store for its archive")?;
        let thread = ctx.thread_id().map_or("no-thread", |t| t.as_str());
        let (older, recent) = s.messages.split_at(s.messages.len() - WINDOW);
        let key = format!("turn-{:05}", s.turns);
        store
            .put(&archive(thread)?, &key, &json!({ "messages": older }), None)
            .await?;
        let archived_messages: usize = s.archived.len();
        let summary = Message {
            role: "system".to_owned(),
            content: format!(
                "[Summary of turns 1 to {}: {} archived batches; the user asks about durable agents]",
                s.turns as usize - recent.len() / 2,
                archived_messages + 1
            ),
        };
        let mut kept = vec![summary];
        kept.extend_from_slice(recent);
        Ok(ChatUpdate::new().replace_messages(kept).push_archived(key))
    }

    pub(super) enum Size {
        Summarize,
        Fine,
    }

    #[route]
    fn needs_summary(s: &Chat) -> Size {
        if tokens(&s.messages) > TOKEN_THRESHOLD && s.messages.len() > WINDOW {
            Size::Summarize
        } else {
            Size::Fine
        }
    }

    edges! {
        START -> respond;
        respond -> needs_summary { Summarize => maybe_summarize, Fine => END };
        maybe_summarize -> END;
    }
}

/// Where a thread's raw messages are archived.
fn archive(thread: &str) -> Result<Namespace, stategraph::StoreError> {
    Namespace::new(["archive", thread])
}

/// What a run of many turns shows.
struct Report {
    turns: u32,
    largest_state: usize,
    summaries: usize,
    messages_in_state: usize,
    messages_archived: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("SUMMARIZE_DB").unwrap_or_else(|_| "summarize.db".to_owned());
    let report = run(&db, 1_000).await?;
    println!(
        "{} turns: the state peaked at {} bytes (budget 51,200); {} summaries; {} messages in \
         state, {} archived in the store",
        report.turns,
        report.largest_state,
        report.summaries,
        report.messages_in_state,
        report.messages_archived
    );
    Ok(())
}

/// Runs `turns` turns of one conversation under a strict 50 KiB budget.
async fn run(db: &str, turns: u32) -> Result<Report, Box<dyn std::error::Error>> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(db).await?);
    let graph = chat::graph()
        .checkpointer(SqliteSaver::open(db).await?)
        .store(store.clone())
        .size_budget(SizeBudget::strict(SizeBudget::DEFAULT_BYTES))
        .compile()?;
    let thread_id = format!("chat-{}", stategraph::CheckpointId::new());
    let thread = graph.thread(thread_id.as_str());
    let mut largest_state = 0;
    let mut state = None;
    for turn in 1..=turns {
        let question = format!("question {turn}: how do checkpoints stay small?");
        state = Some(
            thread
                .invoke(ChatUpdate::new().question(question))
                .await?
                .into_finished()?,
        );
        let size = thread.size().await?.ok_or("the thread has a checkpoint")?;
        largest_state = largest_state.max(size.total);
    }
    let state = state.ok_or("at least one turn")?;
    let query = SearchQuery::under(["archive", thread_id.as_str()]).limit(usize::MAX);
    let messages_archived = store
        .search(&query)
        .await?
        .iter()
        .flat_map(|item| {
            item.value["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|message| message["role"] != "system") // earlier summaries, folded again
        .count();
    Ok(Report {
        turns: state.turns,
        largest_state,
        summaries: state.archived.len(),
        messages_in_state: state.messages.len(),
        messages_archived,
    })
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_thousand_turns_stay_under_budget_and_lose_no_message() {
        let dir = std::env::temp_dir().join(format!("sg-summarize-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("summarize.db");
        let report = super::run(db.to_str().unwrap(), 1_000).await.unwrap();
        assert_eq!(report.turns, 1_000);
        assert!(
            report.largest_state < 50 * 1024,
            "{} bytes",
            report.largest_state
        );
        assert!(
            report.summaries > 10,
            "summarized {} times",
            report.summaries
        );
        // Every message is somewhere: archived, or in state (less each summary's own line).
        let raw_in_state = report.messages_in_state - 1;
        assert_eq!(report.messages_archived + raw_in_state, 2 * 1_000);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
