//! Reading the shapes the scripts return out of [`redis::Value`]s.

use redis::Value;

/// The bytes of a string reply.
pub(crate) fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        Value::VerbatimString { text, .. } => Some(text.as_bytes()),
        _ => None,
    }
}

/// The text of a string reply.
pub(crate) fn text(value: &Value) -> Option<&str> {
    std::str::from_utf8(bytes(value)?).ok()
}

/// The items of an array reply (nil reads as empty).
pub(crate) fn array(value: Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(items) | Value::Set(items) => Some(items),
        Value::Nil => Some(Vec::new()),
        _ => None,
    }
}
