//! Driver errors mapped to typed [`StoreError`]s: unique constraints to
//! `AlreadyExists` (with the field names of the PostgreSQL store), foreign
//! keys to `NotFound`, a locked, busy or unreachable file to `Unavailable`,
//! the rest to `Internal`. Messages never carry the driver's text.

use authn_core::StoreError;

/// SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY (extended codes).
const CONSTRAINT_UNIQUE: i32 = 2067;
const CONSTRAINT_PRIMARYKEY: i32 = 1555;
/// SQLITE_CONSTRAINT_FOREIGNKEY.
const CONSTRAINT_FOREIGNKEY: i32 = 787;

/// Primary result codes that mean "the storage cannot serve us now":
/// BUSY (5), LOCKED (6), NOMEM (7), READONLY (8), INTERRUPT (9), IOERR (10),
/// FULL (13), CANTOPEN (14), PROTOCOL (15).
fn unavailable_code(primary: i32) -> bool {
    matches!(primary, 5..=10 | 13..=15)
}

/// The field a unique constraint protects. SQLite names no constraint, only
/// the columns ("UNIQUE constraint failed: users.namespace, users.email");
/// the last column tells which one it was. The text is only inspected here,
/// never returned.
fn unique_field(message: &str) -> &'static str {
    let last = message
        .rsplit([',', ' ', ':'])
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    match last.rsplit('.').next().unwrap_or_default() {
        "email" => "email",
        "token_hash" => "token_hash",
        "key_hash" => "key_hash",
        _ => "id",
    }
}

/// Maps a sqlx error to a [`StoreError`].
pub fn map_sqlx_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) => {
            let code: i32 = db.code().and_then(|c| c.parse().ok()).unwrap_or(0);
            match code {
                CONSTRAINT_UNIQUE | CONSTRAINT_PRIMARYKEY => StoreError::AlreadyExists {
                    field: unique_field(db.message()),
                },
                // the referenced user is gone (or in another namespace, which
                // is the same thing to the caller)
                CONSTRAINT_FOREIGNKEY => StoreError::NotFound { entity: "user" },
                c if unavailable_code(c & 0xff) => StoreError::Unavailable {
                    source: Box::new(err),
                },
                _ => StoreError::Internal {
                    source: Box::new(err),
                },
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreError::Unavailable {
            source: Box::new(err),
        },
        _ => StoreError::Internal {
            source: Box::new(err),
        },
    }
}

/// Maps a migration error.
pub(crate) fn map_migrate_error(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(e) => map_sqlx_error(e),
        other => StoreError::Internal {
            source: Box::new(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_fields_from_messages() {
        assert_eq!(
            unique_field("UNIQUE constraint failed: users.namespace, users.email"),
            "email"
        );
        assert_eq!(
            unique_field("UNIQUE constraint failed: sessions.namespace, sessions.token_hash"),
            "token_hash"
        );
        assert_eq!(
            unique_field(
                "UNIQUE constraint failed: one_time_tokens.namespace, one_time_tokens.token_hash"
            ),
            "token_hash"
        );
        assert_eq!(
            unique_field("UNIQUE constraint failed: admin_keys.namespace, admin_keys.key_hash"),
            "key_hash"
        );
        assert_eq!(unique_field("UNIQUE constraint failed: users.id"), "id");
        assert_eq!(unique_field(""), "id");
    }
}
