#!/bin/sh
# Installs what the warden-approvals tests need: headless Chromium and its WebDriver (web UI
# test), and PostgreSQL server binaries (the PostgreSQL backend suite starts private clusters).
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
# The cluster tests switch to the postgres user when run as root.
id postgres >/dev/null 2>&1 || { echo "setup-approvals: no postgres user" >&2; exit 1; }
echo "setup-approvals: chromium, chromedriver and PostgreSQL present"
