//! The PL/pgSQL functions of the login path against what the Rust code
//! around them relies on: times in audit values written as chrono writes
//! them, commits that skip the WAL flush for themselves only, and sessions
//! written ahead that lock nothing and leave most of the pool free.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use authn_core::store::{LoginAttemptStore, SessionStore, UserStore};
use authn_core::{NewSession, StorePolicy};
use std::time::Duration;

use authn_store_pg::PgStore;
use chrono::{DateTime, TimeZone, Utc};
use common::*;
use sqlx::Row;

/// `authn_json_time` writes a time as serde writes a `DateTime<Utc>`: the
/// fraction in 0, 3 or 6 digits, as the microseconds need, and `Z`.
#[tokio::test]
async fn json_time_is_written_as_chrono_writes_it() {
    let s = store().await;
    let base = Utc.with_ymd_and_hms(2026, 11, 23, 7, 8, 9).unwrap();
    let times: Vec<DateTime<Utc>> = [0, 1, 999, 1_000, 120_000, 123_000, 123_456, 999_999]
        .into_iter()
        .map(|us| base + chrono::Duration::microseconds(us))
        .chain([
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2100, 12, 31, 23, 59, 59).unwrap(),
        ])
        .collect();
    for t in times {
        let sql: String = sqlx::query_scalar("SELECT authn_json_time($1)")
            .bind(t)
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(
            serde_json::Value::String(sql),
            serde_json::to_value(t).unwrap(),
            "{t:?}"
        );
    }
}

/// A new session, a reservation and a successful attempt commit without
/// waiting for the WAL flush, in their own transaction only: the pooled
/// connection goes back with `synchronous_commit` on.
#[tokio::test]
async fn unflushed_commits_do_not_leak_to_the_next_user_of_a_connection() {
    // One connection: every statement below runs on the same one.
    let s = store_with(StorePolicy::default(), 1).await;
    let synchronous = || async {
        sqlx::query_scalar::<_, String>("SHOW synchronous_commit")
            .fetch_one(s.pool())
            .await
            .unwrap()
    };
    let uid = s.create_user("flush@example.com", None).await.unwrap();
    let (_, hash) = token();
    s.create_session(uid, &hash, None, None, None)
        .await
        .unwrap();
    assert_eq!(synchronous().await, "on");
    let permit = s
        .begin_login_attempt("flush@example.com", None)
        .await
        .unwrap();
    s.finish_login_attempt(&permit, true).await.unwrap();
    assert_eq!(synchronous().await, "on");
    let permit = s
        .begin_login_attempt("flush@example.com", None)
        .await
        .unwrap();
    let o = s.finish_login_attempt(&permit, false).await.unwrap();
    assert_eq!(o.failures_in_window, 1);
    assert_eq!(synchronous().await, "on");
}

/// A pool of `size` whose connections name themselves `name` in
/// pg_stat_activity, and a store on it in a fresh namespace.
async fn named_store(name: &str, size: u32) -> PgStore {
    ensure_database().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(app_options().application_name(name))
        .await
        .unwrap();
    PgStore::new(pool).namespace(&unique_namespace()).unwrap()
}

/// Waits until `n` connections named `name` are idle inside a
/// transaction after writing a session: sessions written ahead, waiting
/// for their verdict.
async fn held_transactions(s: &PgStore, name: &str, n: i64) {
    for _ in 0..500 {
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = $1 AND state = 'idle in transaction'
               AND query LIKE 'SELECT authn_write_session_ahead(%'",
        )
        .bind(name)
        .fetch_one(s.pool())
        .await
        .unwrap();
        if held == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never {n} transactions held by {name}");
}

/// Each connection of the pool at once: none left inside a transaction or
/// with the unflushed commit of a session written ahead.
async fn every_connection_is_clean(s: &PgStore, size: usize) {
    let mut conns = Vec::new();
    for _ in 0..size {
        conns.push(s.pool().acquire().await.unwrap());
    }
    for c in &mut conns {
        // The simple protocol: outside a transaction, the statement starts
        // its own (the extended one can set them apart by a few us).
        let row = sqlx::raw_sql(
            "SELECT current_setting('synchronous_commit'), now() <> statement_timestamp()",
        )
        .fetch_one(&mut **c)
        .await
        .unwrap();
        let (sync, in_tx): (String, bool) = (row.get(0), row.get(1));
        assert_eq!((sync.as_str(), in_tx), ("on", false));
    }
}

