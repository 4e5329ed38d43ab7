//! JSON bytes to and from `jsonb` columns without re-encoding: the binary `jsonb` format is a
//! version byte (1) followed by the JSON text, so encoded values go to the server as they are
//! and come back as the server's text, which `serde_json` reads directly.
//!
//! Some JSON text cannot be `jsonb` (a `\u0000` escape, a lone surrogate) and some stored
//! bytes are not JSON at all; [`Stored::new`] sends those to the row's `bytea` column instead,
//! so every value round-trips.

use std::error::Error;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// JSON text bound to (or read from) a `json` or `jsonb` parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonText<'a>(pub(crate) &'a [u8]);

impl ToSql for JsonText<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        if *ty == Type::JSONB {
            out.put_u8(1);
        }
        out.put_slice(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for JsonText<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, text)) => Ok(Self(text)),
                _ => Err("unsupported jsonb encoding version".into()),
            }
        } else {
            Ok(Self(raw))
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }
}

/// Where a value's bytes go: the `jsonb` column when they are JSON it can hold, else `bytea`.
pub(crate) enum Stored<'a> {
    /// Queryable JSON.
    Json(JsonText<'a>),
    /// Anything else, kept byte for byte.
    Raw(&'a [u8]),
}

impl<'a> Stored<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        if jsonb_can_hold(bytes) {
            Stored::Json(JsonText(bytes))
        } else {
            Stored::Raw(bytes)
        }
    }

    /// The `jsonb` column's value.
    pub(crate) fn json(&self) -> Option<JsonText<'a>> {
        match self {
            Stored::Json(json) => Some(*json),
            Stored::Raw(_) => None,
        }
    }

    /// The `bytea` column's value.
    pub(crate) fn raw(&self) -> Option<&'a [u8]> {
        match self {
            Stored::Json(_) => None,
            Stored::Raw(raw) => Some(raw),
        }
    }
}

/// Whether `bytes` are JSON that `jsonb` accepts: valid JSON without a `\u0000` escape or a
/// surrogate escape (`jsonb` rejects the first, and lone halves of the second).
fn jsonb_can_hold(bytes: &[u8]) -> bool {
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() {
        return false;
    }
    let mut rest = bytes;
    while let Some(at) = rest.windows(2).position(|w| w == b"\\u") {
        let escape = &rest[at + 2..];
        if escape.len() >= 4 {
            let hex = &escape[..4];
            if hex == b"0000"
                || matches!(
                    hex[0..2].to_ascii_lowercase().as_slice(),
                    [b'd', b'8'..=b'9' | b'a'..=b'f']
                )
            {
                return false;
            }
        }
        rest = &rest[at + 2..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::jsonb_can_hold;

    #[test]
    fn json_that_jsonb_rejects_goes_to_bytea() {
        assert!(jsonb_can_hold(br#"{"a":[1,"x\\u0041"]}"#));
        assert!(!jsonb_can_hold(br#""\u0000""#));
        assert!(!jsonb_can_hold(br#""\ud83d\ude00""#));
        assert!(!jsonb_can_hold(b"not json"));
    }
}
