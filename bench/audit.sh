#!/usr/bin/env bash
# Audit log benchmarks: one durable append vs a bare write+fdatasync of the same bytes, and
# records/s with 1, 8 and 64 concurrent writers (group commit), both as threads of one process
# sharing a handle and as separate processes sharing the file (each its own handle; the flock
# orders them), ratios printed in one run.
# Usage: bench/audit.sh [DIR]   (DIR: where the logs are written; default a temporary directory;
# put it on the disk the audit log will live on).
# Environment: AUDIT_BENCH_SECS (seconds per level, default 3), AUDIT_BENCH_MODES
# (default threads,processes), AUDIT_BENCH_LEVELS (default 1,8,64), AUDIT_BENCH_RECORDS (a fixed
# count per writer instead of a time, for instruction counts under valgrind --tool=callgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then export AUDIT_BENCH_DIR="$1"; fi
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec cargo bench -p warden-audit --bench audit
