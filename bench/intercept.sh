#!/usr/bin/env bash
# HTTPS interception: one download and one upload through warden-proxy intercepting (per-run
# CA, upstream verified), against a direct TLS connection and against mitmproxy doing the same
# interception, all to one loopback TLS upstream in one run; and the time to first byte of new
# HTTPS connections (direct, through the proxy with a cached leaf, to a host seen the first
# time). Prints MiB/s, ratios (with direct / mitmproxy, the most any interceptor could score against
# mitmproxy in that run), the CPU seconds per GiB of each interceptor beside the direct arm's two
# TLS ends (the floor: the cryptography an interceptor repeats; unlike throughput, not moved much
# by the machine's load) and milliseconds; see crates/warden-proxy/examples/intercept_bench.rs.
#   bench/intercept.sh [MIB] [CONNECTIONS] [ROUNDS]   (default 256 MiB, 50 connections, 5 rounds)
#   NO_MITMPROXY=1 skips installing and running mitmproxy.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${NO_MITMPROXY:-}" ]; then
    MITMDUMP=$(bash bench/setup-mitmproxy.sh)
    export MITMDUMP
fi
cargo build --quiet --release -p warden-proxy --example intercept_bench
"$CARGO_TARGET_DIR/release/examples/intercept_bench" "${1:-256}" "${2:-50}" "${3:-5}"
