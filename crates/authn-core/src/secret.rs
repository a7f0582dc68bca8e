//! Secret-bearing values as newtypes: they validate their input, never show it
//! in `Debug` output, and cannot be confused with one another.

use std::fmt;

use crate::error::ValidationError;

/// Longest hash input accepted (token hashes, password hashes), in bytes.
pub const MAX_HASH_BYTES: usize = 1024;
/// Longest MFA secret accepted, in bytes.
pub const MAX_MFA_SECRET_BYTES: usize = 65536;

fn check_opaque(
    value: &str,
    field: &'static str,
    max: usize,
    too_long: &'static str,
) -> Result<String, ValidationError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if trimmed.len() > max {
        return Err(ValidationError::new(field, too_long));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

macro_rules! redacted_debug {
    ($name:ident) => {
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

/// The SHA-256 (lowercase hex) of a session or one-time token: what stores
/// keep and look up. The plaintext token never reaches a store.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a plaintext token (SHA-256, lowercase hex).
    pub fn of_token(token: &str) -> Self {
        Self(crate::token::sha256_hex(token.as_bytes()))
    }

    /// Accepts an already computed hash, as the reference API does: non-empty
    /// after trimming, at most 1024 bytes, no control characters.
    ///
    /// # Errors
    /// [`ValidationError`] with field `token_hash`.
    pub fn parse(hash: &str) -> Result<Self, ValidationError> {
        check_opaque(
            hash,
            "token_hash",
            MAX_HASH_BYTES,
            "must be at most 1024 bytes",
        )
        .map(Self)
    }

    /// The hash text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
redacted_debug!(TokenHash);

/// A password hash in PHC string format (e.g. `$argon2id$v=19$...`). Stores
/// keep it as given and return it only from `get_credentials`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Accepts a hash: non-empty after trimming, at most 1024 bytes, no
    /// control characters.
    ///
    /// # Errors
    /// [`ValidationError`] with field `password_hash`.
    pub fn parse(hash: &str) -> Result<Self, ValidationError> {
        check_opaque(
            hash,
            "password_hash",
            MAX_HASH_BYTES,
            "must be at most 1024 bytes",
        )
        .map(Self)
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
redacted_debug!(PasswordHash);

/// An MFA secret as the caller stores it (the flows store TOTP secrets
/// encrypted; the store treats the value as opaque).
#[derive(Clone, PartialEq, Eq)]
pub struct MfaSecret(String);

impl MfaSecret {
    /// Accepts a secret: non-empty after trimming, at most 65536 bytes, no
    /// control characters.
    ///
    /// # Errors
    /// [`ValidationError`] with field `secret`.
    pub fn parse(secret: &str) -> Result<Self, ValidationError> {
        check_opaque(
            secret,
            "secret",
            MAX_MFA_SECRET_BYTES,
            "must be at most 65536 bytes",
        )
        .map(Self)
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}
redacted_debug!(MfaSecret);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let t = TokenHash::of_token("tok");
        let p = PasswordHash::parse("$argon2id$v=19$secretstuff").map(|p| format!("{p:?}"));
        let m = MfaSecret::parse("JBSWY3DPEHPK3PXP").map(|m| format!("{m:?}"));
        assert_eq!(format!("{t:?}"), "TokenHash(<redacted>)");
        assert_eq!(p.as_deref(), Ok("PasswordHash(<redacted>)"));
        assert_eq!(m.as_deref(), Ok("MfaSecret(<redacted>)"));
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        let t = TokenHash::of_token("abc");
        assert_eq!(
            t.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn validation() {
        assert_eq!(
            TokenHash::parse("  ").map_err(|e| e.field),
            Err("token_hash")
        );
        assert!(TokenHash::parse(&"a".repeat(1025)).is_err());
        assert!(TokenHash::parse(&"a".repeat(1024)).is_ok());
        assert!(PasswordHash::parse("a\u{0}b").is_err());
        assert!(MfaSecret::parse(&"s".repeat(65536)).is_ok());
        assert_eq!(
            MfaSecret::parse(&"s".repeat(65537)).map_err(|e| e.field),
            Err("secret")
        );
        assert_eq!(TokenHash::parse(" ab ").map(|t| t.0), Ok("ab".to_owned()));
    }
}
