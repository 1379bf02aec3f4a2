#!/bin/sh
# Installs what crates/warden/tests/hook_claude_code.rs and walkthrough.rs need to drive the real
# Claude Code CLI: Node.js/npm, python3, unshare, ip (loopback in the test's network namespace),
# @anthropic-ai/claude-code under /opt/warden-test/claude-code; and for the walk-through, git,
# openssl, and headless Chromium with its WebDriver (the approval web UI); zsh, the shell Claude
# Code's Bash tool uses where it is the user's (the rewrite must work in it too).
# Idempotent: checks first, installs only what is missing.
set -eu
PREFIX=${WARDEN_CLAUDE_CODE_PREFIX:-/opt/warden-test/claude-code}
need_apt=""
command -v npm >/dev/null 2>&1 || need_apt="$need_apt nodejs npm"
command -v python3 >/dev/null 2>&1 || need_apt="$need_apt python3"
command -v unshare >/dev/null 2>&1 || need_apt="$need_apt util-linux"
command -v ip >/dev/null 2>&1 || need_apt="$need_apt iproute2"
command -v git >/dev/null 2>&1 || need_apt="$need_apt git"
command -v openssl >/dev/null 2>&1 || need_apt="$need_apt openssl"
command -v chromium >/dev/null 2>&1 || need_apt="$need_apt chromium"
command -v chromedriver >/dev/null 2>&1 || need_apt="$need_apt chromium-driver"
command -v zsh >/dev/null 2>&1 || need_apt="$need_apt zsh"
if [ -n "$need_apt" ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need_apt
fi
if ! "$PREFIX/node_modules/.bin/claude" --version >/dev/null 2>&1; then
    mkdir -p "$PREFIX"
    npm install --prefix "$PREFIX" --no-audit --no-fund @anthropic-ai/claude-code@2.1.197
fi
"$PREFIX/node_modules/.bin/claude" --version
