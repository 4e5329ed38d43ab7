//! The macros of [stategraph](https://docs.rs/stategraph): `#[derive(State)]` and `#[graph]`.
//!
//! Use them through the `stategraph` crate, which re-exports them and the runtime their code
//! names (`::stategraph::__private`). Both follow one shape: parse into a model that keeps the
//! user's tokens, check the whole input (collecting every error, each spanned on the token at
//! fault), then generate. On an error they still generate as close to the intended items as
//! they can, so one mistake reads as one error.

mod errors;
mod graph;
mod state;
mod suggest;
mod tool;

use proc_macro::TokenStream;

/// Derives `State` for a struct whose fields are channels, and generates its partial update,
/// `<Name>Update`, with a builder.
///
/// Each field is a channel. A plain field keeps the last value written; a field marked
/// `#[state(reducer = …)]` merges every write through its reducer:
///
/// - `append` — extend a `Vec` / `VecDeque`;
/// - `add` — sum a number;
/// - `messages` — add, replace or remove messages by id;
/// - `merge` — insert map entries (the write wins);
/// - a path, `reducer = keep_max` or `reducer = crate::reducers::keep_max`, naming a
///   `fn(&mut T, T)`.
///
/// The update has `new()`, a setter per field (for a reducer field the setter writes through
/// the reducer) and `replace_<field>` per reducer field, which replaces the whole value.
///
/// A runnable example is in the `stategraph` crate's documentation; in short:
///
/// ```text
/// use serde::{Deserialize, Serialize};
/// use stategraph::State;
///
/// #[derive(State, Clone, Debug, Default, Serialize, Deserialize)]
/// pub struct ResearchState {
///     pub task_id: String,
///     #[state(reducer = append)]
///     pub notes: Vec<String>,
///     #[state(reducer = add)]
///     pub retries: u32,
/// }
///
/// let update = ResearchStateUpdate::new().notes(vec!["found 3 sources".to_owned()]).retries(1u32);
/// ```
#[proc_macro_derive(State, attributes(state))]
pub fn derive_state(input: TokenStream) -> TokenStream {
    state::derive(input.into()).into()
}

/// Declares a graph on an inline module: its `#[node]` async functions, its `#[route]`
/// functions, and an `edges!` block, all checked at compile time.
///
/// A runnable example is in the `stategraph` crate's documentation; in short:
///
/// ```text
/// #[stategraph::graph(state = ResearchState)]
/// pub mod research {
///     use super::*;
///     #[node] async fn search(s: &ResearchState) -> NodeResult<ResearchState> { … }
///     #[node] async fn review(s: &ResearchState, ctx: &NodeContext) -> NodeResult<ResearchState> { … }
///     pub enum AfterReview { Pass, Retry }
///     #[route] fn after_review(s: &ResearchState) -> AfterReview { … }
///
///     edges! {
///         START -> search -> review;
///         review -> after_review { Pass => END, Retry => search };
///     }
/// }
/// ```
///
/// `edges!` statements: `a -> b -> c;` (a chain), `a -> [b, c];` (fan-out: both run in the next
/// step), `[b, c] -> d;` (join: `d` runs once both finished), `a -> [b, c] -> d;` (both), and
/// `x -> route { Variant => node_or_END, … };` (a route ends its chain), and
/// `x -> per_item => node;` (a `#[send]` function: one task of `node` per item).
///
/// Another graph is a node too: `#[subgraph] type draft = super::drafting::Graph;` (same state),
/// or `#[subgraph(input = to_inner, output = from_inner, checkpoint = per_call | per_thread |
/// none)]` for a graph over its own state.
///
/// The macro adds to the module a `Node` enum (one variant per node, in UpperCamelCase), a
/// `Graph` type implementing `GraphDef`, and `graph()`, which starts a builder.
#[proc_macro_attribute]
pub fn graph(args: TokenStream, input: TokenStream) -> TokenStream {
    graph::graph(args.into(), input.into()).into()
}

/// Makes an async function a tool a model can call (`stategraph::agent::tools::Tool`).
///
/// The doc comment is the description the model reads; the one argument, a type deriving
/// `serde::Deserialize` and `schemars::JsonSchema`, gives the JSON Schema the model's
/// arguments must follow (a tool may take no argument). A second argument
/// `ctx: &ToolContext<State>` or `&ToolContext<State, Deps>` gives the graph's state,
/// dependencies and Store, and `ctx.interrupt(…)` to ask a person. The function returns
/// `Result<T, E>` with `T` a `String`, `&str`, `serde_json::Value` or `ToolOutput` and `E` any
/// error. `#[tool(name = "web_search")]` names the tool other than the function.
///
/// The function becomes a unit struct of the same name implementing `Tool`; the function
/// itself stays callable as `name::run(…)`. A compiled example is in the documentation of
/// `stategraph::tool`, which re-exports this macro.
#[proc_macro_attribute]
pub fn tool(args: TokenStream, input: TokenStream) -> TokenStream {
    tool::tool(args.into(), input.into()).into()
}
