//! Tools: typed functions a model calls, and the tool node that runs every call of a model's
//! turn as its own durable task.
//!
//! `#[tool]` on an async function makes it a [`Tool`]: the doc comment is the description the
//! model reads, the argument type's JSON Schema (derived with `schemars`) is what the model must
//! send, and arguments that do not fit come back to the model as an error tool message instead
//! of failing the run. A tool that takes a [`ToolContext`] reads the graph's state, its
//! dependencies and its Store, and may ask a person (`ctx.interrupt(…)`) before it acts.
//!
//! A [`ToolNode`] holds the tools of a graph. Declared in a graph with `#[tools]` and reached
//! through the built-in route `tools_condition`, it runs each tool call of the last AI message
//! as a task of its own, with its own pending write: after a crash or an interrupt, the calls
//! that finished are never run again.
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use stategraph_agent::tools::{Tool, ToolOutput, ToolSpec};
//!
//! /// The arguments of `add`.
//! #[derive(Deserialize, JsonSchema)]
//! struct AddArgs {
//!     /// The first number.
//!     a: i64,
//!     /// The second number.
//!     b: i64,
//! }
//!
//! // The spec `#[tool]` generates for `async fn add(args: AddArgs) -> Result<i64, NodeError>`,
//! // written out.
//! let spec = ToolSpec::new("add", "Adds two numbers.", stategraph_agent::tools::schema_of::<AddArgs>());
//! assert_eq!(spec.parameters["required"], serde_json::json!(["a", "b"]));
//! assert_eq!(ToolOutput::from(serde_json::json!(3)).text(), "3");
//! ```

mod approval;
mod context;
mod node;
mod output;
#[cfg(test)]
mod tests;

pub use approval::{ActionRequest, ApprovalRequest, Decision, EditedAction, ReviewConfig};
pub use context::ToolContext;
pub use node::{FromDeps, ToolNode, node, tool_calls};
pub use output::ToolOutput;

pub use crate::model::ToolSpec;

use std::future::Future;
use std::pin::Pin;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
use stategraph_runtime::NodeError;

/// A future a tool returns.
pub type ToolFuture<'a> = Pin<Box<dyn Future<Output = Result<ToolOutput, ToolError>> + Send + 'a>>;

/// A tool a model can call, in a graph over state `S` with dependencies `D`.
///
/// `#[tool]` implements it for an async function: for every state and dependencies when the
/// function takes only its arguments, for the ones its [`ToolContext`] names when it takes one.
pub trait Tool<S, D = ()>: Send + Sync + 'static {
    /// The tool as the model sees it: name, description, argument schema.
    fn spec(&self) -> ToolSpec;

    /// Runs the tool on `args` (the JSON object the model sent).
    fn call<'a>(&'a self, args: Value, ctx: &'a ToolContext<S, D>) -> ToolFuture<'a>;
}

/// Why a tool call did not produce a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The model's arguments do not fit the tool's argument type (serde's reason, cut to 1,000
    /// bytes).
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
    /// The tool ran and failed.
    #[error("{0}")]
    Failed(NodeError),
}

impl ToolError {
    /// A failure of the tool, from any error.
    pub fn failed(error: impl Into<NodeError>) -> Self {
        Self::Failed(error.into())
    }
}

/// The type of a tool's arguments: read from the model's JSON, described to it by a JSON
/// Schema. Implemented for every type with `serde::Deserialize` and `schemars::JsonSchema`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tool's arguments: the model needs its JSON Schema and the tool reads it with serde",
    label = "no JSON Schema or `Deserialize` for `{Self}`",
    note = "derive both on the arguments' struct: `#[derive(serde::Deserialize, schemars::JsonSchema)]`"
)]
pub trait ToolArgs: Sized {
    /// The JSON Schema the model's arguments must follow (an object schema).
    fn schema() -> Value;
    /// The arguments read from the model's JSON.
    fn parse(args: Value) -> Result<Self, ToolError>;
}

#[diagnostic::do_not_recommend]
impl<T: JsonSchema + DeserializeOwned> ToolArgs for T {
    fn schema() -> Value {
        schema_of::<T>()
    }

    fn parse(args: Value) -> Result<Self, ToolError> {
        serde_json::from_value(args)
            .map_err(|e| ToolError::InvalidArgs(crate::model::cut(&e.to_string())))
    }
}

/// The JSON Schema of `T` as a tool's parameters: `schemars`' schema without its `$schema`
/// and `title` keys, which providers do not take there.
pub fn schema_of<T: JsonSchema>() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
        if !map.contains_key("properties")
            && map.get("type").and_then(Value::as_str) == Some("object")
        {
            map.insert("properties".to_owned(), Value::Object(Default::default()));
        }
    }
    schema
}

/// The arguments of a tool that takes none: any JSON object (`{}` from the model).
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, JsonSchema)]
pub struct NoArgs {}

/// What the code `#[tool]` generates calls. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use serde_json::Value;

    use super::{ToolError, ToolOutput};
    use stategraph_runtime::NodeError;

    /// A tool function's result as the tool's.
    pub fn result<T: Into<ToolOutput>, E: Into<NodeError>>(
        result: Result<T, E>,
    ) -> Result<ToolOutput, ToolError> {
        result.map(Into::into).map_err(ToolError::failed)
    }
}
