//! Rules over the whole state struct, after each field has been read.

use std::collections::HashMap;

use super::ast::StateStruct;
use super::attr::{Builtin, Reducer};
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
    check_history_names(state, errors);
}

/// Earlier names (`renamed_from`) and removed names (`removed(…)`) say what became of a stored
/// channel, so each must name a channel the struct no longer has, and only once.
fn check_history_names(state: &StateStruct<'_>, errors: &mut Errors) {
    let mut seen: HashMap<String, &'static str> = HashMap::new();
    let current: Vec<&str> = state.fields.iter().map(|f| f.name.as_str()).collect();
    let earlier = state
        .fields
        .iter()
        .flat_map(|f| {
            f.renamed_from
                .iter()
                .map(|lit| (lit, "an earlier name of a field"))
        })
        .chain(state.removed.iter().map(|lit| (lit, "a removed field")));
    for (lit, what) in earlier {
        let name = lit.value();
        if current.contains(&name.as_str()) {
            errors.spanned(
                lit,
                format!(
                    "`{name}` is a field of `{}`, so it cannot also be {what}; \
                     a stored `{name}` channel is read into that field",
                    state.ident
                ),
            );
        } else if let Some(first) = seen.insert(name.clone(), what) {
            errors.spanned(
                lit,
                format!(
                    "`{name}` is already {first}; a stored channel can become only one thing, \
                     a renamed field or a removed one"
                ),
            );
        }
    }
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
        if matches!(field.reducer, Reducer::Builtin(Builtin::Append)) {
            taken.insert(
                format!("push_{}", field.name),
                format!("the setter pushing one item to field `{}`", field.name),
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
