//! `#[graph(state = S)]` on an inline module: read the module, its markers' arguments (`attr`)
//! and its `edges!` DSL (`parse`, into `model`), check the whole graph (`check`), and generate the node enum, the graph type
//! and its builder (`expand`).

mod attr;
mod check;
mod diagram;
mod expand;
mod model;
mod parse;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ItemMod;

use crate::errors::Errors;

pub(crate) fn graph(args: TokenStream, input: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let args = parse::args(args, &mut errors);
    let item: ItemMod = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &input,
                "`#[graph]` goes on an inline module: `#[graph(state = MyState)] mod my_graph { … }`",
            );
            // Keep the user's item, so nothing else breaks while this is fixed.
            let mut tokens = input;
            tokens.extend(error.into_compile_error());
            return tokens;
        }
    };
    let fallback = item.to_token_stream();
    let mut module = match parse::module(item, &mut errors) {
        Ok(module) => module,
        Err(error) => {
            let mut tokens = fallback;
            tokens.extend(error.into_compile_error());
            return tokens;
        }
    };
    let plan = check::check(&mut module, args.as_ref(), &mut errors);
    let plan = errors.is_empty().then_some(&plan);
    let mut tokens = expand::expand(&module, args.as_ref(), plan);
    if let Some(error) = errors.combined() {
        tokens.extend(error.into_compile_error());
    }
    tokens
}
