//! Email normalisation and validation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// Longest accepted address, in bytes, after normalisation.
pub const MAX_EMAIL_BYTES: usize = 1024;

/// A normalised email address: trimmed, lower-cased, shaped like
/// `local@domain`, no whitespace or control characters, at most
/// [`MAX_EMAIL_BYTES`] bytes. Two spellings of one address compare equal.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Normalises and validates `input`.
    ///
    /// # Errors
    /// [`ValidationError`] with field `email` when the address is empty, too
    /// long, contains whitespace or control characters, or is not
    /// `local@domain` with a well-formed domain.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |reason| ValidationError::new("email", reason);
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(err("must not be empty"));
        }
        if trimmed.chars().any(|c| c.is_control()) {
            return Err(err("must not contain control characters"));
        }
        if trimmed.chars().any(char::is_whitespace) {
            return Err(err("must not contain whitespace"));
        }
        let normalised = trimmed.to_lowercase();
        if normalised.len() > MAX_EMAIL_BYTES {
            return Err(err("must be at most 1024 bytes"));
        }
        let Some((local, domain)) = normalised.split_once('@') else {
            return Err(err("must look like local@domain"));
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(err("must look like local@domain"));
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(err("domain is malformed"));
        }
        Ok(Self(normalised))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@` (used by the password policy to refuse
    /// passwords built from the address).
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or(self.0.as_str(), |(l, _)| l)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases() {
        let e = Email::parse("  Alice@Example.COM \n").map(|e| e.0);
        assert_eq!(e.as_deref(), Ok("alice@example.com"));
    }

    #[test]
    fn local_part() {
        let e = Email::parse("bob.smith@example.org");
        assert_eq!(e.as_ref().map(Email::local_part), Ok("bob.smith"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "   ",
            "plain",
            "@example.com",
            "alice@",
            "a@b@c",
            "al ice@example.com",
            "alice@exa\u{0007}mple.com",
            "alice@.example.com",
            "alice@example.com.",
            "alice@example..com",
        ] {
            let err = Email::parse(bad).err();
            assert_eq!(
                err.map(|e| e.field),
                Some("email"),
                "{bad:?} must be rejected"
            );
        }
    }

    #[test]
    fn length_limit_is_in_bytes_after_normalisation() {
        let ok = format!("{}@example.com", "a".repeat(MAX_EMAIL_BYTES - 12));
        assert_eq!(ok.len(), MAX_EMAIL_BYTES);
        assert!(Email::parse(&ok).is_ok());
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_BYTES - 11));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn unicode_addresses_lowercase() {
        let e = Email::parse("ÉLODIE@exemple.fr").map(|e| e.0);
        assert_eq!(e.as_deref(), Ok("élodie@exemple.fr"));
    }
}
