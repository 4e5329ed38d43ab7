//! Keeping a conversation inside a model's context window.
//!
//! [`Trim`] keeps the latest (or the earliest) messages that fit a budget, counted in messages
//! or in tokens. It never separates a tool call from its results: an AI message that calls
//! tools and the tool messages answering it are kept or dropped together, so the model never
//! sees a result without its call or a call without its results (which providers reject). By
//! default, keeping the latest messages also keeps the leading system message and makes the
//! kept history start on a human turn, as providers expect.
//!
//! ```
//! use stategraph_agent::messages::{AiMessage, ChatMessage, ToolCall, ToolMessage};
//! use stategraph_agent::trim::Trim;
//!
//! let call = ToolCall::new("search", serde_json::json!({ "q": "weather" }));
//! let history = vec![
//!     ChatMessage::system("Be brief."),
//!     ChatMessage::human("Hi"),
//!     ChatMessage::ai("Hello!"),
//!     ChatMessage::human("Weather?"),
//!     AiMessage::with_tool_calls("", vec![call.clone()]).into(),
//!     ToolMessage::new(&call.id, "Sunny").into(),
//!     ChatMessage::ai("Sunny."),
//! ];
//! // Four messages fit besides the system message: the tool call and its result stay together.
//! let kept = Trim::last_messages(5).apply(&history);
//! let texts: Vec<String> = kept.iter().map(ChatMessage::text).collect();
//! assert_eq!(texts, ["Be brief.", "Weather?", "", "Sunny", "Sunny."]);
//! ```

use std::fmt;
use std::sync::Arc;

use crate::messages::{ChatMessage, Content, ContentPart, Role};

/// What the budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    Messages(usize),
    Tokens(usize),
}

/// Which end of the conversation is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Last,
    First,
}

type Counter = Arc<dyn Fn(&ChatMessage) -> usize + Send + Sync>;

/// A rule for cutting a conversation down to a budget; [`apply`](Self::apply) it to a list.
#[derive(Clone)]
#[must_use = "a trim rule does nothing until applied"]
pub struct Trim {
    budget: Budget,
    keep: Keep,
    include_system: bool,
    start_on_human: bool,
    counter: Counter,
}

impl fmt::Debug for Trim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trim")
            .field("budget", &self.budget)
            .field("keep", &self.keep)
            .field("include_system", &self.include_system)
            .field("start_on_human", &self.start_on_human)
            .finish_non_exhaustive()
    }
}

impl Trim {
    fn new(budget: Budget, keep: Keep) -> Self {
        Self {
            budget,
            keep,
            include_system: keep == Keep::Last,
            start_on_human: keep == Keep::Last,
            counter: Arc::new(approximate_tokens),
        }
    }

    /// Keeps the latest messages, at most `n` of them (the system message counts as one).
    pub fn last_messages(n: usize) -> Self {
        Self::new(Budget::Messages(n), Keep::Last)
    }

    /// Keeps the latest messages whose tokens add up to at most `max` (counted with
    /// [`approximate_tokens`] unless [`counter`](Self::counter) says otherwise).
    pub fn last_tokens(max: usize) -> Self {
        Self::new(Budget::Tokens(max), Keep::Last)
    }

    /// Keeps the earliest messages, at most `n` of them.
    pub fn first_messages(n: usize) -> Self {
        Self::new(Budget::Messages(n), Keep::First)
    }

    /// Keeps the earliest messages whose tokens add up to at most `max`.
    pub fn first_tokens(max: usize) -> Self {
        Self::new(Budget::Tokens(max), Keep::First)
    }

    /// Counts a message's tokens with `counter` (a model's own tokenizer, say).
    pub fn counter(
        mut self,
        counter: impl Fn(&ChatMessage) -> usize + Send + Sync + 'static,
    ) -> Self {
        self.counter = Arc::new(counter);
        self
    }

    /// Whether a leading system message is always kept (when keeping the latest; on by
    /// default). It counts against the budget.
    pub fn include_system(mut self, include: bool) -> Self {
        self.include_system = include;
        self
    }

