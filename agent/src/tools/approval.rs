//! A person's approval of a tool call, in the shapes LangChain's human-in-the-loop middleware
//! uses, so a front end written for it reads the question and sends the answer unchanged. The
//! shapes are LangChain's and grow with it: they are `#[non_exhaustive]`; build a decision with
//! [`Decision::edit`] and [`Decision::reject`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The question a tool call needing approval asks (LangChain's `HITLRequest`, with the one
/// call this task runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApprovalRequest {
    /// The call to review.
    pub action_requests: Vec<ActionRequest>,
    /// What the reviewer may decide about it.
    pub review_configs: Vec<ReviewConfig>,
}

/// A tool call as a reviewer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionRequest {
    /// The tool's name.
    pub name: String,
    /// The arguments the model sent.
    pub args: Map<String, Value>,
    /// The tool call's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What the reviewer is asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The decisions a reviewer may make about one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReviewConfig {
    /// The tool's name.
    pub action_name: String,
    /// `approve`, `edit`, `reject`.
    pub allowed_decisions: Vec<String>,
}

/// A reviewer's decision about a tool call: the answer to resume the thread with, alone or
/// as LangChain's `{"decisions": [decision]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decision {
    /// Run the call as the model made it.
    Approve,
    /// Run the call with these arguments (and tool) instead.
    Edit {
        /// The call to run.
        edited_action: EditedAction,
    },
    /// Do not run it; the model reads `message` (or a default) as the tool's error.
    Reject {
        /// Why, for the model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

/// The call a reviewer edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EditedAction {
    /// The tool to run.
    pub name: String,
    /// Its arguments.
    pub args: Map<String, Value>,
}

impl Decision {
    /// An edit of the call to tool `name` with `args` (a JSON object; anything else is passed
    /// as `{"input": args}`, as [`ToolCall::new`](crate::messages::ToolCall::new) does).
    pub fn edit(name: impl Into<String>, args: Value) -> Self {
        Self::Edit {
            edited_action: EditedAction {
                name: name.into(),
                args: crate::messages::args_object(args),
            },
        }
    }

    /// A rejection the model reads as `message`.
    pub fn reject(message: impl Into<String>) -> Self {
        Self::Reject {
            message: Some(message.into()),
        }
    }
}

/// The answer as sent: one decision, or LangChain's response with a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Answer {
    Response { decisions: Vec<Decision> },
    One(Decision),
}

impl Answer {
    /// The decision about the one call asked about, if the answer holds exactly one.
    pub(super) fn into_decision(self) -> Option<Decision> {
        match self {
            Answer::One(decision) => Some(decision),
            Answer::Response { mut decisions } if decisions.len() == 1 => decisions.pop(),
            Answer::Response { .. } => None,
        }
    }
}
