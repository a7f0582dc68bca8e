-- authn: initial PostgreSQL schema.
--
-- Tenancy: every table has a `namespace` column, every query of the store
-- filters on it explicitly (and the indexes lead with it), and row-level
-- security enforces it a second time: the policies compare against the
-- transaction-local setting `authn.namespace`, which the store sets with
-- set_config(..., true) at the start of every transaction. Being
-- transaction-local, it can never leak to the next user of a pooled
-- connection; when it is unset the policies match nothing (fail closed).
-- FORCE makes the policies apply to the table owner too, so the recommended
-- setup (one ordinary LOGIN role owning the database) is isolated; only
-- superusers and BYPASSRLS roles skip RLS.

CREATE TABLE users (
    id                uuid        PRIMARY KEY,
    namespace         text        NOT NULL,
    email             text        NOT NULL,
    name              text,
    password_hash     text,
    email_verified_at timestamptz,
    disabled_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- get_user_by_email, get_credentials, create_user duplicate check
    CONSTRAINT users_namespace_email_key UNIQUE (namespace, email),
    -- list_users keyset pagination; target of the composite foreign keys
    -- below, which make a row of another namespace unreferenceable
    CONSTRAINT users_namespace_id_key UNIQUE (namespace, id)
);
-- get_stats: disabled users
CREATE INDEX users_disabled_idx ON users (namespace) WHERE disabled_at IS NOT NULL;

