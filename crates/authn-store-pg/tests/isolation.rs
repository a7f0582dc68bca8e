//! Tenant isolation: through the API, and underneath it with row-level
//! security for the role the library recommends (not a superuser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use authn_core::store::{
    AuditStore, LoginAttemptStore, MaintenanceStore, MfaStore, SessionStore, TokenStore, UserStore,
};
use authn_core::{AuditQuery, MfaSecret, MfaType, StoreError, TokenType};
use authn_store_pg::PgStore;
use common::*;

#[tokio::test]
async fn nothing_of_one_namespace_is_visible_or_changeable_from_another() {
    let a = store().await;
    let b = a.namespace(&unique_namespace()).unwrap();

    let uid = a
        .create_user("shared@example.com", Some(&phc("a")))
        .await
        .unwrap();
    let (_, sess) = token();
    let sid = a
        .create_session(uid, &sess, None, None, None)
        .await
        .unwrap();
    let (_, reset) = token();
    a.create_token(uid, &reset, TokenType::PasswordReset, None)
        .await
        .unwrap();
    let (_, verify) = token();
    a.create_token(uid, &verify, TokenType::EmailVerify, None)
        .await
        .unwrap();
    let secret = MfaSecret::parse("JBSWY3DPEHPK3PXP").unwrap();
    let mfa = a.add_mfa(uid, MfaType::Totp, &secret, None).await.unwrap();
    for _ in 0..5 {
        a.record_login_attempt("shared@example.com", false, None)
            .await
            .unwrap();
    }

    // reads from B see nothing
    assert!(b.get_user(uid).await.unwrap().is_none());
    assert!(
        b.get_user_by_email("shared@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        b.get_credentials("shared@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(b.list_users(None, None).await.unwrap().items.is_empty());
    assert!(b.validate_session(&sess).await.unwrap().is_none());
    assert!(b.list_sessions(uid).await.unwrap().is_empty());
    assert!(b.get_mfa(uid, MfaType::Totp).await.unwrap().is_empty());
    assert!(b.list_mfa(uid).await.unwrap().is_empty());
    assert!(!b.has_mfa(uid).await.unwrap());
    assert!(
        !b.is_locked_out("shared@example.com", None, None)
            .await
            .unwrap()
    );
    assert!(
        b.get_recent_attempts("shared@example.com", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.get_audit_events(&AuditQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(b.get_stats().await.unwrap(), Default::default());

    // writes from B change nothing of A
    assert!(
        b.consume_token(&reset, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_none()
    );
    assert!(b.verify_email(&verify).await.unwrap().is_none());
    assert_eq!(
        b.invalidate_tokens(uid, TokenType::PasswordReset)
            .await
            .unwrap(),
        0
    );
    assert!(b.extend_session(&sess, None).await.unwrap().is_none());
    assert!(!b.revoke_session(&sess).await.unwrap());
    assert!(!b.revoke_session_by_id(uid, sid).await.unwrap());
    assert_eq!(b.revoke_all_sessions(uid).await.unwrap(), 0);
    assert!(!b.update_email(uid, "stolen@example.com").await.unwrap());
    assert!(!b.update_password(uid, &phc("b")).await.unwrap());
    assert!(!b.disable_user(uid).await.unwrap());
    assert!(!b.enable_user(uid).await.unwrap());
    assert!(!b.record_mfa_use(mfa).await.unwrap());
    assert!(!b.remove_mfa(mfa).await.unwrap());
    assert_eq!(b.clear_attempts("shared@example.com").await.unwrap(), 0);
    assert!(!b.delete_user(uid).await.unwrap());
    let report = b.cleanup_expired().await.unwrap();
    assert_eq!(report, Default::default());
    // B cannot attach rows to A's user
    let (_, h) = token();
    assert!(matches!(
        b.create_session(uid, &h, None, None, None).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert!(matches!(
        b.create_token(uid, &h, TokenType::MagicLink, None).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert!(matches!(
        b.add_mfa(uid, MfaType::Totp, &secret, None).await,
        Err(StoreError::NotFound { entity: "user" })
    ));

    // A is intact
    let u = a.get_user(uid).await.unwrap().unwrap();
    assert_eq!(u.email.as_str(), "shared@example.com");
    assert!(u.disabled_at.is_none());
    assert!(a.validate_session(&sess).await.unwrap().is_some());
    assert!(a.has_mfa(uid).await.unwrap());
    assert!(
        a.is_locked_out("shared@example.com", None, None)
            .await
            .unwrap()
    );
    assert!(
        a.consume_token(&reset, TokenType::PasswordReset)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        a.get_credentials("shared@example.com")
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        Some(phc("a"))
    );

    // the same address is a different user in B
    let buid = b.create_user("shared@example.com", None).await.unwrap();
    assert_ne!(buid, uid);
    assert_eq!(b.get_stats().await.unwrap().user_count, 1);
}

/// Underneath the API: the recommended role is subject to row-level
/// security, which fails closed when no namespace is set and refuses
/// cross-namespace reads and writes even for queries without a
/// namespace filter.
#[tokio::test]
async fn row_level_security_holds_for_the_recommended_role() {
    let s = store().await;
    let a_ns = s.current_namespace().as_str().to_owned();
    let b = s.namespace(&unique_namespace()).unwrap();
    s.create_user("rls-a@example.com", None).await.unwrap();
    b.create_user("rls-b@example.com", None).await.unwrap();

    let pool = s.pool();
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(!superuser && !bypass, "tests run as an ordinary role");

    // no namespace set: nothing visible at all
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "fails closed without a namespace");

    // namespace A set: only A's rows, even with no WHERE clause
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('authn.namespace', $1, true)")
        .bind(&a_ns)
        .execute(&mut *tx)
        .await
        .unwrap();
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(emails, ["rls-a@example.com"]);
    // and cannot write into B
    let err = sqlx::query(
        "INSERT INTO users (id, namespace, email) VALUES (gen_random_uuid(), $1, 'x@example.com')",
    )
    .bind(b.current_namespace().as_str())
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // B's rows cannot be updated from A either (silently zero rows)
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT set_config('authn.namespace', $1, true)")
        .bind(&a_ns)
        .execute(&mut *tx)
        .await
        .unwrap();
    let n = sqlx::query(
        "UPDATE users SET email = 'owned@example.com' WHERE email = 'rls-b@example.com'",
    )
    .execute(&mut *tx)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(n, 0);
    tx.commit().await.unwrap();
    assert!(
        b.get_user_by_email("rls-b@example.com")
            .await
            .unwrap()
            .is_some()
    );
}

/// The namespace is set per transaction: after any operation, the pooled
/// connection carries no namespace into its next use.
#[tokio::test]
async fn namespace_never_leaks_to_the_next_user_of_a_pooled_connection() {
    let one = PgStore::new(app_pool(1).await);
    let s = one.namespace(&unique_namespace()).unwrap();
    let uid = s.create_user("leak@example.com", None).await.unwrap();
    let (_, h) = token();
    s.create_session(uid, &h, None, None, None).await.unwrap();
    assert!(s.validate_session(&h).await.unwrap().is_some());
    s.get_user(uid).await.unwrap();
    // the single connection of the pool, used right after
    let setting: Option<String> =
        sqlx::query_scalar("SELECT nullif(current_setting('authn.namespace', true), '')")
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert_eq!(setting, None);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn namespace_names_are_validated() {
    let s = store().await;
    for bad in ["", "has space", "semi;colon", "quote'", &"x".repeat(129)] {
        assert_eq!(s.namespace(bad).map(|_| ()).unwrap_err().field, "namespace");
    }
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let s = store().await;
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
}
