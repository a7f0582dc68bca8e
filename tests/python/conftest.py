"""Fixtures: the real `authn` server binary on loopback, a fresh database
and namespace, the admin key, fresh users and the dev mail outbox. Every
test runs twice: on PostgreSQL and on the embedded SQLite default (no
database URL at all).

Environment:
- AUTHN_BIN: the server binary (default <repo>/target/debug/authn).
- AUTHN_E2E_DATABASE_URL: database to use as is (not created, not dropped).
  Otherwise a database `authn_pytest_<random>` is made on the server of
  AUTHN_TEST_DATABASE_URL (the repository's superuser URL) or of
  postgres://postgres@127.0.0.1:5432, and dropped at the end.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
READY_TIMEOUT_S = 60.0


@dataclass
class Server:
    base_url: str
    admin_key: str
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


@dataclass
class User:
    email: str
    password: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_root_url() -> str:
    """`postgres://user@host:port` of the PostgreSQL server to create on."""
    base = os.environ.get("AUTHN_TEST_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    p = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((p.scheme, p.netloc, "", "", ""))


def _drop_database(root: str, name: str) -> None:
    try:
        subprocess.run(
            ["psql", f"{root}/postgres", "-qX", "-v", "ON_ERROR_STOP=1",
             "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=False, capture_output=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as e:  # pragma: no cover
        print(f"warning: could not drop database {name}: {e}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session", params=["postgres", "sqlite"])
def server(request: pytest.FixtureRequest) -> Server:
    binary = Path(os.environ.get("AUTHN_BIN") or REPO / "target" / "debug" / "authn")
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"authn server binary not found at {binary}: build it with "
            "`cargo build -p authn-server --bin authn` or set AUTHN_BIN",
            pytrace=False,
        )

    created_db: Optional[str] = None
    db_root = ""
    db_url = os.environ.get("AUTHN_E2E_DATABASE_URL")
    embedded = request.param == "sqlite"
    if not db_url and not embedded:
        db_root = _server_root_url()
        created_db = f"authn_pytest_{secrets.token_hex(6)}"
        db_url = f"{db_root}/{created_db}"

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    admin_key = "pytest-admin-" + secrets.token_hex(16)
    data_dir = Path(tempfile.mkdtemp(prefix="authn-pytest-"))
    log_path = data_dir / "server.log"
    env = dict(os.environ)
    env.pop("AUTHN_DATABASE_URL", None)
    if not embedded:
        env["AUTHN_DATABASE_URL"] = db_url
    env.update(
        AUTHN_NAMESPACE=f"pytest-{secrets.token_hex(6)}",
        AUTHN_LISTEN=f"127.0.0.1:{port}",
        AUTHN_PUBLIC_URL=base_url,
        AUTHN_DATA_DIR=str(data_dir),
        AUTHN_DEV="1",
        AUTHN_ADMIN_KEYS=admin_key,
        AUTHN_RATE_LIMIT="100000",
        AUTHN_RATE_LIMIT_BURST="100000",
    )
    for var in ("AUTHN_SMTP_URL", "AUTHN_SERVER_KEY", "AUTHN_COOKIE_NAME",
                "AUTHN_ALLOWED_ORIGINS", "AUTHN_STEP_UP_MAX_AGE_SECS"):
        env.pop(var, None)  # the suite needs the defaults (dev outbox, ...)

    log = open(log_path, "wb")
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    srv = Server(base_url, admin_key, log_path, proc)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        while True:
            if proc.poll() is not None:
                pytest.fail(f"authn exited with {proc.returncode} before it was ready:\n"
                            f"{srv.log_tail()}", pytrace=False)
            try:
                r = requests.get(f"{base_url}/readyz", timeout=2)
                if r.status_code == 200:
                    break
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = str(e)
            if time.monotonic() > deadline:
                pytest.fail(f"authn not ready on {base_url}/readyz after {READY_TIMEOUT_S:.0f}s "
                            f"(last: {last}):\n{srv.log_tail()}", pytrace=False)
            time.sleep(0.2)
        yield srv
    finally:
        _stop(proc)
        log.close()
        if created_db:
            _drop_database(db_root, created_db)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    return server.base_url


@pytest.fixture(scope="session")
def admin_key(server: Server) -> str:
    return server.admin_key


@pytest.fixture
def new_email() -> Callable[[], str]:
    """A factory of unique addresses."""
    return lambda: f"py-{uuid.uuid4().hex[:16]}@example.com"


@pytest.fixture
def fresh_user(new_email) -> User:
    """Credentials of a user that does not exist yet (sign it up yourself)."""
    return User(new_email(), PASSWORD)


_TOKEN_RE = re.compile(r"[?&]token=([^\s&#\"'<>]+)")


@pytest.fixture
def outbox_token(base_url: str, admin_key: str):
    """`outbox_token(email, "/reset-password")` -> the token of the newest
    link to that path in a mail to `email` (polls the dev outbox: mails
    are sent after the answer). `not_in` skips tokens already seen."""

    def get(email: str, path: str, not_in: tuple = (), timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            r = requests.get(f"{base_url}/api/v1/admin/dev/outbox",
                             headers={"Authorization": f"Bearer {admin_key}"}, timeout=10)
            assert r.status_code == 200, r.text
            for mail in reversed(r.json()["data"]):
                if mail["to"].lower() != email.lower():
                    continue
                for m in _TOKEN_RE.finditer(mail["text"]):
                    before = mail["text"][: m.start()]
                    token = urllib.parse.unquote(m.group(1))
                    if before.endswith(path) and token not in not_in:
                        return token
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {email} with a {path}?token= link; "
                                     f"outbox: {r.text[:1000]}")
            time.sleep(0.1)

    return get
