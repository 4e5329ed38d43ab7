//! JSON bytes to and from `jsonb` columns without re-encoding: the binary `jsonb` format is a
//! version byte (1) followed by the JSON text, so encoded values go to the server as they are
//! and come back as the server's text, which `serde_json` reads directly.
//!
//! Some JSON text cannot be `jsonb` (a `\u0000` escape, a lone surrogate) and some stored
//! bytes are not JSON at all; [`Stored::new`] sends those to the row's `bytea` column instead,
//! so every value round-trips. And `jsonb` keeps numbers as `numeric`, which forgets how they
//! were written: a float in exponent form (`1e16`) comes back as an integer. [`jsonb_exact`]
//! writes such floats out in full, so they come back as the same JSON value.

use std::borrow::Cow;
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
    /// Queryable JSON, with its numbers in the form `jsonb` gives back unchanged.
    Json(Cow<'a, [u8]>),
    /// Anything else, kept byte for byte.
    Raw(&'a [u8]),
}

impl<'a> Stored<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        if jsonb_can_hold(bytes) {
            Stored::Json(jsonb_exact(bytes))
        } else {
            Stored::Raw(bytes)
        }
    }

    /// The `jsonb` column's value.
    pub(crate) fn json(&self) -> Option<JsonText<'_>> {
        match self {
            Stored::Json(json) => Some(JsonText(json)),
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

/// JSON text whose numbers `jsonb` gives back as the same JSON values. `jsonb` stores a number
/// as `numeric` and prints it without an exponent, keeping only the digits after a decimal
/// point that were written: `1e16` (a float) comes back as `10000000000000000`, which reads as
/// an integer. Written `10000000000000000.0` it comes back as written, a float. Numbers with a
/// negative exponent come back with a decimal point already (`1e-7` as `0.0000001`), and
/// others unchanged, so only exponents of zero or more are rewritten. Text without them is
/// returned as it is.
pub(crate) fn jsonb_exact(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len()
                    && matches!(bytes[at], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    at += 1;
                }
                if let Some(plain) = expand_exponent(&bytes[start..at]) {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len() + 32));
                    out.extend_from_slice(&bytes[copied..start]);
                    out.extend_from_slice(plain.as_bytes());
                    copied = at;
                }
            }
            _ => at += 1,
        }
    }
    match out {
        Some(mut out) => {
            out.extend_from_slice(&bytes[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(bytes),
    }
}

/// `1.5e3` as `1500.0`: a number with an exponent of zero or more, written out in full with a
/// fraction. `None` for any other number (or a token that is not one).
fn expand_exponent(token: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(token).ok()?;
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let exponent: i32 = exponent
        .strip_prefix('+')
        .unwrap_or(exponent)
        .parse()
        .ok()?;
    // No finite double has more than 309 digits before its point.
    if !(0..=400).contains(&exponent) {
        return None;
    }
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty()
        || !(whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let point = whole.len() + exponent as usize;
    let (int, frac) = if point >= digits.len() {
        (format!("{digits}{}", "0".repeat(point - digits.len())), "0")
    } else {
        let (int, frac) = digits.split_at(point);
        (int.to_owned(), frac)
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Some(format!("{sign}{int}.{frac}"))
}

#[cfg(test)]
mod tests {
    use super::{jsonb_can_hold, jsonb_exact};

    fn exact(text: &str) -> String {
        String::from_utf8(jsonb_exact(text.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn floats_with_exponents_are_written_out() {
        assert_eq!(exact("1e16"), "10000000000000000.0");
        assert_eq!(
            exact(r#"{"a":[-1.25e3,"1e16",2e0]}"#),
            r#"{"a":[-1250.0,"1e16",2.0]}"#
        );
        assert_eq!(exact("1.5e-7"), "1.5e-7");
        assert_eq!(exact(r#"[1,2.5,"x\"1e5"]"#), r#"[1,2.5,"x\"1e5"]"#);
        assert!(matches!(
            jsonb_exact(b"[1,2.5]"),
            std::borrow::Cow::Borrowed(_)
        ));
        for value in [1e16, -3.5e20, 1.7976931348623157e308, 123456.0, 5e-324] {
            let text = serde_json::to_string(&value).unwrap();
            let back: f64 = serde_json::from_str(&exact(&text)).unwrap();
            assert_eq!(back, value, "{text}");
            let as_value: serde_json::Value = serde_json::from_str(&exact(&text)).unwrap();
            assert!(as_value.is_f64(), "{text} should stay a float");
        }
    }

    #[test]
    fn json_that_jsonb_rejects_goes_to_bytea() {
        assert!(jsonb_can_hold(br#"{"a":[1,"x\\u0041"]}"#));
        assert!(!jsonb_can_hold(br#""\u0000""#));
        assert!(!jsonb_can_hold(br#""\ud83d\ude00""#));
        assert!(!jsonb_can_hold(b"not json"));
    }
}
