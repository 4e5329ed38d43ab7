//! Code generation for `#[graph]`: the user's items, then the node enum, the `Graph` type with
//! its `GraphDef` impl, and the `graph()` builder function.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;

use super::check::{Edge, Plan, Target, signature_span, upper_camel_case};
use super::model::{GraphArgs, GraphModule, NodeFn, SubgraphDecl};

fn private() -> TokenStream {
    quote!(::stategraph::__private)
}

/// `tokens`, every one of them placed at `span`. The generated code that names the state type
/// is placed on the user's `state = S`: where that type is not a state, each of its errors is
/// then the same error at the same place, which rustc reports once.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// A function of `GraphSpec`, placed on the state type (see [`respan`]).
fn spec_fn(args: &GraphArgs, name: &str) -> TokenStream {
    let name = format_ident!("{}", name);
    respan(
        quote!(::stategraph::__private::GraphSpec::#name),
        state_span(args),
    )
}

/// How many steps of `spec()` one generated function holds.
const CHUNK: usize = 128;

/// The steps of `spec()` (each `|spec| expression,`) as statements assigning `spec`, in nested
/// functions of at most [`CHUNK`] steps each, called in turn: in a debug build every statement's
/// temporaries take their own stack slot, so one function of ten thousand steps would overflow
/// the main thread's stack; a flat list of chunks keeps each frame small and the generated code
/// linear in the graph.
fn chunked(spec: &syn::Ident, steps: TokenStream, ty: &TokenStream, span: Span) -> TokenStream {
    let mut items: Vec<Vec<TokenTree>> = vec![Vec::new()];
    for token in steps {
        match &token {
            TokenTree::Punct(p) if p.as_char() == ',' => items.push(Vec::new()),
            _ => items.last_mut().expect("one item at least").push(token),
        }
    }
    // Each item is `| spec | expression`: the statement assigns the expression to `spec`.
    let statements: Vec<TokenStream> = items
        .into_iter()
        .filter(|item| item.len() > 3)
        .map(|item| {
            let expression: TokenStream = item.into_iter().skip(3).collect();
            quote_spanned!(span=> #spec = #expression;)
        })
        .collect();
    statements
        .chunks(CHUNK)
        .map(|chunk| {
            quote_spanned! {span=>
                #spec = {
                    fn steps(mut #spec: #ty) -> #ty {
                        #(#chunk)*
                        #spec
                    }
                    steps(#spec)
                };
            }
        })
        .collect()
}

/// The variable `spec()` builds the graph in, placed on the state type (see [`respan`]).
fn spec_var(args: &GraphArgs) -> syn::Ident {
    syn::Ident::new("spec", state_span(args))
}

fn state_span(args: &GraphArgs) -> Span {
    syn::spanned::Spanned::span(&args.state)
}

/// The module with the generated items. Without a plan (the graph has errors) `spec()` only
/// registers the nodes, so their signatures are still type-checked but no edge code can add
/// errors of its own.
pub(crate) fn expand(
    module: &GraphModule,
    args: Option<&GraphArgs>,
    plan: Option<&Plan>,
) -> TokenStream {
    let attrs = &module.attrs;
    let vis = &module.vis;
    let mod_token = module.mod_token;
    let ident = &module.ident;
    let items = &module.items;
    let node_enum = node_enum(module);
    let graph = args.map(|args| graph_def(module, args, plan));
    let mut body = quote! {
        #(#items)*
        #node_enum
        #graph
    };
    let mut out = quote!(#(#attrs)* #vis #mod_token #ident);
    module
        .brace
        .surround(&mut out, |tokens| tokens.extend(std::mem::take(&mut body)));
    out
}

/// The visibility of the generated items: the module's own, so a private module over a private
/// state type compiles (a `pub` item there would expose the private state).
fn item_vis(module: &GraphModule) -> TokenStream {
    match &module.vis {
        syn::Visibility::Inherited => quote!(pub(super)),
        syn::Visibility::Restricted(r) if r.in_token.is_none() && r.path.is_ident("crate") => {
            quote!(pub(crate))
        }
        _ => quote!(pub),
    }
}

fn variant(node: &NodeFn) -> syn::Ident {
    format_ident!("{}", upper_camel_case(&node.name), span = node.ident.span())
}

fn node_enum(module: &GraphModule) -> TokenStream {
    let private = private();
    let vis = item_vis(module);
    let graph_name = module.ident.unraw().to_string();
    let doc = format!(
        "The nodes of graph `{graph_name}`, in declaration order. Generated by `#[graph]`: use it wherever \
         the API names a node (interrupts, `update_state`, stream filters), so a misspelt node is a compile error."
    );
    // A node whose variant an earlier node already makes is reported by the checks; the enum
    // keeps the first, so rustc adds no error of its own.
    let mut seen = std::collections::BTreeSet::new();
    let kept: Vec<(usize, &NodeFn)> = module
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| seen.insert(upper_camel_case(&node.name)))
        .collect();
    let variants: Vec<syn::Ident> = kept.iter().map(|(_, node)| variant(node)).collect();
    let docs = kept
        .iter()
        .map(|(_, node)| format!("The node `{}`.", node.name));
    let names = kept.iter().map(|(_, node)| &node.name);
    let indexes = kept
        .iter()
        .map(|(i, _)| proc_macro2::Literal::usize_unsuffixed(*i));
    quote! {
        #[doc = #doc]
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            ::core::cmp::PartialOrd,
            ::core::cmp::Ord,
        )]
        #vis enum Node {
            #(#[doc = #docs] #variants,)*
        }

        /// The node's name as written in the graph, as checkpoints record it.
        impl ::core::fmt::Debug for Node {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(#private::NodeId::name(*self))
            }
        }

        /// The node's name as written in the graph, as checkpoints record it.
        impl ::core::fmt::Display for Node {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(#private::NodeId::name(*self))
            }
        }

        // Not listed in diagnostics as "the trait is implemented for …": which graphs a crate
        // and its dependencies hold (the prebuilt agent's, with a feature) is not a hint.
        #[diagnostic::do_not_recommend]
        impl #private::NodeId for Node {
            const GRAPH: &'static str = #graph_name;
            const ALL: &'static [Self] = &[#(Node::#variants),*];

            fn name(self) -> &'static str {
                match self {
                    #(Node::#variants => #names,)*
                }
            }

            fn index(self) -> usize {
                match self {
                    #(Node::#variants => #indexes,)*
                }
            }
        }
    }
}

