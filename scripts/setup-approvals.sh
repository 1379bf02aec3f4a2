#!/bin/sh
# Installs what the warden-approvals tests need: headless Chromium and its WebDriver (web UI
# test), PostgreSQL server binaries (the PostgreSQL backend suite starts private clusters), and
# schemathesis (API fuzzing from /openapi.json) in /opt/warden-schemathesis.
# Idempotent: installs only what is missing. Run as root on Debian.
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi
# API fuzzing (tests/approvals_fuzz.rs): schemathesis, pinned, in its own virtualenv so it never
# disturbs the system's Python packages.
ST_VERSION=4.32.5
ST_VENV=/opt/warden-schemathesis
if ! "$ST_VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
    # Debian's own Python (not whatever `python3` a user's PATH finds first), with venv support.
    if ! /usr/bin/python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends python3 python3-venv
    fi
    rm -rf "$ST_VENV"
    /usr/bin/python3 -m venv "$ST_VENV"
    "$ST_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi
# The cluster tests switch to the postgres user when run as root.
id postgres >/dev/null 2>&1 || { echo "setup-approvals: no postgres user" >&2; exit 1; }
echo "setup-approvals: chromium, chromedriver, PostgreSQL and schemathesis $ST_VERSION present"
