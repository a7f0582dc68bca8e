//! Driver errors mapped to typed [`StoreError`]s: unique constraints by name
//! to `AlreadyExists`, connection trouble to `Unavailable`, the rest to
//! `Internal`. Messages never carry the driver's text.

use authn_core::StoreError;

/// The field each unique constraint protects.
fn unique_field(constraint: &str) -> &'static str {
    match constraint {
        "users_namespace_email_key" => "email",
        "sessions_namespace_token_hash_key" | "one_time_tokens_namespace_token_hash_key" => {
            "token_hash"
        }
        "admin_keys_namespace_key_hash_key" => "key_hash",
        _ => "id",
    }
}

/// Maps a sqlx error to a [`StoreError`].
pub fn map_sqlx_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                // unique_violation
                "23505" => StoreError::AlreadyExists {
                    field: unique_field(db.constraint().unwrap_or_default()),
                },
                // foreign_key_violation: the referenced user is gone (or in
                // another namespace, which is the same thing to the caller)
                "23503" => StoreError::NotFound { entity: "user" },
                // raised by authn_conclude_session_ahead (migration 0005)
                "AU001" => StoreError::NotFound { entity: "user" },
                "AU002" => StoreError::UserDisabled,
                "AU003" => StoreError::NotFound {
                    entity: "login_attempt",
                },
                // connection exceptions, insufficient resources, operator
                // intervention (shutdown, crash recovery), read-only standby
                c if c.starts_with("08")
                    || c.starts_with("53")
                    || c.starts_with("57P")
                    || c == "25006" =>
                {
                    StoreError::Unavailable {
                        source: Box::new(err),
                    }
                }
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
