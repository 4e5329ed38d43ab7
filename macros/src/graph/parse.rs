//! Reading `#[graph(state = S)] mod m { … }`: the attribute, the module's items, and the
//! `edges!` DSL.
//!
//! ```text
//! edges     := (statement ";")*
//! statement := group ("->" group)* [route-table]
//! group     := name | "[" name ("," name)* [","] "]"
//! route-table := "{" (Variant "=>" name ("," …)*) "}"     // after a single route name
//! send      := "=>" name                                  // after a single send function
//! ```

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Item, ItemFn, ItemMod, Token, Type, braced, bracketed};

use super::attr;
use super::model::{
    EdgesBlock, GraphArgs, GraphModule, Group, LocalEnum, NodeFn, RouteArm, RouteFn, RouteTable,
    SendArm, SendFn, Statement, SubgraphDecl,
};
use crate::errors::Errors;

/// The marker attributes and the edges macro.
const NODE: &str = "node";
const ROUTE: &str = "route";
const SEND: &str = "send";
const SUBGRAPH: &str = "subgraph";
const TOOLS: &str = "tools";
const EDGES: &str = "edges";
/// Names the macro generates in the module.
pub(crate) const RESERVED: [(&str, &str); 4] = [
    ("Node", "the node enum"),
    ("Graph", "the graph type"),
    ("Compiled", "the compiled graph's type"),
    ("graph", "the builder function"),
];

/// Reads `state = S` and `deps = D`.
pub(crate) fn args(tokens: TokenStream, errors: &mut Errors) -> Option<GraphArgs> {
    let mut state: Option<Type> = None;
    let mut deps: Option<Type> = None;
    let mut interrupt_before: Vec<Ident> = Vec::new();
    let mut interrupt_after: Vec<Ident> = Vec::new();
    let mut retry: Option<syn::Expr> = None;
    let mut timeout: Option<syn::Expr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("state") {
            if state.is_some() {
                return Err(meta.error("duplicate `state`: a graph has one state type"));
            }
            state = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("deps") {
            if deps.is_some() {
                return Err(meta.error(
                    "duplicate `deps`: a graph has one dependencies type; group them in a struct",
                ));
            }
            deps = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("interrupt_before") || meta.path.is_ident("interrupt_after") {
            let value = meta.value()?;
            let content;
            bracketed!(content in value);
            let names =
                Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, Ident::parse_any)?;
            if meta.path.is_ident("interrupt_before") {
                interrupt_before.extend(names);
            } else {
                interrupt_after.extend(names);
            }
            Ok(())
        } else if meta.path.is_ident("retry") || meta.path.is_ident("timeout") {
            let slot = if meta.path.is_ident("retry") {
                &mut retry
            } else {
                &mut timeout
            };
            if slot.is_some() {
                return Err(meta.error("given twice; keep one"));
            }
            *slot = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown `graph` argument; the arguments are `state`, `deps`, `interrupt_before`, \
                 `interrupt_after`, `retry` and `timeout`, as in `#[graph(state = MyState, \
                 deps = MyDeps, interrupt_before = [review], retry = 3)]`",
            ))
        }
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, tokens) {
        errors.push(error);
        return None;
    }
    if state.is_none() {
        errors.at(
            proc_macro2::Span::call_site(),
            "`#[graph]` needs the state type: `#[graph(state = MyState)]`",
        );
    }
    state.map(|state| GraphArgs {
        state,
        deps,
        interrupt_before,
        interrupt_after,
        retry,
        timeout,
    })
}

/// Reads the module, taking out the `#[node]`/`#[route]` markers and the `edges!` blocks.
pub(crate) fn module(item: ItemMod, errors: &mut Errors) -> Result<GraphModule, syn::Error> {
    let Some((brace, items)) = item.content else {
        return Err(syn::Error::new_spanned(
            &item.ident,
            format!(
                "`#[graph]` needs the module inline, with its nodes and edges: `mod {} {{ … }}`",
                item.ident
            ),
        ));
    };
    let mut module = GraphModule {
        attrs: item.attrs,
        vis: item.vis,
        mod_token: item.mod_token,
        ident: item.ident,
        brace,
        items: Vec::new(),
        nodes: Vec::new(),
        routes: Vec::new(),
        sends: Vec::new(),
        enums: Vec::new(),
        edges: Vec::new(),
        edges_broken: false,
    };
    for item in items {
        read_item(item, &mut module, errors);
    }
    Ok(module)
}

