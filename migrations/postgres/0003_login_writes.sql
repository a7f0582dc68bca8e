-- authn: the writes on a login's path in one round trip each. Each was a
-- transaction of four to six round trips (BEGIN with the namespace, the
-- subject's lock, reads, writes, the audit event, COMMIT), and a login
-- made three of them: the attempt's reservation (beside the hash), then
-- the attempt's completion and the session (after it, on the answer's
-- path). Now the reservation is one call, and the session one call that
-- also finishes the attempt. As the read functions of 0002, each sets the
-- namespace for its own transaction (row-level security reads it); called
-- inside an open transaction, it joins that one instead. Those that skip
-- the WAL flush set it for the transaction they run in: call them on their
-- own (as the store does), or the whole enclosing transaction is unflushed.

-- The lockout counts (failed and unfinished attempts of a subject in the
-- window) on an index of those attempts alone: a subject's successes,
-- however many (a service account logging in all day), are never scanned.
-- login_attempts_subject_idx stays for the listings of all attempts.
-- Built in the migration's transaction, which holds off attempt writes
-- while it builds (the table is bounded by the retention of attempts). On
-- a large table, build it beforehand without blocking, and this becomes a
-- no-op: CREATE INDEX CONCURRENTLY login_attempts_counted_idx ON
-- login_attempts (namespace, kind, subject, attempted_at DESC) WHERE
-- success IS NOT TRUE; (check that it is valid: a failed concurrent build
-- leaves an invalid index, to drop and build again). Not CONCURRENTLY
-- here: it waits for every open snapshot, including those of other nodes
-- waiting for the migration lock this one holds, which can deadlock.
CREATE INDEX IF NOT EXISTS login_attempts_counted_idx
    ON login_attempts (namespace, kind, subject, attempted_at DESC)
    WHERE success IS NOT TRUE;

