//! Rules over the whole state struct, after each field has been read.

use std::collections::HashMap;

use super::ast::StateStruct;
use super::attr::Reducer;
use crate::errors::Errors;

/// The most fields a state may have (`ChannelSet` is a 128-bit set).
const MAX_FIELDS: usize = 128;

pub(crate) fn check(state: &StateStruct<'_>, errors: &mut Errors) {
    if state.fields.len() > MAX_FIELDS {
        errors.spanned(
            state.fields[MAX_FIELDS].ident,
            format!(
                "a state has at most {MAX_FIELDS} fields (channels), and `{}` has {}; group related fields into a struct",
                state.ident,
                state.fields.len()
            ),
        );
    }
    check_builder_names(state, errors);
}

/// The update's builder has `new`, a setter per field and `replace_<field>` per reducer field;
/// a field whose setter would take one of those names cannot be expressed.
fn check_builder_names(state: &StateStruct<'_>, errors: &mut Errors) {
    let mut taken: HashMap<String, String> = HashMap::new();
    taken.insert("new".to_owned(), format!("`{}::new`", state.update));
    for field in &state.fields {
        if !matches!(field.reducer, Reducer::Plain) {
            taken.insert(
                format!("replace_{}", field.name),
                format!("the setter replacing field `{}`", field.name),
            );
        }
    }
    for field in &state.fields {
        if let Some(owner) = taken.get(&field.name) {
            errors.spanned(
                field.ident,
                format!(
                    "field `{}` would clash with {owner} on the generated `{}`; rename the field",
                    field.name, state.update
                ),
            );
        }
    }
}
