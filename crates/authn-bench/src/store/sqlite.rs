//! The SQLite side: a database file in a temporary directory, the store
//! opened on it as an application would, and the raw limit.

use std::sync::Arc;
use std::time::Duration;

use authn_core::TokenHash;
use authn_store_sqlite::SqliteStore;
use chrono::Utc;
use sqlx::SqlitePool;
use tempfile::TempDir;
use uuid::Uuid;

use super::{Backend, Keys, Lookup, NAMESPACE, POOL_SIZE, USERS, expired_token, live_token};

/// Sessions inserted per statement while seeding (one JSON array of hashes
/// bound per statement).
const SEED_BATCH: u64 = 100_000;

/// The store's validation query (`validate_session` of authn-store-sqlite),
/// verbatim: the same join, predicates and columns (unique index
/// sessions_namespace_token_hash_key, then users' primary key).
const RAW_SQL: &str = "SELECT s.id AS session_id, s.user_id, u.email, u.email_verified_at, \
         s.created_at, s.expires_at, s.partial, s.amr, s.acr, s.auth_time, s.mfa_at
     FROM sessions s JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
     WHERE s.namespace = ?1 AND s.token_hash = ?2
       AND s.revoked_at IS NULL AND s.expires_at > ?3 AND u.disabled_at IS NULL";

/// The row of [`RAW_SQL`] in its stored types.
type RawRow = (
    Uuid,
    Uuid,
    String,
    Option<i64>,
    i64,
    i64,
    bool,
    String,
    Option<String>,
    i64,
    Option<i64>,
);

/// The SQLite backend of the scenario.
pub struct Sqlite {
    // Removed when dropped, after the pool.
    _dir: TempDir,
    store: SqliteStore,
    /// The store's own pool: the raw loop, and seeding. One pool, not a
    /// second one on the same file: with two pools in one process, the
    /// pool whose connections were put to work first ran about 15 % slower
    /// at 4 and 16 tasks, whichever contender it served (swapped, and filled
    /// in the other order), and the gap moved with the number of malloc
    /// arenas (0.88 with `MALLOC_ARENA_MAX=64`, 0.70 with 1): it measured
    /// how the pools' worker threads share the allocator, not the store.
    raw: SqlitePool,
}

impl Sqlite {
    /// Creates the file, migrates it, opens the store, seeds the users.
    pub async fn setup() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("authn-bench.db");
        let url = format!("sqlite://{}", path.display());
        let store = SqliteStore::connect_with(&url, POOL_SIZE, Duration::from_secs(30))
            .await
            .expect("open the SQLite store")
            .namespace(NAMESPACE)
            .expect("namespace");
        store.migrate().await.expect("migrate");
        let raw = store.pool().clone();
        let now = Utc::now().timestamp_micros();
        // Users get rowids 1..=USERS in this one statement: sessions pick
        // their user by rowid.
        sqlx::query(
            "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n + 1 < ?2)
             INSERT INTO users (id, namespace, email, email_verified_at, created_at, updated_at)
             SELECT randomblob(16), ?1, 'user' || n || '@bench.example', ?3, ?3, ?3 FROM k",
        )
        .bind(NAMESPACE)
        .bind(USERS as i64)
        .bind(now)
        .execute(&raw)
        .await
        .expect("seed users");
        Self {
            _dir: dir,
            store,
            raw,
        }
    }

    /// Inserts sessions `from..to` with the tokens `token(i)`, hashed here,
    /// in one transaction of statements of `SEED_BATCH` rows. Ids are
    /// time-ordered like the store's UUID v7 (48 bits of milliseconds
    /// first), so the primary key grows as in production.
    async fn seed_sessions(&self, token: fn(u64) -> String, from: u64, to: u64, expires_at: i64) {
        let now = Utc::now().timestamp_micros();
        let mut tx = self.raw.begin().await.expect("begin");
        let mut start = from;
        while start < to {
            let end = (start + SEED_BATCH).min(to);
            // A JSON array of the hashes (hex: nothing to escape).
            let mut hashes = String::with_capacity(((end - start) * 67 + 2) as usize);
            hashes.push('[');
            for i in start..end {
                if i > start {
                    hashes.push(',');
                }
                hashes.push('"');
                hashes.push_str(TokenHash::of_token(&token(i)).as_str());
                hashes.push('"');
            }
            hashes.push(']');
            sqlx::query(
                "INSERT INTO sessions (id, namespace, user_id, token_hash, created_at, expires_at,
                                       amr, auth_time)
                 SELECT unhex(printf('%012x', ?7 + ?2 + j.key) || hex(randomblob(10))), ?1,
                        (SELECT id FROM users WHERE rowid = 1 + ((?2 + j.key) % ?3)),
                        j.value, ?4, ?5, '[\"pwd\"]', ?4
                 FROM json_each(?6) j",
            )
            .bind(NAMESPACE)
            .bind(start as i64)
            .bind(USERS as i64)
            .bind(now - 3_600_000_000)
            .bind(expires_at)
            .bind(hashes)
            .bind((now - 3_600_000_000) / 1000)
            .execute(&mut *tx)
            .await
            .expect("seed sessions");
            start = end;
        }
        tx.commit().await.expect("commit the seeding");
    }
}

impl Backend for Sqlite {
    type Store = SqliteStore;

    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn store(&self) -> SqliteStore {
        self.store.clone()
    }

    fn raw_lookup(&self, keys: Keys) -> Lookup {
        let pool = self.raw.clone();
        Arc::new(move |k| {
            let pool = pool.clone();
            let keys = keys.clone();
            Box::pin(async move {
                let row: Option<RawRow> = sqlx::query_as(RAW_SQL)
                    .bind(NAMESPACE)
                    .bind(keys[k].as_str())
                    .bind(Utc::now().timestamp_micros())
                    .fetch_optional(&pool)
                    .await
                    .expect("raw lookup");
                assert!(
                    row.is_some(),
                    "seeded session {k} not found by the raw lookup"
                );
            })
        })
    }

    fn raw_description(&self) -> &'static str {
        "the store's own `SELECT`, verbatim, as a prepared statement (sqlx caches it per \
         connection) on the store's own pool (`SqliteStore::pool`: the same connections, \
         settings and statement cache), the row decoded in its stored types (integers, JSON \
         text) without building a `ValidSession`. The store opens the file with \
         `SqliteStore::connect_with` in a temporary directory. (A second pool on the same \
         file would measure the order of setup: in one process, whichever of two pools was put to \
         work first ran about 15 % slower at 4 and 16 tasks.)"
    }

    async fn seed_live(&self, from: u64, to: u64) {
        let expires = Utc::now().timestamp_micros() + 30 * 86_400_000_000;
        self.seed_sessions(live_token, from, to, expires).await;
    }

    async fn seed_expired(&self, n: u64) {
        let expired = Utc::now().timestamp_micros() - 3_600_000_000;
        self.seed_sessions(expired_token, 0, n, expired).await;
    }

    async fn close_raw(&self) {
        // The raw loop shares the store's pool, which stays open.
    }

    async fn teardown(self) {
        self.store.pool().close().await;
        // the temporary directory goes with `self`
    }

    async fn settle(&self) {
        // The seeding's WAL folded into the database file, as SQLite's
        // automatic checkpoints would have done over time.
        sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.raw)
            .await
            .expect("checkpoint");
    }
}