fn read_item(item: Item, module: &mut GraphModule, errors: &mut Errors) {
    if let Some(ident) = item_ident(&item)
        && let Some((name, what)) = RESERVED.iter().find(|(name, _)| ident == name)
    {
        errors.spanned(
            ident,
            format!(
                "`{name}` is generated by `#[graph]` ({what}) in this module; rename this item"
            ),
        );
        // A node or route by that name still counts as declared, so the edges naming it do
        // not add errors of their own; the item itself is not emitted (it would clash).
        if let Item::Fn(mut function) = item {
            let name = function.sig.ident.unraw().to_string();
            if let Some(attr) = take_marker(&mut function.attrs, NODE) {
                let mut node = node_fn(&function, name, &attr, errors);
                node.signature_ok = false;
                module.nodes.push(node);
            } else if take_marker(&mut function.attrs, ROUTE).is_some() {
                module.routes.push(route_fn(&function, name));
            }
        }
        return;
    }
    match item {
        Item::Fn(mut function) if function.attrs.iter().any(|a| a.path().is_ident(TOOLS)) => {
            let marker = take_marker(&mut function.attrs, TOOLS).expect("found above");
            let name = function.sig.ident.unraw().to_string();
            if let Some(first) = declared(module, &name) {
                errors.spanned(
                    &function.sig.ident,
                    format!(
                        "two nodes are named `{name}`: this tool node and the {first} declared \
                         above; node names must be unique within a graph, so rename one"
                    ),
                );
                return;
            }
            module
                .nodes
                .push(tools_node(&function, name, &marker, errors));
            module.items.push(Item::Fn(function));
        }
        Item::Fn(mut function) => {
            let node = take_marker(&mut function.attrs, NODE);
            let route = take_marker(&mut function.attrs, ROUTE);
            let send = take_marker(&mut function.attrs, SEND);
            let markers = [&node, &route, &send]
                .iter()
                .filter(|m| m.is_some())
                .count();
            if markers > 1 {
                let attr = [&node, &route, &send].into_iter().flatten().nth(1);
                errors.spanned(
                    attr.expect("two markers"),
                    "a function is one of `#[node]`, `#[route]` or `#[send]`, not several",
                );
            }
            let name = function.sig.ident.unraw().to_string();
            if markers > 0 {
                let taken = module
                    .nodes
                    .iter()
                    .map(|n| &n.ident)
                    .chain(module.routes.iter().map(|r| &r.ident))
                    .chain(module.sends.iter().map(|s| &s.ident));
                if let Some(first) = taken.into_iter().find(|ident| ident.unraw() == name) {
                    let what = if module.nodes.iter().any(|n| n.ident == *first) {
                        "node"
                    } else {
                        "route"
                    };
                    errors.spanned(
                        &function.sig.ident,
                        format!(
                            "two nodes are named `{name}`: this one and the {what} declared above; \
                             node and route names must be unique within a graph, so rename one"
                        ),
                    );
                    // Drop the second copy, so rustc does not add its own duplicate-definition error.
                    return;
                }
            }
            if let Some(attr) = &node {
                module.nodes.push(node_fn(&function, name, attr, errors));
            } else if let Some(attr) = &route {
                attr::no_arguments(attr, ROUTE, errors);
                module.routes.push(route_fn(&function, name));
            } else if let Some(attr) = &send {
                attr::no_arguments(attr, SEND, errors);
                module.sends.push(send_fn(&function, name));
            }
            module.items.push(Item::Fn(function));
        }
        Item::Type(mut alias) if alias.attrs.iter().any(|a| a.path().is_ident(SUBGRAPH)) => {
            let marker = take_marker(&mut alias.attrs, SUBGRAPH).expect("found above");
            let name = alias.ident.unraw().to_string();
            if let Some(first) = declared(module, &name) {
                errors.spanned(
                    &alias.ident,
                    format!(
                        "two nodes are named `{name}`: this subgraph and the {first} declared \
                         above; node names must be unique within a graph, so rename one"
                    ),
                );
                return;
            }
            module
                .nodes
                .push(subgraph_node(&alias, name, &marker, errors));
        }
        Item::Enum(item_enum) => {
            module.enums.push(LocalEnum {
                ident: item_enum.ident.clone(),
                variants: item_enum.variants.iter().map(|v| v.ident.clone()).collect(),
            });
            module.items.push(Item::Enum(item_enum));
        }
        Item::Macro(mac) if mac.ident.is_none() && mac.mac.path.is_ident(EDGES) => {
            match mac.mac.parse_body_with(parse_statements) {
                Ok(statements) => module.edges.push(EdgesBlock {
                    path: mac.mac.path,
                    statements,
                }),
                Err(error) => {
                    errors.push(error);
                    module.edges_broken = true;
                }
            }
        }
        mut other => {
            if let Some(attrs) = item_attrs_mut(&mut other) {
                for marker in [NODE, ROUTE, SEND, TOOLS] {
                    if let Some(attr) = take_marker(attrs, marker) {
                        errors.spanned(
                            &attr,
                            format!(
                                "`#[{marker}]` marks a function of the graph; put it on an `fn`"
                            ),
                        );
                    }
                }
                if let Some(attr) = take_marker(attrs, SUBGRAPH) {
                    errors.spanned(
                        &attr,
                        "`#[subgraph]` goes on a type alias naming the graph the node runs: \
                         `#[subgraph] type draft = drafting::Graph;`",
                    );
                }
            }
            module.items.push(other);
        }
    }
}