/// A session written ahead holds no lock anyone waits for, however long
/// its verdict takes: while it is held (its transaction idle, seen in
/// pg_stat_activity), its user is disabled, deleted or given a new email
/// and its subject's attempts come and go, each at once; its commit then
/// answers for what happened. Afterwards every connection is back in the
/// pool as it was lent.
#[tokio::test]
async fn a_session_written_ahead_locks_nothing_until_its_verdict() {
    let name = format!("ahead_{}", uuid::Uuid::now_v7().simple());
    let s = named_store(&name, 5).await;
    let bound = Duration::from_secs(5);
    let held = |email: &'static str| {
        let (s, name) = (&s, &name);
        async move {
            let uid = s.create_user(email, None).await.unwrap();
            let permit = s.begin_login_attempt(email, None).await.unwrap();
            let prepared = s
                .prepare_session(&NewSession {
                    concludes: Some(permit.clone()),
                    ..NewSession::new(uid, token().1)
                })
                .await
                .unwrap();
            assert!(prepared.is_written_ahead());
            held_transactions(s, name, 1).await;
            (uid, permit, prepared)
        }
    };

    let (uid, permit, prepared) = held("disabled@example.com").await;
    let next = tokio::time::timeout(bound, s.begin_login_attempt("disabled@example.com", None))
        .await
        .expect("a reservation waited")
        .unwrap();
    tokio::time::timeout(bound, s.finish_login_attempt(&next, false))
        .await
        .expect("a failure waited")
        .unwrap();
    tokio::time::timeout(bound, s.disable_user(uid))
        .await
        .expect("a disable waited")
        .unwrap();
    assert!(matches!(
        prepared.commit(&s).await,
        Err(authn_core::StoreError::UserDisabled)
    ));
    assert!(s.list_sessions(uid).await.unwrap().is_empty());
    s.finish_login_attempt(&permit, true).await.unwrap();

    let (uid, _, prepared) = held("deleted@example.com").await;
    tokio::time::timeout(bound, s.delete_user(uid))
        .await
        .expect("a deletion waited")
        .unwrap();
    assert!(matches!(
        prepared.commit(&s).await,
        Err(authn_core::StoreError::NotFound { entity: "user" })
    ));

    let (uid, permit, prepared) = held("renamed@example.com").await;
    tokio::time::timeout(bound, s.update_email(uid, "renamed2@example.com"))
        .await
        .expect("an email change waited")
        .unwrap();
    prepared.commit(&s).await.unwrap();
    assert_eq!(s.list_sessions(uid).await.unwrap().len(), 1);
    assert!(matches!(
        s.finish_login_attempt(&permit, true).await,
        Err(authn_core::StoreError::NotFound {
            entity: "login_attempt"
        })
    ));

    // The attempt closed meanwhile (cleared, cleaned up, or finished by
    // another process): refused, nothing written.
    let (uid, permit, prepared) = held("closed@example.com").await;
    tokio::time::timeout(bound, s.cancel_login_attempt(&permit))
        .await
        .expect("a cancel waited")
        .unwrap();
    assert!(matches!(
        prepared.commit(&s).await,
        Err(authn_core::StoreError::NotFound {
            entity: "login_attempt"
        })
    ));
    assert!(s.list_sessions(uid).await.unwrap().is_empty());

    // An abort: rolled back on the store's time.
    let (uid, _, prepared) = held("aborted@example.com").await;
    prepared.abort();
    held_transactions(&s, &name, 0).await;
    assert!(s.list_sessions(uid).await.unwrap().is_empty());
    every_connection_is_clean(&s, 5).await;
}

