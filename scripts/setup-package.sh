#!/bin/sh
# Installs what crates/warden/tests/package_deb.rs needs to build and install the Debian package:
# dpkg-deb, systemd-analyze (the unit check when systemd is not PID 1) and cargo-deb; and what
# docs/rollout.md's commands use (tests/rollout.rs): jq, curl, openssl, git, unshare, ip.
# Idempotent: checks first, installs only what is missing. cargo-deb is compiled from the crate
# registry (a few minutes, once); without a network it cannot be installed and the test says so.
set -eu
need_apt=""
command -v dpkg-deb >/dev/null 2>&1 || need_apt="$need_apt dpkg"
command -v systemd-analyze >/dev/null 2>&1 || need_apt="$need_apt systemd"
command -v jq >/dev/null 2>&1 || need_apt="$need_apt jq"
command -v curl >/dev/null 2>&1 || need_apt="$need_apt curl"
command -v openssl >/dev/null 2>&1 || need_apt="$need_apt openssl"
command -v git >/dev/null 2>&1 || need_apt="$need_apt git"
command -v unshare >/dev/null 2>&1 || need_apt="$need_apt util-linux"
command -v ip >/dev/null 2>&1 || need_apt="$need_apt iproute2"
if [ -n "$need_apt" ] && [ "$(id -u)" = 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need_apt
fi
if ! cargo deb --version >/dev/null 2>&1; then
    # Its own target dir, removed afterwards: the build products are not needed once installed.
    tmp=$(mktemp -d)
    CARGO_TARGET_DIR="$tmp" nice cargo install cargo-deb --locked --version '^3' ||
        CARGO_TARGET_DIR="$tmp" nice cargo install cargo-deb --locked ||
        echo "cargo-deb could not be installed (offline?): the package test will skip" >&2
    rm -rf "$tmp"
fi
cargo deb --version 2>/dev/null || true
