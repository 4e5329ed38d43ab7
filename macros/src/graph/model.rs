//! The graph as the user wrote it: the module's nodes, routes and local enums, and the
//! statements of its `edges!` block. Every part keeps the user's tokens for spans.

use super::attr::NodeAttrs;
use syn::{Attribute, Ident, Item, Path, Signature, Type, Visibility};

/// `#[graph(state = S)]` or `#[graph(state = S, deps = D)]`.
pub(crate) struct GraphArgs {
    pub(crate) state: Type,
    /// The dependencies nodes and routes may use; `()` when not given.
    pub(crate) deps: Option<Type>,
    /// Nodes the run pauses before (`interrupt_before = [a, b]`).
    pub(crate) interrupt_before: Vec<Ident>,
    /// Nodes the run pauses after (`interrupt_after = [a, b]`).
    pub(crate) interrupt_after: Vec<Ident>,
    /// The retry policy of every node without its own (`retry = …`).
    pub(crate) retry: Option<syn::Expr>,
    /// The time limit of every node's attempts without its own (`timeout = …`).
    pub(crate) timeout: Option<syn::Expr>,
}

/// The annotated module.
pub(crate) struct GraphModule {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) mod_token: syn::Token![mod],
    pub(crate) ident: Ident,
    pub(crate) brace: syn::token::Brace,
    /// The items to emit: the user's, less `#[node]`/`#[route]` markers and `edges!`.
    pub(crate) items: Vec<Item>,
    pub(crate) nodes: Vec<NodeFn>,
    pub(crate) routes: Vec<RouteFn>,
    /// The `#[send]` functions, which fan a step out to one task per input.
    pub(crate) sends: Vec<SendFn>,
    /// Enums declared in the module, which a routing table can be checked against.
    pub(crate) enums: Vec<LocalEnum>,
    /// The `edges!` invocations' paths (for spans) and their statements.
    pub(crate) edges: Vec<EdgesBlock>,
    /// Whether an `edges!` block failed to parse, so shape checks would only cascade.
    pub(crate) edges_broken: bool,
}

/// A `#[node]` function.
pub(crate) struct NodeFn {
    pub(crate) ident: Ident,
    /// The name without `r#`.
    pub(crate) name: String,
    pub(crate) sig: Signature,
    /// Whether the signature is well-formed enough to hand to the type checker.
    pub(crate) signature_ok: bool,
    /// What its `#[node(…)]` arguments say.
    pub(crate) attrs: NodeAttrs,
    /// The graph it runs, for a subgraph node (`#[subgraph] type name = other::Graph;`),
    /// which has no function of its own.
    pub(crate) subgraph: Option<SubgraphDecl>,
    /// For a tool node (`#[tools] fn tools() -> ToolNode<S, D>`), the function that makes
    /// its tools; the node runs one task per tool call `tools_condition` sends it.
    pub(crate) tools: Option<Ident>,
}

/// `#[subgraph(input = f, output = g, deps = h, checkpoint = per_call)] type name = path;`
pub(crate) struct SubgraphDecl {
    /// The graph type it runs, as written.
    pub(crate) graph: Type,
    /// What `#[subgraph(…)]` says.
    pub(crate) attrs: SubgraphAttrs,
}

/// The arguments of `#[subgraph(…)]`.
#[derive(Default)]
pub(crate) struct SubgraphAttrs {
    /// `input = f`: the subgraph's input, from the enclosing state.
    pub(crate) input: Option<Path>,
    /// `output = g`: the enclosing graph's update, from the subgraph's final state.
    pub(crate) output: Option<Path>,
    /// `deps = h`: the subgraph's dependencies, from the enclosing graph's.
    pub(crate) deps: Option<Path>,
    /// `checkpoint = per_call | per_thread | none`.
    pub(crate) checkpoint: Option<Ident>,
}

impl NodeFn {
    /// Whether the node takes `&NodeContext` as a second argument.
    pub(crate) fn takes_context(&self) -> bool {
        self.sig.inputs.len() == 2
    }
}

/// The type of argument `index` of `sig`, unless it is `self` or missing.
pub(crate) fn arg_type(sig: &Signature, index: usize) -> Option<&Type> {
    match sig.inputs.iter().nth(index)? {
        syn::FnArg::Typed(typed) => Some(&typed.ty),
        syn::FnArg::Receiver(_) => None,
    }
}

/// A `#[route]` function.
pub(crate) struct RouteFn {
    pub(crate) ident: Ident,
    pub(crate) name: String,
    pub(crate) sig: Signature,
    /// The enum it returns, as written (`AfterReview`, `crate::x::AfterReview`).
    pub(crate) returns: Option<Path>,
}

impl RouteFn {
    /// Whether the route takes the graph's dependencies as a second argument.
    pub(crate) fn takes_deps(&self) -> bool {
        self.sig.inputs.len() == 2
    }
}

/// A `#[send]` function: `fn per_doc(state: &S) -> Vec<Doc>`.
pub(crate) struct SendFn {
    pub(crate) ident: Ident,
    pub(crate) name: String,
    pub(crate) sig: Signature,
    /// The input type it sends (`Doc` of `Vec<Doc>`), if it returns a `Vec`.
    pub(crate) input: Option<Type>,
}

impl SendFn {
    /// Whether it takes the graph's dependencies as a second argument.
    pub(crate) fn takes_deps(&self) -> bool {
        self.sig.inputs.len() == 2
    }
}

/// An enum declared in the graph module.
pub(crate) struct LocalEnum {
    pub(crate) ident: Ident,
    pub(crate) variants: Vec<Ident>,
}

/// One `edges! { … }` block.
pub(crate) struct EdgesBlock {
    pub(crate) path: Path,
    pub(crate) statements: Vec<Statement>,
}

/// `a -> [b, c] -> d;`, `review -> after_review { Pass => END, … };` or
/// `plan -> per_doc => summarize;`
pub(crate) struct Statement {
    pub(crate) chain: Vec<Group>,
    pub(crate) route: Option<RouteTable>,
    pub(crate) send: Option<SendArm>,
}

/// `per_doc => summarize` at the end of a chain: the send function and the node it sends to.
pub(crate) struct SendArm {
    pub(crate) fan: Ident,
    pub(crate) target: Ident,
}

/// One step of a chain: a name, or a bracketed list of names (fan-out or join).
pub(crate) enum Group {
    One(Ident),
    Many(Vec<Ident>),
}

impl Group {
    pub(crate) fn names(&self) -> &[Ident] {
        match self {
            Group::One(ident) => std::slice::from_ref(ident),
            Group::Many(idents) => idents,
        }
    }
}

/// `after_review { Pass => END, Revise => handle_revision }` at the end of a chain.
pub(crate) struct RouteTable {
    pub(crate) route: Ident,
    pub(crate) arms: Vec<RouteArm>,
}

/// `Pass => END`.
pub(crate) struct RouteArm {
    pub(crate) variant: Ident,
    pub(crate) target: Ident,
}

/// The built-in route to a tool node: `model -> tools_condition { Tools => tools, End => END }`.
pub(crate) const TOOLS_CONDITION: &str = "tools_condition";
/// Its variants: tool calls to run, or none.
pub(crate) const TOOLS_CONDITION_VARIANTS: [&str; 2] = ["Tools", "End"];

/// The reserved endpoint names.
pub(crate) const START: &str = "START";
pub(crate) const END: &str = "END";
