//! Searching a store: a namespace prefix, filters on the values' fields, and a page; and
//! listing the namespaces under a prefix.
//!
//! A filter compares one top-level field of an item's value with a JSON value. Numbers compare
//! by their exact value — an integer (any `i64` or `u64`) as itself, a float as the exact value
//! of its double, so `5` equals `5.0` and `2^53 + 1` is greater than `9007199254740992.0` —
//! strings as strings (byte order), booleans and null only for (in)equality; a field that is
//! missing, or holds another kind of value, never matches — `Ne` included. Every backend gives
//! exactly these answers; [`Filter::matches`] is their reference.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::StoreError;
use super::namespace::check_labels;

/// Two JSON numbers by their exact values: integers as integers, floats as the exact values of
/// their doubles.
fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        (Some(a), None) => compare_integer_float(a, b.as_f64()?),
        (None, Some(b)) => compare_integer_float(b, a.as_f64()?).map(Ordering::reverse),
        (None, None) => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// A JSON number that is an integer, as one (every `i64` and `u64` fits an `i128`).
fn integer(n: &serde_json::Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// Integer `i` against the exact value of double `f`.
fn compare_integer_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // Beyond ±2^126 no integer compared here comes near.
    const FAR: f64 = 8.507_059_173_023_462e37;
    if f >= FAR {
        return Some(Ordering::Less);
    }
    if f <= -FAR {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // Exact: `whole` is an integer of magnitude below 2^126.
    #[allow(clippy::cast_possible_truncation)]
    let whole_int = whole as i128;
    Some(i.cmp(&whole_int).then_with(|| {
        if f > whole {
            Ordering::Less
        } else if f < whole {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }))
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal (a field of the same kind with another value).
    Ne,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
}

impl Op {
    /// The comparison as SQL writes it (`=`, `<>`, `>`, `>=`, `<`, `<=`).
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
        }
    }
}

/// A condition on one top-level field of an item's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The field.
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The value compared with.
    pub value: Value,
}

/// The longest field name a filter may name, in bytes.
pub const MAX_FIELD_BYTES: usize = 256;

impl Filter {
    /// `field == value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, Op::Eq, value)
    }
    /// `field != value`.
    pub fn ne(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, Op::Ne, value)
    }
    /// `field > value`.
    pub fn gt(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, Op::Gt, value)
    }
    /// `field >= value`.
    pub fn gte(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, Op::Gte, value)
    }
    /// `field < value`.
    pub fn lt(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, Op::Lt, value)
    }
    /// `field <= value`.
    pub fn lte(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(field, Op::Lte, value)
    }

    fn new(field: impl Into<String>, op: Op, value: impl Into<Value>) -> Self {
        Self {
            field: field.into(),
            op,
            value: value.into(),
        }
    }

    /// Whether `item` (an item's value) passes this filter.
    pub fn matches(&self, item: &Map<String, Value>) -> bool {
        let Some(found) = item.get(&self.field) else {
            return false;
        };
        let order = match (found, &self.value) {
            (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
            (Value::String(a), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Bool(a), Value::Bool(b)) if matches!(self.op, Op::Eq | Op::Ne) => {
                Some(a.cmp(b))
            }
            (Value::Null, Value::Null) if matches!(self.op, Op::Eq | Op::Ne) => {
                Some(Ordering::Equal)
            }
            _ => None,
        };
        let Some(order) = order else {
            return false;
        };
        match self.op {
            Op::Eq => order == Ordering::Equal,
            Op::Ne => order != Ordering::Equal,
            Op::Gt => order == Ordering::Greater,
            Op::Gte => order != Ordering::Less,
            Op::Lt => order == Ordering::Less,
            Op::Lte => order != Ordering::Greater,
        }
    }

    /// Whether a backend comparing numbers as SQL databases do (SQLite's integers and doubles,
    /// PostgreSQL's `numeric`) gives this filter's exact answers: always, unless its value is a
    /// number of magnitude 2^53 or more, where a double no longer holds every integer. A
    /// backend filters in SQL only with the filters that are exact there, and checks the others
    /// with [`Filter::matches`] on the items it reads.
    pub fn exact_in_sql(&self) -> bool {
        const LIMIT: i128 = 1 << 53;
        match &self.value {
            Value::Number(n) => match integer(n) {
                Some(i) => -LIMIT < i && i < LIMIT,
                None => n.as_f64().is_some_and(|f| f.abs() < LIMIT as f64),
            },
            _ => true,
        }
    }

    /// Checks the field name.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.field.is_empty() || self.field.len() > MAX_FIELD_BYTES || self.field.contains('\0')
        {
            return Err(StoreError::BadFilter {
                field: self
                    .field
                    .chars()
                    .take(64)
                    .flat_map(char::escape_default)
                    .collect(),
            });
        }
        Ok(())
    }
}

/// A search: the items under a namespace prefix that pass every filter, newest update first
/// (then by namespace and key), `limit` of them after skipping `offset`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SearchQuery {
    /// The labels every namespace searched begins with (none: every namespace).
    pub prefix: Vec<String>,
    /// The filters, all of which an item passes.
    pub filters: Vec<Filter>,
    /// The most items returned (default 10).
    pub limit: usize,
    /// How many matching items to skip first.
    pub offset: usize,
    /// Whether the items returned get their time to live again from now.
    pub refresh: bool,
}

