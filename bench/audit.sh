#!/usr/bin/env bash
# Audit log benchmarks: one durable append vs a bare write+fdatasync of the same bytes, and
# records/s with 1, 8 and 64 concurrent writers (group commit), ratios printed in one run.
# Usage: bench/audit.sh [DIR]   (DIR: where the logs are written; default a temporary directory;
# put it on the disk the audit log will live on). AUDIT_BENCH_SECS sets seconds per level.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then export AUDIT_BENCH_DIR="$1"; fi
exec cargo bench -p warden-audit --bench audit
