"""The published `shark-auth==0.1.1` Python SDK against the real `authn`
server, used exactly as its docs and docstrings show. Nothing here patches
the SDK: every call goes through its own request building and parsing."""

from __future__ import annotations

import base64
import time

import pytest
import requests
from shark_auth import (
    AuthClient,
    MagicLinkClient,
    MFAClient,
    SessionsClient,
    SharkAPIError,
    SharkAuthError,
    UsersClient,
    compute_totp,
)

NEW_PASSWORD = "purple walrus juggles seven lanterns"


def next_code(secret: str) -> str:
    """The code of the step after the current one: a step once accepted is
    never accepted again, and the server accepts one step either side."""
    return compute_totp(secret, t=time.time() + 30)


def wrong_code(secret: str) -> str:
    """A code matching none of the steps the server accepts now."""
    now = time.time()
    window = {compute_totp(secret, t=now + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222") if c not in window)


def signed_up(base_url, user, name=None):
    auth = AuthClient(base_url)
    body = auth.signup(user.email, user.password, full_name=name)
    return auth, body


def enable_mfa(base_url, auth):
    """Enroll + verify on `auth`'s session, as the seed shows."""
    mfa = MFAClient(base_url, session=auth._session)
    e = mfa.enroll()
    result = mfa.verify(compute_totp(e["secret"]))
    return mfa, e, result


def assert_http(exc_info, status: int, slug: str | None = None):
    """AuthClient/MFAClient/SessionsClient errors: `HTTP <status>: <slug>: <message>`."""
    msg = str(exc_info.value)
    assert msg.startswith(f"HTTP {status}"), msg
    if slug:
        assert f"{slug}:" in msg, msg


# --------------------------------------------------------------------------
# signup / login / logout / me
# --------------------------------------------------------------------------


def test_signup_login_me_logout(base_url, fresh_user):
    auth, body = signed_up(base_url, fresh_user, name="Py Tester")
    assert body["email"] == fresh_user.email
    assert body["name"] == "Py Tester"
    assert body["mfa_enabled"] is False and body["email_verified"] is False
    assert body["token"] and body["id"]
    assert auth.get_me()["id"] == body["id"]  # the signup cookie authenticates

    auth.logout()
    with pytest.raises(SharkAuthError) as e:
        auth.get_me()
    assert_http(e, 401, "unauthorized")

    me = auth.login(fresh_user.email, fresh_user.password)
    assert me["email"] == fresh_user.email and "mfaRequired" not in me
    assert auth.get_me()["email"] == fresh_user.email


def test_auth_errors_raise_shark_auth_error(base_url, fresh_user):
    auth, _ = signed_up(base_url, fresh_user)
    other = AuthClient(base_url)
    with pytest.raises(SharkAuthError) as e:
        other.signup(fresh_user.email, fresh_user.password)
    assert_http(e, 409, "email_taken")
    with pytest.raises(SharkAuthError) as e:
        other.login(fresh_user.email, "not the right password at all")
    assert_http(e, 401, "invalid_credentials")
    with pytest.raises(SharkAuthError) as e:
        other.login("nobody-" + fresh_user.email, fresh_user.password)
    assert_http(e, 401, "invalid_credentials")
    with pytest.raises(SharkAuthError) as e:
        other.signup("weak-" + fresh_user.email, "password")
    assert_http(e, 400, "weak_password")
    with pytest.raises(SharkAuthError) as e:
        other.signup("not-an-email", fresh_user.password)
    assert_http(e, 400, "invalid_email")
    with pytest.raises(SharkAuthError) as e:
        other.get_me()
    assert_http(e, 401)


def test_delete_me(base_url, fresh_user):
    auth, _ = signed_up(base_url, fresh_user)
    assert auth.delete_me() is None
    with pytest.raises(SharkAuthError) as e:
        AuthClient(base_url).login(fresh_user.email, fresh_user.password)
    assert_http(e, 401, "invalid_credentials")


# --------------------------------------------------------------------------
# MFA (the seed's journey)
# --------------------------------------------------------------------------


def test_mfa_journey(base_url, fresh_user):
    auth = AuthClient(base_url)
    auth.signup(fresh_user.email, fresh_user.password)
    auth.login(fresh_user.email, fresh_user.password)
    mfa = MFAClient(base_url, session=auth._session)

    e = mfa.enroll()
    assert set(e) >= {"secret", "qr_uri", "otpauth_url"}
    assert e["qr_uri"] == e["otpauth_url"]
    assert e["qr_uri"].startswith("otpauth://totp/")
    assert f"secret={e['secret']}" in e["qr_uri"]
    assert len(base64.b32decode(e["secret"] + "=" * (-len(e["secret"]) % 8))) == 20

    result = mfa.verify(compute_totp(e["secret"]))
    assert result["mfa_enabled"] is True
    codes = result["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert auth.get_me()["mfa_enabled"] is True

    auth.logout()
    assert auth.login(fresh_user.email, fresh_user.password)["mfaRequired"] is True
    with pytest.raises(SharkAuthError) as err:
        auth.get_me()  # partial session
    assert_http(err, 403, "mfa_required")

    # a wrong code is refused, then a valid one (the next step) upgrades
    with pytest.raises(SharkAuthError) as err:
        mfa.challenge(code=wrong_code(e["secret"]))
    assert_http(err, 401, "invalid_code")
    assert mfa.challenge(code=next_code(e["secret"])) is None
    me = auth.get_me()  # now succeeds
    assert me["email"] == fresh_user.email and me["mfa_enabled"] is True

    new_codes = mfa.regenerate_recovery_codes()
    assert isinstance(new_codes, list) and len(new_codes) == 10
    assert not set(new_codes) & set(codes)

    # the step already accepted by the challenge is never accepted again
    with pytest.raises(SharkAuthError) as err:
        mfa.disable(compute_totp(e["secret"]))
    assert_http(err, 401, "invalid_code")
    assert auth.get_me()["mfa_enabled"] is True


def test_mfa_enroll_twice_and_verify_errors(base_url, fresh_user):
    auth, _ = signed_up(base_url, fresh_user)
    mfa = MFAClient(base_url, session=auth._session)
    with pytest.raises(SharkAuthError) as err:
        mfa.verify("123456")
    assert_http(err, 400, "mfa_not_enrolled")
    with pytest.raises(SharkAuthError) as err:
        mfa.regenerate_recovery_codes()
    assert_http(err, 400, "mfa_not_enabled")
    first = mfa.enroll()
    second = mfa.enroll()  # re-enrolling while unverified replaces the secret
    assert second["secret"] != first["secret"]
    mfa.verify(compute_totp(second["secret"]))
    with pytest.raises(SharkAuthError) as err:
        mfa.enroll()
    assert_http(err, 409, "mfa_already_enabled")


def test_mfa_disable_with_code(base_url, fresh_user):
    auth, _ = signed_up(base_url, fresh_user)
    mfa, e, _ = enable_mfa(base_url, auth)
    # DELETE /api/v1/auth/mfa/ with {"code"}: the SDK's verb-with-body shape
    assert mfa.disable(next_code(e["secret"])) is None
    assert auth.get_me()["mfa_enabled"] is False
    with pytest.raises(SharkAuthError) as err:
        mfa.disable("123456")
    assert_http(err, 400, "mfa_not_enabled")
    auth.logout()
    me = auth.login(fresh_user.email, fresh_user.password)
    assert "mfaRequired" not in me and me["mfa_enabled"] is False


# --------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------


def test_sessions_list_revoke_revoke_all(base_url, fresh_user):
    a, _ = signed_up(base_url, fresh_user)
    b, c = AuthClient(base_url), AuthClient(base_url)
    b.login(fresh_user.email, fresh_user.password)
    c.login(fresh_user.email, fresh_user.password)

    sessions = SessionsClient(base_url, session=a._session)
    listed = sessions.list()
    assert len(listed) == 3
    assert all("id" in s and "current" in s for s in listed)
    assert sum(1 for s in listed if s["current"]) == 1

    b_current = [s for s in SessionsClient(base_url, session=b._session).list() if s["current"]]
    assert len(b_current) == 1
    b_id = b_current[0]["id"]
    a_id = next(s["id"] for s in listed if s["current"])
    assert b_id != a_id

    assert sessions.revoke(b_id) is None
    with pytest.raises(SharkAuthError) as err:
        b.get_me()
    assert_http(err, 401)
    with pytest.raises(SharkAuthError) as err:
        sessions.revoke(b_id)  # no longer one of the caller's sessions
    assert_http(err, 404)
    assert c.get_me()["email"] == fresh_user.email

    assert sessions.revoke_all() is None  # iterates list(), skips current
    with pytest.raises(SharkAuthError) as err:
        c.get_me()
    assert_http(err, 401)
    assert a.get_me()["email"] == fresh_user.email
    assert [s["id"] for s in sessions.list()] == [a_id]


def test_sessions_need_a_full_session(base_url, fresh_user):
    with pytest.raises(SharkAuthError) as err:
        SessionsClient(base_url).list()
    assert_http(err, 401)


# --------------------------------------------------------------------------
# Admin: UsersClient
# --------------------------------------------------------------------------


def test_users_admin_crud(base_url, admin_key, fresh_user, new_email):
    users = UsersClient(base_url, token=admin_key)
    created = users.create_user(fresh_user.email, password=fresh_user.password,
                                name="Admin Made", email_verified=True)
    assert created["email"] == fresh_user.email
    assert created["name"] == "Admin Made" and created["email_verified"] is True
    uid = created["id"]

    other = users.create_user(new_email())  # no password, not verified
    assert other["email_verified"] is False

    all_ids = [u["id"] for u in users.list_users()]
    assert uid in all_ids and other["id"] in all_ids
    only = users.list_users(email=fresh_user.email)
    assert [u["id"] for u in only] == [uid]

    got = users.get_user(uid)
    assert got["id"] == uid and got["email"] == fresh_user.email

    updated = users.update_user(uid, name="Renamed", email_verified=False)
    assert updated["name"] == "Renamed" and updated["email_verified"] is False
    assert users.get_user(uid)["name"] == "Renamed"

    # the admin-made user logs in with the password the admin set
    assert AuthClient(base_url).login(fresh_user.email, fresh_user.password)["id"] == uid

    assert users.delete_user(uid) is None  # 204
    with pytest.raises(SharkAPIError) as err:
        users.get_user(uid)
    assert err.value.status == 404 and "not_found" in str(err.value)
    with pytest.raises(SharkAPIError) as err:
        users.delete_user(uid)
    assert err.value.status == 404
    assert users.list_users(email=fresh_user.email) == []
    users.delete_user(other["id"])


def test_users_admin_audit_logs(base_url, admin_key, fresh_user):
    _, body = signed_up(base_url, fresh_user)
    events = UsersClient(base_url, token=admin_key).get_audit_logs(body["id"])
    assert any(e["event_type"] == "user_created" and e["resource_id"] == body["id"] for e in events)


def test_users_admin_errors(base_url, admin_key, fresh_user):
    with pytest.raises(SharkAPIError) as err:
        UsersClient(base_url, token="wrong-admin-key-0123456789").list_users()
    assert err.value.status == 401
    users = UsersClient(base_url, token=admin_key)
    users.create_user(fresh_user.email)
    with pytest.raises(SharkAPIError) as err:
        users.create_user(fresh_user.email)
    assert err.value.status == 409 and "email_taken" in str(err.value)
    # a user's session token is not an admin key
    auth = AuthClient(base_url)
    token = auth.signup("u2-" + fresh_user.email, fresh_user.password)["token"]
    with pytest.raises(SharkAPIError) as err:
        UsersClient(base_url, token=token).list_users()
    assert err.value.status == 401


def test_users_admin_reset_mfa(base_url, admin_key, fresh_user):
    auth, body = signed_up(base_url, fresh_user)
    enable_mfa(base_url, auth)
    auth.logout()
    assert auth.login(fresh_user.email, fresh_user.password)["mfaRequired"] is True

    users = UsersClient(base_url, token=admin_key)
    assert users.get_user(body["id"])["mfa_enabled"] is True
    assert users.reset_mfa(user_id=body["id"]) is None
    assert users.get_user(body["id"])["mfa_enabled"] is False

    fresh = AuthClient(base_url)
    me = fresh.login(fresh_user.email, fresh_user.password)
    assert "mfaRequired" not in me and me["mfa_enabled"] is False
    assert fresh.get_me()["id"] == body["id"]
    # and the user can enroll again
    enable_mfa(base_url, fresh)
    assert fresh.get_me()["mfa_enabled"] is True


# --------------------------------------------------------------------------
# Password reset / change, email verification, magic links
# --------------------------------------------------------------------------


def test_password_reset(base_url, fresh_user, outbox_token):
    auth, _ = signed_up(base_url, fresh_user)
    anon = AuthClient(base_url)
    assert anon.request_password_reset(fresh_user.email) is None
    assert anon.request_password_reset("nobody-" + fresh_user.email) is None  # same answer
    token = outbox_token(fresh_user.email, "/reset-password")

    with pytest.raises(SharkAuthError) as err:
        anon.confirm_password_reset(token, "password")
    assert_http(err, 400, "weak_password")
    assert anon.confirm_password_reset(token, NEW_PASSWORD) is None
    with pytest.raises(SharkAuthError) as err:
        anon.confirm_password_reset(token, NEW_PASSWORD + " again")
    assert_http(err, 400, "invalid_token")

    with pytest.raises(SharkAuthError) as err:
        auth.get_me()  # every session revoked by the reset
    assert_http(err, 401)
    with pytest.raises(SharkAuthError) as err:
        anon.login(fresh_user.email, fresh_user.password)
    assert_http(err, 401, "invalid_credentials")
    assert anon.login(fresh_user.email, NEW_PASSWORD)["email"] == fresh_user.email


def test_change_password(base_url, fresh_user):
    auth, _ = signed_up(base_url, fresh_user)
    other = AuthClient(base_url)
    other.login(fresh_user.email, fresh_user.password)
    with pytest.raises(SharkAuthError) as err:
        auth.change_password("not the current password", NEW_PASSWORD)
    assert_http(err, 401, "invalid_credentials")
    assert auth.change_password(fresh_user.password, NEW_PASSWORD) is None
    assert auth.get_me()["email"] == fresh_user.email  # this session kept
    with pytest.raises(SharkAuthError) as err:
        other.get_me()  # other sessions revoked
    assert_http(err, 401)
    with pytest.raises(SharkAuthError) as err:
        AuthClient(base_url).login(fresh_user.email, fresh_user.password)
    assert_http(err, 401)
    assert AuthClient(base_url).login(fresh_user.email, NEW_PASSWORD)["email"] == fresh_user.email


def test_email_verification(base_url, fresh_user, outbox_token):
    auth, body = signed_up(base_url, fresh_user)
    assert body["email_verified"] is False
    assert auth.request_email_verification() is None
    token = outbox_token(fresh_user.email, "/api/v1/auth/email/verify")
    assert AuthClient(base_url).consume_email_verification(token) is None
    assert auth.get_me()["email_verified"] is True
    with pytest.raises(SharkAuthError) as err:
        auth.consume_email_verification(token)
    assert_http(err, 400, "invalid_token")
    with pytest.raises(SharkAuthError) as err:
        AuthClient(base_url).request_email_verification()  # needs a session
    assert_http(err, 401)


def test_magic_link_verify_via_auth_client(base_url, fresh_user, outbox_token):
    signed_up(base_url, fresh_user)
    r = requests.post(f"{base_url}/api/v1/auth/magic-link/send",
                      json={"email": fresh_user.email}, timeout=10)
    assert r.status_code == 200, r.text
    token = outbox_token(fresh_user.email, "/api/v1/auth/magic-link/verify")

    auth = AuthClient(base_url)
    user = auth.verify_magic_link(token)
    assert user["email"] == fresh_user.email and user["token"]
    assert auth.get_me()["email"] == fresh_user.email  # cookie planted
    with pytest.raises(SharkAuthError) as err:
        AuthClient(base_url).verify_magic_link(token)  # single use
    assert_http(err, 400, "invalid_token")


def test_magic_link_client(base_url, fresh_user, outbox_token):
    signed_up(base_url, fresh_user)
    ml = MagicLinkClient(base_url)
    sent = ml.send_magic_link(fresh_user.email)
    assert "message" in sent
    assert "message" in ml.send_magic_link("nobody-" + fresh_user.email)  # same answer
    token = outbox_token(fresh_user.email, "/api/v1/auth/magic-link/verify")
    user = ml.verify(token)
    assert user["email"] == fresh_user.email
    assert AuthClient(base_url, session=ml._session).get_me()["email"] == fresh_user.email
    with pytest.raises(SharkAPIError) as err:
        ml.verify(token)
    assert err.value.status == 400 and "invalid_token" in str(err.value)


def test_magic_link_for_mfa_user_requires_challenge(base_url, fresh_user, outbox_token):
    auth, _ = signed_up(base_url, fresh_user)
    _, e, _ = enable_mfa(base_url, auth)
    ml = MagicLinkClient(base_url)
    ml.send_magic_link(fresh_user.email)
    token = outbox_token(fresh_user.email, "/api/v1/auth/magic-link/verify")
    other = AuthClient(base_url, session=ml._session)
    assert other.verify_magic_link(token)["mfaRequired"] is True
    with pytest.raises(SharkAuthError) as err:
        other.get_me()
    assert_http(err, 403, "mfa_required")
    MFAClient(base_url, session=ml._session).challenge(next_code(e["secret"]))
    assert other.get_me()["email"] == fresh_user.email
