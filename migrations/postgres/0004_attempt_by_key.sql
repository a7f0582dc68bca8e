-- authn: a login's writes find their attempt by its primary key whatever
-- the planner's statistics, the audit time is computed in line, and a
-- reservation no longer waits for the WAL flush.

-- Finishing an attempt matched it on (namespace, id, kind, subject). Before
-- the table's first ANALYZE (a new deployment, a table grown since), the
-- planner costs login_attempts_subject_idx (namespace, kind, subject) as
-- low as the primary key and may pick it: every finish then reads all of
-- the subject's attempts in the retention period (5000 attempts: 0.8 ms
-- instead of 0.01), and a busy account's logins slow down as it is used.
-- The subject's columns are compared with IS NOT DISTINCT FROM, which no
-- index serves (the columns are NOT NULL, so it means `=`), leaving the
-- primary key as the only index that matches.

-- The JSON text of a time, as in 0003, written as one expression so the
-- planner inlines it into the statement that calls it. 0003's body (a
-- subquery, declared IMMUTABLE and STRICT) could not be inlined, and a SQL
-- function that is not inlined is planned again on every call: ~70 us of
-- each session's creation. STABLE because to_char is (its output depends
-- on locale settings only for patterns this one does not use); inlining
-- needs the function no less volatile than its body. A NULL time still
-- gives NULL.
CREATE OR REPLACE FUNCTION authn_json_time(p_time timestamptz)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE
            WHEN extract(microseconds FROM p_time AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                THEN ''
            WHEN extract(microseconds FROM p_time AT TIME ZONE 'UTC')::bigint % 1000 = 0
                THEN '.' || lpad((extract(microseconds FROM p_time AT TIME ZONE 'UTC')::bigint
                                  % 1000000 / 1000)::text, 3, '0')
            ELSE '.' || lpad((extract(microseconds FROM p_time AT TIME ZONE 'UTC')::bigint
                              % 1000000)::text, 6, '0')
        END
        || 'Z'
$$;

-- As in 0003; the attempt found by its primary key (see above).
CREATE OR REPLACE FUNCTION authn_finish_attempt(
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
    WHERE a.id = p_id AND a.success IS NULL
      AND (a.namespace, a.kind, a.subject) IS NOT DISTINCT FROM (p_namespace, p_kind, p_subject)
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

-- As in 0003; the attempt found by its primary key (see above).
CREATE OR REPLACE FUNCTION authn_create_session(
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
        WHERE a.id = p_attempt_id AND a.success IS NULL
          AND (a.namespace, a.kind, a.subject)
              IS NOT DISTINCT FROM (p_namespace, p_attempt_kind, p_attempt_subject);
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

-- As in 0003, committed without waiting for the WAL flush: a right
-- password's login then waits for no flush at all (its session and its
-- attempt's success skip it already), so a disk slow to flush (seen here:
-- syncs of 50 to 300 ms after another program deleted gigabytes) does not
-- stretch logins. A reservation lost in a database crash is harmless to
-- the lockout: no verdict is answered before a later commit that is
-- flushed, or that concerns a success. A wrong password's answer waits for
-- its failure's commit, which is flushed, and WAL is flushed in order, so
-- the reservation is on disk with it; a right password's is a success,
-- which the lockout does not count; and a login whose finish or session
-- fails (the database gone) answers an error, not a verdict.
CREATE OR REPLACE FUNCTION authn_begin_attempt(
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
    PERFORM set_config('synchronous_commit', 'off', true);
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
