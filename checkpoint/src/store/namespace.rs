//! Names in a store: a [`Namespace`] is a path of labels (`["users", "u-7", "memories"]`),
//! stored as the labels joined by [`SEPARATOR`], so no label (and no key) may hold it.

use std::fmt;

use super::StoreError;

/// What joins a namespace's labels when it is stored (`users/u-7/memories`); no label or key
/// may hold it.
pub const SEPARATOR: char = '/';

/// The longest label, in bytes.
pub const MAX_LABEL_BYTES: usize = 256;
/// The most labels in a namespace.
pub const MAX_LABELS: usize = 32;
/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A namespace: one or more labels, each non-empty and without [`SEPARATOR`] or NUL.
///
/// ```
/// use stategraph_checkpoint::store::Namespace;
/// let ns = Namespace::new(["users", "u-7", "memories"])?;
/// assert_eq!(ns.to_string(), "users/u-7/memories");
/// assert!(Namespace::new(["users", ""]).is_err());
/// assert!(Namespace::new(["a/b"]).is_err());
/// # Ok::<(), stategraph_checkpoint::store::StoreError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace(Vec<String>);

impl Namespace {
    /// The namespace of `labels`, checked.
    pub fn new<I, L>(labels: I) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = L>,
        L: Into<String>,
    {
        let labels: Vec<String> = labels.into_iter().map(Into::into).collect();
        check_labels(&labels, false)?;
        Ok(Self(labels))
    }

    /// The labels.
    pub fn labels(&self) -> &[String] {
        &self.0
    }

    /// The stored form: the labels joined by [`SEPARATOR`].
    pub fn joined(&self) -> String {
        self.0.join(&SEPARATOR.to_string())
    }

    /// The namespace of a stored form (a store reading back what it wrote).
    pub fn from_joined(joined: &str) -> Result<Self, StoreError> {
        Self::new(joined.split(SEPARATOR))
    }

    /// Whether `prefix`'s labels begin this namespace's.
    pub fn starts_with(&self, prefix: &[String]) -> bool {
        self.0.starts_with(prefix)
    }

    /// Whether `suffix`'s labels end this namespace's.
    pub fn ends_with(&self, suffix: &[String]) -> bool {
        self.0.ends_with(suffix)
    }

    /// This namespace cut to its first `depth` labels.
    pub fn truncated(&self, depth: usize) -> Self {
        Self(self.0[..depth.min(self.0.len())].to_vec())
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined())
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Checks the labels of a namespace (`prefix`: of a search prefix, which may have none).
pub(crate) fn check_labels(labels: &[String], prefix: bool) -> Result<(), StoreError> {
    if labels.is_empty() && !prefix {
        return Err(StoreError::EmptyNamespace);
    }
    if labels.len() > MAX_LABELS {
        return Err(StoreError::TooLong {
            what: "namespace",
            len: labels.len(),
            max: MAX_LABELS,
        });
    }
    for label in labels {
        check_text(label, "namespace label", MAX_LABEL_BYTES)?;
    }
    Ok(())
}

/// Checks a key: non-empty, at most [`MAX_KEY_BYTES`], without [`SEPARATOR`] or NUL.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    check_text(key, "key", MAX_KEY_BYTES)
}

fn check_text(text: &str, what: &'static str, max: usize) -> Result<(), StoreError> {
    if text.is_empty() {
        return Err(StoreError::Empty { what });
    }
    if text.len() > max {
        return Err(StoreError::TooLong {
            what,
            len: text.len(),
            max,
        });
    }
    if let Some(found) = text.chars().find(|&c| c == SEPARATOR || c == '\0') {
        return Err(StoreError::Forbidden {
            what,
            text: text
                .chars()
                .take(64)
                .flat_map(char::escape_default)
                .collect(),
            found: found.escape_default().to_string(),
        });
    }
    Ok(())
}
