//! Whole-graph rules over the parsed module: every name in `edges!` resolves, every routing
//! table matches its enum, every node is reachable, has a way out, and can reach END. All
//! errors are collected, each on the user's token; shape rules run only once every name
//! resolved, since a misspelt name would otherwise make its node look unreachable too.

use proc_macro2::Span;
use quote::ToTokens;
use syn::Ident;
use syn::ext::IdentExt;

use super::model::{
    END, GraphArgs, GraphModule, Group, LocalEnum, RouteTable, START, TOOLS_CONDITION,
    TOOLS_CONDITION_VARIANTS, arg_type,
};
use crate::errors::Errors;
use crate::suggest::did_you_mean;

/// Where an edge leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Node(usize),
    End,
}

/// An edge leaving START or a node.
pub(crate) enum Edge {
    To(Target),
    Route {
        /// Index into `GraphModule::routes`.
        route: usize,
        /// The route's name as written in the table, for spans.
        written: Ident,
        arms: Vec<(Ident, Target)>,
    },
    /// `source -> per_item => target`: one task of `target` per input `per_item` returns.
    Send {
        /// Index into `GraphModule::sends`.
        send: usize,
        /// The send function's name as written, for spans.
        written: Ident,
        /// The receiving node.
        target: usize,
    },
    /// `source -> tools_condition { Tools => tools, End => other }`: one task of the tool
    /// node per tool call of the last AI message, or `other` when it made none.
    Tools {
        /// `tools_condition` as written, for spans.
        written: Ident,
        /// The tool node.
        target: usize,
        /// Where the run goes without tool calls.
        otherwise: Target,
    },
}

/// The index of the node `ident` names, once checked.
pub(crate) fn node_index(module: &GraphModule, ident: &Ident) -> Option<usize> {
    match lookup(module, ident) {
        Name::Node(i) => Some(i),
        _ => None,
    }
}

/// The resolved graph, by node index.
#[derive(Default)]
pub(crate) struct Plan {
    pub(crate) start: Vec<Edge>,
    pub(crate) edges: Vec<Vec<Edge>>,
    pub(crate) joins: Vec<(Vec<usize>, usize)>,
    /// Each node's error handler (`#[node(on_error = handler)]`).
    pub(crate) handlers: Vec<Option<usize>>,
    /// For a node that runs on sent inputs, the first `#[send]` function sending to it.
    pub(crate) inputs: Vec<Option<usize>>,
    /// Where each node is first written as the source of an edge in `edges!`.
    source_tokens: Vec<Option<Span>>,
}

impl Plan {
    fn push(&mut self, from: Option<usize>, edge: Edge) {
        let list = match from {
            None => &mut self.start,
            Some(node) => &mut self.edges[node],
        };
        // `a -> b` written twice is one edge.
        if let Edge::To(target) = edge
            && list
                .iter()
                .any(|e| matches!(e, Edge::To(t) if *t == target))
        {
            return;
        }
        list.push(edge);
    }

    /// Where each node (and START, as `None`) can go next.
    fn successors(&self, from: Option<usize>) -> Vec<Target> {
        let edges = match from {
            None => &self.start,
            Some(node) => &self.edges[node],
        };
        let mut next = Vec::new();
        for edge in edges {
            match edge {
                Edge::To(target) => next.push(*target),
                Edge::Route { arms, .. } => next.extend(arms.iter().map(|(_, target)| *target)),
                Edge::Send { target, .. } => next.push(Target::Node(*target)),
                Edge::Tools {
                    target, otherwise, ..
                } => next.extend([Target::Node(*target), *otherwise]),
            }
        }
        if let Some(node) = from {
            next.extend(self.handlers[node].map(Target::Node));
            next.extend(
                self.joins
                    .iter()
                    .filter(|(sources, _)| sources.contains(&node))
                    .map(|(_, target)| Target::Node(*target)),
            );
        }
        next
    }
}

/// What a name in `edges!` refers to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Name {
    Start,
    End,
    Node(usize),
    Route(usize),
    Send(usize),
    Unknown,
}

pub(crate) fn check(
    module: &mut GraphModule,
    args: Option<&GraphArgs>,
    errors: &mut Errors,
) -> Plan {
    check_signatures(module, errors);
    check_subgraphs(module, errors);
    if let Some(args) = args {
        check_returns(module, &args.state, errors);
        for ident in args.interrupt_before.iter().chain(&args.interrupt_after) {
            if !matches!(lookup(module, ident), Name::Node(_)) {
                no_such_node(module, ident, false, false, errors);
            }
        }
    }
    let before = errors.len();
    let mut plan = resolve(module, errors);
    resolve_handlers(module, &mut plan, errors);
    if errors.len() == before && !module.edges_broken {
        check_receivers(module, &plan, errors);
        check_shape(module, &plan, errors);
        check_joins_reentered(module, &plan, errors);
        check_routes_used(module, errors);
    }
    plan
}

/// A subgraph node may not run the graph it belongs to: each call would start another without
/// end. (A cycle through other graphs is refused when the graph is compiled.)
fn check_subgraphs(module: &GraphModule, errors: &mut Errors) {
    for node in &module.nodes {
        let Some(sub) = &node.subgraph else { continue };
        let syn::Type::Path(path) = &sub.graph else {
            continue;
        };
        let segments: Vec<String> = path
            .path
            .segments
            .iter()
            .map(|s| s.ident.unraw().to_string())
            .collect();
        let own_module = module.ident.unraw().to_string();
        let own = match segments.as_slice() {
            [graph] => graph == "Graph",
            [first, graph] if first == "self" => graph == "Graph",
            [.., module_name, graph] => graph == "Graph" && *module_name == own_module,
            [] => false,
        };
        if own {
            errors.spanned(
                &sub.graph,
                format!(
                    "subgraph `{}` runs graph `{}`, the graph it is a node of: each call would \
                     start another without end; a subgraph runs another `#[graph]` module's \
                     `Graph`",
                    node.name,
                    module.ident.unraw()
                ),
            );
        }
    }
}

