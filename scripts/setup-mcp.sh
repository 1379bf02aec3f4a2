#!/usr/bin/env bash
# Installs what the `warden mcp` and Codex tests need, idempotently (checks first, installs only
# what is missing); works on a fresh Debian machine as root:
#  - python3 with pip, and the official Python MCP SDK (PyPI package `mcp`, pinned), the client
#    crates/warden/tests/mcp_client.py drives `warden mcp` with;
#  - Node.js with npm, and the Codex CLI (npm package `@openai/codex`, pinned) under
#    /opt/warden-codex, which crates/warden/tests/codex.rs runs without a model.
set -euo pipefail

PY="${WARDEN_TEST_PYTHON:-python3}"
MCP_VERSION="2.3.0"
CODEX_VERSION="0.169.0"
CODEX_PREFIX="/opt/warden-codex"

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

command -v "$PY" >/dev/null 2>&1 || apt_install python3 python3-pip
"$PY" -m pip --version >/dev/null 2>&1 || apt_install python3-pip

sdk_ok() {
    "$PY" - "$MCP_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import mcp, httpx2  # noqa: F401
assert version("mcp") == sys.argv[1]
PYEOF
}
if ! sdk_ok; then
    # Debian's system Python refuses plain pip installs (PEP 668); allow it there.
    "$PY" -m pip install --quiet "mcp==$MCP_VERSION" 2>/dev/null \
        || "$PY" -m pip install --quiet --break-system-packages "mcp==$MCP_VERSION"
    sdk_ok || { echo "setup-mcp: the mcp $MCP_VERSION SDK did not install" >&2; exit 1; }
fi

command -v npm >/dev/null 2>&1 || apt_install nodejs npm
codex_ok() {
    [ -x "$CODEX_PREFIX/node_modules/.bin/codex" ] \
        && "$CODEX_PREFIX/node_modules/.bin/codex" --version 2>/dev/null | grep -qx "codex-cli $CODEX_VERSION"
}
if ! codex_ok; then
    mkdir -p "$CODEX_PREFIX"
    npm install --prefix "$CODEX_PREFIX" --no-audit --no-fund --silent "@openai/codex@$CODEX_VERSION"
    codex_ok || { echo "setup-mcp: the Codex CLI $CODEX_VERSION did not install" >&2; exit 1; }
fi
echo "setup-mcp: Python MCP SDK $MCP_VERSION and Codex CLI $CODEX_VERSION present"
