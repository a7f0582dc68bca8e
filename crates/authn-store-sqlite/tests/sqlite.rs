//! What only the SQLite store has to show: the file and its settings,
//! migrations and readiness, URLs, typed errors for a locked or closed
//! database, the storage format, and the one-time and lockout guarantees
//! between two pools on one file (two processes' worth).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use authn_core::store::{
    AuditStore, LoginAttemptStore, MfaStore, SessionStore, TokenStore, UserStore,
};
use authn_core::{
    Actor, AuditQuery, MfaSecret, MfaType, SessionUpgrade, StoreError, StorePolicy, TokenHash,
    TokenType,
};
use authn_store_sqlite::SqliteStore;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

fn url_of(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A migrated store on `path` with a pool of `connections`, in `namespace`.
async fn store_on(path: &Path, connections: u32, namespace: &str) -> SqliteStore {
    let s = SqliteStore::connect_with(&url_of(path), connections, Duration::from_secs(10))
        .await
        .unwrap();
    s.migrate().await.unwrap();
    s.namespace(namespace)
        .unwrap()
        .with_actor(Actor::new("test:sqlite").unwrap())
}

fn token() -> TokenHash {
    TokenHash::of_token(&authn_core::token::generate_token())
}

async fn events_of(s: &SqliteStore, event_type: &str) -> Vec<authn_core::AuditEvent> {
    s.get_audit_events(&AuditQuery {
        event_type: Some(event_type.to_owned()),
        limit: Some(1000),
        ..AuditQuery::default()
    })
    .await
    .unwrap()
    .items
}

#[tokio::test]
async fn connect_creates_the_file_and_its_directory_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("deeper").join("authn.db");
    let s = SqliteStore::connect(&url_of(&path)).await.unwrap();
    assert!(path.exists(), "the database file is created");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(fk, 1, "foreign keys enforced");
    // 2 = FULL: a commit is on disk before it returns
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(sync, 2, "synchronous = FULL");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert!(busy >= 1000, "a busy timeout is set: {busy}");
    // Reads through a memory map of the file (the kernel's page cache,
    // shared by the pool's connections).
    let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(mmap as u64, authn_store_sqlite::MMAP_SIZE);
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_and_its_directory_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.join("authn.db");
    let s = SqliteStore::open(&path).await.unwrap();
    s.migrate().await.unwrap();
    s.create_user("private@example.com", None).await.unwrap();
    assert_eq!(mode(&data), 0o700, "the directory it created");
    assert_eq!(mode(&path), 0o600, "the database (password hashes, audit)");
    let wal = data.join("authn.db-wal");
    assert!(wal.exists());
    assert_eq!(mode(&wal), 0o600, "the WAL takes the database's mode");
    // an existing file keeps the mode its owner gave it
    let shared = dir.path().join("shared.db");
    std::fs::write(&shared, b"").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    SqliteStore::open(&shared).await.unwrap();
    assert_eq!(mode(&shared), 0o640);
}

#[test]
fn file_of_names_the_file_of_a_url() {
    assert_eq!(
        SqliteStore::file_of("sqlite://data/authn.db").unwrap(),
        Some(std::path::PathBuf::from("data/authn.db"))
    );
    assert_eq!(
        SqliteStore::file_of("sqlite:///var/lib/authn.db").unwrap(),
        Some(std::path::PathBuf::from("/var/lib/authn.db"))
    );
    assert_eq!(SqliteStore::file_of("sqlite::memory:").unwrap(), None);
    assert_eq!(
        SqliteStore::file_of("postgres://h/db").map_err(|e| e.field),
        Err("url")
    );
}

