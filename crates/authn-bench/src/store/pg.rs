//! The PostgreSQL side: a fresh database owned by an ordinary login role
//! (no superuser, no BYPASSRLS: row-level security applies, as in
//! production), the store running as that role, and the raw limit.

use std::sync::Arc;
use std::time::Duration;

use authn_store_pg::PgStore;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

use super::{Backend, Keys, Lookup, NAMESPACE, POOL_SIZE, USERS};
use crate::Settings;

/// The role the store runs as.
const APP_ROLE: &str = "authn_bench_app";
/// Its password (a throwaway role on a local server; set so the run also
/// works where local connections need one).
const APP_PASSWORD: &str = "authn-bench";
/// Live sessions inserted per statement while seeding.
const SEED_BATCH: u64 = 100_000;

/// The store's validation statement, verbatim (`PgStore::validate_session`):
/// the function sets the transaction's namespace and does the lookup under
/// row-level security.
const RAW_SQL: &str = "SELECT session_id, user_id, email, email_verified_at, created_at, \
         expires_at, partial, amr, acr, auth_time, mfa_at
     FROM authn_validate_session($1, $2)";

/// The bare lookup: the same join, predicates and columns as
/// `authn_validate_session` as a plain statement (unique index
/// sessions_namespace_token_hash_key, then users' primary key), without
/// the function and the row-level security around it.
const BARE_SQL: &str = "SELECT s.id, s.user_id, u.email, u.email_verified_at, s.created_at, \
         s.expires_at, s.partial, s.amr, s.acr, s.auth_time, s.mfa_at
     FROM sessions s JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
     WHERE s.namespace = $1 AND s.token_hash = $2
       AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL";

/// The row of [`RAW_SQL`] and [`BARE_SQL`], decoded as the store decodes it.
type RawRow = (
    Uuid,
    Uuid,
    String,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    DateTime<Utc>,
    bool,
    Vec<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// The PostgreSQL backend of the scenario.
pub struct Pg {
    admin: PgConnectOptions,
    /// The database's name.
    database: &'static str,
    store: PgStore,
    /// Connections as the app role, like the store's: the raw loop.
    raw: PgPool,
    /// Superuser connections to the benchmark database: the bare loop, and
    /// seeding.
    bare: PgPool,
}

/// The raw loop's pool: as many connections as the store's, and no health
/// check on every acquire (a raw loop, like pgbench, sends nothing but its
/// statement).
fn raw_pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
}

/// A `postgres://` URL for the app role on a benchmark database, on the
/// server of the admin options.
fn app_url(admin: &PgConnectOptions, database: &str) -> String {
    let host = admin.get_host();
    let port = admin.get_port();
    if host.starts_with('/') {
        // a Unix socket directory
        format!("postgres://{APP_ROLE}:{APP_PASSWORD}@localhost:{port}/{database}?host={host}")
    } else if host.contains(':') {
        format!("postgres://{APP_ROLE}:{APP_PASSWORD}@[{host}]:{port}/{database}")
    } else {
        format!("postgres://{APP_ROLE}:{APP_PASSWORD}@{host}:{port}/{database}")
    }
}

impl Pg {
    /// Creates the role and a fresh database `database` (dropped first if
    /// a previous run left it), migrates it as the role, opens both pools and
    /// seeds the users.
    pub async fn setup(settings: &Settings, database: &'static str) -> Self {
        let admin: PgConnectOptions = settings
            .pg_admin_url
            .parse()
            .expect("a PostgreSQL superuser URL");
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("cannot reach PostgreSQL at the admin URL");
        let role: Option<(bool,)> = sqlx::query_as("SELECT true FROM pg_roles WHERE rolname = $1")
            .bind(APP_ROLE)
            .fetch_optional(&mut conn)
            .await
            .expect("look up the role");
        if role.is_none() {
            sqlx::query(
                "CREATE ROLE authn_bench_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
            )
            .execute(&mut conn)
            .await
            .expect("create the role");
        }
        // `database` is one of this module's constant names: safe to splice.
        for sql in [
            "ALTER ROLE authn_bench_app PASSWORD 'authn-bench'".to_owned(),
            format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
            format!("CREATE DATABASE {database} OWNER {APP_ROLE}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .expect(&sql);
        }
        conn.close().await.ok();
        // As a library user opens it: the store's own pool settings.
        let url = app_url(&admin, database);
        let store = PgStore::connect_with(&url, POOL_SIZE, Duration::from_secs(30))
            .await
            .expect("connect as the app role")
            .namespace(NAMESPACE)
            .expect("namespace");
        store.migrate().await.expect("migrate");
        let raw = raw_pool_options()
            .connect(&url)
            .await
            .expect("connect as the app role");
        let bare = raw_pool_options()
            .connect_with(admin.clone().database(database))
            .await
            .expect("connect as superuser");
        let pg = Self {
            admin,
            database,
            store,
            raw,
            bare,
        };
        pg.seed_users().await;
        pg
    }

    /// Inserts the users (deterministic ids: md5 of their number).
    async fn seed_users(&self) {
        sqlx::query(
            "INSERT INTO users (id, namespace, email, email_verified_at, created_at, updated_at)
             SELECT md5('bench-user-' || k)::uuid, $1, 'user' || k || '@bench.example',
                    now(), now(), now()
             FROM generate_series(0, $2 - 1) k",
        )
        .bind(NAMESPACE)
        .bind(USERS as i64)
        .execute(&self.bare)
        .await
        .expect("seed users");
    }

    /// Inserts sessions `from..to` with tokens `prefix || i` (hashed by
    /// PostgreSQL exactly as `TokenHash::of_token`), in statements of
    /// `SEED_BATCH` rows. Ids are time-ordered like the store's UUID v7
    /// (48 bits of milliseconds first), so indexes on them grow as in
    /// production.
    async fn seed_sessions(&self, prefix: &str, from: u64, to: u64, expires_at: DateTime<Utc>) {
        let created_ms = (Utc::now() - chrono::Duration::hours(1)).timestamp_millis();
        let mut start = from;
        while start < to {
            let end = (start + SEED_BATCH).min(to);
            sqlx::query(
                "INSERT INTO sessions (id, namespace, user_id, token_hash, created_at, expires_at,
                                       amr, auth_time)
                 SELECT (lpad(to_hex($7 + i), 12, '0') || substr(md5($5 || i), 1, 20))::uuid,
                        $1, md5('bench-user-' || (i % $4))::uuid,
                        encode(sha256(convert_to($5 || i, 'UTF8')), 'hex'),
                        now() - interval '1 hour', $6, '{pwd}', now() - interval '1 hour'
                 FROM generate_series($2::bigint, $3::bigint - 1) i",
            )
            .bind(NAMESPACE)
            .bind(start as i64)
            .bind(end as i64)
            .bind(USERS as i64)
            .bind(prefix)
            .bind(expires_at)
            .bind(created_ms)
            .execute(&self.bare)
            .await
            .expect("seed sessions");
            start = end;
        }
    }
}

