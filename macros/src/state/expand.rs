//! Code generation for `#[derive(State)]`: the `<Name>Update` struct with its builder, and the
//! `State` / `StateUpdate` impls.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::ast::{StateField, StateStruct};
use super::attr::{Builtin, Reducer};

/// Where generated code finds the runtime.
fn private() -> TokenStream {
    quote!(::stategraph::__private)
}

/// The same path with every token spanned at `span`, so an error in an expression built on it
/// points at the user's token rather than at the derive.
fn private_at(span: proc_macro2::Span) -> TokenStream {
    quote_spanned!(span=> ::stategraph::__private)
}

/// `R: Reducer<T>` for every field with a built-in reducer, spanned on the field's type.
///
/// Every generated item that touches the reducer carries these as a `where` clause. A reducer
/// that does not fit its field then fails once, in the clause, with the runtime's
/// `on_unimplemented` message on the field's type, and never inside the generated bodies (which
/// see the clause as given): one mistake, one error.
fn fit_bounds(state: &StateStruct<'_>) -> TokenStream {
    let bounds: Vec<TokenStream> = state.fields.iter().filter_map(reducer_bound).collect();
    if bounds.is_empty() {
        TokenStream::new()
    } else {
        quote!(where #(#bounds,)*)
    }
}

fn reducer_bound(field: &StateField<'_>) -> Option<TokenStream> {
    let Reducer::Builtin(builtin) = &field.reducer else {
        return None;
    };
    let ty = field.ty;
    let private = private_at(ty.span());
    // `append` fields also get `push_<field>`, which names the item type: the bound on the
    // collection gives both, and still one error for a field that is not one.
    if *builtin == Builtin::Append {
        return Some(quote_spanned!(ty.span()=> #ty: #private::Appendable));
    }
    let reducer = format_ident!("{}", builtin.type_name(), span = ty.span());
    Some(quote_spanned!(ty.span()=> #private::#reducer: #private::Reducer<#ty>))
}

/// The constant holding a user reducer function as `fn(&mut T, T)`: the one place a function
/// with the wrong signature is reported.
fn reducer_fn_const(field: &StateField<'_>) -> syn::Ident {
    format_ident!("__REDUCER_{}", field.name.to_uppercase())
}

pub(crate) fn expand(state: &StateStruct<'_>) -> TokenStream {
    let update_struct = update_struct(state);
    let builder = builder(state);
    let state_impl = state_impl(state);
    let update_impl = update_impl(state);
    let update_std = update_std_impls(state);
    let reducer_fns = state.fields.iter().filter_map(|field| {
        let Reducer::Function(path) = &field.reducer else {
            return None;
        };
        let ty = field.ty;
        let name = reducer_fn_const(field);
        let private = private_at(path.span());
        // Checked through `ReducerProbe`, so a function of the wrong shape is reported with
        // what a reducer is, at the path.
        Some(quote_spanned! {path.span()=>
            const #name: fn(&mut #ty, #ty) = {
                #[allow(non_snake_case)]
                fn #name(current: &mut #ty, write: #ty) {
                    #[allow(unused_imports)]
                    use #private::{InPlace as _, NotAReducer as _, ReturnsMerged as _};
                    (&&&#private::ReducerProbe::<_, #ty>::new(#path)).merge(current, write)
                }
                #name
            };
        })
    });
    let messages_impl = messages_impl(state);
    quote! {
        #update_struct
        #[doc(hidden)]
        const _: () = {
            #(#reducer_fns)*
            #update_std
            #builder
            #state_impl
            #update_impl
            #messages_impl
        };
    }
}

/// `MessagesState` for a state with exactly one `messages` field: what code written for any
/// conversation (a tool node, an agent's route) reads and writes.
fn messages_impl(state: &StateStruct<'_>) -> Option<TokenStream> {
    let mut fields = state
        .fields
        .iter()
        .filter(|field| matches!(field.reducer, Reducer::Builtin(Builtin::Messages)));
    let field = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    let private = private();
    let ident = state.ident;
    let update = &state.update;
    let field_ident = field.ident;
    let ty = field.ty;
    let bounds = fit_bounds(state);
    Some(quote! {
        #[diagnostic::do_not_recommend]
        impl #private::MessagesState for #ident #bounds {
            type Message = <#ty as #private::MessageList>::Item;

            fn messages(&self) -> &[Self::Message] {
                #private::MessageList::items(&self.#field_ident)
            }

            fn messages_update(
                update: #private::MessagesUpdate<Self::Message>,
            ) -> #update {
                #update::new().#field_ident(update)
            }
        }
    })
}

/// `<R as Reducer<T>>`, spanned on the field's type so a reducer that does not fit the type is
/// reported there.
fn reducer_as(field: &StateField<'_>) -> Option<TokenStream> {
    let ty = field.ty;
    let private = private_at(ty.span());
    match &field.reducer {
        Reducer::Builtin(builtin) => {
            let reducer = format_ident!("{}", builtin.type_name(), span = ty.span());
            Some(quote_spanned!(ty.span()=> <#private::#reducer as #private::Reducer<#ty>>))
        }
        Reducer::Plain | Reducer::Function(_) => None,
    }
}

/// What one write to the field carries through its reducer: `R::Input`, or `T` for a function.
fn input_type(field: &StateField<'_>) -> Option<TokenStream> {
    let ty = field.ty;
    match &field.reducer {
        Reducer::Plain => None,
        Reducer::Builtin(..) => {
            let reducer = reducer_as(field);
            Some(quote_spanned!(ty.span()=> #reducer::Input))
        }
        Reducer::Function(_) => Some(quote!(#ty)),
    }
}

/// The update's field type: `Option<T>` or `Option<Write<T, Input>>`.
fn write_type(field: &StateField<'_>) -> TokenStream {
    let private = private();
    let ty = field.ty;
    match input_type(field) {
        None => quote!(::core::option::Option<#ty>),
        Some(input) => quote!(::core::option::Option<#private::Write<#ty, #input>>),
    }
}

fn update_struct(state: &StateStruct<'_>) -> TokenStream {
    let vis = state.vis;
    let update = &state.update;
    let doc = format!(
        "A partial update of [`{}`]: the channels one node writes. Generated by `#[derive(State)]`.\n\n\
         Build it with [`{update}::new`] and one setter per field; a field left unset is not written.",
        state.ident
    );
    let fields = state.fields.iter().map(|field| {
        let vis = field.vis;
        let ident = field.ident;
        let ty = write_type(field);
        let doc = match field.reducer {
            Reducer::Plain => format!("The new value of `{}`, if this update sets it.", field.name),
            _ => format!(
                "The write to `{}`, if any: through its reducer, or replacing the whole value.",
                field.name
            ),
        };
        quote!(#[doc = #doc] #vis #ident: #ty)
    });
    let bounds = fit_bounds(state);
    quote! {
        #[doc = #doc]
        #vis struct #update #bounds {
            #(#fields,)*
        }
    }
}

/// `Clone`, `Debug` and `Default` for the update, written out rather than derived so they
/// carry the reducer bounds without a derive's own note on every error.
fn update_std_impls(state: &StateStruct<'_>) -> TokenStream {
    let update = &state.update;
    let update_name = update.to_string();
    let bounds = fit_bounds(state);
    let idents: Vec<&syn::Ident> = state.fields.iter().map(|field| field.ident).collect();
    let names = state.fields.iter().map(|field| &field.name);
    quote! {
        impl ::core::clone::Clone for #update #bounds {
            fn clone(&self) -> Self {
                Self { #(#idents: ::core::clone::Clone::clone(&self.#idents),)* }
            }
        }

        impl ::core::fmt::Debug for #update #bounds {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#update_name)
                    #(.field(#names, &self.#idents))*
                    .finish()
            }
        }

        impl ::core::default::Default for #update #bounds {
            fn default() -> Self {
                Self { #(#idents: ::core::option::Option::None,)* }
            }
        }
    }
}

/// Whether `ty` is a primitive number, `bool` or `char`: its setters take the type itself, so
/// a literal such as `.retries(3)` infers it (behind `impl Into<u32>` it would not).
fn is_primitive(ty: &syn::Type) -> bool {
    const PRIMITIVES: &[&str] = &[
        "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
        "f32", "f64", "bool", "char",
    ];
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.get_ident().is_some_and(|id| PRIMITIVES.contains(&id.to_string().as_str())))
}

/// The parameter type of a setter that stores a `ty`.
fn param(ty: &TokenStream, primitive: bool) -> TokenStream {
    if primitive {
        ty.clone()
    } else {
        quote!(impl ::core::convert::Into<#ty>)
    }
}

fn builder(state: &StateStruct<'_>) -> TokenStream {
    let private = private();
    let update = &state.update;
    let methods = state.fields.iter().map(|field| {
        let vis = field.vis;
        let ident = field.ident;
        let ty = field.ty;
        let name = &field.name;
        let primitive = is_primitive(ty);
        let value_ty = param(&quote!(#ty), primitive);
        match input_type(field) {
            None => {
                let doc = format!("Sets `{name}`; the value replaces the current one.");
                quote! {
                    #[doc = #doc]
                    #[must_use]
                    #vis fn #ident(mut self, value: #value_ty) -> Self {
                        self.#ident = ::core::option::Option::Some(::core::convert::Into::into(value));
                        self
                    }
                }
            }
            Some(input) => {
                let reducer_name = match &field.reducer {
                    Reducer::Builtin(builtin) => format!("`{}`", builtin.name()),
                    _ => "function".to_owned(),
                };
                let doc = format!("Writes `value` to `{name}` through its {reducer_name} reducer.");
                let appends = matches!(field.reducer, Reducer::Builtin(Builtin::Append));
                // An `append` setter names `push_<field>` in its error for one item.
                let input_ty = if appends {
                    quote!(impl #private::IntoAppended<#input>)
                } else {
                    param(&quote!(#input), primitive)
                };
                let into_input = if appends {
                    quote!(#private::IntoAppended::into_appended(value))
                } else {
                    quote!(::core::convert::Into::into(value))
                };
                let replace = format_ident!("replace_{}", name, span = ident.span());
                let replace_doc = format!(
                    "Replaces the whole of `{name}` with `value`, bypassing its reducer \
                     (what a summarization node does to a history)."
                );
                let push = appends.then(|| {
                    let push = format_ident!("push_{}", name, span = ident.span());
                    let push_doc = format!(
                        "Appends one item to `{name}`; calls add up: \
                         `.push_{name}(a).push_{name}(b)` appends both."
                    );
                    quote! {
                        #[doc = #push_doc]
                        #[must_use]
                        #vis fn #push(
                            mut self,
                            item: impl ::core::convert::Into<<#ty as #private::Appendable>::Item>,
                        ) -> Self {
                            #private::push_write(&mut self.#ident, ::core::convert::Into::into(item));
                            self
                        }
                    }
                });
                quote! {
                    #push

                    #[doc = #doc]
                    #[must_use]
                    #vis fn #ident(mut self, value: #input_ty) -> Self {
                        self.#ident = ::core::option::Option::Some(
                            #private::Write::Reduce(#into_input),
                        );
                        self
                    }

                    #[doc = #replace_doc]
                    #[must_use]
                    #vis fn #replace(mut self, value: #value_ty) -> Self {
                        self.#ident = ::core::option::Option::Some(
                            #private::Write::Replace(::core::convert::Into::into(value)),
                        );
                        self
                    }
                }
            }
        }
    });
    let bounds = fit_bounds(state);
    quote! {
        impl #update #bounds {
            /// An update that writes nothing yet.
            #[must_use]
            pub fn new() -> Self {
                <Self as ::core::default::Default>::default()
            }

            #(#methods)*
        }
    }
}

/// The channel index as a `usize` literal.
fn index(i: usize) -> TokenStream {
    let lit = proc_macro2::Literal::usize_unsuffixed(i);
    quote!(#lit)
}

/// The arm for a channel index that does not exist. The runtime only passes indexes of
/// `CHANNELS`, so reaching it is a bug in the caller, not bad data.
fn no_such_channel(state: &StateStruct<'_>) -> TokenStream {
    let message = format!(
        "`{}` has {} channels; there is no channel {{}}",
        state.ident,
        state.fields.len()
    );
    quote!(channel => ::core::panic!(#message, channel))
}

fn state_impl(state: &StateStruct<'_>) -> TokenStream {
    let private = private();
    let ident = state.ident;
    let update = &state.update;
    let specs = state.fields.iter().map(|field| {
        let name = &field.name;
        let (reducer, delta) = match &field.reducer {
            Reducer::Plain => (quote!(::core::option::Option::None), quote!(false)),
            Reducer::Builtin(builtin) => {
                let reducer_name = builtin.name();
                let reducer = reducer_as(field);
                (
                    quote!(::core::option::Option::Some(#reducer_name)),
                    quote!(#reducer::DELTA),
                )
            }
            Reducer::Function(path) => {
                let path_name = path_string(path);
                (
                    quote!(::core::option::Option::Some(#path_name)),
                    quote!(false),
                )
            }
        };
        let renamed_from = &field.renamed_from;
        quote!(#private::ChannelSpec {
            name: #name,
            reducer: #reducer,
            delta: #delta,
            renamed_from: &[#(#renamed_from),*],
        })
    });
    let removed = &state.removed;
    let removed = (!removed.is_empty())
        .then(|| quote!(const REMOVED: &'static [&'static str] = &[#(#removed),*];));
    let version = state.version.as_ref().map(|(version, previous)| {
        let message = format!(
            "`#[state(version = {version}, migrate_from = {})]`: the type migrated from must be version {}",
            quote!(#previous),
            version.base10_parse::<u32>().map_or(0, |v| v - 1)
        );
        let span = syn::spanned::Spanned::span(previous);
        let check = quote_spanned!(span=>
            const _: () = ::core::assert!(<#previous as #private::State>::VERSION + 1 == #version, #message);
        );
        quote! {
            const VERSION: u32 = #version;

            fn migrate_from(
                _version: u32,
                tuple: &#private::CheckpointTuple,
            ) -> ::core::result::Result<Self, #private::CheckpointError> {
                #check
                let previous = #private::restore_previous::<#previous>(tuple)?;
                #private::migrate::<#previous, Self>(
                    tuple,
                    <#previous as #private::State>::VERSION,
                    #version,
                    previous,
                )
            }
        }
    });
    let applies = state.fields.iter().map(|field| {
        let ident = field.ident;
        match &field.reducer {
            Reducer::Plain => quote!(#private::apply_plain(&mut self.#ident, update.#ident);),
            Reducer::Builtin(builtin) => {
                let ty = field.ty;
                let reducer = format_ident!("{}", builtin.type_name());
                quote_spanned!(ty.span()=> #private::apply_reduced::<#private::#reducer, #ty>(&mut self.#ident, update.#ident);)
            }
            Reducer::Function(_) => {
                let f = reducer_fn_const(field);
                quote!(#private::apply_with(&mut self.#ident, update.#ident, #f);)
            }
        }
    });
    let encodes = state.fields.iter().enumerate().map(|(i, field)| {
        let i = index(i);
        let ident = field.ident;
        quote!(#i => #private::encode_value(&self.#ident),)
    });
    let decodes = state.fields.iter().enumerate().map(|(i, field)| {
        let i = index(i);
        let ident = field.ident;
        let decode = match &field.reducer {
            Reducer::Plain => quote!(#private::decode_plain(&mut self.#ident, snapshot, deltas)),
            Reducer::Builtin(builtin) => {
                let ty = field.ty;
                let reducer = format_ident!("{}", builtin.type_name());
                quote_spanned!(ty.span()=> #private::decode_reduced::<#private::#reducer, #ty>(&mut self.#ident, snapshot, deltas))
            }
            Reducer::Function(_) => {
                let f = reducer_fn_const(field);
                quote!(#private::decode_with(&mut self.#ident, snapshot, deltas, #f))
            }
        };
        quote!(#i => #decode,)
    });
    let no_such_channel = no_such_channel(state);
    let bounds = fit_bounds(state);
    quote! {
        // Not listed in diagnostics as "the trait is implemented for …": which states a crate
        // and its dependencies hold (the prebuilt agent's, with a feature) is not a hint.
        #[diagnostic::do_not_recommend]
        impl #private::State for #ident #bounds {
            type Update = #update;

            const CHANNELS: &'static [#private::ChannelSpec] = &[#(#specs),*];

            #removed

            #version

            fn apply(&mut self, update: #update) {
                #(#applies)*
            }

            fn encode_channel(
                &self,
                channel: usize,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, #private::serde_json::Error> {
                match channel {
                    #(#encodes)*
                    #no_such_channel,
                }
            }

            fn decode_channel(
                &mut self,
                channel: usize,
                snapshot: ::core::option::Option<&[u8]>,
                deltas: &[&[u8]],
            ) -> ::core::result::Result<(), #private::serde_json::Error> {
                match channel {
                    #(#decodes)*
                    #no_such_channel,
                }
            }
        }
    }
}

fn update_impl(state: &StateStruct<'_>) -> TokenStream {
    let private = private();
    let update = &state.update;
    let inserts = state.fields.iter().enumerate().map(|(i, field)| {
        let i = index(i);
        let ident = field.ident;
        quote!(if self.#ident.is_some() { set.insert(#i); })
    });
    let overwrites = state.fields.iter().enumerate().map(|(i, field)| {
        let i = index(i);
        let ident = field.ident;
        match field.reducer {
            Reducer::Plain => quote!(if self.#ident.is_some() { set.insert(#i); }),
            _ => quote!(if #private::is_replace(&self.#ident) { set.insert(#i); }),
        }
    });
    let encodes = state.fields.iter().enumerate().map(|(i, field)| {
        let i = index(i);
        let ident = field.ident;
        quote!(#i => #private::encode_write(&self.#ident),)
    });
    let decodes = state.fields.iter().enumerate().map(|(i, field)| {
        let i = index(i);
        let ident = field.ident;
        quote!(#i => #private::decode_write(&mut self.#ident, bytes),)
    });
    let no_such_channel = no_such_channel(state);
    let bounds = fit_bounds(state);
    quote! {
        impl #private::StateUpdate for #update #bounds {
            fn channels(&self) -> #private::ChannelSet {
                let mut set = #private::ChannelSet::new();
                #(#inserts)*
                set
            }

            fn overwrites(&self) -> #private::ChannelSet {
                let mut set = #private::ChannelSet::new();
                #(#overwrites)*
                set
            }

            fn encode_write(
                &self,
                channel: usize,
            ) -> ::core::result::Result<::std::vec::Vec<u8>, #private::serde_json::Error> {
                match channel {
                    #(#encodes)*
                    #no_such_channel,
                }
            }

            fn decode_write(
                &mut self,
                channel: usize,
                bytes: &[u8],
            ) -> ::core::result::Result<(), #private::serde_json::Error> {
                match channel {
                    #(#decodes)*
                    #no_such_channel,
                }
            }
        }
    }
}

/// `crate::reducers::keep_max` as written, for the channel's reducer name.
fn path_string(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let joined = segments.join("::");
    if path.leading_colon.is_some() {
        format!("::{joined}")
    } else {
        joined
    }
}