#[tokio::test]
async fn sqlite_colon_path_urls_and_open_work_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let s = SqliteStore::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    s.migrate().await.unwrap();
    assert!(path.exists());
    let other = dir.path().join("sub").join("b.db");
    let s = SqliteStore::open(&other).await.unwrap();
    s.migrate().await.unwrap();
    assert!(other.exists());
    assert!(s.ready().await.unwrap());
    let id = s.create_user("open@example.com", None).await.unwrap();
    assert!(s.get_user(id).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_in_memory_database_works() {
    let s = SqliteStore::connect("sqlite::memory:").await.unwrap();
    s.migrate().await.unwrap();
    assert!(s.ready().await.unwrap());
    let id = s.create_user("mem@example.com", None).await.unwrap();
    let h = token();
    s.create_session(id, &h, None, None, None).await.unwrap();
    assert_eq!(
        s.validate_session(&h).await.unwrap().map(|v| v.user_id),
        Some(id)
    );
    // concurrent readers and writers on the one connection
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let uid = s
                    .create_user(&format!("m{i}@example.com"), None)
                    .await
                    .unwrap();
                let h = token();
                s.create_session(uid, &h, None, None, None).await.unwrap();
                assert!(s.validate_session(&h).await.unwrap().is_some());
                s.record_login_attempt("m@example.com", false, None)
                    .await
                    .unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.list_users(None, None).await.unwrap().items.len(), 51);
}

#[tokio::test]
async fn other_schemes_are_refused_naming_url() {
    for url in [
        "postgres://authn@127.0.0.1/authn",
        "mysql://nope",
        "authn.db",
        "file:authn.db",
        "sqlite://",
        "sqlite:",
        "",
    ] {
        match SqliteStore::connect(url).await {
            Err(StoreError::InvalidInput(e)) => assert_eq!(e.field, "url", "{url}"),
            other => panic!("{url}: expected InvalidInput(url), got {other:?}"),
        }
    }
}

#[tokio::test]
async fn ready_only_after_migrate_and_migrate_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&url_of(&dir.path().join("authn.db")))
        .await
        .unwrap();
    assert!(!s.ready().await.unwrap(), "not ready before migrate");
    s.migrate().await.unwrap();
    assert!(s.ready().await.unwrap(), "ready after migrate");
    let id = s.create_user("kept@example.com", None).await.unwrap();
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    assert!(s.ready().await.unwrap());
    assert!(s.get_user(id).await.unwrap().is_some(), "data survives");
}

#[tokio::test]
async fn concurrent_migrations_from_several_pools_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = url_of(&dir.path().join("authn.db"));
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(SqliteStore::connect_with(&url, 2, Duration::from_secs(10)).await);
    }
    let stores: Vec<SqliteStore> = stores.into_iter().map(Result::unwrap).collect();
    let results =
        futures::future::join_all(stores.iter().map(|s| async move { s.migrate().await })).await;
    for r in results {
        r.unwrap();
    }
    for s in &stores {
        assert!(s.ready().await.unwrap());
    }
}

#[tokio::test]
async fn timestamps_are_integer_microseconds_and_ids_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_on(&dir.path().join("authn.db"), 2, "fmt").await;
    let before = chrono::Utc::now();
    let id = s.create_user("fmt@example.com", None).await.unwrap();
    let (id_type, created_type): (String, String) = sqlx::query_as(
        "SELECT typeof(id), typeof(created_at) FROM users WHERE namespace = 'fmt' AND id = ?1",
    )
    .bind(id.as_uuid())
    .fetch_one(s.pool())
    .await
    .unwrap();
    assert_eq!(
        (id_type.as_str(), created_type.as_str()),
        ("blob", "integer")
    );
    let u = s.get_user(id).await.unwrap().unwrap();
    let after = chrono::Utc::now();
    assert!(u.created_at >= before - chrono::Duration::microseconds(1) && u.created_at <= after);
    assert_eq!(
        u.created_at.timestamp_subsec_nanos() % 1000,
        0,
        "microseconds"
    );
}

#[tokio::test]
async fn a_locked_database_is_unavailable_not_a_driver_string() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authn.db");
    store_on(&path, 1, "default").await;
    // A pool of our own with a short busy timeout, so the test is quick.
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .busy_timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap();
    let s = SqliteStore::new(pool);
    // Another "process" holds the write lock.
    let mut holder: sqlx::SqliteConnection =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&url_of(&path))
            .await
            .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let err = s.create_user("busy@example.com", None).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(err.to_string(), "storage unavailable");
    // Meanwhile a new pool opens (WAL is already on: no lock needed) and
    // reads (WAL readers never wait for the writer).
    let reader = SqliteStore::connect(&url_of(&path)).await.unwrap();
    assert!(reader.ready().await.unwrap());
    assert!(
        reader
            .get_user_by_email("busy@example.com")
            .await
            .unwrap()
            .is_none()
    );
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    // and it recovers by itself
    s.create_user("busy@example.com", None).await.unwrap();
}

