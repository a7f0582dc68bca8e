-- The lockout counts (failed and unfinished attempts of a subject in the
-- window: is_locked_out, record_login_attempt, begin_login_attempt,
-- begin_mfa_attempt, finish_login_attempt) on an index of those attempts
-- alone: a subject's successes, however many (a service account logging in
-- all day), are never scanned. The queries spell out `success IS NOT 1`,
-- which is how SQLite knows the index applies. login_attempts_subject_idx
-- stays for the listings of all attempts.
CREATE INDEX login_attempts_counted_idx
    ON login_attempts (namespace, kind, subject, attempted_at DESC)
    WHERE success IS NOT 1;
