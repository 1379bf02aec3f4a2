#!/usr/bin/env bash
# Installs what the warden-sandbox / `warden run` / `warden sandbox` tests need on a fresh Debian
# machine (run as root). Idempotent: checks first and installs only what is missing.
#   curl       — proxy fetches, host Unix/abstract socket probes in the escape suite
#   git        — `git clone` over HTTP through the proxy
#   bash, perl — /dev/tcp probes and raw syscall probes (io_uring, personality, keyctl)
#   strace     — the ptrace probe
#   util-linux — unshare (nested namespace probe), setpriv (unprivileged run), script (pty prompt)
# With --bench it also installs what bench/run.sh compares against: bubblewrap, hyperfine, npm.
set -euo pipefail

declare -A need=(
    [curl]=curl [git]=git [bash]=bash [perl]=perl [strace]=strace
    [unshare]=util-linux [setpriv]=util-linux [script]=bsdutils [sleep]=coreutils
)
if [ "${1:-}" = "--bench" ]; then
    need[bwrap]=bubblewrap
    need[hyperfine]=hyperfine
    need[npm]=npm
fi

missing=()
for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-sandbox: everything present"
else
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-sandbox: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    # Deduplicate package names.
    mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "setup-sandbox: installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends ca-certificates "${pkgs[@]}"
fi

# The sandbox needs user namespaces; report clearly when the kernel forbids them.
max=$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)
if [ "$max" = "0" ]; then
    echo "setup-sandbox: user.max_user_namespaces is 0; the sandbox cannot run here" >&2
    exit 1
fi
if [ -e /proc/sys/kernel/apparmor_restrict_unprivileged_userns ] &&
    [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns)" = "1" ]; then
    echo "setup-sandbox: note: AppArmor restricts unprivileged user namespaces; the unprivileged test needs root-run CI or an AppArmor profile"
fi