#[tokio::test]
async fn closed_pool_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_on(&dir.path().join("authn.db"), 2, "default").await;
    let uid = s.create_user("p@example.com", None).await.unwrap();
    s.pool().close().await;
    for err in [
        s.get_user(uid).await.unwrap_err(),
        s.create_user("q@example.com", None).await.unwrap_err(),
        s.validate_session(&token()).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert_eq!(err.to_string(), "storage unavailable");
    }
}

#[tokio::test]
async fn namespaces_share_the_file_but_not_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authn.db");
    let a = store_on(&path, 2, "acme").await;
    let b = store_on(&path, 2, "globex").await;
    let ua = a.create_user("same@example.com", None).await.unwrap();
    let ub = b.create_user("same@example.com", None).await.unwrap();
    let h = token();
    a.create_session(ua, &h, None, None, None).await.unwrap();
    assert!(b.validate_session(&h).await.unwrap().is_none());
    assert!(b.get_user(ua).await.unwrap().is_none());
    assert!(!b.revoke_session(&h).await.unwrap());
    // the same token hash is free in the other namespace
    b.create_session(ub, &h, None, None, None).await.unwrap();
    assert_eq!(
        a.validate_session(&h).await.unwrap().map(|v| v.user_id),
        Some(ua)
    );
    // a user of another namespace cannot be referenced
    assert!(matches!(
        b.create_session(ua, &token(), None, None, None).await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert!(matches!(
        b.add_mfa(ua, MfaType::Totp, &MfaSecret::parse("s").unwrap(), None)
            .await,
        Err(StoreError::NotFound { entity: "user" })
    ));
    assert_eq!(a.list_users(None, None).await.unwrap().items.len(), 1);
    assert!(
        a.get_audit_events(&AuditQuery::default())
            .await
            .unwrap()
            .items
            .iter()
            .all(|e| e.namespace == "acme")
    );
}

/// Two pools on one file: 30 parallel guesses at one email, at most the
/// limit get a permit; all failing, exactly one lockout episode begins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_racing_begin_login_attempt_keep_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authn.db");
    let p1 = store_on(&path, 4, "race").await;
    let p2 = store_on(&path, 4, "race").await;
    let max = StorePolicy::default().lockout_max_attempts as usize;
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let s = if i % 2 == 0 { p1.clone() } else { p2.clone() };
            tokio::spawn(async move {
                match s.begin_login_attempt("victim@example.com", None).await {
                    Ok(permit) => {
                        // the password check takes a while; then it is wrong
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        s.finish_login_attempt(&permit, false).await.unwrap();
                        true
                    }
                    Err(StoreError::Locked { retry_after }) => {
                        assert!(retry_after > Duration::ZERO);
                        false
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            })
        })
        .collect();
    let mut permits = 0;
    for t in tasks {
        if t.await.unwrap() {
            permits += 1;
        }
    }
    assert!(permits >= 1 && permits <= max, "{permits} permits");
    assert!(
        p1.is_locked_out("victim@example.com", None, None)
            .await
            .unwrap()
    );
    assert_eq!(events_of(&p2, "lockout_triggered").await.len(), 1);
    assert_eq!(events_of(&p1, "login_attempt_failed").await.len(), permits);
}