impl Backend for Pg {
    type Store = PgStore;

    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn store(&self) -> PgStore {
        self.store.clone()
    }

    fn raw_lookup(&self, keys: Keys) -> Lookup {
        lookup(self.raw.clone(), RAW_SQL, keys)
    }

    fn raw_description(&self) -> &'static str {
        "the store's own statement, verbatim, as a plain prepared `SELECT` (sqlx caches it \
         per connection, as pgbench's `-M prepared` would): `SELECT .. FROM \
         authn_validate_session($1, $2)`, issued as the same ordinary login role (NOSUPERUSER, \
         NOBYPASSRLS, owning the database, as in production) on a pool without health checks \
         on acquire, the row decoded into the same Rust types. store / raw is what the store \
         API (handle, pool, error mapping, building `ValidSession`) costs over its statement."
    }

    fn bare_lookup(&self, keys: Keys) -> Option<Lookup> {
        Some(lookup(self.bare.clone(), BARE_SQL, keys))
    }

    fn bare_description(&self) -> Option<&'static str> {
        Some(
            "Bare: the lookup inside that function (the join of sessions and users, its \
             predicates, its 11 columns) as a plain prepared statement by a superuser \
             connection, so without the PL/pgSQL call, the transaction-local `set_config` of \
             the namespace and the row-level security policy. store / bare shows what the \
             tenant guard costs: every statement of the store runs under the RLS policy with \
             the namespace set for its own transaction only, so a pooled connection never \
             carries a namespace to its next user; validation pays for that with one PL/pgSQL \
             call (about 20 µs of database CPU).",
        )
    }

    async fn seed_live(&self, from: u64, to: u64) {
        let expires = Utc::now() + chrono::Duration::days(30);
        self.seed_sessions("bench-live-", from, to, expires).await;
    }

    async fn seed_expired(&self, n: u64) {
        let expired = Utc::now() - chrono::Duration::hours(1);
        self.seed_sessions("bench-expired-", 0, n, expired).await;
    }

    async fn close_raw(&self) {
        self.raw.close().await;
        self.bare.close().await;
    }

    async fn teardown(self) {
        // The role stays, for the next run.
        self.store.pool().close().await;
        self.raw.close().await;
        self.bare.close().await;
        let mut conn = PgConnection::connect_with(&self.admin)
            .await
            .expect("reconnect as superuser");
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("drop the benchmark database");
        // The cleanup scenario leaves gigabytes of WAL and dirty pages;
        // written out now, they cannot land in the next backend's figures.
        sqlx::query("CHECKPOINT")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
        conn.close().await.ok();
    }

    async fn settle(&self) {
        // What autovacuum would have done by now (this server may run
        // without it), and the seeding's dirty pages written out, so no
        // checkpoint lands in a measurement.
        for sql in [
            "VACUUM (ANALYZE) users",
            "VACUUM (ANALYZE) sessions",
            "CHECKPOINT",
        ] {
            sqlx::raw_sql(sql).execute(&self.bare).await.expect(sql);
        }
    }
}

/// A closed-loop lookup of the seeded sessions by `sql` on `pool`.
fn lookup(pool: PgPool, sql: &'static str, keys: Keys) -> Lookup {
    Arc::new(move |k| {
        let pool = pool.clone();
        let keys = keys.clone();
        Box::pin(async move {
            let row: Option<RawRow> = sqlx::query_as(sql)
                .bind(NAMESPACE)
                .bind(keys[k].as_str())
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
