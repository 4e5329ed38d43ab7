//! What runs before each model call of an agent: which messages the model reads this turn
//! ([`Trim`] them to a budget), and whether the stored conversation is rewritten
//! ([`Summarize`] the old part into one message).

use std::sync::Arc;

use async_trait::async_trait;
use stategraph_runtime::NodeError;

use crate::messages::{ChatMessage, Role, SystemMessage};
use crate::model::{ChatModel, ChatModelExt};
use crate::trim::{Trim, approximate_tokens};

/// What a hook decided: the messages the model reads this turn, and, when it rewrote the
/// conversation, the messages that replace the stored ones.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ModelInput {
    /// What the model reads.
    pub messages: Vec<ChatMessage>,
    /// What replaces the stored conversation (`None`: it stays as it is).
    pub rewrite: Option<Vec<ChatMessage>>,
}

impl ModelInput {
    /// The model reads `messages`; the stored conversation stays as it is.
    pub fn read(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            rewrite: None,
        }
    }

    /// The stored conversation becomes `messages`, and the model reads them.
    pub fn rewrite(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages: messages.clone(),
            rewrite: Some(messages),
        }
    }
}

/// Runs before each model call of an agent, on the stored conversation (LangGraph's
/// `pre_model_hook`).
#[async_trait]
pub trait ModelHook: Send + Sync {
    /// What the model reads this turn, and whether the conversation is rewritten.
    async fn before_model(&self, messages: &[ChatMessage]) -> Result<ModelInput, NodeError>;
}

/// Trimming: the model reads what the rule keeps; the stored conversation stays whole.
#[async_trait]
impl ModelHook for Trim {
    async fn before_model(&self, messages: &[ChatMessage]) -> Result<ModelInput, NodeError> {
        Ok(ModelInput::read(self.apply(messages)))
    }
}

/// The name a summary message carries, so the next summary folds it in.
pub const SUMMARY_NAME: &str = "summary";

const SUMMARY_PROMPT: &str = "Summarize the conversation below for the assistant who will continue \
     it: keep names, facts, decisions, open questions and what tools returned. If it starts \
     with an earlier summary, fold that summary in. Reply with the summary only.";

/// Summarising: once the conversation outgrows a token budget, everything but its latest part
/// is replaced by one system message that summarises it, written by a model — in the stored
/// conversation too, so it stops growing. A leading system message of the user's stays; an
/// earlier summary is folded into the next; a tool call and its results are never split.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use stategraph_agent::hooks::{ModelHook, Summarize};
/// use stategraph_agent::messages::ChatMessage;
/// use stategraph_agent::model::ScriptedModel;
///
/// let summarizer = Arc::new(ScriptedModel::new().reply("Ada asked about tea twice."));
/// let hook = Summarize::new(summarizer).over_tokens(40).keep_tokens(15);
/// let long: Vec<ChatMessage> = (0..10).map(|i| ChatMessage::human(format!("tea question {i}"))).collect();
/// let input = hook.before_model(&long).await.unwrap();
/// let stored = input.rewrite.expect("the conversation was summarised");
/// assert!(stored[0].text().contains("Ada asked about tea twice."));
/// assert_eq!(stored.last().unwrap().text(), "tea question 9");
/// # });
/// ```
pub struct Summarize {
    model: Arc<dyn ChatModel>,
    over: usize,
    keep: usize,
    counter: Arc<dyn Fn(&ChatMessage) -> usize + Send + Sync>,
}

impl std::fmt::Debug for Summarize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Summarize")
            .field("model", &self.model.model_name())
            .field("over", &self.over)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl Summarize {
    /// Summaries written by `model`, once the conversation passes 4,000 tokens, keeping the
    /// latest 1,000 tokens as they are (tokens estimated by [`approximate_tokens`]).
    pub fn new(model: Arc<dyn ChatModel>) -> Self {
        Self {
            model,
            over: 4000,
            keep: 1000,
            counter: Arc::new(approximate_tokens),
        }
    }

    /// Summarises once the conversation passes `tokens`.
    pub fn over_tokens(mut self, tokens: usize) -> Self {
        self.over = tokens;
        self
    }

    /// Keeps the latest `tokens` of the conversation as they are.
    pub fn keep_tokens(mut self, tokens: usize) -> Self {
        self.keep = tokens;
        self
    }

    /// Counts a message's tokens with `counter` (a model's own tokenizer, say).
    pub fn counter(
        mut self,
        counter: impl Fn(&ChatMessage) -> usize + Send + Sync + 'static,
    ) -> Self {
        self.counter = Arc::new(counter);
        self
    }
}

