-- authn: initial SQLite schema (the embedded store, authn-store-sqlite).
--
-- The same tables as migrations/postgres, adapted to SQLite:
-- - Tenancy: every table has a `namespace` column and every statement of
--   the store filters on it (every index leads with it). SQLite has no
--   row-level security, so that filter is the only guard: there is no
--   statement without it.
-- - Ids: UUID v7 as 16-byte BLOBs. BLOBs compare with memcmp, which for
--   UUID v7 is creation order, so keyset pagination on `id` works as on
--   PostgreSQL.
-- - Times: INTEGER microseconds since the Unix epoch (UTC), from the host
--   clock (SQLite has no server clock). Integers sort and compare exactly
--   and keep PostgreSQL's microsecond precision.
-- - Booleans: INTEGER 0/1. Arrays (`amr`) and JSON values: TEXT holding
--   JSON. IP addresses: TEXT in their canonical form.
-- - STRICT tables: a value of the wrong type is refused, not coerced.

CREATE TABLE users (
    id                BLOB    NOT NULL PRIMARY KEY,
    namespace         TEXT    NOT NULL,
    email             TEXT    NOT NULL,
    name              TEXT,
    password_hash     TEXT,
    email_verified_at INTEGER,
    disabled_at       INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    -- get_user_by_email, get_credentials, create_user duplicate check
    CONSTRAINT users_namespace_email_key UNIQUE (namespace, email),
    -- list_users keyset pagination; target of the composite foreign keys
    -- below, which make a row of another namespace unreferenceable
    CONSTRAINT users_namespace_id_key UNIQUE (namespace, id)
) STRICT;
-- get_stats: disabled users
CREATE INDEX users_disabled_idx ON users (namespace) WHERE disabled_at IS NOT NULL;