/// Two pools on one file: of 40 concurrent consumers of one token exactly
/// one wins, and exactly one `token_consumed` is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_racing_consume_token_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authn.db");
    let p1 = store_on(&path, 4, "race").await;
    let p2 = store_on(&path, 4, "race").await;
    let uid = p1.create_user("once@example.com", None).await.unwrap();
    let h = token();
    p1.create_token(uid, &h, TokenType::MagicLink, None)
        .await
        .unwrap();
    let h = Arc::new(h);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 { p1.clone() } else { p2.clone() };
            let h = h.clone();
            tokio::spawn(async move { s.consume_token(&h, TokenType::MagicLink).await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if let Some(c) = t.await.unwrap() {
            assert_eq!(c.user_id, uid);
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(events_of(&p2, "token_consumed").await.len(), 1);
}

/// Two pools on one file: a TOTP step is accepted once, a session rotates
/// once, a recovery code is spent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_racing_one_time_mfa_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authn.db");
    let p1 = store_on(&path, 4, "race").await;
    let p2 = store_on(&path, 4, "race").await;
    let uid = p1.create_user("mfa@example.com", None).await.unwrap();
    let totp = p1
        .add_mfa(
            uid,
            MfaType::Totp,
            &MfaSecret::parse("sealed").unwrap(),
            None,
        )
        .await
        .unwrap();
    let code = MfaSecret::parse("code-hash").unwrap();
    p1.replace_recovery_codes(uid, std::slice::from_ref(&code))
        .await
        .unwrap();
    let old = token();
    p1.create_session(uid, &old, None, None, None)
        .await
        .unwrap();

    let steps = futures::future::join_all((0..20).map(|i| {
        let s = if i % 2 == 0 { p1.clone() } else { p2.clone() };
        async move { s.accept_totp_step(totp, 1000).await.unwrap() }
    }))
    .await;
    assert_eq!(steps.iter().filter(|ok| **ok).count(), 1);

    let codes = futures::future::join_all((0..20).map(|i| {
        let s = if i % 2 == 0 { p1.clone() } else { p2.clone() };
        let code = code.clone();
        async move { s.consume_recovery_code(uid, &code).await.unwrap() }
    }))
    .await;
    assert_eq!(codes.iter().filter(|ok| **ok).count(), 1);

    let upgrade = SessionUpgrade {
        add_amr: vec!["otp".into()],
        acr: Some("aal2".into()),
    };
    let rotations = futures::future::join_all((0..20).map(|i| {
        let s = if i % 2 == 0 { p1.clone() } else { p2.clone() };
        let (old, upgrade) = (old.clone(), upgrade.clone());
        async move { s.rotate_session(&old, &token(), &upgrade).await.unwrap() }
    }))
    .await;
    assert_eq!(rotations.iter().filter(|r| r.is_some()).count(), 1);
    assert!(p2.validate_session(&old).await.unwrap().is_none());
    assert_eq!(events_of(&p1, "session_rotated").await.len(), 1);
}

/// Two pools on one file: second-factor attempts of one session are
/// reserved at most `max` times.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_racing_session_mfa_reservations_keep_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authn.db");
    let p1 = store_on(&path, 4, "race").await;
    let p2 = store_on(&path, 4, "race").await;
    let uid = p1.create_user("slots@example.com", None).await.unwrap();
    let h = token();
    p1.create_session(uid, &h, None, None, None).await.unwrap();
    let got = futures::future::join_all((0..20).map(|i| {
        let s = if i % 2 == 0 { p1.clone() } else { p2.clone() };
        let h = h.clone();
        async move { s.reserve_session_mfa_attempt(&h, 5).await.unwrap() }
    }))
    .await;
    let reserved = got
        .iter()
        .filter(|r| **r == authn_core::MfaReservation::Reserved)
        .count();
    assert_eq!(reserved, 5);
}

/// The lockout counts (as the store writes them) search the index of
/// failed and unfinished attempts alone, so a subject's successes are
/// never read.
#[tokio::test]
async fn lockout_counts_search_only_counted_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_on(&dir.path().join("authn.db"), 1, "plans").await;
    let counts = [
        // begin_*_attempt, finish_login_attempt, is_locked_out
        "SELECT count(*) FROM login_attempts WHERE namespace = 'n' AND kind = 'password'
           AND subject = 'e' AND success IS NOT 1 AND attempted_at > 0",
        // the failures of a finished failure
        "SELECT count(*) FILTER (WHERE id <> x'00'), count(*) FROM login_attempts
         WHERE namespace = 'n' AND kind = 'password' AND subject = 'e'
           AND success = 0 AND success IS NOT 1 AND attempted_at > 0",
        // the time until a lock lifts
        "SELECT attempted_at FROM login_attempts WHERE namespace = 'n' AND kind = 'password'
           AND subject = 'e' AND success IS NOT 1 AND attempted_at > 0
         ORDER BY attempted_at DESC LIMIT 1 OFFSET 4",
    ];
    for sql in counts {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(s.pool())
                .await
                .unwrap();
        assert!(
            plan.iter()
                .any(|(_, _, _, d)| d.contains("login_attempts_counted_idx")),
            "{sql}\n{plan:?}"
        );
    }
}

