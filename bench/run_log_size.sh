#!/usr/bin/env bash
# Does a run's cost grow with the audit log? `warden run -- true` in a workspace whose log holds
# 100k records against one whose log is empty, side by side (hyperfine, interleaved rounds).
# Every run opens the log, appends its intent and outcome and seals the head (a checkpoint over
# the whole log); that must cost the same whatever the log's length.
#   Target: long / empty ~ 1.0.
#   bench/run_log_size.sh [RECORDS] [RUNS]   (default 100000 records, 30 runs per command)
# WARDEN_BIN=path/to/warden measures that binary (e.g. an older build) instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-100000}"
runs="${2:-30}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v hyperfine >/dev/null || {
    echo "hyperfine is needed (scripts/setup-sandbox.sh --bench installs it)" >&2
    exit 1
}
if [ -z "${WARDEN_BIN:-}" ]; then
    cargo build --quiet --release -p warden -p warden-sandbox
fi
cargo build --quiet --release -p warden-audit --example fill_log
warden="${WARDEN_BIN:-$CARGO_TARGET_DIR/release/warden}"
fill="$CARGO_TARGET_DIR/release/examples/fill_log"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A HOME of its own: the runs' head anchors (~/.config/warden/heads) stay out of the real one.
export HOME="$work/home"
mkdir -p "$HOME"
for ws in empty long; do
    mkdir -p "$work/$ws/.warden/audit"
    git -C "$work/$ws" init -q
done
"$fill" "$work/long/.warden/audit/audit.jsonl" "$records"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "long log: $(wc -l <"$work/long/.warden/audit/audit.jsonl") records, $(du -h "$work/long/.warden/audit/audit.jsonl" | cut -f1)"

rounds=5
per=$(((runs + rounds - 1) / rounds))
for r in $(seq "$rounds"); do
    hyperfine -N --warmup 3 --runs "$per" --export-json "$work/h$r.json" \
        "$warden run --workspace $work/empty -- true" \
        "$warden run --workspace $work/long -- true" >/dev/null 2>&1
done
python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times = [[], []]
for r in range(1, rounds + 1):
    for i, res in enumerate(json.load(open(f"{work}/h{r}.json"))["results"]):
        times[i].extend(res["times"])
empty, long = (statistics.median(t) * 1000 for t in times)
print(f"warden run -- true, empty log     {empty:8.2f} ms")
print(f"warden run -- true, long log      {long:8.2f} ms")
print(f"long / empty                      = {long / empty:.2f}x   (target ~1.0)")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
