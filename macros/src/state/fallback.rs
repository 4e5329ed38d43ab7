//! What `#[derive(State)]` emits for an input it cannot handle at all (an enum, a tuple
//! struct, a generic struct): the error, plus an empty `<Name>Update` and stub impls, so the
//! user's nodes that name them do not fail with a flood of unrelated errors (thiserror's
//! `fallback.rs`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use super::ast::update_ident;

pub(crate) fn expand(input: &DeriveInput, error: syn::Error) -> TokenStream {
    let vis = &input.vis;
    let ident = &input.ident;
    let update = update_ident(ident);
    let error = error.into_compile_error();
    // Generic structs get the stub too, for every instance that has the state's supertraits,
    // so a graph over `S<u32>` adds no errors of its own.
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    if !input.generics.params.is_empty() {
        predicates.push(quote! {
            Self: ::core::clone::Clone
                + ::core::default::Default
                + ::core::fmt::Debug
                + ::core::marker::Send
                + ::core::marker::Sync
                + ::stategraph::__private::serde::Serialize
                + ::stategraph::__private::serde::de::DeserializeOwned
                + 'static
        });
    }
    let state_impl = {
        quote! {
            impl #impl_generics ::stategraph::__private::State for #ident #ty_generics
            where #(#predicates,)*
            {
                type Update = #update;
                const CHANNELS: &'static [::stategraph::__private::ChannelSpec] = &[];
                fn apply(&mut self, _: #update) {
                    ::core::unreachable!()
                }
                fn encode_channel(
                    &self,
                    _: usize,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::stategraph::__private::serde_json::Error> {
                    ::core::unreachable!()
                }
                fn decode_channel(
                    &mut self,
                    _: usize,
                    _: ::core::option::Option<&[u8]>,
                    _: &[&[u8]],
                ) -> ::core::result::Result<(), ::stategraph::__private::serde_json::Error> {
                    ::core::unreachable!()
                }
            }
        }
    };
    quote! {
        #error
        #[allow(missing_docs)]
        #[derive(::core::clone::Clone, ::core::fmt::Debug, ::core::default::Default)]
        #vis struct #update {}
        #[doc(hidden)]
        const _: () = {
            #state_impl
            impl ::stategraph::__private::StateUpdate for #update {
                fn channels(&self) -> ::stategraph::__private::ChannelSet {
                    ::stategraph::__private::ChannelSet::new()
                }
                fn overwrites(&self) -> ::stategraph::__private::ChannelSet {
                    ::stategraph::__private::ChannelSet::new()
                }
                fn encode_write(
                    &self,
                    _: usize,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::stategraph::__private::serde_json::Error> {
                    ::core::unreachable!()
                }
                fn decode_write(
                    &mut self,
                    _: usize,
                    _: &[u8],
                ) -> ::core::result::Result<(), ::stategraph::__private::serde_json::Error> {
                    ::core::unreachable!()
                }
            }
        };
    }
}