/// Sessions written ahead hold a pool connection each until their
/// verdict, so fewer than half the pool does (`(size - 1) / 2`): past
/// that, a session is written at its commit, and the rest of the pool
/// stays free for everything else.
#[tokio::test]
async fn sessions_written_ahead_hold_less_than_half_the_pool() {
    for (size, places) in [(1, 0), (2, 0), (3, 1), (10, 4)] {
        let s = store_with(StorePolicy::default(), size).await;
        let uid = s.create_user("half@example.com", None).await.unwrap();
        let held: Vec<_> = prepare_many(&s, uid, places + 1).await;
        let ahead: Vec<bool> = held.iter().map(|(p, _)| p.is_written_ahead()).collect();
        let mut want = vec![true; places];
        want.push(false);
        assert_eq!(ahead, want, "pool of {size}");
        // The rest of the pool is free, however long the verdicts take.
        let (_, other) = token();
        s.create_session(uid, &other, None, None, None)
            .await
            .unwrap();
        assert!(s.validate_session(&other).await.unwrap().is_some());
        for (p, tok) in held {
            p.commit(&s).await.unwrap();
            assert!(
                s.validate_session(&authn_core::TokenHash::of_token(&tok))
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        assert_eq!(s.list_sessions(uid).await.unwrap().len(), places + 2);
        // The places are given back (after their connections).
        if places > 0 {
            let mut again = None;
            for _ in 0..500 {
                let p = s
                    .prepare_session(&NewSession::new(uid, token().1))
                    .await
                    .unwrap();
                if p.is_written_ahead() {
                    again = Some(p);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            again
                .expect("a place never came back")
                .commit(&s)
                .await
                .unwrap();
        }
        every_connection_is_clean(&s, size as usize).await;
    }
}

/// `n` sessions of `uid` prepared one after the other, with their tokens.
async fn prepare_many(
    s: &PgStore,
    uid: authn_core::UserId,
    n: usize,
) -> Vec<(authn_core::store::PreparedSession, String)> {
    let mut held = Vec::new();
    for _ in 0..n {
        let (tok, hash) = token();
        held.push((
            s.prepare_session(&NewSession::new(uid, hash))
                .await
                .unwrap(),
            tok,
        ));
    }
    held
}

/// The lockout counts search the index of failed and unfinished attempts
/// alone (login_attempts_counted_idx), so a subject's successes, however
/// many, are never read: with 200 successes and one failure of a subject,
/// each count reads one row.
#[tokio::test]
async fn lockout_counts_read_only_counted_attempts() {
    let s = store().await;
    let email = "busy@example.com";
    for _ in 0..200 {
        s.record_login_attempt(email, true, None).await.unwrap();
    }
    let o = s.record_login_attempt(email, false, None).await.unwrap();
    assert_eq!(o.failures_in_window, 1);
    // The statements of the store, as the planner sees them with
    // parameters (a generic plan), in a transaction with the namespace.
    let mut tx = s.pool().begin().await.unwrap();
    sqlx::query("SELECT set_config('authn.namespace', $1, true)")
        .bind(s.current_namespace().as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await
        .unwrap();
    for sql in [
        "EXPLAIN (ANALYZE, COSTS OFF, FORMAT JSON) SELECT count(*) FROM login_attempts
         WHERE namespace = $1 AND kind = 'password' AND subject = $2 AND success IS NOT TRUE
           AND attempted_at > now() - $3 * interval '1 microsecond'",
        "EXPLAIN (ANALYZE, COSTS OFF, FORMAT JSON) SELECT count(*) FROM login_attempts
         WHERE namespace = $1 AND kind = 'password' AND subject = $2
           AND success = false AND success IS NOT TRUE
           AND attempted_at > now() - $3 * interval '1 microsecond'",
    ] {
        let plan: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(s.current_namespace().as_str())
            .bind(email)
            .bind(900_000_000_i64)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let text = plan.to_string();
        assert!(text.contains("login_attempts_counted_idx"), "{sql}\n{text}");
        // The scan under the aggregate returned the one failure only.
        let scan = &plan[0]["Plan"]["Plans"][0];
        assert_eq!(scan["Actual Rows"], 1, "{text}");
    }
}

/// Finishing an attempt, and a session concluding one, find the attempt by
/// its primary key, not among its subject's attempts: with 200 earlier
/// attempts of the subject (and the table perhaps never analyzed, when the
/// planner costs the subject's index as low as the key), each reads a
/// couple of rows, counted by the transaction's own statistics.
#[tokio::test]
async fn attempts_are_finished_by_their_key_however_many_the_subject_has() {
    let s = store().await;
    let email = "regular@example.com";
    let uid = s.create_user(email, None).await.unwrap();
    for _ in 0..200 {
        s.record_login_attempt(email, true, None).await.unwrap();
    }
    let namespace = s.current_namespace().as_str().to_owned();
    // Rows of login_attempts fetched through an index by the calls in `tx`.
    async fn fetched(tx: &mut sqlx::PgConnection) -> i64 {
        sqlx::query_scalar(
            "SELECT coalesce(sum(idx_tup_fetch), 0)::bigint FROM pg_stat_xact_user_tables
             WHERE relname = 'login_attempts'",
        )
        .fetch_one(tx)
        .await
        .unwrap()
    }
    for concluded_by_session in [false, true] {
        let permit = s.begin_login_attempt(email, None).await.unwrap();
        let mut tx = s.pool().begin().await.unwrap();
        sqlx::query("SELECT set_config('authn.namespace', $1, true)")
            .bind(&namespace)
            .execute(&mut *tx)
            .await
            .unwrap();
        let (kind, subject): (String, String) =
            sqlx::query_as("SELECT kind, subject FROM login_attempts WHERE id = $1")
                .bind(permit.attempt_id.as_uuid())
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        let before = fetched(&mut tx).await;
        let finished: bool = if concluded_by_session {
            let outcome: String = sqlx::query_scalar(
                "SELECT outcome FROM authn_create_session($1, gen_random_uuid(), $2, $3,
                     3600000000, NULL, NULL, false, ARRAY['pwd'], 'aal1', false,
                     gen_random_uuid(), 'session_created', NULL, NULL, NULL, NULL, NULL, NULL,
                     '{}'::jsonb, 1, $4, $5, $6)",
            )
            .bind(&namespace)
            .bind(uid.as_uuid())
            .bind(token().1.as_str())
            .bind(permit.attempt_id.as_uuid())
            .bind(&kind)
            .bind(&subject)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            outcome == "created"
        } else {
            sqlx::query_scalar(
                "SELECT finished FROM authn_finish_attempt($1, 1, $2, $3, $4, true, 900000000)",
            )
            .bind(&namespace)
            .bind(&kind)
            .bind(&subject)
            .bind(permit.attempt_id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .unwrap()
        };
        assert!(finished, "session: {concluded_by_session}");
        let read = fetched(&mut tx).await - before;
        tx.commit().await.unwrap();
        assert!(
            read <= 2,
            "session: {concluded_by_session}: {read} rows read to finish one attempt"
        );
    }
}

/// A session written ahead and dropped after its runtime is gone (a
/// program shutting down) neither panics nor hangs: its connection is
/// dropped, and the server rolls the transaction back.
#[test]
fn a_session_written_ahead_dropped_without_a_runtime_is_rolled_back_by_the_server() {
    let name = format!("noruntime_{}", uuid::Uuid::now_v7().simple());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (s, uid, prepared) = rt.block_on(async {
        let s = named_store(&name, 3).await;
        let uid = s.create_user("gone@example.com", None).await.unwrap();
        let prepared = s
            .prepare_session(&NewSession::new(uid, token().1))
            .await
            .unwrap();
        assert!(prepared.is_written_ahead());
        held_transactions(&s, &name, 1).await;
        (s, uid, prepared)
    });
    let namespace = s.current_namespace().as_str().to_owned();
    drop(rt);
    drop(prepared);
    // sqlx gives its pool back on a runtime: it is left to the process.
    std::mem::forget(s);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = PgStore::new(app_pool(2).await)
            .namespace(&namespace)
            .unwrap();
        // The server saw the connection go: no transaction of it left.
        held_transactions(&s, &name, 0).await;
        assert!(s.list_sessions(uid).await.unwrap().is_empty());
        assert!(s.get_user(uid).await.unwrap().is_some());
    });
}
