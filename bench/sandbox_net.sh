#!/usr/bin/env bash
# Throughput of the sandbox's whole network path, as a user's tool sees it: `curl` inside
# `warden sandbox` reaches a loopback HTTP server only through the sandbox's relay (its own
# 127.0.0.1 -> the proxy's Unix socket) and warden-proxy, against the same `curl` run
# directly. Download and upload (PUT), through a CONNECT tunnel (`curl -p`, what HTTPS
# uses) and, for download, plain-HTTP forwarding. Every run measures all arms back to back;
# prints medians and the median within-run ratio to direct. curl's own figure
# (%{speed_download}/%{speed_upload}) times the transfer only, not the sandbox's start.
#   bench/sandbox_net.sh [RUNS] [MIB]      (default 9 runs of 512 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-9}"
mib="${2:-512}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v curl >/dev/null || {
    echo "bench/sandbox_net.sh needs curl" >&2
    exit 1
}
bash scripts/setup-sandbox.sh >/dev/null
cargo build --quiet --release -p warden -p warden-sandbox
cargo build --quiet --release -p warden-proxy --example http_upstream
warden="$CARGO_TARGET_DIR/release/warden"

work=$(mktemp -d)
upstream_pid=""
trap '[ -n "$upstream_pid" ] && kill "$upstream_pid" 2>/dev/null; rm -rf "$work"' EXIT
ws="$work/ws"
mkdir -p "$ws"
git -C "$ws" init -q
bytes=$((mib * 1024 * 1024))
head -c "$bytes" /dev/zero >"$ws/upload.bin"
"$CARGO_TARGET_DIR/release/examples/http_upstream" "$bytes" >"$work/port" &
upstream_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
url="http://127.0.0.1:$port/"
cat >"$work/policy.toml" <<TOML
version = 1
[network]
allow = ["127.0.0.1:$port"]
allow_private = ["127.0.0.1"]
TOML

# Prints curl's measured bytes/s for one transfer; $1 = direct|connect|forward, $2 = get|put.
transfer() {
    local how=$1 dir=$2 fmt args
    if [ "$dir" = get ]; then
        fmt='%{speed_download}'
        args=(-o /dev/null)
    else
        fmt='%{speed_upload}'
        args=(-o /dev/null -H 'Expect:' -T "$ws/upload.bin")
    fi
    case $how in
    direct) curl -sSf --noproxy '*' "${args[@]}" -w "$fmt" "$url" ;;
    connect) "$warden" sandbox --policy "$work/policy.toml" --workspace "$ws" --cwd "$ws" -- \
        curl -sSf --noproxy '' -p "${args[@]}" -w "$fmt" "$url" ;;
    forward) "$warden" sandbox --policy "$work/policy.toml" --workspace "$ws" --cwd "$ws" -- \
        curl -sSf --noproxy '' "${args[@]}" -w "$fmt" "$url" ;;
    esac
}

arms=(direct:get connect:get forward:get direct:put connect:put)
transfer connect get >/dev/null # warm-up: binaries and page cache
: >"$work/results"
for run in $(seq "$runs"); do
    n=${#arms[@]}
    for k in $(seq 0 $((n - 1))); do
        arm=${arms[$(((run + k) % n))]}
        v=$(transfer "${arm%%:*}" "${arm##*:}")
        echo "$run $arm $v" >>"$work/results"
    done
done

echo "sandbox network path: curl $mib MiB, $runs runs, congestion control $(cat /proc/sys/net/ipv4/tcp_congestion_control)"
awk '
function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ v[$2, $1] = $3 / 1048576; runs[$1] = 1 }
END {
    split("direct:get connect:get forward:get direct:put connect:put", order, " ")
    printf "%-36s %10s %18s\n", "", "MiB/s", "ratio to direct"
    label["direct:get"] = "download, direct"
    label["connect:get"] = "download, sandbox, CONNECT tunnel"
    label["forward:get"] = "download, sandbox, HTTP forwarding"
    label["direct:put"] = "upload, direct"
    label["connect:put"] = "upload, sandbox, CONNECT tunnel"
    for (o = 1; o <= 5; o++) {
        arm = order[o]; split(arm, p, ":"); base = "direct:" p[2]
        n = 0; m = 0
        for (r in runs) { n++; s[n] = v[arm, r]; q[n] = 100 * v[arm, r] / v[base, r] }
        med = median(s, n); rat = median(q, n)
        printf "%-36s %10.0f %17.1f%%\n", label[arm], med, rat
        key = arm; gsub(":", "_", key); summary = summary sprintf(" %s=%.0f %s_ratio=%.1f", key, med, key, rat)
    }
    print "summary" summary
}' "$work/results"