fn check_signatures(module: &mut GraphModule, errors: &mut Errors) {
    let mut variants: Vec<(String, &Ident)> = Vec::new();
    for node in &mut module.nodes {
        let sig = &node.sig;
        let mut ok = true;
        if sig.asyncness.is_none() {
            errors.spanned(
                sig.fn_token,
                format!(
                    "node `{}` must be an `async fn`; write `async fn {}(…)`",
                    node.name, node.ident
                ),
            );
            ok = false;
        }
        // Lifetimes are fine (`async fn a<'a>(s: &'a S)`); type and const parameters are not.
        let generic = sig
            .generics
            .params
            .iter()
            .any(|param| !matches!(param, syn::GenericParam::Lifetime(_)));
        if generic || sig.generics.where_clause.is_some() {
            errors.spanned(
                &sig.generics,
                format!(
                    "node `{}` cannot be generic; name the concrete types",
                    node.name
                ),
            );
            ok = false;
        }
        if let Some(receiver) = sig.receiver() {
            errors.spanned(receiver, "a node is a free function; it cannot take `self`");
            ok = false;
        } else if sig.inputs.is_empty() || sig.inputs.len() > 2 {
            errors.at(
                sig.paren_token.span.join(),
                format!(
                    "node `{}` must take the state by reference, and optionally the context: \
                     `async fn {}(state: &S)` or `async fn {}(state: &S, ctx: &NodeContext)`",
                    node.name, node.ident, node.ident
                ),
            );
            ok = false;
        }
        node.signature_ok &= ok;
        let variant = upper_camel_case(&node.name);
        if let Some((_, first)) = variants.iter().find(|(v, _)| *v == variant) {
            errors.spanned(
                &node.ident,
                format!(
                    "nodes `{first}` and `{}` would both be `Node::{variant}` in the generated node enum; rename one",
                    node.ident
                ),
            );
        }
        variants.push((variant, &node.ident));
    }
    for send in &module.sends {
        let sig = &send.sig;
        if let Some(asyncness) = sig.asyncness {
            errors.spanned(asyncness, format!("send function `{}` must be a plain `fn`: it maps the state to the inputs to send; remove `async`", send.name));
        }
        if sig.inputs.is_empty() || sig.inputs.len() > 2 || sig.receiver().is_some() {
            errors.at(
                sig.paren_token.span.join(),
                format!(
                    "send function `{}` must take the state by reference, and optionally the \
                     graph's dependencies: `fn {}(state: &S) -> Vec<Input>`",
                    send.name, send.ident
                ),
            );
        }
        if send.input.is_none() {
            let message = format!(
                "send function `{}` must return a `Vec` of the inputs it sends, one task each: \
                 `fn {}(state: &S) -> Vec<Input>`",
                send.name, send.ident
            );
            match &sig.output {
                syn::ReturnType::Type(_, ty) => errors.spanned(ty, message),
                syn::ReturnType::Default => errors.spanned(&send.ident, message),
            }
        }
    }
    for route in &module.routes {
        let sig = &route.sig;
        if let Some(asyncness) = sig.asyncness {
            errors.spanned(asyncness, format!("route `{}` must be a plain `fn`: it picks the next node from the state; remove `async`", route.name));
        }
        if sig.inputs.is_empty() || sig.inputs.len() > 2 || sig.receiver().is_some() {
            errors.at(
                sig.paren_token.span.join(),
                format!(
                    "route `{}` must take the state by reference, and optionally the graph's \
                     dependencies: `fn {}(state: &S) -> MyEnum` or `fn {}(state: &S, deps: &Deps) -> MyEnum`",
                    route.name, route.ident, route.ident
                ),
            );
        }
        if route.returns.is_none() {
            let message = format!(
                "route `{}` must return an enum, whose variants its routing table maps: `fn {}(state: &S) -> MyEnum`",
                route.name, route.ident
            );
            match &sig.output {
                syn::ReturnType::Type(_, ty) => errors.spanned(ty, message),
                syn::ReturnType::Default => errors.spanned(&route.ident, message),
            }
        }
    }
}