CREATE TABLE sessions (
    id          uuid        PRIMARY KEY,
    namespace   text        NOT NULL,
    user_id     uuid        NOT NULL,
    token_hash  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    ip_address  inet,
    user_agent  text,
    -- authentication context: a partial session has passed the password
    -- but still owes its second factor
    partial      boolean     NOT NULL DEFAULT false,
    amr          text[]      NOT NULL DEFAULT '{}',
    acr          text,
    auth_time    timestamptz NOT NULL DEFAULT now(),
    mfa_at       timestamptz,
    -- second-factor attempts used on this session (wrong codes plus codes
    -- being checked; a right code gives its slot back), and wrong codes:
    -- the session is revoked when they reach the limit
    mfa_attempts integer     NOT NULL DEFAULT 0,
    mfa_failures integer     NOT NULL DEFAULT 0,
    CONSTRAINT sessions_user_fk FOREIGN KEY (namespace, user_id)
        REFERENCES users (namespace, id) ON DELETE CASCADE,
    -- validate_session / extend_session / revoke_session: the hot path
    CONSTRAINT sessions_namespace_token_hash_key UNIQUE (namespace, token_hash)
);
-- list_sessions, revoke_all_sessions, disable_user
CREATE INDEX sessions_user_idx ON sessions (namespace, user_id, created_at DESC);
-- cleanup_expired (expired pass), get_stats (active sessions)
CREATE INDEX sessions_expires_idx ON sessions (namespace, expires_at);
-- cleanup_expired (revoked pass)
CREATE INDEX sessions_revoked_idx ON sessions (namespace, revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE one_time_tokens (
    id          uuid        PRIMARY KEY,
    namespace   text        NOT NULL,
    user_id     uuid        NOT NULL,
    token_hash  text        NOT NULL,
    token_type  text        NOT NULL
        CONSTRAINT one_time_tokens_type_check
        CHECK (token_type IN ('password_reset', 'email_verify', 'magic_link')),
    -- the address the token was issued to: it only works while the user
    -- still has that address
    email       text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT one_time_tokens_user_fk FOREIGN KEY (namespace, user_id)
        REFERENCES users (namespace, id) ON DELETE CASCADE,
    -- consume_token, verify_email
    CONSTRAINT one_time_tokens_namespace_token_hash_key UNIQUE (namespace, token_hash)
);
-- invalidate_tokens, disable_user
CREATE INDEX one_time_tokens_unused_idx ON one_time_tokens (namespace, user_id, token_type)
    WHERE used_at IS NULL;
-- cleanup_expired (expired pass)
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (namespace, expires_at);
-- cleanup_expired (used pass)
CREATE INDEX one_time_tokens_used_idx ON one_time_tokens (namespace, used_at) WHERE used_at IS NOT NULL;

CREATE TABLE mfa_methods (
    id           uuid        PRIMARY KEY,
    namespace    text        NOT NULL,
    user_id      uuid        NOT NULL,
    mfa_type     text        NOT NULL
        CONSTRAINT mfa_methods_type_check
        CHECK (mfa_type IN ('totp', 'webauthn', 'recovery_codes')),
    secret       text        NOT NULL,
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    -- NULL while an enrollment is pending; pending methods do not enable MFA
    confirmed_at timestamptz,
    -- the last TOTP time step accepted: later codes only, so none replays
    last_used_step bigint,
    CONSTRAINT mfa_methods_user_fk FOREIGN KEY (namespace, user_id)
        REFERENCES users (namespace, id) ON DELETE CASCADE
);
-- get_mfa, list_mfa, has_mfa, get_stats
CREATE INDEX mfa_methods_user_idx ON mfa_methods (namespace, user_id, mfa_type);

-- Attempts of password logins (kind 'password', subject = email) and of
-- second-factor checks (kind 'mfa', subject = user id): one lockout
-- mechanism for both.
CREATE TABLE login_attempts (
    id           uuid        PRIMARY KEY,
    namespace    text        NOT NULL,
    kind         text        NOT NULL DEFAULT 'password'
        CONSTRAINT login_attempts_kind_check CHECK (kind IN ('password', 'mfa')),
    subject      text        NOT NULL,
    -- NULL while a reserved attempt (begin_login_attempt) is in progress:
    -- it counts against the limit until it is finished, so parallel
    -- guesses cannot all pass the lockout check before any is recorded.
    success      boolean,
    ip_address   inet,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
-- get_recent_attempts, clear_attempts, and the lockout counts of
-- is_locked_out / record_login_attempt / begin_login_attempt /
-- begin_mfa_attempt (a range scan over one subject's attempts in the window)
CREATE INDEX login_attempts_subject_idx
    ON login_attempts (namespace, kind, subject, attempted_at DESC);
-- cleanup_expired (retention)
CREATE INDEX login_attempts_time_idx ON login_attempts (namespace, attempted_at);

-- A plain table: no partitions to create ahead of time, no cron job that
-- could make an audit write fail.
CREATE TABLE audit_events (
    id            uuid        PRIMARY KEY,
    namespace     text        NOT NULL,
    event_type    text        NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    actor_id      text,
    request_id    text,
    on_behalf_of  text,
    reason        text,
    resource_type text,
    resource_id   text,
    ip_address    inet,
    user_agent    text,
    old_values    jsonb,
    new_values    jsonb
);
-- get_audit_events without filters (ids are UUID v7: time-ordered)
CREATE INDEX audit_events_namespace_idx ON audit_events (namespace, id DESC);
-- get_audit_events by resource
CREATE INDEX audit_events_resource_idx ON audit_events (namespace, resource_type, resource_id, id DESC);
-- get_audit_events by actor
CREATE INDEX audit_events_actor_idx ON audit_events (namespace, actor_id, id DESC)
    WHERE actor_id IS NOT NULL;
-- get_audit_events by event type
CREATE INDEX audit_events_type_idx ON audit_events (namespace, event_type, id DESC);

CREATE TABLE admin_keys (
    id          uuid        PRIMARY KEY,
    namespace   text        NOT NULL,
    name        text        NOT NULL,
    key_hash    text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    -- find_admin_key: every admin request
    CONSTRAINT admin_keys_namespace_key_hash_key UNIQUE (namespace, key_hash)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'sessions', 'one_time_tokens', 'mfa_methods',
                             'login_attempts', 'audit_events', 'admin_keys']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY namespace_isolation ON %I
                USING (namespace = current_setting(''authn.namespace'', true))
                WITH CHECK (namespace = current_setting(''authn.namespace'', true))', t);
    END LOOP;
END
$$;

-- The hot path in one round trip: sets the namespace for this statement's
-- own transaction, then does the single indexed lookup (unique index
-- sessions_namespace_token_hash_key, then users' primary key). No write.
CREATE FUNCTION authn_validate_session(p_namespace text, p_token_hash text)
RETURNS TABLE (
    session_id        uuid,
    user_id           uuid,
    email             text,
    email_verified_at timestamptz,
    created_at        timestamptz,
    expires_at        timestamptz,
    partial           boolean,
    amr               text[],
    acr               text,
    auth_time         timestamptz,
    mfa_at            timestamptz
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    RETURN QUERY
        SELECT s.id, s.user_id, u.email, u.email_verified_at, s.created_at, s.expires_at,
               s.partial, s.amr, s.acr, s.auth_time, s.mfa_at
        FROM sessions s
        JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
        WHERE s.namespace = p_namespace
          AND s.token_hash = p_token_hash
          AND s.revoked_at IS NULL
          AND s.expires_at > now()
          AND u.disabled_at IS NULL;
END
$$;
