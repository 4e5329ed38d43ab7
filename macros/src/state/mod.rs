//! `#[derive(State)]`: read the struct (`ast`, `attr`), check it (`check`), generate the update
//! type and the impls (`expand`), or a stub (`fallback`) when the input is not a struct at all.

mod ast;
mod attr;
mod check;
mod expand;
mod fallback;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::errors::Errors;

pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::new();
    let state = match ast::StateStruct::from_syn(&input, &mut errors) {
        Ok(state) => state,
        Err(not_a_state) => {
            return fallback::expand(
                &input,
                syn::Error::new(not_a_state.span, not_a_state.message),
            );
        }
    };
    check::check(&state, &mut errors);
    // Field mistakes leave the field plain, so the full expansion still describes the struct;
    // the errors ride along with it.
    let mut tokens = expand::expand(&state);
    if let Some(error) = errors.combined() {
        tokens.extend(error.into_compile_error());
    }
    tokens
}