/// The hot queries (as the store writes them, with literals for the
/// parameters) search an index: none scans a table.
#[tokio::test]
async fn hot_queries_search_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_on(&dir.path().join("authn.db"), 1, "plans").await;
    let hot = [
        // validate_session
        "SELECT s.id FROM sessions s JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
         WHERE s.namespace = 'n' AND s.token_hash = 'h' AND s.revoked_at IS NULL
           AND s.expires_at > 0 AND u.disabled_at IS NULL",
        // consume_token
        "UPDATE one_time_tokens SET used_at = 0
         WHERE namespace = 'n' AND token_hash = 'h' AND token_type = 'magic_link'
           AND used_at IS NULL AND expires_at > 0
           AND EXISTS (SELECT 1 FROM users u WHERE u.namespace = one_time_tokens.namespace
                       AND u.id = one_time_tokens.user_id AND u.disabled_at IS NULL
                       AND u.email = one_time_tokens.email)
         RETURNING id",
        // lockout count
        "SELECT count(*) FROM login_attempts WHERE namespace = 'n' AND kind = 'password'
           AND subject = 'e' AND success IS NOT 1 AND attempted_at > 0",
        // get_recent_attempts
        "SELECT subject FROM login_attempts WHERE namespace = 'n' AND kind = 'password'
           AND subject = 'e' ORDER BY attempted_at DESC, id DESC LIMIT 10",
        // get_user_by_email, get_credentials
        "SELECT id FROM users WHERE namespace = 'n' AND email = 'e'",
        // list_users
        "SELECT id FROM users WHERE namespace = 'n' AND id > x'00' ORDER BY id LIMIT 101",
        // list_sessions
        "SELECT id FROM sessions INDEXED BY sessions_user_idx
         WHERE namespace = 'n' AND user_id = x'00' AND revoked_at IS NULL AND expires_at > 0
         ORDER BY created_at DESC, id DESC",
        // get_audit_events, each filter
        "SELECT id FROM audit_events WHERE namespace = 'n' AND id < x'00' ORDER BY id DESC LIMIT 101",
        "SELECT id FROM audit_events WHERE namespace = 'n' AND resource_type = 'user'
           AND resource_id = 'u' ORDER BY id DESC LIMIT 101",
        "SELECT id FROM audit_events WHERE namespace = 'n' AND actor_id = 'a' ORDER BY id DESC LIMIT 101",
        "SELECT id FROM audit_events WHERE namespace = 'n' AND event_type = 't' ORDER BY id DESC LIMIT 101",
        // find_admin_key
        "SELECT id FROM admin_keys WHERE namespace = 'n' AND key_hash = 'h' AND revoked_at IS NULL",
        // invalidate_tokens
        "UPDATE one_time_tokens INDEXED BY one_time_tokens_user_idx SET used_at = 0
         WHERE namespace = 'n' AND user_id = x'00' AND token_type = 'magic_link'
           AND used_at IS NULL AND expires_at > 0",
        // get_mfa, consume_recovery_code
        "SELECT id FROM mfa_methods WHERE namespace = 'n' AND user_id = x'00' AND mfa_type = 'totp'",
        // cleanup passes
        "DELETE FROM sessions WHERE +namespace = 'n' AND rowid IN (SELECT rowid FROM sessions
           WHERE namespace = 'n' AND revoked_at IS NOT NULL LIMIT 10)",
        "DELETE FROM sessions WHERE +namespace = 'n' AND rowid IN (SELECT rowid FROM sessions
           WHERE namespace = 'n' AND expires_at <= 0 LIMIT 10)",
        "DELETE FROM login_attempts WHERE +namespace = 'n' AND rowid IN (SELECT rowid FROM login_attempts
           WHERE namespace = 'n' AND attempted_at < 0 LIMIT 10)",
    ];
    for sql in hot {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(s.pool())
                .await
                .unwrap();
        let scans: Vec<&str> = plan
            .iter()
            .map(|(_, _, _, d)| d.as_str())
            .filter(|d| d.starts_with("SCAN") && !d.contains("CONSTANT ROW"))
            .collect();
        assert!(scans.is_empty(), "{sql}\n{scans:?}");
    }
}

