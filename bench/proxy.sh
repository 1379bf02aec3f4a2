#!/usr/bin/env bash
# Benchmark of warden-proxy on loopback: CONNECT-tunnel throughput vs a direct TCP connection
# (target >= 80%) and the connection latency the proxy adds (target <= 0.3 ms).
#
# Fair by construction: one program is client, upstream and proxy; the same client code and
# the same transfer size are used direct and through the tunnel; direct and proxied transfers
# alternate within each run (order rotated every run) after one unmeasured warm-up; medians
# of several runs and their ratios are printed. CONNECT through the proxy's Unix-socket
# listener (the sandbox's path) is measured alongside for information. Besides MiB/s it prints CPU seconds per GiB
# (whole process, and the proxy's own threads), which is what to compare on a busy machine:
# wall-clock there depends on what else is running.
#
# The client and upstream use the system's TCP congestion control in both arms, as any
# program would; the proxy gives its own legs that stay on this host reno congestion control
# (crates/warden-proxy/src/host_local.rs). PROXY_BENCH_CC=reno gives the client and upstream the
# same settings, for a comparison on equal terms.
#
#   bench/proxy.sh [--mib N] [--runs N] [--conns N]
#   PROXY_BENCH_ONLY=direct|connect|unix bench/proxy.sh ...   # one arm, e.g. under `perf record`
#   PROXY_BENCH_VERBOSE=1 bench/proxy.sh ...                  # every transfer
#   PROXY_BENCH_CC=reno bench/proxy.sh ...                    # client/upstream congestion control
# The last line ("summary ...") is for scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --quiet --release -p warden-proxy --example proxy_bench
exec "$CARGO_TARGET_DIR/release/examples/proxy_bench" "$@"
