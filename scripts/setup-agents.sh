#!/usr/bin/env bash
# Installs the coding-agent CLIs the agent tests drive, idempotently (checks first, installs only
# what is missing), each pinned and under its own npm prefix in $WARDEN_AGENTS_DIR
# (default /opt/warden-agents), so no global npm state is touched:
#  - Gemini CLI          (npm `@google/gemini-cli`)  → $WARDEN_AGENTS_DIR/gemini
#  - GitHub Copilot CLI  (npm `@github/copilot`)     → $WARDEN_AGENTS_DIR/copilot
#  - OpenCode            (npm `opencode-ai`)         → $WARDEN_AGENTS_DIR/opencode
# Codex CLI is installed by scripts/setup-mcp.sh (/opt/warden-codex). The registry is whatever
# npm is configured to use. Tests skip, saying so, when an agent is missing.
set -euo pipefail

DIR="${WARDEN_AGENTS_DIR:-/opt/warden-agents}"
GEMINI_VERSION="0.61.0"
COPILOT_VERSION="1.0.102"
OPENCODE_VERSION="1.18.33"

command -v npm >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
}

# install NAME PACKAGE VERSION: npm install into $DIR/NAME unless that exact version is there.
install() {
    local name="$1" package="$2" version="$3" prefix="$DIR/$1"
    local manifest="$prefix/node_modules/$package/package.json"
    if [ -f "$manifest" ] && node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' "$manifest" "$version"; then
        echo "setup-agents: $package $version present in $prefix"
        return 0
    fi
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --silent "$package@$version"
    [ -f "$manifest" ] || { echo "setup-agents: $package $version did not install" >&2; return 1; }
    echo "setup-agents: installed $package $version in $prefix"
}

status=0
install gemini "@google/gemini-cli" "$GEMINI_VERSION" || status=1
install copilot "@github/copilot" "$COPILOT_VERSION" || status=1
install opencode "opencode-ai" "$OPENCODE_VERSION" || status=1
exit "$status"
