#!/usr/bin/env bash
# Installs mitmproxy (from the Python package index) into a virtual environment for
# bench/intercept.sh, which compares warden-proxy's HTTPS interception with it.
# Idempotent. Prints the path of `mitmdump`.
#   WARDEN_BENCH_VENV  where the environment lives (default: target/bench-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${WARDEN_BENCH_VENV:-$PWD/target/bench-venv}"
if [ ! -x "$venv/bin/mitmdump" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check mitmproxy >&2
fi
echo "$venv/bin/mitmdump"
