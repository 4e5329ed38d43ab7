//! `#[tool]`: an async function made a tool a model can call. The function stays callable as
//! `name::run(…)`; a unit struct of its name implements `Tool`, whose spec takes the doc
//! comment as the description and the argument type's JSON Schema as the parameters.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Type};

use crate::errors::Errors;

pub(crate) fn tool(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let mut name_override: Option<syn::LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            name_override = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown `tool` argument; the one argument is `name`, as in `#[tool(name = \"web_search\")]`",
            ))
        }
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, args) {
        errors.push(error);
    }
    let function: ItemFn = match syn::parse2(input) {
        Ok(function) => function,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "`#[tool]` goes on an async function: `#[tool] async fn search(args: SearchArgs) -> Result<String, NodeError>`",
            );
            return error.to_compile_error();
        }
    };
    let out = expand(&function, name_override, &mut errors);
    match errors.combined() {
        Some(error) => {
            let error = error.to_compile_error();
            quote!(#error #function)
        }
        None => out,
    }
}

/// What the function's parameters say: its argument type and its context's state and deps.
struct Parameters {
    args: Option<Type>,
    context: Option<(Type, Type)>,
}

fn parameters(function: &ItemFn, errors: &mut Errors) -> Parameters {
    let mut parameters = Parameters {
        args: None,
        context: None,
    };
    let inputs: Vec<&FnArg> = function.sig.inputs.iter().collect();
    if inputs.len() > 2 {
        errors.spanned(
            &function.sig.inputs,
            "a tool takes its arguments, and optionally its context: \
             `async fn search(args: SearchArgs, ctx: &ToolContext<MyState>)`; gather the \
             arguments in one struct deriving `Deserialize` and `JsonSchema`",
        );
        return parameters;
    }
    for input in inputs {
        let FnArg::Typed(typed) = input else {
            errors.spanned(input, "a tool is a free function; it cannot take `self`");
            continue;
        };
        match context_types(&typed.ty) {
            Some(Ok(types)) if parameters.context.is_none() => parameters.context = Some(types),
            Some(Ok(_)) => errors.spanned(&typed.ty, "a tool takes one context"),
            Some(Err(message)) => errors.spanned(&typed.ty, message),
            None if parameters.context.is_some() => errors.spanned(
                &typed.ty,
                "the arguments come first, the context second: `async fn search(args: SearchArgs, ctx: &ToolContext<MyState>)`",
            ),
            None if parameters.args.is_some() => errors.spanned(
                &typed.ty,
                "a tool takes one argument type; gather the arguments in one struct",
            ),
            None => parameters.args = Some((*typed.ty).clone()),
        }
    }
    parameters
}

/// For `&ToolContext<S>` or `&ToolContext<S, D>`: `(S, D)`; for another type, `None`.
fn context_types(ty: &Type) -> Option<Result<(Type, Type), &'static str>> {
    let Type::Reference(reference) = ty else {
        return None;
    };
    let Type::Path(path) = &*reference.elem else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "ToolContext" {
        return None;
    }
    const NAME_THEM: &str = "name the graph's state (and dependencies) the tool reads: \
                             `&ToolContext<MyState>` or `&ToolContext<MyState, MyDeps>`";
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return Some(Err(NAME_THEM));
    };
    let types: Vec<&Type> = args
        .args
        .iter()
        .filter_map(|arg| match arg {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    match types.as_slice() {
        [state] => Some(Ok(((*state).clone(), syn::parse_quote!(())))),
        [state, deps] => Some(Ok(((*state).clone(), (*deps).clone()))),
        _ => Some(Err(NAME_THEM)),
    }
}

/// The doc comment's text, each line without the one space after `///`.
fn description(function: &ItemFn) -> String {
    let lines: Vec<String> = function
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) => Some(text.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').unwrap_or(&line).to_owned())
        .collect();
    lines.join("\n").trim().to_owned()
}

fn expand(
    function: &ItemFn,
    name_override: Option<syn::LitStr>,
    errors: &mut Errors,
) -> TokenStream {
    let sig = &function.sig;
    let ident = &sig.ident;
    if sig.asyncness.is_none() {
        errors.spanned(
            sig.fn_token,
            format!(
                "tool `{0}` must be an `async fn`; write `async fn {0}(…)`",
                ident.unraw()
            ),
        );
    }
    let description = description(function);
    if description.is_empty() {
        errors.spanned(
            ident,
            format!(
                "tool `{}` has no doc comment; the model reads it to decide when to call the \
                 tool: add `/// What it does.` above it",
                ident.unraw()
            ),
        );
    }
    let parameters = parameters(function, errors);
    let generic = !sig.generics.params.is_empty();
    if generic && parameters.context.is_none() {
        errors.spanned(
            &sig.generics,
            "a tool without a context cannot be generic; name the concrete argument type",
        );
    }
    let name = name_override.map_or_else(|| ident.unraw().to_string(), |lit| lit.value());
    let vis = &function.vis;
    let docs = function
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"));
    let other_attrs = function
        .attrs
        .iter()
        .filter(|attr| !attr.path().is_ident("doc"));
    let mut run_sig = sig.clone();
    run_sig.ident = syn::Ident::new("run", ident.span());
    let block = &function.block;
    let tools = quote!(::stategraph::agent::tools);
    let args_ty = parameters
        .args
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(#tools::NoArgs));
    let args_span = parameters
        .args
        .as_ref()
        .map_or(Span::call_site(), Spanned::span);
    let schema = quote_spanned!(args_span=> <#args_ty as #tools::ToolArgs>::schema());
    let parse = quote_spanned!(args_span=> <#args_ty as #tools::ToolArgs>::parse(args));
    let call = match (&parameters.args, &parameters.context) {
        (Some(_), Some(_)) => quote!(#ident::run(args, ctx)),
        (Some(_), None) => quote!(#ident::run(args)),
        (None, Some(_)) => quote!({ let _: #args_ty = args; #ident::run(ctx) }),
        (None, None) => quote!({ let _: #args_ty = args; #ident::run() }),
    };
    let (impl_head, state, deps) = match &parameters.context {
        Some((state, deps)) => {
            let (impl_generics, _, where_clause) = sig.generics.split_for_impl();
            (
                quote!(impl #impl_generics #tools::Tool<#state, #deps> for #ident #where_clause),
                quote!(#state),
                quote!(#deps),
            )
        }
        None => (
            quote!(impl<__S: ::core::marker::Send + ::core::marker::Sync + 'static, __D: ::core::marker::Send + ::core::marker::Sync + 'static> #tools::Tool<__S, __D> for #ident),
            quote!(__S),
            quote!(__D),
        ),
    };
    let unused_ctx = parameters.context.is_none().then(|| quote!(let _ = ctx;));
    let run_doc = format!("Runs tool `{name}`'s function directly, as the tool node does.");
    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::default::Default)]
        #vis struct #ident;

        impl #ident {
            #[doc = #run_doc]
            #(#other_attrs)*
            #vis #run_sig #block
        }

        #impl_head {
            fn spec(&self) -> #tools::ToolSpec {
                #tools::ToolSpec::new(#name, #description, #schema)
            }

            fn call<'a>(
                &'a self,
                args: #tools::__private::Value,
                ctx: &'a #tools::ToolContext<#state, #deps>,
            ) -> #tools::ToolFuture<'a> {
                ::std::boxed::Box::pin(async move {
                    #unused_ctx
                    let args = #parse?;
                    #tools::__private::result(#call.await)
                })
            }
        }
    }
}
