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
    let state_impl = if input.generics.params.is_empty() && input.generics.where_clause.is_none() {
        quote! {
            impl ::stategraph::__private::State for #ident {
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
    } else {
        TokenStream::new()
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