/// The graph's state type, checked at the user's token (see `__private::IsState`): every use
/// carries that one span, so a type that is not a state is one error there, reported once.
fn checked(state: &syn::Type) -> TokenStream {
    let span = syn::spanned::Spanned::span(state);
    quote_spanned!(span=> <#state as ::stategraph::__private::IsState>::State)
}

fn graph_def(module: &GraphModule, args: &GraphArgs, plan: Option<&Plan>) -> TokenStream {
    let spec = spec_var(args);
    let at_state = state_span(args);
    let vis = item_vis(module);
    let private = private();
    let state = &args.state;
    let deps = deps_type(args);
    let checked_state = checked(state);
    let graph_name = module.ident.unraw().to_string();
    let receivers = super::check::receivers(module);
    let inputs: Vec<Option<&syn::Type>> = receivers
        .iter()
        .map(|send| send.and_then(|send| module.sends[send].input.as_ref()))
        .collect();
    let nodes = module
        .nodes
        .iter()
        .enumerate()
        // A receiver whose send function returns no `Vec` has no input type (reported already).
        .filter(|(i, node)| node.signature_ok && (receivers[*i].is_none() || inputs[*i].is_some()))
        .map(|(i, node)| {
            let name = &node.name;
            if let Some(sub) = &node.subgraph {
                let subgraph = subgraph(sub, args);
                let subgraph_fn = spec_fn(args, "subgraph");
                return quote_spanned!(at_state=> |#spec| #subgraph_fn(#spec, #name, #subgraph),);
            }
            if let Some(tools) = &node.tools {
                let checked = checked(state);
                let node_fn = spec_fn(args, "node");
                let run = quote_spanned!(tools.span()=>
                    ::stategraph::agent::tools::node::<#checked, #deps>(#tools()));
                return quote_spanned!(at_state=> |#spec| #node_fn(#spec, #name, #run),);
            }
            // The function, re-spanned onto the part of its signature that looks wrong, so a
            // signature that does not fit the state (or the input it is sent) is reported there.
            let span = signature_span(node, inputs[i].unwrap_or(state), state, args.deps.as_ref());
            let mut f = node.ident.clone();
            f.set_span(span);
            let checked = checked(state);
            let node_fn = spec_fn(args, "node");
            let (input, wrap) = match (inputs[i], node.takes_context()) {
                (None, false) => (None, "plain"),
                (None, true) => (None, "with_context"),
                (Some(input), false) => (Some(input), "with_input"),
                (Some(input), true) => (Some(input), "with_input_and_context"),
            };
            let wrap = format_ident!("{}", wrap, span = at_state);
            let input = input.map(|input| quote!(, #input));
            let wrapped = quote_spanned!(at_state=>
                ::stategraph::__private::Nodes::<#checked, #deps #input>::#wrap(#f));
            quote_spanned!(at_state=> |#spec| #node_fn(#spec, #name, #wrapped),)
        })
        .collect::<TokenStream>();
    let input_fn = spec_fn(args, "input");
    let codecs = inputs.iter().enumerate().filter_map(|(i, input)| {
        let input = (*input)?;
        let i = proc_macro2::Literal::usize_unsuffixed(i);
        Some(quote_spanned!(at_state=> |#spec| #input_fn(#spec, #i, #private::InputCodec::of::<#input>()),))
    });
    let tool_codecs = module.nodes.iter().enumerate().filter(|(_, node)| node.tools.is_some()).map(|(i, _)| {
        let i = proc_macro2::Literal::usize_unsuffixed(i);
        quote_spanned!(at_state=> |#spec| #input_fn(#spec, #i, #private::InputCodec::of::<::stategraph::agent::messages::ToolCall>()),)
    });
    let codecs = quote!(#(#codecs)* #(#tool_codecs)*);
    let edges = plan
        .map(|plan| edges(module, args, plan))
        .unwrap_or_default();
    let gates = |idents: &[syn::Ident], method: &str| {
        let method = spec_fn(args, method);
        let indexes = idents
            .iter()
            .filter_map(|ident| super::check::node_index(module, ident))
            .map(proc_macro2::Literal::usize_unsuffixed);
        quote_spanned!(at_state=> #(|#spec| #method(#spec, #indexes),)*)
    };
    let before = gates(&args.interrupt_before, "interrupt_before");
    let after = gates(&args.interrupt_after, "interrupt_after");
    let skipped = module
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| node.attrs.skip_checkpoint)
        .map(|(i, _)| proc_macro2::Literal::usize_unsuffixed(i));
    let skip_checkpoint_fn = spec_fn(args, "skip_checkpoint");
    let skipped = quote_spanned!(at_state=> #(|#spec| #skip_checkpoint_fn(#spec, #skipped),)*);
    let policies = policies(module, args);
    let on_error_fn = spec_fn(args, "on_error");
    let handlers = plan.map(|plan| {
        let pairs = plan
            .handlers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.map(|h| (i, h)));
        let (nodes, handlers): (Vec<_>, Vec<_>) = pairs
            .map(|(i, h)| {
                (
                    proc_macro2::Literal::usize_unsuffixed(i),
                    proc_macro2::Literal::usize_unsuffixed(h),
                )
            })
            .unzip();
        quote_spanned!(at_state=> #(|#spec| #on_error_fn(#spec, #nodes, #handlers),)*)
    });
    let spec_doc = format!("The graph `{graph_name}` as written in its `edges!` block.");
    // Without a plan the graph has errors, reported already; the drawings stay empty.
    let (mermaid, dot) = plan
        .map(|plan| {
            (
                super::diagram::mermaid(module, plan),
                super::diagram::dot(module, plan, &graph_name),
            )
        })
        .unwrap_or_default();
    let builder = match &args.deps {
        None => quote! {
            /// Starts building this graph: set a checkpointer and other options, then `compile()`.
            #vis fn graph() -> #private::Builder<Graph> {
                #private::Builder::new(())
            }
        },
        Some(deps) => quote! {
            /// Starts building this graph with the dependencies its nodes and routes use (a
            /// value or an `Arc` of one; never persisted): set a checkpointer and other options,
            /// then `compile()`.
            #vis fn graph(
                deps: impl ::core::convert::Into<::std::sync::Arc<#deps>>,
            ) -> #private::Builder<Graph> {
                #private::Builder::new(deps)
            }
        },
    };
    let new_fn = spec_fn(args, "new");
    let spec_type = respan(quote!(::stategraph::__private::GraphSpec), at_state);
    let steps = chunked(
        &spec,
        quote!(#nodes #edges #before #after #skipped #policies #handlers #codecs),
        &quote_spanned!(at_state=> #spec_type<#checked_state, #deps>),
        at_state,
    );
    let first_step =
        quote_spanned!(at_state=> #[allow(unused_mut)] let mut #spec = #new_fn(#graph_name););
    let state_type = respan(quote!(type State = #checked_state;), at_state);
    let spec_sig = quote_spanned!(at_state=> fn spec() -> #spec_type<#checked_state, #deps>);
    let shares_state = respan(
        quote! {
            impl ::stategraph::__private::SharesState<#checked_state> for Graph {
                fn inner(state: &#checked_state) -> #checked_state {
                    ::core::clone::Clone::clone(state)
                }
                fn outer(state: #checked_state) -> #checked_state {
                    state
                }
            }
        },
        at_state,
    );
    // The whole impl is placed on the state type (see `respan`); the user's tokens in it keep
    // their places.
    let graph_def = quote_spanned! {at_state=>
        impl ::stategraph::__private::GraphDef for Graph {
            #state_type
            type Deps = #deps;
            type Node = Node;
            const MERMAID: &'static str = #mermaid;
            const DOT: &'static str = #dot;

            #[doc = #spec_doc]
            #spec_sig {
                // Every step is a path call placed on the state type or on the node it adds, so
                // a state that is not one is reported once, not as a missing method. The steps
                // run in functions of at most `CHUNK` each, so no frame and no body grows with
                // the graph.
                #first_step
                #steps
                #spec
            }
        }
    };
    quote! {
        /// The graph declared by this module. Generated by `#[graph]`; build it with [`graph()`].
        #vis struct Graph;

        #graph_def

        /// This graph compiled, to name it where it is passed around: with a checkpointer
        /// (`Compiled`, from `graph().checkpointer(saver).compile()`), or without one
        /// (`Compiled<::stategraph::Ephemeral>`).
        #vis type Compiled<M = ::stategraph::Durable> = ::stategraph::CompiledGraph<Graph, M>;

        /// A subgraph node of a graph over the same state runs this graph without a mapping.
        #shares_state

        #builder
    }
}

/// The retry policies and time limits of the nodes and of the graph, each expression spanned
/// on the user's, so a value of the wrong type is reported there.
fn policies(module: &GraphModule, args: &GraphArgs) -> TokenStream {
    let spec = spec_var(args);
    let at_state = state_span(args);
    let [
        retry_fn,
        timeout_fn,
        cache_fn,
        default_retry_fn,
        default_timeout_fn,
    ] = [
        "retry",
        "timeout",
        "cache",
        "default_retry",
        "default_timeout",
    ]
    .map(|name| spec_fn(args, name));
    let mut out = TokenStream::new();
    for (i, node) in module.nodes.iter().enumerate() {
        let i = proc_macro2::Literal::usize_unsuffixed(i);
        if let Some(retry) = &node.attrs.retry {
            let policy = super::attr::retry_policy(retry);
            out.extend(quote_spanned!(at_state=> |#spec| #retry_fn(#spec, #i, #policy),));
        }
        if let Some(timeout) = &node.attrs.timeout {
            out.extend(quote_spanned!(at_state=> |#spec| #timeout_fn(#spec, #i, #timeout),));
        }
        if let Some(cache) = &node.attrs.cache {
            out.extend(quote_spanned!(at_state=> |#spec| #cache_fn(#spec, #i, #cache),));
        }
    }
    if let Some(retry) = &args.retry {
        let policy = super::attr::retry_policy(retry);
        out.extend(quote_spanned!(at_state=> |#spec| #default_retry_fn(#spec, #policy),));
    }
    if let Some(timeout) = &args.timeout {
        out.extend(quote_spanned!(at_state=> |#spec| #default_timeout_fn(#spec, #timeout),));
    }
    out
}

/// The `Subgraph` a subgraph node runs, each part spanned on the user's tokens, so a graph
/// whose state does not fit, or a mapping of the wrong type, is reported there.
fn subgraph(sub: &SubgraphDecl, args: &GraphArgs) -> TokenStream {
    let private = private();
    let graph = &sub.graph;
    let state = &args.state;
    let deps = deps_type(args);
    let checked = checked(state);
    let mode = sub.attrs.checkpoint.as_ref().map_or("PerCall", |mode| {
        super::attr::SUBGRAPH_MODES
            .iter()
            .find(|(name, _)| mode == name)
            .map_or("PerCall", |(_, variant)| variant)
    });
    let mode = format_ident!("{}", mode);
    let mode = quote!(#private::SubgraphCheckpoint::#mode);
    let graph_span = syn::spanned::Spanned::span(graph);
    let inner_deps = quote_spanned!(graph_span=> <#graph as #private::GraphDef>::Deps);
    let make_deps = match &sub.attrs.deps {
        Some(f) => {
            let span = syn::spanned::Spanned::span(f);
            quote_spanned!(span=> |deps: &::std::sync::Arc<#deps>| -> ::std::sync::Arc<#inner_deps> { #f(deps) })
        }
        None => {
            quote_spanned!(graph_span=> |deps: &::std::sync::Arc<#deps>| -> ::std::sync::Arc<#inner_deps> {
                <#deps as #private::SameDeps<#inner_deps>>::same(deps)
            })
        }
    };
    match (&sub.attrs.input, &sub.attrs.output) {
        (Some(input), Some(output)) => {
            let inner_state = quote_spanned!(graph_span=> <#graph as #private::GraphDef>::State);
            let input = quote_spanned!(syn::spanned::Spanned::span(input)=>
                |state: &#checked| -> <#inner_state as #private::State>::Update { #input(state) });
            let output = quote_spanned!(syn::spanned::Spanned::span(output)=>
                |inner: &#inner_state| -> <#checked as #private::State>::Update { #output(inner) });
            quote_spanned!(graph_span=> #private::Subgraph::<#checked, #deps>::mapped::<#graph>(#mode, #make_deps, #input, #output))
        }
        _ => {
            quote_spanned!(graph_span=> #private::Subgraph::<#checked, #deps>::shared::<#graph>(#mode, #make_deps))
        }
    }
}

/// The graph's dependencies type, `()` when it declares none.
fn deps_type(args: &GraphArgs) -> TokenStream {
    match &args.deps {
        Some(deps) => quote!(#deps),
        None => quote!(()),
    }
}

fn target(module: &GraphModule, target: Target) -> TokenStream {
    let private = private();
    match target {
        Target::Node(i) => {
            let name = &module.nodes[i].name;
            let i = proc_macro2::Literal::usize_unsuffixed(i);
            quote!(#private::Target::Node(#i, #name))
        }
        Target::End => quote!(#private::Target::End),
    }
}

fn edges(module: &GraphModule, args: &GraphArgs, plan: &Plan) -> TokenStream {
    let spec = spec_var(args);
    let at_state = state_span(args);
    let private = private();
    let [edge_fn, join_fn] = ["edge", "join"].map(|name| spec_fn(args, name));
    let [edge_to, edge_send, edge_route] = ["To", "Send", "Route"].map(|variant| {
        let variant = format_ident!("{}", variant);
        respan(
            quote!(::stategraph::__private::Edge::#variant),
            state_span(args),
        )
    });
    let state = &args.state;
    let checked = checked(state);
    let deps = deps_type(args);
    let mut out = TokenStream::new();
    let sources = std::iter::once((None, &plan.start))
        .chain(plan.edges.iter().enumerate().map(|(i, e)| (Some(i), e)));
    for (from, edges) in sources {
        let from = match from {
            None => quote!(::core::option::Option::None),
            Some(i) => {
                let i = proc_macro2::Literal::usize_unsuffixed(i);
                quote!(::core::option::Option::Some(#i))
            }
        };
        for edge in edges {
            let edge = match edge {
                Edge::To(to) => {
                    let to = target(module, *to);
                    quote!(#edge_to(#to))
                }
                Edge::Send {
                    send,
                    written,
                    target,
                } => {
                    let send_fn = &module.sends[*send];
                    let name = &send_fn.name;
                    let mut f = send_fn.ident.clone();
                    f.set_span(written.span());
                    let call = if send_fn.takes_deps() {
                        quote_spanned!(written.span()=> #f(state, deps))
                    } else {
                        quote_spanned!(written.span()=> #f(state))
                    };
                    // The receiving node's input type: a send of another type is reported here.
                    let input = plan.inputs[*target]
                        .and_then(|first| module.sends[first].input.as_ref())
                        .map(|input| quote!(#input))
                        .unwrap_or_else(|| quote!(_));
                    let sent = quote_spanned!(written.span()=> #private::sent::<#input>(#call));
                    let target = proc_macro2::Literal::usize_unsuffixed(*target);
                    quote! {
                        #edge_send {
                            name: #name,
                            target: #target,
                            fan: |state: &#checked, deps: &#deps| {
                                let _ = deps;
                                #sent
                            },
                            otherwise: ::core::option::Option::None,
                        }
                    }
                }
                Edge::Tools {
                    written,
                    target: tool_node,
                    otherwise,
                } => {
                    let otherwise = target(module, *otherwise);
                    let calls = quote_spanned!(written.span()=>
                        ::stategraph::agent::tools::tool_calls::<#checked>(state));
                    let tool_node = proc_macro2::Literal::usize_unsuffixed(*tool_node);
                    quote! {
                        #edge_send {
                            name: "tools_condition",
                            target: #tool_node,
                            fan: |state: &#checked, _: &#deps| #calls,
                            otherwise: ::core::option::Option::Some(#otherwise),
                        }
                    }
                }
                Edge::Route {
                    route,
                    written,
                    arms,
                } => {
                    let route = &module.routes[*route];
                    let name = &route.name;
                    // Spanned on the table's route name, so rustc's exhaustiveness error for an
                    // enum declared outside the module points at the table.
                    let mut f = route.ident.clone();
                    f.set_span(written.span());
                    let call = if route.takes_deps() {
                        quote_spanned!(written.span()=> #f(state, deps))
                    } else {
                        quote_spanned!(written.span()=> #f(state))
                    };
                    let enum_path = route.returns.as_ref();
                    let arms = arms.iter().map(|(variant, to)| {
                        let to = target(module, *to);
                        // `{ .. }` matches a variant of any shape: a route's variant may carry
                        // data (the table only picks where to go).
                        quote!(#enum_path::#variant { .. } => #to,)
                    });
                    let scrutinee = quote_spanned!(written.span()=> match #call);
                    quote! {
                        #edge_route {
                            name: #name,
                            pick: |state: &#checked, deps: &#deps| {
                                let _ = deps;
                                #scrutinee { #(#arms)* }
                            },
                        }
                    }
                }
            };
            out.extend(quote_spanned!(at_state=> |#spec| #edge_fn(#spec, #from, #edge),));
        }
    }
    for (sources, join) in &plan.joins {
        let sources = sources
            .iter()
            .map(|&i| proc_macro2::Literal::usize_unsuffixed(i));
        let join = proc_macro2::Literal::usize_unsuffixed(*join);
        out.extend(
            quote_spanned!(at_state=> |#spec| #join_fn(#spec, ::std::vec![#(#sources),*], #join),),
        );
    }
    out
}