/// The string literals of a Rust source (comments skipped), with their line.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '"' => {
                let (start, mut lit) = (line, String::new());
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => {
                            line += 1;
                            lit.push(c);
                        }
                        _ => lit.push(c),
                    }
                }
                out.push((start, lit));
            }
            _ => {}
        }
    }
    out
}

/// SQLite has no row-level security: the namespace filter in each statement
/// is the only tenant guard. Every SQL text of the store with a `WHERE` or
/// `VALUES` names the namespace column (the heads of the `select_*!` /
/// `valid_session!` macros carry no condition; their tails do, and are
/// checked as literals of their own).
#[test]
fn every_statement_filters_on_the_namespace() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, lit) in string_literals(&text) {
            let sql = lit.trim_start();
            let is_sql = ["SELECT ", "UPDATE ", "DELETE ", "INSERT ", "WHERE "]
                .iter()
                .any(|k| sql.starts_with(k));
            let conditional = sql.contains("WHERE") || sql.contains("VALUES");
            // sqlx's and SQLite's own bookkeeping: no tenant rows
            let bookkeeping = sql.contains("sqlite_master") || sql.contains("_sqlx_migrations");
            if is_sql && conditional && !bookkeeping {
                checked += 1;
                assert!(
                    sql.contains("namespace"),
                    "{}:{line}: no namespace in\n{sql}",
                    path.display()
                );
            }
        }
    }
    assert!(checked > 50, "found the statements ({checked})");
}

/// A new session, an attempt's reservation and its success commit without
/// the fsync (`synchronous = NORMAL`), as on PostgreSQL; every other write
/// commits with it, also on a connection whose previous writer skipped it.
#[tokio::test]
async fn only_a_login_s_own_writes_skip_the_fsync() {
    let dir = tempfile::tempdir().unwrap();
    // One connection: every statement below runs on the same one.
    let s = store_on(&dir.path().join("authn.db"), 1, "default").await;
    let synchronous = || async {
        sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
            .fetch_one(s.pool())
            .await
            .unwrap()
    };
    let (normal, full) = (1, 2);
    let uid = s.create_user("sync@example.com", None).await.unwrap();
    assert_eq!(synchronous().await, full, "a new user");
    s.create_session(uid, &token(), None, None, None)
        .await
        .unwrap();
    assert_eq!(synchronous().await, normal, "a new session");
    let permit = s
        .begin_login_attempt("sync@example.com", None)
        .await
        .unwrap();
    assert_eq!(synchronous().await, normal, "a reservation");
    s.finish_login_attempt(&permit, true).await.unwrap();
    assert_eq!(synchronous().await, normal, "a success");
    let permit = s
        .begin_login_attempt("sync@example.com", None)
        .await
        .unwrap();
    s.finish_login_attempt(&permit, false).await.unwrap();
    assert_eq!(synchronous().await, full, "a failure");
    s.create_session(uid, &token(), None, None, None)
        .await
        .unwrap();
    s.revoke_all_sessions(uid).await.unwrap();
    assert_eq!(synchronous().await, full, "a revocation");
}

/// Commits never checkpoint (`wal_autocheckpoint = 0`): the store's own
/// task copies the WAL into the database file within a couple of
/// intervals of the last write.
#[tokio::test]
async fn the_wal_is_checkpointed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_on(&dir.path().join("authn.db"), 2, "default").await;
    let auto: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(auto, 0, "no checkpoint inside a commit");
    for i in 0..20 {
        s.create_user(&format!("wal{i}@example.com"), None)
            .await
            .unwrap();
    }
    // (busy, frames in the WAL, frames copied back), without doing any.
    let state = || async {
        sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(NOOP)")
            .fetch_one(s.pool())
            .await
            .unwrap()
    };
    let (_, written, _) = state().await;
    assert!(written > 0, "the writes are in the WAL");
    let deadline = tokio::time::Instant::now() + authn_store_sqlite::CHECKPOINT_INTERVAL * 5;
    loop {
        let (_, frames, copied) = state().await;
        if frames > 0 && copied == frames {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not checkpointed: {frames} frames, {copied} copied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
