#!/usr/bin/env bash
# Benchmark of warden-proxy on loopback: CONNECT-tunnel throughput vs a direct TCP connection
# (target >= 80%) and the connection latency the proxy adds (target <= 0.3 ms), several runs,
# medians and ratios printed. Extra arguments go to the bench program:
#   bench/proxy.sh [--mib N] [--runs N] [--conns N]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --quiet --release -p warden-proxy --example proxy_bench
exec "$CARGO_TARGET_DIR/release/examples/proxy_bench" "$@"