/// What is already declared under `name`: `"node"`, `"route"` or `"send function"`.
fn declared(module: &GraphModule, name: &str) -> Option<&'static str> {
    if module.nodes.iter().any(|n| n.name == name) {
        Some("node")
    } else if module.routes.iter().any(|r| r.name == name) {
        Some("route")
    } else if module.sends.iter().any(|s| s.name == name) {
        Some("send function")
    } else {
        None
    }
}

/// A subgraph node: a node without a function of its own, which runs the aliased graph.
fn subgraph_node(
    alias: &syn::ItemType,
    name: String,
    marker: &syn::Attribute,
    errors: &mut Errors,
) -> NodeFn {
    let ident = &alias.ident;
    if !alias.generics.params.is_empty() {
        errors.spanned(&alias.generics, "a subgraph alias takes no parameters");
    }
    let before = errors.len();
    let attrs = attr::subgraph(marker, errors);
    NodeFn {
        ident: ident.clone(),
        name,
        // What the signature checks see: a well-formed node, so they report nothing of it.
        sig: syn::parse_quote!(async fn #ident(state: &()) -> ()),
        // Arguments in error are reported; the subgraph is then not generated, which would
        // only add errors of its own.
        signature_ok: errors.len() == before,
        attrs: Default::default(),
        subgraph: Some(SubgraphDecl {
            graph: (*alias.ty).clone(),
            attrs,
        }),
        tools: None,
    }
}

/// A tool node: `#[tools] fn tools() -> ToolNode<S, D> { … }`, a plain function without
/// arguments that makes the tools; the node runs one task per tool call sent to it.
fn tools_node(
    function: &ItemFn,
    name: String,
    marker: &syn::Attribute,
    errors: &mut Errors,
) -> NodeFn {
    let sig = &function.sig;
    let ident = &sig.ident;
    let before = errors.len();
    if sig.asyncness.is_some() || !sig.inputs.is_empty() || !sig.generics.params.is_empty() {
        errors.spanned(
            sig,
            format!(
                "`#[tools]` marks a plain `fn` without arguments that returns the graph's tools: \
                 `#[tools] fn {ident}() -> ToolNode<S, D> {{ ToolNode::new().tool(search) }}`"
            ),
        );
    }
    let attrs = attr::node(marker, errors);
    NodeFn {
        ident: ident.clone(),
        name,
        // What the signature checks see: a well-formed node, so they report nothing of it.
        sig: syn::parse_quote!(async fn #ident(state: &()) -> ()),
        signature_ok: errors.len() == before,
        attrs,
        subgraph: None,
        tools: Some(ident.clone()),
    }
}

/// Removes `#[node]` (or `#[route]`) from `attrs` and returns it.
fn take_marker(attrs: &mut Vec<syn::Attribute>, marker: &str) -> Option<syn::Attribute> {
    let at = attrs.iter().position(|attr| attr.path().is_ident(marker))?;
    Some(attrs.remove(at))
}

fn node_fn(
    function: &ItemFn,
    name: String,
    marker: &syn::Attribute,
    errors: &mut Errors,
) -> NodeFn {
    NodeFn {
        ident: function.sig.ident.clone(),
        name,
        sig: function.sig.clone(),
        signature_ok: true,
        attrs: attr::node(marker, errors),
        subgraph: None,
        tools: None,
    }
}

fn route_fn(function: &ItemFn, name: String) -> RouteFn {
    let returns = match &function.sig.output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            Type::Path(path) if path.qself.is_none() => Some(path.path.clone()),
            _ => None,
        },
        syn::ReturnType::Default => None,
    };
    RouteFn {
        ident: function.sig.ident.clone(),
        name,
        sig: function.sig.clone(),
        returns,
    }
}

fn send_fn(function: &ItemFn, name: String) -> SendFn {
    // `Vec<T>` (or a path ending in `Vec<T>`): `T` is what it sends.
    let input = match &function.sig.output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            Type::Path(path) => path.path.segments.last().and_then(|last| {
                match (&last.arguments, last.ident == "Vec") {
                    (syn::PathArguments::AngleBracketed(args), true) => match args.args.first() {
                        Some(syn::GenericArgument::Type(input)) => Some(input.clone()),
                        _ => None,
                    },
                    _ => None,
                }
            }),
            _ => None,
        },
        syn::ReturnType::Default => None,
    };
    SendFn {
        ident: function.sig.ident.clone(),
        name,
        sig: function.sig.clone(),
        input,
    }
}