-- The JSON text of a time, as the store's Rust code writes times into
-- audit values (chrono's RFC 3339 with `Z`, the fraction in 0, 3 or 6
-- digits, as the microseconds need), so an event written here reads like
-- any other.
CREATE FUNCTION authn_json_time(p_time timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
    SELECT to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE
            WHEN us = 0 THEN ''
            WHEN us % 1000 = 0 THEN '.' || lpad((us / 1000)::text, 3, '0')
            ELSE '.' || lpad(us::text, 6, '0')
        END
        || 'Z'
    FROM (SELECT (extract(microseconds FROM p_time AT TIME ZONE 'UTC')::bigint % 1000000) AS us) t
$$;

-- begin_login_attempt / begin_mfa_attempt: the subject's advisory lock
-- (parallel attempts of one subject serialise on it, so counting and
-- inserting are one step), the count in the window, and the reservation
-- (success NULL) unless the count is at the limit; then `retry_after` is
-- the seconds until the limit's newest counted attempt leaves the window.
-- Counts: login_attempts_counted_idx (a range over the subject's window).
-- The commit waits for the WAL flush: a reservation counts against the
-- lockout until it is finished, and must not be lost.
CREATE FUNCTION authn_begin_attempt(
    p_namespace  text,
    p_lock_class integer,
    p_kind       text,
    p_subject    text,
    p_window_us  bigint,
    p_max        bigint,
    p_id         uuid,
    p_ip_address inet
)
RETURNS TABLE (admitted boolean, retry_after float8)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_counted bigint;
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    PERFORM pg_advisory_xact_lock(
        p_lock_class, hashtext(p_namespace || '/' || p_kind || '/' || p_subject));
    -- A statement after the lock: its snapshot sees every attempt
    -- committed by the transactions serialised before this one.
    SELECT count(*) INTO v_counted FROM login_attempts a
    WHERE a.namespace = p_namespace AND a.kind = p_kind AND a.subject = p_subject
      AND a.success IS NOT TRUE
      AND a.attempted_at > now() - p_window_us * interval '1 microsecond';
    IF p_max > 0 AND v_counted >= p_max THEN
        RETURN QUERY
            SELECT false,
                   EXTRACT(EPOCH FROM a.attempted_at + p_window_us * interval '1 microsecond'
                                      - now())::float8
            FROM login_attempts a
            WHERE a.namespace = p_namespace AND a.kind = p_kind AND a.subject = p_subject
              AND a.success IS NOT TRUE
              AND a.attempted_at > now() - p_window_us * interval '1 microsecond'
            ORDER BY a.attempted_at DESC OFFSET p_max - 1 LIMIT 1;
        IF NOT FOUND THEN
            RETURN QUERY SELECT false, 0::float8;
        END IF;
        RETURN;
    END IF;
    INSERT INTO login_attempts (id, namespace, kind, subject, success, ip_address)
    VALUES (p_id, p_namespace, p_kind, p_subject, NULL, p_ip_address);
    RETURN QUERY SELECT true, NULL::float8;
END
$$;

-- finish_login_attempt: under the subject's advisory lock, marks a
-- reserved attempt decided (primary key; `success IS NULL` makes finishing
-- exactly-once) and counts the subject's attempts in the window
-- (login_attempts_counted_idx). `finished` is false when the attempt was not
-- open. A success is committed without waiting for the WAL flush when
-- this is the statement's own transaction: lost in a crash, the attempt
-- reads as unfinished and counts as before. A failure goes on in the
-- caller's transaction (its audit events), which the caller commits; a
-- success must not be finished inside a caller's transaction (see above).
CREATE FUNCTION authn_finish_attempt(
    p_namespace  text,
    p_lock_class integer,
    p_kind       text,
    p_subject    text,
    p_id         uuid,
    p_success    boolean,
    p_window_us  bigint
)
RETURNS TABLE (finished boolean, attempt_ip inet, counted bigint)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_ip inet;
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    IF p_success THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM pg_advisory_xact_lock(
        p_lock_class, hashtext(p_namespace || '/' || p_kind || '/' || p_subject));
    UPDATE login_attempts a SET success = p_success
    WHERE a.namespace = p_namespace AND a.id = p_id AND a.kind = p_kind
      AND a.subject = p_subject AND a.success IS NULL
    RETURNING a.ip_address INTO v_ip;
    IF NOT FOUND THEN
        RETURN QUERY SELECT false, NULL::inet, 0::bigint;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT true, v_ip, count(*) FROM login_attempts a
        WHERE a.namespace = p_namespace AND a.kind = p_kind AND a.subject = p_subject
          AND a.success IS NOT TRUE
          AND a.attempted_at > now() - p_window_us * interval '1 microsecond';
END
$$;

-- create_session_with: takes the user's share lock (primary key; a
-- concurrent disable or revoke-all waits for this session, so its
-- revocation sees it); when `p_attempt_id` is set (the login attempt the
-- session concludes), finishes that attempt as a success under its
-- subject's advisory lock (primary key; `success IS NULL`: only an open
-- one); inserts the session (sessions_namespace_token_hash_key: a
-- duplicate token is a unique violation, which rolls everything back) and
-- its audit event, whose values are `p_new_values` with the session's
-- `expires_at`. `outcome` is 'created', or 'no_user', 'disabled' or
-- 'attempt_not_open' with nothing written. Committed without waiting for
-- the WAL flush: a session lost in a crash only signs its holder out (and
-- its attempt then reads as unfinished and counts as before), and WAL is
-- flushed in order, so no durable write made after it can survive without
-- it.
CREATE FUNCTION authn_create_session(
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
    p_lock_class      integer,
    p_attempt_id      uuid,
    p_attempt_kind    text,
    p_attempt_subject text
)
RETURNS TABLE (outcome text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_disabled_at timestamptz;
    v_expires_at  timestamptz;
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT u.disabled_at INTO v_disabled_at FROM users u
    WHERE u.namespace = p_namespace AND u.id = p_user_id
    FOR SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_user'::text, NULL::timestamptz;
        RETURN;
    END IF;
    IF v_disabled_at IS NOT NULL THEN
        RETURN QUERY SELECT 'disabled'::text, NULL::timestamptz;
        RETURN;
    END IF;
    IF p_attempt_id IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(
            p_lock_class,
            hashtext(p_namespace || '/' || p_attempt_kind || '/' || p_attempt_subject));
        UPDATE login_attempts a SET success = true
        WHERE a.namespace = p_namespace AND a.id = p_attempt_id AND a.kind = p_attempt_kind
          AND a.subject = p_attempt_subject AND a.success IS NULL;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'attempt_not_open'::text, NULL::timestamptz;
            RETURN;
        END IF;
    END IF;
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
    RETURN QUERY SELECT 'created'::text, v_expires_at;
END
$$;

-- list_mfa in one round trip (it was three: BEGIN with the namespace, the
-- read, COMMIT): a login reads it while its hash runs, to know whether a
-- second factor is owed and which. No secret is read.
-- mfa_methods_user_idx
CREATE FUNCTION authn_list_mfa(p_namespace text, p_user_id uuid)
RETURNS TABLE (
    id           uuid,
    user_id      uuid,
    mfa_type     text,
    name         text,
    created_at   timestamptz,
    last_used_at timestamptz,
    confirmed_at timestamptz
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    RETURN QUERY
        SELECT m.id, m.user_id, m.mfa_type, m.name, m.created_at, m.last_used_at,
               m.confirmed_at
        FROM mfa_methods m
        WHERE m.namespace = p_namespace AND m.user_id = p_user_id
        ORDER BY m.created_at, m.id;
END
$$;