#[async_trait]
impl ModelHook for Summarize {
    async fn before_model(&self, messages: &[ChatMessage]) -> Result<ModelInput, NodeError> {
        let (head, body) = match messages.split_first() {
            Some((first, rest))
                if first.role() == Role::System && first.name() != Some(SUMMARY_NAME) =>
            {
                (Some(first), rest)
            }
            _ => (None, messages),
        };
        let total: usize = body.iter().map(|m| (self.counter)(m)).sum();
        if total <= self.over {
            return Ok(ModelInput::read(messages.to_vec()));
        }
        let counter = Arc::clone(&self.counter);
        let recent = Trim::last_tokens(self.keep)
            .include_system(false)
            .start_on_human(false)
            .counter(move |m| counter(m))
            .apply(body);
        let older = &body[..body.len() - recent.len()];
        if older.is_empty() {
            return Ok(ModelInput::read(messages.to_vec()));
        }
        let transcript: Vec<String> = older.iter().map(line).collect();
        let summary = Arc::clone(&self.model)
            .invoke(&[
                ChatMessage::system(SUMMARY_PROMPT),
                ChatMessage::human(transcript.join("\n")),
            ])
            .await?;
        let summary = SystemMessage::new(format!(
            "Summary of the conversation so far: {}",
            summary.text()
        ))
        .with_name(SUMMARY_NAME);
        let rewritten = head
            .cloned()
            .into_iter()
            .chain([summary.into()])
            .chain(recent)
            .collect();
        Ok(ModelInput::rewrite(rewritten))
    }
}

/// One message as a line of the transcript the summariser reads.
fn line(message: &ChatMessage) -> String {
    let mut text = format!("{}: {}", message.role().as_str(), message.text());
    for call in message.tool_calls() {
        text.push_str(&format!(
            " [called {} with {}]",
            call.name,
            serde_json::Value::Object(call.args.clone())
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{AiMessage, ToolCall, ToolMessage};
    use crate::model::ScriptedModel;

    fn conversation() -> Vec<ChatMessage> {
        let call = ToolCall::new("search", serde_json::json!({ "q": "tea prices in Oslo" }));
        vec![
            ChatMessage::system("You are a shopping assistant."),
            ChatMessage::human("I want to buy green tea in Oslo this week."),
            ChatMessage::ai("Let me look that up for you."),
            AiMessage::with_tool_calls("", vec![call.clone()]).into(),
            ToolMessage::new(&call.id, "Green tea costs 40 NOK at three shops.").into(),
            ChatMessage::ai("It costs 40 NOK."),
        ]
    }

    #[tokio::test]
    async fn the_users_system_message_stays_and_a_tool_call_keeps_its_result() {
        let summarizer = Arc::new(ScriptedModel::new().reply("Ada wants green tea."));
        // The last three messages come to 25 tokens: a budget of 22 cannot keep the tool
        // result without its call, so it keeps only the final answer.
        let hook = Summarize::new(Arc::clone(&summarizer) as Arc<dyn ChatModel>)
            .over_tokens(30)
            .keep_tokens(22);
        let input = hook.before_model(&conversation()).await.unwrap();
        let stored = input.rewrite.expect("summarised");
        let texts: Vec<String> = stored.iter().map(ChatMessage::text).collect();
        assert_eq!(texts[0], "You are a shopping assistant.");
        assert_eq!(stored[1].name(), Some(SUMMARY_NAME));
        assert!(texts[1].ends_with("Ada wants green tea."));
        assert_eq!(&texts[2..], ["It costs 40 NOK."]);
        // The summariser read the older part, the tool call and its result included.
        let (asked, _) = summarizer.calls().remove(0);
        let transcript = asked[1].text();
        assert!(transcript.contains("[called search with"), "{transcript}");
        assert!(
            transcript.contains("tool: Green tea costs 40 NOK"),
            "{transcript}"
        );
        assert!(!transcript.contains("shopping assistant"), "{transcript}");
    }

    #[tokio::test]
    async fn under_the_budget_nothing_is_rewritten_or_asked() {
        let summarizer = Arc::new(ScriptedModel::new());
        let hook = Summarize::new(Arc::clone(&summarizer) as Arc<dyn ChatModel>);
        let conversation = conversation();
        let input = hook.before_model(&conversation).await.unwrap();
        assert_eq!(input.rewrite, None);
        assert_eq!(input.messages, conversation);
        assert!(summarizer.calls().is_empty());
    }
}