impl SearchQuery {
    /// The items under `prefix` (labels; none for every namespace), ten at a time.
    pub fn under<I, L>(prefix: I) -> Self
    where
        I: IntoIterator<Item = L>,
        L: Into<String>,
    {
        Self {
            prefix: prefix.into_iter().map(Into::into).collect(),
            filters: Vec::new(),
            limit: 10,
            offset: 0,
            refresh: false,
        }
    }

    /// Only items passing `filter` too.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// At most `n` items.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// Skipping the first `n` matching items.
    pub fn offset(mut self, n: usize) -> Self {
        self.offset = n;
        self
    }

    /// Renewing the time to live of the items returned.
    pub fn refresh(mut self) -> Self {
        self.refresh = true;
        self
    }

    /// Checks the prefix and the filters.
    pub fn check(&self) -> Result<(), StoreError> {
        check_labels(&self.prefix, true)?;
        self.filters.iter().try_for_each(Filter::check)
    }

    /// Whether an item in `namespace` with `value` is one this search finds (its page aside).
    pub fn matches(&self, namespace: &super::Namespace, value: &Map<String, Value>) -> bool {
        namespace.starts_with(&self.prefix) && self.filters.iter().all(|f| f.matches(value))
    }
}

/// A listing of namespaces: those under `prefix` and ending with `suffix`, cut to `max_depth`
/// labels (distinct after cutting), in order, `limit` of them after skipping `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NamespaceQuery {
    /// The labels every namespace listed begins with (none: all).
    pub prefix: Vec<String>,
    /// The labels every namespace listed ends with, before it is cut to `max_depth` (none:
    /// all) — LangGraph's suffix match: `["*", "memories"]`-style listings of every user's
    /// `memories` namespace.
    pub suffix: Vec<String>,
    /// The most labels of a namespace listed; deeper ones are cut to it.
    pub max_depth: Option<usize>,
    /// The most namespaces returned (default 100).
    pub limit: usize,
    /// How many to skip first.
    pub offset: usize,
}

impl NamespaceQuery {
    /// The namespaces under `prefix` (labels; none for all), a hundred at a time.
    pub fn under<I, L>(prefix: I) -> Self
    where
        I: IntoIterator<Item = L>,
        L: Into<String>,
    {
        Self {
            prefix: prefix.into_iter().map(Into::into).collect(),
            suffix: Vec::new(),
            max_depth: None,
            limit: 100,
            offset: 0,
        }
    }

    /// Only namespaces whose last labels are `suffix`.
    pub fn suffix<I, L>(mut self, suffix: I) -> Self
    where
        I: IntoIterator<Item = L>,
        L: Into<String>,
    {
        self.suffix = suffix.into_iter().map(Into::into).collect();
        self
    }

    /// Cut to at most `depth` labels.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = Some(depth);
        self
    }

    /// At most `n` namespaces.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// Skipping the first `n`.
    pub fn offset(mut self, n: usize) -> Self {
        self.offset = n;
        self
    }

    /// Checks the prefix and the suffix.
    pub fn check(&self) -> Result<(), StoreError> {
        check_labels(&self.prefix, true)?;
        check_labels(&self.suffix, true)
    }

    /// The page of `namespaces` (every namespace holding an unexpired item, in any order) this
    /// listing returns: the reference every store's answer equals.
    pub fn page(
        &self,
        namespaces: impl IntoIterator<Item = super::Namespace>,
    ) -> Vec<super::Namespace> {
        let mut found: Vec<super::Namespace> = namespaces
            .into_iter()
            .filter(|ns| ns.starts_with(&self.prefix) && ns.ends_with(&self.suffix))
            .map(|ns| match self.max_depth {
                Some(depth) => ns.truncated(depth),
                None => ns,
            })
            .filter(|ns| !ns.labels().is_empty())
            .collect();
        found.sort();
        found.dedup();
        found
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect()
    }
}

#[cfg(test)]
mod exact_numbers {
    use std::cmp::Ordering;

    use serde_json::json;

    use super::compare_numbers;

    fn cmp(a: serde_json::Value, b: serde_json::Value) -> Option<Ordering> {
        compare_numbers(a.as_number().unwrap(), b.as_number().unwrap())
    }

    #[test]
    fn integers_and_floats_compare_by_exact_value() {
        let p53 = 1_i64 << 53;
        assert_eq!(
            cmp(json!(p53 + 1), json!(p53 as f64)),
            Some(Ordering::Greater)
        );
        assert_eq!(cmp(json!(p53 as f64), json!(p53 + 1)), Some(Ordering::Less));
        assert_eq!(cmp(json!(p53), json!(p53 as f64)), Some(Ordering::Equal));
        assert_eq!(
            cmp(json!(u64::MAX), json!(i64::MAX)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp(json!(i64::MAX), json!(9.223_372_036_854_776e18)),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp(json!(u64::MAX), json!(1.8446744073709552e19)),
            Some(Ordering::Less)
        );
        assert_eq!(cmp(json!(-3), json!(-2.5)), Some(Ordering::Less));
        assert_eq!(cmp(json!(-2), json!(-2.5)), Some(Ordering::Greater));
        assert_eq!(cmp(json!(2), json!(2.5)), Some(Ordering::Less));
        assert_eq!(cmp(json!(i64::MIN), json!(-1e300)), Some(Ordering::Greater));
        assert_eq!(cmp(json!(0.1), json!(0.2)), Some(Ordering::Less));
    }
}