/// The two ways to misspell a node's return type that rustc reports poorly: the update without
/// a `Result` (`-> SUpdate`), and `NodeResult` of the update instead of the state
/// (`-> NodeResult<SUpdate>`). Other types are left to the type checker, which points at them.
fn check_returns(module: &mut GraphModule, state: &syn::Type, errors: &mut Errors) {
    let syn::Type::Path(state_path) = state else {
        return;
    };
    let Some(state_ident) = state_path.path.segments.last().map(|s| &s.ident) else {
        return;
    };
    let update = format!("{}Update", state_ident.unraw());
    let state_text = state.to_token_stream().to_string();
    let expected = |node: &super::model::NodeFn| {
        format!(
            "a node returns `NodeResult<{state_text}>` (or `Result<{update}, E>` with an error type of \
             yours): `async fn {}(state: &{state_text}) -> NodeResult<{state_text}>`",
            node.ident
        )
    };
    for node in &mut module.nodes {
        let output = match &node.sig.output {
            syn::ReturnType::Type(_, ty) => &**ty,
            syn::ReturnType::Default => {
                errors.spanned(
                    &node.sig.ident,
                    format!("node `{}` returns nothing; {}", node.name, expected(node)),
                );
                node.signature_ok = false;
                continue;
            }
        };
        let syn::Type::Path(path) = output else {
            continue;
        };
        let Some(last) = path.path.segments.last() else {
            continue;
        };
        if last.ident == update {
            errors.spanned(
                output,
                format!(
                    "node `{}` returns `{update}` without a `Result`; {}",
                    node.name,
                    expected(node)
                ),
            );
            node.signature_ok = false;
        } else if last.ident == "NodeResult"
            && let syn::PathArguments::AngleBracketed(args) = &last.arguments
            && let Some(syn::GenericArgument::Type(syn::Type::Path(inner))) = args.args.first()
            && inner
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == update)
        {
            errors.spanned(
                output,
                format!(
                    "`NodeResult` takes the state type, not its update: write `NodeResult<{state_text}>`, \
                     which is `Result<{update}, NodeError>`"
                ),
            );
            fix_return_type(module_items(&mut module.items), &node.ident, state);
        }
    }
}

fn module_items(items: &mut [syn::Item]) -> impl Iterator<Item = &mut syn::ItemFn> {
    items.iter_mut().filter_map(|item| match item {
        syn::Item::Fn(function) => Some(function),
        _ => None,
    })
}

