-- authn: the reads on a login's path in one round trip each (they took
-- three: BEGIN with the namespace, the read, COMMIT). As
-- authn_validate_session does, each function sets the namespace for its
-- statement's own transaction (row-level security reads it), then does one
-- indexed read. None writes. Columns are qualified: the names of the
-- result columns are variables inside the functions.

-- get_credentials: users_namespace_email_key
CREATE FUNCTION authn_get_credentials(p_namespace text, p_email text)
RETURNS TABLE (id uuid, password_hash text, disabled_at timestamptz)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    RETURN QUERY
        SELECT u.id, u.password_hash, u.disabled_at
        FROM users u
        WHERE u.namespace = p_namespace AND u.email = p_email;
END
$$;

-- get_user: users_namespace_id_key
CREATE FUNCTION authn_get_user(p_namespace text, p_user_id uuid)
RETURNS TABLE (
    id                uuid,
    email             text,
    name              text,
    email_verified_at timestamptz,
    disabled_at       timestamptz,
    created_at        timestamptz,
    updated_at        timestamptz
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    RETURN QUERY
        SELECT u.id, u.email, u.name, u.email_verified_at, u.disabled_at, u.created_at,
               u.updated_at
        FROM users u
        WHERE u.namespace = p_namespace AND u.id = p_user_id;
END
$$;

-- get_mfa: mfa_methods_user_idx
CREATE FUNCTION authn_get_mfa(p_namespace text, p_user_id uuid, p_mfa_type text)
RETURNS TABLE (
    id           uuid,
    user_id      uuid,
    mfa_type     text,
    name         text,
    created_at   timestamptz,
    last_used_at timestamptz,
    confirmed_at timestamptz,
    secret       text
)
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('authn.namespace', p_namespace, true);
    RETURN QUERY
        SELECT m.id, m.user_id, m.mfa_type, m.name, m.created_at, m.last_used_at,
               m.confirmed_at, m.secret
        FROM mfa_methods m
        WHERE m.namespace = p_namespace AND m.user_id = p_user_id AND m.mfa_type = p_mfa_type
        ORDER BY m.created_at, m.id;
END
$$;