CREATE TABLE sessions (
    id           BLOB    NOT NULL PRIMARY KEY,
    namespace    TEXT    NOT NULL,
    user_id      BLOB    NOT NULL,
    token_hash   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    ip_address   TEXT,
    user_agent   TEXT,
    -- authentication context: a partial session has passed the password
    -- but still owes its second factor
    partial      INTEGER NOT NULL DEFAULT 0 CHECK (partial IN (0, 1)),
    -- JSON array of method names (RFC 8176)
    amr          TEXT    NOT NULL DEFAULT '[]',
    acr          TEXT,
    auth_time    INTEGER NOT NULL,
    mfa_at       INTEGER,
    -- second-factor attempts used on this session (wrong codes plus codes
    -- being checked; a right code gives its slot back), and wrong codes:
    -- the session is revoked when they reach the limit
    mfa_attempts INTEGER NOT NULL DEFAULT 0,
    mfa_failures INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT sessions_user_fk FOREIGN KEY (namespace, user_id)
        REFERENCES users (namespace, id) ON DELETE CASCADE,
    -- validate_session / extend_session / revoke_session: the hot path
    CONSTRAINT sessions_namespace_token_hash_key UNIQUE (namespace, token_hash)
) STRICT;
-- list_sessions, revoke_all_sessions, disable_user; the cascade of delete_user
CREATE INDEX sessions_user_idx ON sessions (namespace, user_id, created_at DESC);
-- cleanup_expired (expired pass), get_stats (active sessions)
CREATE INDEX sessions_expires_idx ON sessions (namespace, expires_at);
-- cleanup_expired (revoked pass)
CREATE INDEX sessions_revoked_idx ON sessions (namespace, revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE one_time_tokens (
    id          BLOB    NOT NULL PRIMARY KEY,
    namespace   TEXT    NOT NULL,
    user_id     BLOB    NOT NULL,
    token_hash  TEXT    NOT NULL,
    token_type  TEXT    NOT NULL
        CONSTRAINT one_time_tokens_type_check
        CHECK (token_type IN ('password_reset', 'email_verify', 'magic_link')),
    -- the address the token was issued to: it only works while the user
    -- still has that address
    email       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    CONSTRAINT one_time_tokens_user_fk FOREIGN KEY (namespace, user_id)
        REFERENCES users (namespace, id) ON DELETE CASCADE,
    -- consume_token, verify_email
    CONSTRAINT one_time_tokens_namespace_token_hash_key UNIQUE (namespace, token_hash)
) STRICT;
-- invalidate_tokens, disable_user; the cascade of delete_user (not partial:
-- SQLite's foreign-key actions cannot use a partial index)
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (namespace, user_id, token_type);
-- cleanup_expired (expired pass)
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (namespace, expires_at);
-- cleanup_expired (used pass)
CREATE INDEX one_time_tokens_used_idx ON one_time_tokens (namespace, used_at) WHERE used_at IS NOT NULL;

CREATE TABLE mfa_methods (
    id             BLOB    NOT NULL PRIMARY KEY,
    namespace      TEXT    NOT NULL,
    user_id        BLOB    NOT NULL,
    mfa_type       TEXT    NOT NULL
        CONSTRAINT mfa_methods_type_check
        CHECK (mfa_type IN ('totp', 'webauthn', 'recovery_codes')),
    secret         TEXT    NOT NULL,
    name           TEXT,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER,
    -- NULL while an enrollment is pending; pending methods do not enable MFA
    confirmed_at   INTEGER,
    -- the last TOTP time step accepted: later codes only, so none replays
    last_used_step INTEGER,
    CONSTRAINT mfa_methods_user_fk FOREIGN KEY (namespace, user_id)
        REFERENCES users (namespace, id) ON DELETE CASCADE
) STRICT;
-- get_mfa, list_mfa, has_mfa, get_stats; the cascade of delete_user
CREATE INDEX mfa_methods_user_idx ON mfa_methods (namespace, user_id, mfa_type);

-- Attempts of password logins (kind 'password', subject = email) and of
-- second-factor checks (kind 'mfa', subject = user id): one lockout
-- mechanism for both.
CREATE TABLE login_attempts (
    id           BLOB    NOT NULL PRIMARY KEY,
    namespace    TEXT    NOT NULL,
    kind         TEXT    NOT NULL DEFAULT 'password'
        CONSTRAINT login_attempts_kind_check CHECK (kind IN ('password', 'mfa')),
    subject      TEXT    NOT NULL,
    -- NULL while a reserved attempt (begin_login_attempt) is in progress:
    -- it counts against the limit until it is finished, so parallel
    -- guesses cannot all pass the lockout check before any is recorded.
    success      INTEGER CHECK (success IN (0, 1)),
    ip_address   TEXT,
    attempted_at INTEGER NOT NULL
) STRICT;
-- get_recent_attempts, clear_attempts, and the lockout counts of
-- is_locked_out / record_login_attempt / begin_login_attempt /
-- begin_mfa_attempt (a range scan over one subject's attempts in the window)
CREATE INDEX login_attempts_subject_idx
    ON login_attempts (namespace, kind, subject, attempted_at DESC);
-- cleanup_expired (retention)
CREATE INDEX login_attempts_time_idx ON login_attempts (namespace, attempted_at);

-- A plain table: nothing to create ahead of time, so an audit write can
-- only fail with the change it records.
CREATE TABLE audit_events (
    id            BLOB    NOT NULL PRIMARY KEY,
    namespace     TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    occurred_at   INTEGER NOT NULL,
    actor_id      TEXT,
    request_id    TEXT,
    on_behalf_of  TEXT,
    reason        TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    ip_address    TEXT,
    user_agent    TEXT,
    -- JSON objects
    old_values    TEXT,
    new_values    TEXT
) STRICT;
-- get_audit_events without filters (ids are UUID v7: time-ordered)
CREATE INDEX audit_events_namespace_idx ON audit_events (namespace, id DESC);
-- get_audit_events by resource
CREATE INDEX audit_events_resource_idx ON audit_events (namespace, resource_type, resource_id, id DESC);
-- get_audit_events by actor (`actor_id = ?` implies the index's condition)
CREATE INDEX audit_events_actor_idx ON audit_events (namespace, actor_id, id DESC)
    WHERE actor_id IS NOT NULL;
-- get_audit_events by event type
CREATE INDEX audit_events_type_idx ON audit_events (namespace, event_type, id DESC);

CREATE TABLE admin_keys (
    id          BLOB    NOT NULL PRIMARY KEY,
    namespace   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    key_hash    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    -- find_admin_key: every admin request
    CONSTRAINT admin_keys_namespace_key_hash_key UNIQUE (namespace, key_hash)
) STRICT;