    /// Whether the kept history (after the system message) must start on a human message
    /// (when keeping the latest; on by default): earlier kept turns before the first human
    /// message are dropped.
    pub fn start_on_human(mut self, start: bool) -> Self {
        self.start_on_human = start;
        self
    }

    /// The messages of `messages` this rule keeps, in order.
    pub fn apply(&self, messages: &[ChatMessage]) -> Vec<ChatMessage> {
        let cost = |m: &ChatMessage| match self.budget {
            Budget::Messages(_) => 1,
            Budget::Tokens(_) => (self.counter)(m),
        };
        let mut left = match self.budget {
            Budget::Messages(n) | Budget::Tokens(n) => n,
        };
        let (system, rest) = match messages.split_first() {
            Some((first, rest))
                if self.keep == Keep::Last
                    && self.include_system
                    && first.role() == Role::System =>
            {
                let c = cost(first);
                if c > left {
                    return Vec::new();
                }
                left -= c;
                (Some(first), rest)
            }
            _ => (None, messages),
        };
        let units = units(rest);
        let unit_cost = |&(from, to): &(usize, usize)| rest[from..to].iter().map(cost).sum();
        let mut fits = |unit: &(usize, usize)| {
            let c: usize = unit_cost(unit);
            let fits = c <= left;
            if fits {
                left -= c;
            }
            fits
        };
        let kept: &[(usize, usize)] = match self.keep {
            Keep::Last => {
                let taken = units.iter().rev().take_while(|u| fits(u)).count();
                let mut kept = &units[units.len() - taken..];
                if self.start_on_human {
                    while let Some(((from, _), later)) = kept.split_first() {
                        if rest[*from].role() == Role::Human {
                            break;
                        }
                        kept = later;
                    }
                }
                kept
            }
            Keep::First => {
                let taken = units.iter().take_while(|u| fits(u)).count();
                &units[..taken]
            }
        };
        system
            .into_iter()
            .chain(kept.iter().flat_map(|&(from, to)| &rest[from..to]))
            .cloned()
            .collect()
    }
}

/// The conversation cut into what must stay together, as `[from, to)` ranges: an AI message
/// with tool calls and the tool messages right after it that answer them; any other message
/// alone.
fn units(messages: &[ChatMessage]) -> Vec<(usize, usize)> {
    let mut units = Vec::new();
    let mut at = 0;
    while at < messages.len() {
        let calls = messages[at].tool_calls();
        let mut end = at + 1;
        if !calls.is_empty() {
            while let Some(tool) = messages.get(end).and_then(ChatMessage::as_tool) {
                if !calls.iter().any(|call| call.id == tool.tool_call_id) {
                    break;
                }
                end += 1;
            }
        }
        units.push((at, end));
        at = end;
    }
    units
}

/// A message's tokens, roughly: a quarter of its characters (text, names, tool calls'
/// arguments), rounded up, plus 3 for the message's framing — the estimate LangChain's
/// `count_tokens_approximately` makes. An image or file part counts as 85 tokens.
pub fn approximate_tokens(message: &ChatMessage) -> usize {
    let mut chars = message.name().map_or(0, |name| name.chars().count());
    let mut media = 0;
    match message.content() {
        Content::Text(text) => chars += text.chars().count(),
        Content::Parts(parts) => {
            for part in parts {
                match part {
                    ContentPart::Text(text) => chars += text.chars().count(),
                    ContentPart::Image { .. } | ContentPart::File { .. } => media += 85,
                    ContentPart::Other(block) => {
                        chars += serde_json::to_string(block).map_or(0, |s| s.chars().count())
                    }
                }
            }
        }
    }
    for call in message.tool_calls() {
        chars += call.name.chars().count();
        chars += serde_json::to_string(&call.args).map_or(0, |s| s.chars().count());
    }
    chars.div_ceil(4) + media + 3
}

#[cfg(test)]
mod tests;
