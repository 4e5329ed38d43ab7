//! The validated model of a `#[derive(State)]` input. Each part keeps the user's syn node, so
//! errors and generated type checks point at the user's tokens.

use proc_macro2::Span;
use quote::format_ident;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use super::attr::{self, Reducer};
use crate::errors::Errors;

/// A state struct.
pub(crate) struct StateStruct<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    /// `<Name>Update`.
    pub(crate) update: Ident,
    pub(crate) fields: Vec<StateField<'a>>,
    /// Names of fields removed on purpose (`#[state(removed("old"))]`).
    pub(crate) removed: Vec<LitStr>,
    /// The type's version and the previous version's type
    /// (`#[state(version = 2, migrate_from = ChatV1)]`).
    pub(crate) version: Option<(syn::LitInt, syn::Type)>,
}

/// One field, which is one channel.
pub(crate) struct StateField<'a> {
    pub(crate) ident: &'a Ident,
    /// The channel name: the field name without `r#`.
    pub(crate) name: String,
    pub(crate) vis: &'a Visibility,
    pub(crate) ty: &'a Type,
    pub(crate) reducer: Reducer,
    /// Earlier names of the field (`#[state(renamed_from = "old")]`).
    pub(crate) renamed_from: Vec<LitStr>,
}

/// Why the input cannot be a state at all; the derive then emits only a fallback.
pub(crate) struct NotAState {
    pub(crate) span: Span,
    pub(crate) message: &'static str,
}

impl<'a> StateStruct<'a> {
    /// Reads the input. Field-level mistakes go to `errors` and leave a usable model; a shape
    /// the derive cannot handle at all is returned as `NotAState`.
    pub(crate) fn from_syn(input: &'a DeriveInput, errors: &mut Errors) -> Result<Self, NotAState> {
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(_) | Fields::Unit => {
                    return Err(NotAState {
                        span: input.ident.span(),
                        message: "`State` needs a struct with named fields: each field is a channel",
                    });
                }
            },
            Data::Enum(data) => {
                return Err(NotAState {
                    span: data.enum_token.span,
                    message: "`State` needs a struct with named fields, not an enum: each field is a channel",
                });
            }
            Data::Union(data) => {
                return Err(NotAState {
                    span: data.union_token.span,
                    message: "`State` needs a struct with named fields, not a union: each field is a channel",
                });
            }
        };
        if input.generics.lt_token.is_some() || input.generics.where_clause.is_some() {
            return Err(NotAState {
                span: input
                    .generics
                    .lt_token
                    .map_or(input.ident.span(), |lt| lt.span),
                message: "`State` does not support generic structs; name the concrete types in the fields",
            });
        }
        let fields = named
            .named
            .iter()
            .map(|field| {
                let ident = field.ident.as_ref().expect("named fields have idents");
                let attrs = attr::field_attrs(&field.attrs, errors);
                StateField {
                    ident,
                    name: ident.unraw().to_string(),
                    vis: &field.vis,
                    ty: &field.ty,
                    reducer: attrs.reducer,
                    renamed_from: attrs.renamed_from,
                }
            })
            .collect();
        let struct_attrs = attr::struct_attrs(&input.attrs, errors);
        Ok(StateStruct {
            ident: &input.ident,
            vis: &input.vis,
            update: update_ident(&input.ident),
            fields,
            removed: struct_attrs.removed,
            version: struct_attrs.version.zip(struct_attrs.migrate_from),
        })
    }
}

/// `<Name>Update`, spanned on the struct's name.
pub(crate) fn update_ident(ident: &Ident) -> Ident {
    format_ident!("{}Update", ident.unraw(), span = ident.span())
}
