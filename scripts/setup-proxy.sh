#!/usr/bin/env bash
# Installs what the warden-proxy tests need on a fresh Debian machine (run as root):
#   curl — real-client tests through the HTTP, CONNECT and SOCKS5 (incl. Unix socket) paths;
#   git  — git-remote discovery tests.
# Idempotent: checks first and installs only what is missing.
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v git >/dev/null 2>&1 || missing+=(git)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-proxy: curl and git present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-proxy: need root to install: ${missing[*]}" >&2
    exit 1
fi
echo "setup-proxy: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ca-certificates "${missing[@]}"
