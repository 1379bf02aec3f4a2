#!/usr/bin/env bash
# Installs what the warden-proxy tests need on a fresh Debian machine (run as root):
#   curl — real-client tests through the HTTP, CONNECT and SOCKS5 (incl. Unix socket) paths;
#   git  — git-remote discovery tests;
#   python3, node, openssl — clients and test certificates of the HTTPS interception tests.
# Idempotent: checks first and installs only what is missing.
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-proxy: curl, git, python3, node and openssl present"
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
