#!/usr/bin/env bash
# The published `shark-auth` Python SDK against the real `authn` server.
# Usage: tests/python/run.sh [pytest args...]
#   AUTHN_PY_VENV           venv to create/reuse (default ${TMPDIR:-/tmp}/authn-py-venv)
#   AUTHN_BIN               server binary (default target/debug/authn, built when missing)
#   AUTHN_E2E_DATABASE_URL  database to use as is; else a throwaway one is created
#                           (on AUTHN_TEST_DATABASE_URL's server, or 127.0.0.1:5432)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

python="$("$repo/scripts/python-venv")"

bin="${AUTHN_BIN:-$repo/target/debug/authn}"
if [ ! -x "$bin" ]; then
    if [ -n "${AUTHN_BIN:-}" ]; then
        echo "AUTHN_BIN=$AUTHN_BIN is not an executable" >&2
        exit 1
    fi
    echo "building the server binary (cargo build -p authn-server --bin authn)"
    cargo build -q -p authn-server --bin authn
fi
export AUTHN_BIN="$bin"

# A PostgreSQL server (the repository's helper: 127.0.0.1:5432 or a
# throwaway cluster), unless a database or server URL is given.
if [ -z "${AUTHN_E2E_DATABASE_URL:-}" ] && [ -z "${AUTHN_TEST_DATABASE_URL:-}" ] \
    && [ -x "$repo/scripts/ensure-postgres" ]; then
    AUTHN_TEST_DATABASE_URL="$("$repo/scripts/ensure-postgres")"
    export AUTHN_TEST_DATABASE_URL
fi

status=0
PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -q -p no:cacheprovider tests/python "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
