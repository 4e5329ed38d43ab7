//! The arguments of the `#[node(…)]` and `#[route]` markers: one parser per marker (serde's
//! `attr.rs`), each error spanned on the argument it is about.

use syn::Attribute;

use super::model::SubgraphAttrs;
use crate::errors::Errors;

/// The checkpoint modes of a subgraph, as written.
pub(crate) const SUBGRAPH_MODES: [(&str, &str); 3] = [
    ("per_call", "PerCall"),
    ("per_thread", "PerThread"),
    ("none", "None"),
];

/// The node arguments, as the error for an unknown one lists them.
const NODE_ARGUMENTS: &str = "`checkpoint = false`, `retry = <RetryPolicy or attempts>`, \
                              `timeout = <Duration>`, `on_error = <node>` and \
                              `cache = <CachePolicy>`";

/// The arguments that belong to nodes, which a route is told to move to its node.
const NODE_ONLY: [&str; 5] = ["checkpoint", "retry", "timeout", "on_error", "cache"];

/// What `#[node(…)]` says about a node.
#[derive(Default)]
pub(crate) struct NodeAttrs {
    /// `checkpoint = false`: the steps that run only such nodes are saved with the next
    /// checkpointed step.
    pub(crate) skip_checkpoint: bool,
    /// `retry = policy` (a `RetryPolicy`, or an attempt count).
    pub(crate) retry: Option<syn::Expr>,
    /// `timeout = duration`: the limit of each attempt.
    pub(crate) timeout: Option<syn::Expr>,
    /// `on_error = handler`: the node that runs when this one fails.
    pub(crate) on_error: Option<syn::Ident>,
    /// `cache = policy`: how its results are cached.
    pub(crate) cache: Option<syn::Expr>,
}

/// Reads `#[node]` or `#[node(checkpoint = false, retry = …, timeout = …, on_error = …)]`.
pub(crate) fn node(attr: &Attribute, errors: &mut Errors) -> NodeAttrs {
    let mut attrs = NodeAttrs::default();
    arguments(attr, errors, |meta| {
        if meta.path.is_ident("checkpoint") {
            let value: syn::LitBool = meta.value()?.parse()?;
            attrs.skip_checkpoint = !value.value;
        } else if meta.path.is_ident("retry") {
            attrs.retry = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("timeout") {
            attrs.timeout = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("cache") {
            attrs.cache = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("on_error") {
            attrs.on_error = Some(meta.value()?.call(syn::ext::IdentExt::parse_any)?);
        } else {
            return Err(meta.error(format!(
                "unknown `node` argument; the arguments are {NODE_ARGUMENTS}, as in \
                 `#[node(retry = 3, timeout = Duration::from_secs(30))]`"
            )));
        }
        Ok(())
    });
    attrs
}

/// Reads `#[subgraph]` or `#[subgraph(input = f, output = g, deps = h, checkpoint = mode)]`.
pub(crate) fn subgraph(attr: &Attribute, errors: &mut Errors) -> SubgraphAttrs {
    let mut attrs = SubgraphAttrs::default();
    arguments(attr, errors, |meta| {
        if meta.path.is_ident("input") {
            attrs.input = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("output") {
            attrs.output = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("deps") {
            attrs.deps = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("checkpoint") {
            let mode: syn::Ident = meta.value()?.call(syn::ext::IdentExt::parse_any)?;
            if !SUBGRAPH_MODES.iter().any(|(name, _)| mode == name) {
                return Err(syn::Error::new_spanned(
                    &mode,
                    "unknown checkpoint mode; a subgraph checkpoints `per_call` (the default: each call in a namespace of its own), `per_thread` (one namespace kept across calls) or `none`",
                ));
            }
            attrs.checkpoint = Some(mode);
        } else {
            return Err(meta.error(
                "unknown `subgraph` argument; the arguments are `input = <fn>`, `output = <fn>`, `deps = <fn>` and `checkpoint = per_call | per_thread | none`, as in `#[subgraph(input = to_draft, output = from_draft, checkpoint = none)]`",
            ));
        }
        Ok(())
    });
    if attrs.input.is_some() != attrs.output.is_some() {
        errors.spanned(
            attr,
            "a subgraph over its own state needs both mappings, `input = <fn>` (its input from this graph's state) and `output = <fn>` (this graph's update from its final state); a subgraph over this graph's state needs neither",
        );
    }
    attrs
}

/// Checks that `#[route]` (or `#[send]`, named by `marker`) has no arguments: it only picks
/// where to go, so what a node may be given (its checkpointing, retries, time limit, error
/// handler) does not apply to it.
pub(crate) fn no_arguments(attr: &Attribute, marker: &str, errors: &mut Errors) {
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return;
    }
    let parsed = attr.parse_nested_meta(|meta| {
        let key = key_of(&meta);
        if NODE_ONLY.contains(&key.as_str()) {
            Err(meta.error(format!(
                "`{key}` belongs on a `#[node]`: a `#[{marker}]` function only picks where to go, \
                 as part of the step of the node it follows; give `{key}` to that node"
            )))
        } else {
            Err(meta.error(format!("`#[{marker}]` takes no arguments")))
        }
    });
    if let Err(error) = parsed {
        errors.push(error);
    }
}

/// The `RetryPolicy` expression for `retry = value`: an integer is an attempt count.
pub(crate) fn retry_policy(value: &syn::Expr) -> proc_macro2::TokenStream {
    use quote::{quote, quote_spanned};
    let span = syn::spanned::Spanned::span(value);
    match value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(_),
            ..
        }) => quote_spanned!(span=> ::stategraph::__private::RetryPolicy::attempts(#value)),
        _ => quote!(#value),
    }
}

/// Reads the `key = value` arguments of `attr` (none for a bare marker) with `read`, refusing a
/// key given twice; errors are reported, each at its argument.
fn arguments(
    attr: &Attribute,
    errors: &mut Errors,
    mut read: impl FnMut(&syn::meta::ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return;
    }
    let mut seen: Vec<String> = Vec::new();
    let parsed = attr.parse_nested_meta(|meta| {
        let key = key_of(&meta);
        if seen.contains(&key) {
            return Err(meta.error(format!("`{key}` is given twice; keep one")));
        }
        read(&meta)?;
        seen.push(key);
        Ok(())
    });
    if let Err(error) = parsed {
        errors.push(error);
    }
}

/// The name of an argument (`retry` of `retry = 3`); empty for a path that is not one word.
fn key_of(meta: &syn::meta::ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default()
}