/// Emits node `ident` returning `NodeResult<state>` (its `NodeResult` as written, given the
/// state), as it meant to, so the one mistake reported above does not come back as rustc
/// errors about the same signature.
fn fix_return_type<'a>(
    mut functions: impl Iterator<Item = &'a mut syn::ItemFn>,
    ident: &Ident,
    state: &syn::Type,
) {
    let Some(function) = functions.find(|f| f.sig.ident == *ident) else {
        return;
    };
    if let syn::ReturnType::Type(_, ty) = &mut function.sig.output
        && let syn::Type::Path(path) = &mut **ty
        && let Some(last) = path.path.segments.last_mut()
    {
        last.arguments = syn::PathArguments::AngleBracketed(syn::parse_quote!(<#state>));
    }
}

/// `handle_revision` → `HandleRevision`.
pub(crate) fn upper_camel_case(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

fn lookup(module: &GraphModule, ident: &Ident) -> Name {
    let name = ident.to_string();
    if name == START {
        Name::Start
    } else if name == END {
        Name::End
    } else if let Some(i) = module
        .nodes
        .iter()
        .position(|n| n.ident == name || n.name == name)
    {
        Name::Node(i)
    } else if let Some(i) = module
        .routes
        .iter()
        .position(|r| r.ident == name || r.name == name)
    {
        Name::Route(i)
    } else if let Some(i) = module
        .sends
        .iter()
        .position(|f| f.ident == name || f.name == name)
    {
        Name::Send(i)
    } else {
        Name::Unknown
    }
}

/// "no node named `x`…", with the nearest node (or START/END where they fit) suggested.
fn no_such_node(
    module: &GraphModule,
    ident: &Ident,
    as_source: bool,
    as_target: bool,
    errors: &mut Errors,
) {
    let name = ident.to_string();
    let mut candidates: Vec<&str> = module.nodes.iter().map(|n| n.name.as_str()).collect();
    if as_source && !as_target {
        candidates.push(START);
    }
    if as_target && !as_source {
        candidates.push(END);
    }
    let hint = did_you_mean(&name, candidates.iter().copied());
    let hint = if hint.is_empty() {
        let known: Vec<String> = module
            .nodes
            .iter()
            .map(|n| format!("`{}`", n.name))
            .collect();
        if known.is_empty() {
            format!("; declare it with `#[node] async fn {name}(state: &S) -> NodeResult<S>`")
        } else {
            format!("; the nodes are {}", known.join(", "))
        }
    } else {
        hint
    };
    errors.spanned(ident, format!("no node named `{name}` in this graph{hint}"));
}

/// Resolves a name at one position of a chain, reporting what cannot stand there.
fn resolve_name(
    module: &GraphModule,
    ident: &Ident,
    as_source: bool,
    as_target: bool,
    in_list: bool,
    errors: &mut Errors,
) -> Name {
    let name = lookup(module, ident);
    match name {
        Name::Unknown => no_such_node(module, ident, as_source, as_target, errors),
        Name::Route(_) => errors.spanned(
            ident,
            format!(
                "`{ident}` is a `#[route]` function, not a node; a route ends a chain with its routing table: \
                 `node -> {ident} {{ Variant => next_node, … }}`"
            ),
        ),
        Name::Send(_) => errors.spanned(
            ident,
            format!(
                "`{ident}` is a `#[send]` function, not a node; it ends a chain, naming the node \
                 its inputs go to: `node -> {ident} => receiving_node;`"
            ),
        ),
        Name::Start if as_target => errors.spanned(
            ident,
            "START cannot be an edge target: it is where the graph begins; to loop back, name the first node instead",
        ),
        Name::Start if in_list => errors.spanned(ident, "START cannot be part of a list; write `START -> [a, b]` to start several nodes"),
        Name::End if as_source => errors.spanned(
            ident,
            "END cannot be an edge source: the graph stops there; use END only as a target (`node -> END`)",
        ),
        Name::Start | Name::End | Name::Node(_) => return name,
    }
    Name::Unknown
}

fn target_of(name: Name) -> Option<Target> {
    match name {
        Name::Node(i) => Some(Target::Node(i)),
        Name::End => Some(Target::End),
        _ => None,
    }
}

fn resolve(module: &GraphModule, errors: &mut Errors) -> Plan {
    let mut plan = Plan {
        edges: module.nodes.iter().map(|_| Vec::new()).collect(),
        inputs: receivers(module),
        source_tokens: vec![None; module.nodes.len()],
        ..Plan::default()
    };
    if module.edges.is_empty() && !module.edges_broken {
        errors.spanned(
            &module.ident,
            format!(
                "graph `{}` has no `edges!` block; add one inside the module: `edges! {{ START -> first_node; … }}`",
                module.ident
            ),
        );
        return plan;
    }
    for statement in module.edges.iter().flat_map(|block| &block.statements) {
        let last = statement.chain.len() - 1;
        let resolved: Vec<Vec<Name>> = statement
            .chain
            .iter()
            .enumerate()
            .map(|(k, group)| {
                let as_source = k < last || statement.route.is_some();
                let in_list = matches!(group, Group::Many(..));
                let names = group.names();
                for (n, ident) in names.iter().enumerate() {
                    if names[..n].iter().any(|earlier| earlier == ident) {
                        errors.spanned(
                            ident,
                            format!(
                                "`{ident}` is listed twice in this list; name each node once: \
                                 a node runs once per step however many edges lead to it"
                            ),
                        );
                    }
                }
                names
                    .iter()
                    .map(|ident| {
                        let name = resolve_name(module, ident, as_source, k > 0, in_list, errors);
                        if let Name::Node(i) = name
                            && as_source
                        {
                            plan.source_tokens[i].get_or_insert(ident.span());
                        }
                        name
                    })
                    .collect()
            })
            .collect();
        for pair in resolved.windows(2) {
            let (sources, targets) = (&pair[0], &pair[1]);
            let targets: Vec<Target> = targets.iter().filter_map(|n| target_of(*n)).collect();
            if sources.len() == 1 {
                let from = match sources[0] {
                    Name::Start => None,
                    Name::Node(i) => Some(i),
                    _ => continue,
                };
                for &target in &targets {
                    plan.push(from, Edge::To(target));
                }
            } else {
                let nodes: Vec<usize> = sources
                    .iter()
                    .filter_map(|n| match n {
                        Name::Node(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                if nodes.len() != sources.len() {
                    continue;
                }
                for &target in &targets {
                    match target {
                        Target::Node(join) => {
                            if !plan.joins.iter().any(|(s, t)| *s == nodes && *t == join) {
                                plan.joins.push((nodes.clone(), join));
                            }
                        }
                        // Waiting for all of them to reach END is the same as each reaching it.
                        Target::End => {
                            for &node in &nodes {
                                plan.push(Some(node), Edge::To(Target::End));
                            }
                        }
                    }
                }
            }
        }
        if let Some(arm) = &statement.send {
            resolve_send(module, &mut plan, resolved.last(), arm, errors);
        }
        if let Some(table) = &statement.route {
            let Some(sources) = resolved.last() else {
                continue;
            };
            let group = &statement.chain[last];
            if sources.len() != 1 {
                errors.spanned(
                    group.names().first().expect("lists are not empty"),
                    format!(
                        "a route follows one node; write one statement per source: `a -> {0} {{ … }}; b -> {0} {{ … }};`",
                        table.route
                    ),
                );
                continue;
            }
            let from = match sources[0] {
                Name::Start => None,
                Name::Node(i) => Some(i),
                _ => None,
            };
            if is_tools_condition(module, &table.route) {
                if let Some(edge) = resolve_tools_condition(module, table, errors)
                    && matches!(sources[0], Name::Start | Name::Node(_))
                {
                    plan.push(from, edge);
                }
                continue;
            }
            let route = resolve_table(module, table, errors);
            if matches!(sources[0], Name::Start | Name::Node(_))
                && let Some((route, arms)) = route
            {
                plan.push(
                    from,
                    Edge::Route {
                        route,
                        written: table.route.clone(),
                        arms,
                    },
                );
            }
        }
    }
    plan
}

/// Resolves `source -> per_item => target`: a send function, and the node its inputs go to.
fn resolve_send(
    module: &GraphModule,
    plan: &mut Plan,
    sources: Option<&Vec<Name>>,
    arm: &super::model::SendArm,
    errors: &mut Errors,
) {
    let from = match sources.map(Vec::as_slice) {
        Some([Name::Start]) => None,
        Some([Name::Node(i)]) => Some(*i),
        Some([_]) | None => return,
        Some(_) => {
            errors.spanned(
                &arm.fan,
                format!(
                    "a send follows one node; write one statement per source: `a -> {0} => target; b -> {0} => target;`",
                    arm.fan
                ),
            );
            return;
        }
    };
    let send = match lookup(module, &arm.fan) {
        Name::Send(i) => Some(i),
        _ => {
            let name = arm.fan.to_string();
            let hint = did_you_mean(&name, module.sends.iter().map(|f| f.name.as_str()));
            let hint = if hint.is_empty() {
                format!("; declare it with `#[send] fn {name}(state: &S) -> Vec<Input>`")
            } else {
                hint
            };
            errors.spanned(
                &arm.fan,
                format!("no `#[send]` function named `{name}` in this graph{hint}"),
            );
            None
        }
    };
    let target = match lookup(module, &arm.target) {
        Name::Node(i) if module.nodes[i].subgraph.is_some() => {
            errors.spanned(
                &arm.target,
                format!(
                    "`{}` is a subgraph, which runs on the state, not on sent inputs; send to a \
                     `#[node]` that takes the input, and have it lead to the subgraph",
                    module.nodes[i].name
                ),
            );
            None
        }
        Name::Node(i) if module.nodes[i].tools.is_some() => {
            errors.spanned(
                &arm.target,
                format!(
                    "`{0}` is a tool node, which runs on the tool calls of the last AI message: \
                     reach it through `tools_condition` (`model -> tools_condition {{ Tools => {0}, \
                     End => END }};`), not a `#[send]` function",
                    module.nodes[i].name
                ),
            );
            None
        }
        Name::Node(i) => Some(i),
        Name::End | Name::Start => {
            errors.spanned(
                &arm.target,
                format!(
                    "a send's inputs go to a node, which runs once per input; `{}` is not a node",
                    arm.target
                ),
            );
            None
        }
        _ => {
            no_such_node(module, &arm.target, false, true, errors);
            None
        }
    };
    if let (Some(send), Some(target)) = (send, target) {
        plan.push(
            from,
            Edge::Send {
                send,
                written: arm.fan.clone(),
                target,
            },
        );
    }
}

/// Whether `route` names the built-in `tools_condition` (a `#[route]` of the same name wins).
fn is_tools_condition(module: &GraphModule, route: &Ident) -> bool {
    route == TOOLS_CONDITION && !matches!(lookup(module, route), Name::Route(_))
}

/// Resolves `tools_condition { Tools => tool_node, End => next }`: exactly those two arms, the
/// first leading to a `#[tools]` node.
fn resolve_tools_condition(
    module: &GraphModule,
    table: &RouteTable,
    errors: &mut Errors,
) -> Option<Edge> {
    let mut tools = None;
    let mut otherwise = None;
    let mut complete = true;
    for arm in &table.arms {
        let variant = arm.variant.to_string();
        if !TOOLS_CONDITION_VARIANTS.contains(&variant.as_str()) {
            let hint = did_you_mean(&variant, TOOLS_CONDITION_VARIANTS.iter().copied());
            let hint = if hint.is_empty() {
                "; its variants are `Tools` (the last AI message called tools) and `End` (it did not)".to_owned()
            } else {
                hint
            };
            errors.spanned(
                &arm.variant,
                format!("`tools_condition` has no variant `{variant}`{hint}"),
            );
            complete = false;
            continue;
        }
        let slot = if variant == "Tools" {
            &mut tools
        } else {
            &mut otherwise
        };
        if slot.is_some() {
            errors.spanned(
                &arm.variant,
                format!("the routing table for `tools_condition` maps `{variant}` twice; remove one of the arms"),
            );
            complete = false;
            continue;
        }
        let target = resolve_name(module, &arm.target, false, true, false, errors);
        if variant == "Tools" {
            match target {
                Name::Node(i) if module.nodes[i].tools.is_some() => *slot = Some(Target::Node(i)),
                Name::Node(_) | Name::End => {
                    let tool_nodes: Vec<String> = module
                        .nodes
                        .iter()
                        .filter(|n| n.tools.is_some())
                        .map(|n| format!("`{}`", n.name))
                        .collect();
                    let hint = if tool_nodes.is_empty() {
                        "; declare one with `#[tools] fn tools() -> ToolNode<S, D> { ToolNode::new().tool(search) }`".to_owned()
                    } else {
                        format!("; the tool nodes are {}", tool_nodes.join(", "))
                    };
                    errors.spanned(
                        &arm.target,
                        format!(
                            "`{}` is not a tool node: `Tools` sends each tool call of the last AI message to a node declared with `#[tools]`{hint}",
                            arm.target
                        ),
                    );
                    complete = false;
                }
                _ => complete = false,
            }
        } else {
            match target_of(target) {
                Some(target) => *slot = Some(target),
                None => complete = false,
            }
        }
    }
    for (variant, slot) in TOOLS_CONDITION_VARIANTS.iter().zip([&tools, &otherwise]) {
        if slot.is_none() && complete && !table.arms.iter().any(|a| a.variant == variant) {
            errors.spanned(
                &table.route,
                format!(
                    "routing table for `tools_condition` does not map `{variant}`; write `tools_condition {{ Tools => tools, End => END }}`"
                ),
            );
            complete = false;
        }
    }
    match (tools, otherwise, complete) {
        (Some(Target::Node(target)), Some(otherwise), true) => Some(Edge::Tools {
            written: table.route.clone(),
            target,
            otherwise,
        }),
        _ => None,
    }
}

/// For each node that runs on sent inputs, the first `#[send]` function sending to it, read from
/// the `edges!` statements as written (so the node is generated as a receiver even when the
/// graph has other errors).
pub(crate) fn receivers(module: &GraphModule) -> Vec<Option<usize>> {
    let mut inputs = vec![None; module.nodes.len()];
    for arm in module
        .edges
        .iter()
        .flat_map(|block| &block.statements)
        .filter_map(|statement| statement.send.as_ref())
    {
        if let (Name::Send(send), Name::Node(node)) =
            (lookup(module, &arm.fan), lookup(module, &arm.target))
            && module.nodes[node].subgraph.is_none()
            && module.nodes[node].tools.is_none()
        {
            inputs[node].get_or_insert(send);
        }
    }
    inputs
}

/// A node that runs on sent inputs is reached only through sends: an edge, a route arm or a
/// join leading to it would schedule it with no input.
fn check_receivers(module: &GraphModule, plan: &Plan, errors: &mut Errors) {
    let statements = module.edges.iter().flat_map(|block| &block.statements);
    for statement in statements {
        let tools_arm = |table: &RouteTable, arm: &super::model::RouteArm| {
            is_tools_condition(module, &table.route) && arm.variant == "Tools"
        };
        let plain_targets = statement
            .chain
            .iter()
            .skip(1)
            .flat_map(|group| group.names())
            .chain(statement.route.iter().flat_map(|t| {
                t.arms
                    .iter()
                    .filter(move |a| !tools_arm(t, a))
                    .map(|a| &a.target)
            }));
        for ident in plain_targets.clone() {
            if let Name::Node(i) = lookup(module, ident)
                && module.nodes[i].tools.is_some()
            {
                errors.spanned(
                    ident,
                    format!(
                        "node `{0}` is a tool node, which runs once per tool call of the last AI \
                         message: reach it through `tools_condition` (`model -> tools_condition \
                         {{ Tools => {0}, End => END }};`)",
                        module.nodes[i].name
                    ),
                );
            }
        }
        for ident in plain_targets {
            if let Name::Node(i) = lookup(module, ident)
                && let Some(send) = plan.inputs[i]
            {
                errors.spanned(
                    ident,
                    format!(
                        "node `{}` runs once per input `{}` sends it, so it cannot also be a plain \
                         target: it would run with no input; send to it (`… -> {} => {};`) or \
                         use another node here",
                        module.nodes[i].name,
                        module.sends[send].name,
                        module.sends[send].name,
                        module.nodes[i].name
                    ),
                );
            }
        }
    }
    for (i, handler) in plan.handlers.iter().enumerate() {
        if let Some(h) = handler
            && plan.inputs[*h].is_some()
        {
            errors.spanned(
                module.nodes[i]
                    .attrs
                    .on_error
                    .as_ref()
                    .expect("a handler was named"),
                format!(
                    "node `{}` runs on sent inputs, so it cannot be an error handler",
                    module.nodes[*h].name
                ),
            );
        }
    }
}

/// Resolves a routing table: the route, its arms' targets, and its variants against the enum
/// when the enum is declared in the module.
fn resolve_table(
    module: &GraphModule,
    table: &RouteTable,
    errors: &mut Errors,
) -> Option<(usize, Vec<(Ident, Target)>)> {
    let route = match lookup(module, &table.route) {
        Name::Route(i) => Some(i),
        Name::Node(_) => {
            errors.spanned(
                &table.route,
                format!(
                    "`{0}` is a node, not a `#[route]` function; a routing table needs `#[route] fn {0}(state: &S) -> MyEnum`",
                    table.route
                ),
            );
            None
        }
        _ => {
            let name = table.route.to_string();
            let hint = did_you_mean(&name, module.routes.iter().map(|r| r.name.as_str()));
            let hint = if hint.is_empty() {
                format!("; declare it with `#[route] fn {name}(state: &S) -> MyEnum`")
            } else {
                hint
            };
            errors.spanned(
                &table.route,
                format!("no `#[route]` function named `{name}` in this graph{hint}"),
            );
            None
        }
    };
    let mut arms = Vec::new();
    let mut complete = true;
    for arm in &table.arms {
        match target_of(resolve_name(
            module,
            &arm.target,
            false,
            true,
            false,
            errors,
        )) {
            Some(target) => arms.push((arm.variant.clone(), target)),
            None => complete = false,
        }
    }
    let route = route?;
    if let Some(local) = local_enum(module, route) {
        check_variants(module, route, local, table, errors);
    }
    complete.then_some((route, arms))
}

/// The enum a route returns, if it is declared in the graph module.
fn local_enum(module: &GraphModule, route: usize) -> Option<&LocalEnum> {
    let path = module.routes[route].returns.as_ref()?;
    let local =
        path.segments.len() == 1 || (path.segments.len() == 2 && path.segments[0].ident == "self");
    let last = &path.segments.last()?.ident;
    module.enums.iter().find(|e| local && e.ident == *last)
}

fn check_variants(
    module: &GraphModule,
    route: usize,
    local: &LocalEnum,
    table: &RouteTable,
    errors: &mut Errors,
) {
    let route_name = &module.routes[route].name;
    let enum_name = &local.ident;
    let mut seen: Vec<&Ident> = Vec::new();
    // A misspelt variant is one mistake: its suggestion is not also reported as unmapped.
    let mut suggested: Vec<String> = Vec::new();
    for arm in &table.arms {
        let variant = &arm.variant;
        if !local.variants.iter().any(|v| v == variant) {
            let names: Vec<String> = local.variants.iter().map(ToString::to_string).collect();
            let near =
                crate::suggest::nearest(&variant.to_string(), names.iter().map(String::as_str));
            suggested.extend(near.map(str::to_owned));
            let hint = did_you_mean(&variant.to_string(), names.iter().map(String::as_str));
            let hint = if hint.is_empty() {
                format!(
                    "; its variants are {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                hint
            };
            errors.spanned(
                variant,
                format!("`{enum_name}` has no variant `{variant}`{hint}"),
            );
        } else if seen.contains(&variant) {
            errors.spanned(
                variant,
                format!(
                    "the routing table for `{route_name}` maps `{enum_name}::{variant}` twice; remove one of the arms"
                ),
            );
        }
        seen.push(variant);
    }
    for variant in &local.variants {
        if !table.arms.iter().any(|arm| arm.variant == *variant)
            && !suggested.contains(&variant.to_string())
        {
            errors.spanned(
                &table.route,
                format!(
                    "routing table for `{route_name}` does not map `{enum_name}::{variant}`; add `{variant} => <node or END>`"
                ),
            );
        }
    }
}

/// Each `on_error = handler` names another node of the graph.
fn resolve_handlers(module: &GraphModule, plan: &mut Plan, errors: &mut Errors) {
    plan.handlers = vec![None; module.nodes.len()];
    for (i, node) in module.nodes.iter().enumerate() {
        let Some(handler) = &node.attrs.on_error else {
            continue;
        };
        match lookup(module, handler) {
            Name::Node(j) if j == i => errors.spanned(
                handler,
                format!(
                    "node `{}` cannot handle its own failure: that would run it again with no way out; \
                     give it `retry = …` for another attempt, or a handler node that decides where to go",
                    node.name
                ),
            ),
            Name::Node(j) => plan.handlers[i] = Some(j),
            Name::Route(_) => errors.spanned(
                handler,
                format!(
                    "`{handler}` is a `#[route]` function, not a node; an error handler is a node \
                     (`#[node] async fn {handler}(state: &S, ctx: &NodeContext) -> NodeResult<S>`) whose edges decide where to go"
                ),
            ),
            Name::Start | Name::End | Name::Send(_) => errors.spanned(
                handler,
                format!("`{handler}` is not a node; an error handler is a node of the graph, whose edges decide where to go (END among them)"),
            ),
            Name::Unknown => no_such_node(module, handler, false, false, errors),
        }
    }
}

fn check_shape(module: &GraphModule, plan: &Plan, errors: &mut Errors) {
    let nodes = module.nodes.len();
    if plan.start.is_empty() {
        let span = module
            .edges
            .first()
            .map(|block| block.path.to_token_stream());
        errors.spanned(
            span.unwrap_or_else(|| module.ident.to_token_stream()),
            "no edge leaves START, so the graph cannot begin; add `START -> first_node;` to `edges!`",
        );
    }

    // Forward from START.
    let mut reached = vec![false; nodes];
    let mut queue: Vec<Option<usize>> = vec![None];
    while let Some(from) = queue.pop() {
        for target in plan.successors(from) {
            if let Target::Node(i) = target
                && !reached[i]
            {
                reached[i] = true;
                queue.push(Some(i));
            }
        }
    }
    if !plan.start.is_empty() {
        for (i, node) in module.nodes.iter().enumerate() {
            if !reached[i] {
                errors.spanned(
                    &node.ident,
                    format!(
                        "node `{0}` is unreachable: no path from START leads to it; add an edge to it in `edges!` \
                         (`… -> {0};`) or remove the node",
                        node.name
                    ),
                );
            }
        }
    }

    let mut dead_ends = false;
    for (i, node) in module.nodes.iter().enumerate() {
        if plan.successors(Some(i)).is_empty() {
            dead_ends = true;
            errors.spanned(
                &node.ident,
                format!("node `{0}` has no outgoing edge; add `{0} -> next_node;` or `{0} -> END;` to `edges!`", node.name),
            );
        }
    }
    if dead_ends || plan.start.is_empty() {
        return;
    }

    // Backward from END: a node that cannot get there loops forever once entered.
    let mut ends = vec![false; nodes];
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..nodes {
            if !ends[i]
                && plan.successors(Some(i)).iter().any(|t| match t {
                    Target::End => true,
                    Target::Node(j) => ends[*j],
                })
            {
                ends[i] = true;
                changed = true;
            }
        }
    }
    let stuck: Vec<usize> = (0..nodes).filter(|&i| reached[i] && !ends[i]).collect();
    if stuck.is_empty() {
        return;
    }
    let names: Vec<String> = stuck
        .iter()
        .map(|&i| format!("`{}`", module.nodes[i].name))
        .collect();
    let start_ends = plan.successors(None).iter().any(|t| match t {
        Target::End => true,
        Target::Node(j) => ends[*j],
    });
    let (looping, from) = if names.len() == 1 {
        (format!("{} loops", names[0]), "from it")
    } else {
        (format!("{} loop", names.join(", ")), "from one of them")
    };
    let message = if start_ends {
        format!(
            "once the run enters node `{}` it never reaches END: {looping} without an exit; \
             add an edge or a route arm {from} to END",
            module.nodes[stuck[0]].name
        )
    } else {
        format!(
            "no path from START reaches END: {looping} without an exit; add an edge or a route arm {from} to END"
        )
    };
    // Point at the loop: where the first stuck node leads on in `edges!`.
    match plan.source_tokens[stuck[0]] {
        Some(span) => errors.at(span, message),
        None => errors.spanned(&module.nodes[stuck[0]].ident, message),
    }
}

/// A `#[route]` function no routing table uses would never run: say so, rather than leave
/// rustc's dead-code warning to hint at it.
/// A loop from a join's target that runs one of its sources again but can never run another
/// leaves the join waiting forever: the source that ran again, whose only way on is the join,
/// is a dead end (and a run that has nothing else left stops there, short of END).
fn check_joins_reentered(module: &GraphModule, plan: &Plan, errors: &mut Errors) {
    let nodes = module.nodes.len();
    for (sources, target) in &plan.joins {
        // Every node a run can reach after the join fired.
        let mut after = vec![false; nodes];
        let mut queue = vec![*target];
        while let Some(from) = queue.pop() {
            for next in plan.successors(Some(from)) {
                if let Target::Node(i) = next
                    && !after[i]
                {
                    after[i] = true;
                    queue.push(i);
                }
            }
        }
        let Some(&again) = sources.iter().find(|&&s| after[s]) else {
            continue;
        };
        let Some(&never) = sources.iter().find(|&&s| !after[s]) else {
            continue;
        };
        // A source with ways on besides its joins is not stuck when a join waits.
        let only_joins = plan.edges[again].is_empty() && plan.handlers[again].is_none();
        if !only_joins {
            continue;
        }
        let name = |i: usize| module.nodes[i].name.as_str();
        let list: Vec<&str> = sources.iter().map(|&s| name(s)).collect();
        let message = format!(
            "after the join `[{}] -> {}` fires, the run can reach `{}` again but never `{}`: the join would wait for `{}` forever and the branch through `{}` would stop there; \
             route the loop back to every source of the join (`-> [{}]`) or to a node before them",
            list.join(", "),
            name(*target),
            name(again),
            name(never),
            name(never),
            name(again),
            list.join(", "),
        );
        match plan.source_tokens[again] {
            Some(span) => errors.at(span, message),
            None => errors.spanned(&module.nodes[again].ident, message),
        }
    }
}

fn check_routes_used(module: &GraphModule, errors: &mut Errors) {
    let used: Vec<String> = module
        .edges
        .iter()
        .flat_map(|block| &block.statements)
        .filter_map(|statement| statement.route.as_ref())
        .map(|table| table.route.to_string())
        .collect();
    let sent: Vec<String> = module
        .edges
        .iter()
        .flat_map(|block| &block.statements)
        .filter_map(|statement| statement.send.as_ref())
        .map(|arm| arm.fan.to_string())
        .collect();
    for send in &module.sends {
        if !sent
            .iter()
            .any(|name| name.trim_start_matches("r#") == send.name)
        {
            errors.spanned(
                &send.ident,
                format!(
                    "send function `{0}` is used by no edge, so it would never run; use it in \
                     `edges!` (`node -> {0} => receiving_node;`) or remove it",
                    send.name
                ),
            );
        }
    }
    for route in &module.routes {
        if !used
            .iter()
            .any(|name| name.trim_start_matches("r#") == route.name)
        {
            errors.spanned(
                &route.ident,
                format!(
                    "route `{0}` is used by no edge, so it would never run; use it in `edges!` \
                     (`node -> {0} {{ Variant => target, … }};`) or remove it",
                    route.name
                ),
            );
        }
    }
}

/// Where a node's signature looks wrong: its first argument when it is not `&first` (the state,
/// or the input a receiving node is sent), its context, or its return type; the state type when
/// it looks right.
pub(crate) fn signature_span(
    node: &super::model::NodeFn,
    first: &syn::Type,
    state: &syn::Type,
    deps: Option<&syn::Type>,
) -> Span {
    let state_text = first.to_token_stream().to_string();
    let looks_like_state = |ty: Option<&syn::Type>| match ty {
        Some(syn::Type::Reference(reference)) => {
            reference.elem.to_token_stream().to_string() == state_text
        }
        _ => false,
    };
    let state_arg = arg_type(&node.sig, 0);
    if !looks_like_state(state_arg)
        && let Some(ty) = state_arg
    {
        return syn::spanned::Spanned::span(ty);
    }
    if node.takes_context()
        && let Some(ty) = arg_type(&node.sig, 1)
    {
        // Not a `NodeContext`, or one over other dependencies than the graph's.
        let expected = deps.map_or_else(
            || "()".to_owned(),
            |deps| deps.to_token_stream().to_string(),
        );
        let fits = context_deps(ty)
            .is_some_and(|written| written.unwrap_or_else(|| "()".to_owned()) == expected);
        if !fits {
            return syn::spanned::Spanned::span(ty);
        }
    }
    match &node.sig.output {
        syn::ReturnType::Type(_, ty) => {
            let is_result = matches!(&**ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "NodeResult" || s.ident == "Result"));
            if returns_node_result(node, state).is_some() {
                // The signature is what a node over the state is: the only bound left to fail
                // is the state's own, which is then reported once, at `state = S`.
                syn::spanned::Spanned::span(state)
            } else if is_result {
                node.ident.span()
            } else {
                syn::spanned::Spanned::span(&**ty)
            }
        }
        syn::ReturnType::Default => node.sig.paren_token.span.close(),
    }
}

/// The return type of a node written as `NodeResult<state>`.
fn returns_node_result<'a>(
    node: &'a super::model::NodeFn,
    state: &syn::Type,
) -> Option<&'a syn::Type> {
    let syn::ReturnType::Type(_, ty) = &node.sig.output else {
        return None;
    };
    let syn::Type::Path(path) = &**ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let names_state = last.ident == "NodeResult"
        && args.args.len() == 1
        && args.args.to_token_stream().to_string() == state.to_token_stream().to_string();
    names_state.then_some(&**ty)
}

/// The type argument of a `NodeContext<…>` as written (`None` for a bare `NodeContext`), or
/// `None` for another type.
fn context_deps(ty: &syn::Type) -> Option<Option<String>> {
    let syn::Type::Reference(reference) = ty else {
        return None;
    };
    let syn::Type::Path(path) = &*reference.elem else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "NodeContext" {
        return None;
    }
    Some(match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => Some(args.args.to_token_stream().to_string()),
        _ => None,
    })
}
