//! Time-ordered (UUID v7) identifiers, one newtype per entity so a session id
//! can never be passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ValidationError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (UUID v7) id: ids sort in creation order.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (e.g. read from storage).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the canonical UUID text form.
            ///
            /// # Errors
            /// [`ValidationError`] naming this id's field when `s` is not a UUID.
            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| ValidationError::new($field, "must be a UUID"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

uuid_id!(
    /// Identifies a user within a namespace.
    UserId,
    "user_id"
);
uuid_id!(
    /// Identifies a session.
    SessionId,
    "session_id"
);
uuid_id!(
    /// Identifies a one-time token (password reset, email verification, magic link).
    TokenId,
    "token_id"
);
uuid_id!(
    /// Identifies an MFA method of a user.
    MfaId,
    "mfa_id"
);
uuid_id!(
    /// Identifies an audit event.
    AuditEventId,
    "audit_event_id"
);
uuid_id!(
    /// Identifies a recorded login attempt.
    AttemptId,
    "attempt_id"
);
uuid_id!(
    /// Identifies an admin API key.
    AdminKeyId,
    "admin_key_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_parse_back() {
        let a = UserId::new();
        let b = UserId::new();
        assert!(a < b, "v7 ids sort in creation order");
        assert_eq!(UserId::parse(&a.to_string()), Ok(a));
        assert_eq!(a.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn parse_names_the_field() {
        assert_eq!(
            SessionId::parse("nope").map_err(|e| e.field),
            Err("session_id")
        );
    }
}
