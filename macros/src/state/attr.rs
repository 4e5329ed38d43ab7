//! `#[state(...)]`: on a field, which reducer merges the field's writes and which names the
//! field had before; on the struct, which fields were removed.

use syn::{Attribute, LitStr, Path};

use crate::errors::Errors;
use crate::suggest::edit_distance;

/// The attribute's name.
pub(crate) const STATE: &str = "state";
/// The field key naming the reducer.
pub(crate) const REDUCER: &str = "reducer";
/// The field key naming an earlier name of the field.
pub(crate) const RENAMED_FROM: &str = "renamed_from";
/// The struct key listing removed fields.
pub(crate) const REMOVED: &str = "removed";

/// A built-in reducer, named by a bare ident in `#[state(reducer = …)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    Append,
    Add,
    Messages,
    Merge,
}

impl Builtin {
    pub(crate) const ALL: [Builtin; 4] = [
        Builtin::Append,
        Builtin::Add,
        Builtin::Messages,
        Builtin::Merge,
    ];

    /// The name the user writes, which is also the reducer name in `ChannelSpec`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Builtin::Append => "append",
            Builtin::Add => "add",
            Builtin::Messages => "messages",
            Builtin::Merge => "merge",
        }
    }

    /// The runtime type that implements `Reducer<T>` for it.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Builtin::Append => "Append",
            Builtin::Add => "Add",
            Builtin::Messages => "Messages",
            Builtin::Merge => "Merge",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|builtin| builtin.name() == name)
    }
}

/// How a field's writes merge.
#[derive(Clone, Debug)]
pub(crate) enum Reducer {
    /// No reducer: a write replaces the value.
    Plain,
    /// A built-in reducer.
    Builtin(Builtin),
    /// A user function `fn(&mut T, T)`.
    Function(Path),
}

/// What `#[state(...)]` says about one field.
pub(crate) struct FieldAttrs {
    pub(crate) reducer: Reducer,
    /// Earlier names (`renamed_from = "old"`, any number of times).
    pub(crate) renamed_from: Vec<LitStr>,
}

/// Reads every `#[state(...)]` on a field. A bad attribute is reported and leaves the field
/// plain, so the rest of the derive still expands.
pub(crate) fn field_attrs(attrs: &[Attribute], errors: &mut Errors) -> FieldAttrs {
    let mut reducer: Option<Reducer> = None;
    let mut renamed_from = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(STATE)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(RENAMED_FROM) {
                renamed_from.push(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else if meta.path.is_ident(REDUCER) {
                let path: Path = meta.value()?.parse()?;
                if reducer.is_some() {
                    errors.spanned(&meta.path, "duplicate `reducer`: a field has one reducer; remove one of them");
                    return Ok(());
                }
                match classify(path) {
                    Ok(found) => reducer = Some(found),
                    Err(error) => errors.push(error),
                }
                Ok(())
            } else {
                let key = meta.path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::");
                // Skip the key's value so parsing goes on to the next key.
                if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
                errors.spanned(
                    &meta.path,
                    format!(
                        "unknown `state` attribute `{key}` on a field; the keys are `reducer` \
                         (`#[state(reducer = append)]`) and `renamed_from` (`#[state(renamed_from = \"old_name\")]`)"
                    ),
                );
                Ok(())
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    FieldAttrs {
        reducer: reducer.unwrap_or(Reducer::Plain),
        renamed_from,
    }
}

/// What `#[state(...)]` says on the struct.
#[derive(Default)]
pub(crate) struct StructAttrs {
    /// Names of fields removed on purpose (`removed("a", "b")`).
    pub(crate) removed: Vec<LitStr>,
    /// The type's version (`version = 3`).
    pub(crate) version: Option<syn::LitInt>,
    /// The previous version's type (`migrate_from = ChatV2`).
    pub(crate) migrate_from: Option<syn::Type>,
}

/// Reads `#[state(removed("a", "b"), version = n, migrate_from = Previous)]` on the struct.
pub(crate) fn struct_attrs(attrs: &[Attribute], errors: &mut Errors) -> StructAttrs {
    let mut out = StructAttrs::default();
    let mut marker = None;
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(STATE)) {
        marker.get_or_insert(attr);
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(REMOVED) {
                let content;
                syn::parenthesized!(content in meta.input);
                let names =
                    syn::punctuated::Punctuated::<LitStr, syn::Token![,]>::parse_terminated(
                        &content,
                    )?;
                out.removed.extend(names);
                Ok(())
            } else if meta.path.is_ident("version") {
                let version: syn::LitInt = meta.value()?.parse()?;
                match version.base10_parse::<u32>() {
                    Ok(v) if v >= 1 => {
                        out.version = Some(version);
                        Ok(())
                    }
                    _ => Err(syn::Error::new_spanned(
                        &version,
                        "a state version is a whole number from 1 (1 is the version of a type that declares none)",
                    )),
                }
            } else if meta.path.is_ident("migrate_from") {
                out.migrate_from = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown `state` attribute on the struct; the keys are `removed`, `version` \
                     and `migrate_from`, as in `#[state(version = 2, migrate_from = ChatV1)]`",
                ))
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    let above_one = out
        .version
        .as_ref()
        .and_then(|v| v.base10_parse::<u32>().ok())
        .is_some_and(|v| v > 1);
    match (&out.version, &out.migrate_from) {
        (Some(version), None) if above_one => errors.spanned(
            version,
            "a state above version 1 says which type it migrates from: \
             `#[state(version = 2, migrate_from = PreviousState)]`, with `impl From<PreviousState> for ThisState` (or `TryFrom`)",
        ),
        (None, Some(from)) => errors.spanned(
            from,
            "`migrate_from` needs this type's version too: `#[state(version = 2, migrate_from = …)]`",
        ),
        (Some(version), Some(_)) if !above_one => errors.spanned(
            version,
            "version 1 is the first: it migrates from nothing",
        ),
        _ => {}
    }
    out
}

/// A bare ident names a built-in reducer; anything else is a user function. A bare ident close
/// to a built-in name is taken for a typo rather than a function.
fn classify(path: Path) -> syn::Result<Reducer> {
    let Some(ident) = path.get_ident() else {
        return Ok(Reducer::Function(path));
    };
    let name = ident.to_string();
    if let Some(builtin) = Builtin::from_name(&name) {
        return Ok(Reducer::Builtin(builtin));
    }
    let near = Builtin::ALL
        .into_iter()
        .map(|builtin| (edit_distance(&name, builtin.name()), builtin))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance);
    match near {
        Some((_, builtin)) => Err(syn::Error::new_spanned(
            ident,
            format!(
                "unknown reducer `{name}`; did you mean `{}`? Built-in reducers: append, add, messages, merge; \
                 a custom reducer is a path to `fn(&mut T, T)`",
                builtin.name()
            ),
        )),
        None => Ok(Reducer::Function(path)),
    }
}
