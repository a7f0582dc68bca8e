//! Namespaces: the tenants of a store. Two namespaces never see each other's rows.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// The namespace used when none is chosen.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Longest namespace name, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 128;

/// A tenant name: 1 to 128 ASCII letters, digits, `.`, `_`, `-` or `:`.
/// The restricted alphabet keeps names safe in logs, URLs and metrics labels.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

impl Namespace {
    /// Validates a namespace name.
    ///
    /// # Errors
    /// [`ValidationError`] with field `namespace` when the name is empty,
    /// longer than 128 bytes, or uses other characters.
    pub fn new(name: &str) -> Result<Self, ValidationError> {
        let err = |reason| ValidationError::new("namespace", reason);
        if name.is_empty() {
            return Err(err("must not be empty"));
        }
        if name.len() > MAX_NAMESPACE_BYTES {
            return Err(err("must be at most 128 bytes"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
        {
            return Err(err(
                "may only contain ASCII letters, digits, '.', '_', '-' and ':'",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self(DEFAULT_NAMESPACE.to_owned())
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({:?})", self.0)
    }
}

impl TryFrom<String> for Namespace {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<Namespace> for String {
    fn from(n: Namespace) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_reasonable_names() {
        for ok in ["default", "acme", "acme.com", "team_1", "org:42", "A-b"] {
            assert!(Namespace::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_others() {
        for bad in ["", "a b", "a'b", "ns;drop", "é", &"x".repeat(129)] {
            assert_eq!(
                Namespace::new(bad).map_err(|e| e.field),
                Err("namespace"),
                "{bad}"
            );
        }
    }
}
