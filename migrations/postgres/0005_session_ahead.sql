-- authn: a login's session written ahead of its password's verdict
-- (PgStore::prepare_session), in a transaction held open for the length of
-- the hash, that locks nothing others wait for.
--
-- The session's foreign key to its user takes a KEY SHARE lock on the
-- user's row when checked. Held for the hash, it would keep a user's
-- deletion and email change (email is in a unique key) waiting, and
-- PostgreSQL lets new share lockers pass a queued writer: a stream of
-- overlapping logins to one account could hold them off for as long as it
-- lasts. Deferrable, the check (and its lock) moves to the commit in the
-- transactions that ask for it, the held one alone; everyone else still
-- checks at once (INITIALLY IMMEDIATE). The cascade on delete is not
-- deferred by this (referential actions never are).
ALTER TABLE sessions ALTER CONSTRAINT sessions_user_fk DEFERRABLE INITIALLY IMMEDIATE;

-- The writes of authn_create_session (0004) without its locks: the user is
-- read, not locked, and the attempt checked open, not concluded, so that
-- neither a disable of the user nor another attempt of the subject waits
-- for the verdict. Both are decided at the commit by
-- authn_conclude_session_ahead. The transaction's commit skips the WAL
-- flush, as a session's creation does. Returns 'written', or why nothing
-- was: 'no_user', 'disabled', 'attempt_not_open'.
CREATE FUNCTION authn_write_session_ahead(
    p_namespace       text,
    p_id              uuid,
    p_user_id         uuid,
    p_token_hash      text,
    p_lifetime_us     bigint,
    p_ip_address      inet,
    p_user_agent      text,
    p_partial         boolean,
    p_amr             text[],
    p_acr             text,
    p_mfa             boolean,
    p_audit_id        uuid,
    p_event_type      text,
    p_actor_id        text,
    p_request_id      text,
    p_on_behalf_of    text,
    p_reason          text,
    p_actor_ip        inet,
    p_actor_agent     text,
    p_new_values      jsonb,
    p_attempt_id      uuid,
    p_attempt_kind    text,
    p_attempt_subject text
)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_disabled_at timestamptz;
    v_expires_at  timestamptz;
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    PERFORM set_config('synchronous_commit', 'off', true);
    SET CONSTRAINTS sessions_user_fk DEFERRED;
    -- users' primary key
    SELECT u.disabled_at INTO v_disabled_at FROM users u
    WHERE u.namespace = p_namespace AND u.id = p_user_id;
    IF NOT FOUND THEN
        RETURN 'no_user';
    END IF;
    IF v_disabled_at IS NOT NULL THEN
        RETURN 'disabled';
    END IF;
    -- login_attempts' primary key (the subject compared as in 0004)
    IF p_attempt_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM login_attempts a
        WHERE a.id = p_attempt_id AND a.success IS NULL
          AND (a.namespace, a.kind, a.subject)
              IS NOT DISTINCT FROM (p_namespace, p_attempt_kind, p_attempt_subject)
    ) THEN
        RETURN 'attempt_not_open';
    END IF;
    -- sessions_namespace_token_hash_key -> unique_violation
    INSERT INTO sessions (id, namespace, user_id, token_hash, expires_at, ip_address,
                          user_agent, partial, amr, acr, mfa_at)
    VALUES (p_id, p_namespace, p_user_id, p_token_hash,
            now() + p_lifetime_us * interval '1 microsecond', p_ip_address, p_user_agent,
            p_partial, p_amr, p_acr, CASE WHEN p_mfa THEN now() END)
    RETURNING sessions.expires_at INTO v_expires_at;
    INSERT INTO audit_events (id, namespace, event_type, actor_id, request_id, on_behalf_of,
                              reason, resource_type, resource_id, ip_address, user_agent,
                              old_values, new_values)
    VALUES (p_audit_id, p_namespace, p_event_type, p_actor_id, p_request_id,
            p_on_behalf_of, p_reason, 'session', p_id::text, p_actor_ip, p_actor_agent, NULL,
            p_new_values || jsonb_build_object('expires_at', authn_json_time(v_expires_at)));
    -- What the commit decides on, kept with the transaction: its statement
    -- then needs no parameters and goes with COMMIT in one round trip.
    PERFORM set_config('authn.ahead_user', p_user_id::text, true);
    PERFORM set_config('authn.ahead_attempt', coalesce(p_attempt_id::text, ''), true);
    RETURN 'written';
END
$$;

-- Run with COMMIT, in the transaction of authn_write_session_ahead: the
-- user locked FOR SHARE (a disable or deletion in flight finishes first,
-- one to come waits for the commit, whose session it then revokes or
-- deletes) and checked still there and enabled, and the attempt concluded
-- as a success (primary key; `success IS NULL` makes it exactly-once).
-- Raises, so that the COMMIT sent with it does not run: AU001 the user is
-- gone, AU002 disabled, AU003 the attempt no longer open.
CREATE FUNCTION authn_conclude_session_ahead()
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_namespace   text := current_setting('authn.namespace');
    v_user_id     uuid := current_setting('authn.ahead_user')::uuid;
    v_attempt     text := current_setting('authn.ahead_attempt');
    v_disabled_at timestamptz;
BEGIN
    -- users' primary key
    SELECT u.disabled_at INTO v_disabled_at FROM users u
    WHERE u.namespace = v_namespace AND u.id = v_user_id
    FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the session''s user is gone' USING ERRCODE = 'AU001';
    END IF;
    IF v_disabled_at IS NOT NULL THEN
        RAISE EXCEPTION 'the session''s user is disabled' USING ERRCODE = 'AU002';
    END IF;
    IF v_attempt <> '' THEN
        -- login_attempts' primary key
        UPDATE login_attempts a SET success = true
        WHERE a.id = v_attempt::uuid AND a.namespace = v_namespace AND a.success IS NULL;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the login attempt is no longer open' USING ERRCODE = 'AU003';
        END IF;
    END IF;
END
$$;
