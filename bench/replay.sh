#!/usr/bin/env bash
# Replay throughput: `warden replay` of a 10,000-line command list (one compiled policy for all
# actions, on every CPU) against the anchor `warden check --shell S` (one process, one policy
# load, per action), in the same run. Also the fixed cost (replay of a one-line list) and the
# same replay held to one CPU with taskset.
# Prints medians, actions per second, and the ratio (10,000 x check) / replay.
#
#   bash bench/replay.sh              # 10 runs of each replay, 40 of check
#   RUNS=20 LINES=50000 bash bench/replay.sh
#   WARDEN=target/debug/warden bash bench/replay.sh   # skip the release build
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-10}"
LINES="${LINES:-10000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -z "${WARDEN:-}" ]; then
  cargo build --release -q -p warden
  WARDEN="$PWD/target/release/warden"
fi
mkdir -p "$work/ws/.git" "$work/home"

# A realistic mix: reads, builds, local git, edits, pipelines, wrappers, and surfaced actions
# (pushes, credential reads, infrastructure, network writes, catastrophic deletes), numbered so
# no two lines are the same text.
python3 - "$work/list.txt" "$LINES" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
templates = [
    "git status", "git diff --stat HEAD~{i}", "git add src/mod{i}.rs && git commit -m 'step {i}'",
    "cargo test -p crate{i} -- --nocapture", "cargo build --release --bin tool{i}",
    "cat src/file{i}.rs | grep -n 'fn main' | head -{i}", "ls -la build/{i}",
    "find . -name '*.rs' -newer stamp{i} | xargs wc -l", "npm test -- --grep case{i}",
    "python3 -m pytest -q tests/test_{i}.py", "mkdir -p out/{i} && cp a.txt out/{i}/",
    "sed -i 's/old{i}/new/' src/lib.rs", "echo {i} > notes/{i}.txt", "rg -n todo{i} src/",
    "bash -c 'make -j4 target{i} && make check'", "sudo apt-get install -y pkg{i}",
    "git push origin feature-{i}", "cat ~/.aws/credentials.{i}", "kubectl apply -f deploy{i}.yaml",
    "terraform apply -target=module.m{i}", "curl -X POST https://api.example.invalid/v1/{i} -d '{{}}'",
    "rm -rf /tmp/cache{i}", "timeout 60 env FOO={i} nice -n 5 cargo bench --bench b{i}",
    "rm -rf / # {i}",
]
with open(path, "w") as f:
    for i in range(n):
        f.write(templates[i % len(templates)].format(i=i) + "\n")
PY
echo "git status" > "$work/one.txt"

export WARDEN WORK="$work" RUNS LINES
cd "$work/ws"
HOME="$work/home" python3 - <<'PY'
import os, shutil, statistics, subprocess, time
warden, work = os.environ["WARDEN"], os.environ["WORK"]
runs, lines = int(os.environ["RUNS"]), int(os.environ["LINES"])

def median(argv, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)

replay_many = median([warden, "replay", "--json", f"{work}/list.txt"], runs)
# The same replay held to one CPU (replay classifies on every CPU it may use).
one_cpu = None
if shutil.which("taskset"):
    one_cpu = median(["taskset", "-c", "0", warden, "replay", "--json", f"{work}/list.txt"], runs)
replay_one = median([warden, "replay", "--json", f"{work}/one.txt"], runs)
check = median([warden, "check", "--json", "--shell", "git push origin main"], runs * 4)
per_action = (replay_many - replay_one) / lines
print(f"replay of {lines} lines:       median {replay_many * 1000:9.1f} ms"
      f"  = {lines / replay_many:,.0f} actions/s (whole process)")
print(f"replay of 1 line (fixed cost): median {replay_one * 1000:9.1f} ms")
print(f"  per action after start-up:   {per_action * 1e6:9.1f} us"
      f"  = {1 / per_action if per_action > 0 else float('inf'):,.0f} actions/s")
if one_cpu:
    print(f"replay of {lines} lines, 1 CPU: median {one_cpu * 1000:9.1f} ms"
          f"  = {lines / one_cpu:,.0f} actions/s; all CPUs are {one_cpu / replay_many:.2f}x faster")
print(f"anchor: warden check, 1 action: median {check * 1000:8.1f} ms per process")
print(f"ratio (anchor x {lines}) / replay: {check * lines / replay_many:,.1f}x faster with replay")
PY
# Instruction count of the 10,000-line replay, steadier than wall-clock on a busy machine.
if perf stat -e instructions -x, -o "$work/perf.txt" true 2>/dev/null; then
  HOME="$work/home" perf stat -e instructions -x, -o "$work/perf.txt" \
    "$WARDEN" replay --json "$work/list.txt" >/dev/null
  HOME="$work/home" perf stat -e instructions -x, -o "$work/perf1.txt" \
    "$WARDEN" replay --json "$work/one.txt" >/dev/null
  many=$(grep instructions "$work/perf.txt" | cut -d, -f1)
  one=$(grep instructions "$work/perf1.txt" | cut -d, -f1)
  if [ -n "$many" ] && [ -n "$one" ] && [ "$many" != "<not supported>" ]; then
    echo "instructions: $many for $LINES lines, $one for 1 line" \
      "= $(( (many - one) / LINES )) per action"
  fi
fi