fn item_ident(item: &Item) -> Option<&Ident> {
    match item {
        Item::Const(item) => Some(&item.ident),
        Item::Enum(item) => Some(&item.ident),
        Item::Fn(item) => Some(&item.sig.ident),
        Item::Mod(item) => Some(&item.ident),
        Item::Static(item) => Some(&item.ident),
        Item::Struct(item) => Some(&item.ident),
        Item::Trait(item) => Some(&item.ident),
        Item::Type(item) => Some(&item.ident),
        Item::Union(item) => Some(&item.ident),
        _ => None,
    }
}

fn item_attrs_mut(item: &mut Item) -> Option<&mut Vec<syn::Attribute>> {
    match item {
        Item::Const(item) => Some(&mut item.attrs),
        Item::Enum(item) => Some(&mut item.attrs),
        Item::Impl(item) => Some(&mut item.attrs),
        Item::Mod(item) => Some(&mut item.attrs),
        Item::Static(item) => Some(&mut item.attrs),
        Item::Struct(item) => Some(&mut item.attrs),
        Item::Trait(item) => Some(&mut item.attrs),
        Item::Type(item) => Some(&mut item.attrs),
        Item::Use(item) => Some(&mut item.attrs),
        _ => None,
    }
}

/// The body of `edges! { … }`.
fn parse_statements(input: ParseStream<'_>) -> syn::Result<Vec<Statement>> {
    let mut statements = Vec::new();
    while !input.is_empty() {
        statements.push(input.parse()?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![;]>()?;
    }
    Ok(statements)
}

impl Parse for Statement {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut chain = vec![input.parse::<Group>()?];
        while input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            chain.push(input.parse()?);
        }
        if input.peek(Token![=>]) && chain.len() > 1 {
            let arrow = input.parse::<Token![=>]>()?;
            let Some(Group::One(fan)) = chain.pop() else {
                return Err(syn::Error::new_spanned(
                    arrow,
                    "`=>` follows one `#[send]` function: `node -> per_item => receiving_node;`",
                ));
            };
            let target = input.call(Ident::parse_any)?;
            if !input.is_empty() && !input.peek(Token![;]) {
                return Err(input.error(
                    "expected `;`: a send ends its chain; start a new statement for what follows",
                ));
            }
            return Ok(Statement {
                chain,
                route: None,
                send: Some(SendArm { fan, target }),
            });
        }
        let route = if input.peek(syn::token::Brace) {
            let Some(Group::One(route)) = chain.pop() else {
                return Err(input.error(
                    "a routing table follows one route name: `node -> route { Variant => node }`",
                ));
            };
            if chain.is_empty() {
                return Err(syn::Error::new_spanned(
                    &route,
                    format!("a route needs a source: `node -> {route} {{ … }}`"),
                ));
            }
            let content;
            braced!(content in input);
            let arms = Punctuated::<RouteArm, Token![,]>::parse_terminated(&content)?;
            Some(RouteTable {
                route,
                arms: arms.into_iter().collect(),
            })
        } else {
            if chain.len() == 1 {
                return Err(
                    input.error("expected `->` and a target: an edge reads `source -> target;`")
                );
            }
            None
        };
        if !input.is_empty() && !input.peek(Token![;]) {
            return Err(input.error(if route.is_some() {
                "expected `;`: a route ends its chain; start a new statement for what follows"
            } else {
                "expected `->` or `;`"
            }));
        }
        Ok(Statement {
            chain,
            route,
            send: None,
        })
    }
}

impl Parse for Group {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(syn::token::Bracket) {
            let content;
            let bracket = bracketed!(content in input);
            let names =
                Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, Ident::parse_any)?;
            if names.is_empty() {
                return Err(syn::Error::new(
                    bracket.span.join(),
                    "an empty list; name at least one node",
                ));
            }
            Ok(Group::Many(names.into_iter().collect()))
        } else {
            let lookahead = input.lookahead1();
            if lookahead.peek(Ident::peek_any) {
                Ok(Group::One(input.call(Ident::parse_any)?))
            } else {
                Err(lookahead.error())
            }
        }
    }
}

impl Parse for RouteArm {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let variant = input.call(Ident::parse_any)?;
        input.parse::<Token![=>]>()?;
        let target = input.call(Ident::parse_any)?;
        Ok(RouteArm { variant, target })
    }
}
