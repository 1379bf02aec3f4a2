#!/usr/bin/env bash
# Whole-process time of `warden check -- ARGV` against `codex execpolicy check` (from the
# @openai/codex npm package, installed into a temporary folder) on the same commands, in one run.
# Prints medians per command and the ratio codex/warden (above 1 means warden is faster).
#
# Uses hyperfine (Debian package) without a shell when installed, else a Python loop, whose
# fork/exec overhead (about a millisecond) is then included in every figure.
#   bash bench/check.sh            # 40 runs per command and tool
#   RUNS=200 bash bench/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-40}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p warden
WARDEN="$PWD/target/release/warden"

echo "installing @openai/codex into $work (npm) ..." >&2
if ! npm install --silent --prefix "$work" @openai/codex >/dev/null 2>&1; then
  echo "cannot install @openai/codex from the npm registry; measuring warden only" >&2
fi
CODEX_NODE="$work/node_modules/.bin/codex"
CODEX_NATIVE="$(find "$work/node_modules" -path '*vendor*' -name codex -type f 2>/dev/null | head -n 1 || true)"

# Codex's rules, written to decide the same commands the same way as Warden's default policy.
cat > "$work/bench.rules" <<'RULES'
prefix_rule(pattern = ["git", "push"], decision = "prompt", justification = "pushes to a remote")
prefix_rule(pattern = ["git", ["status", "diff", "log", "add", "commit"]], decision = "allow")
prefix_rule(pattern = ["cargo", ["build", "test", "clippy"]], decision = "allow")
prefix_rule(pattern = ["npm", ["test", "ci", "install"]], decision = "allow")
prefix_rule(pattern = ["rm", ["-rf", "-fr"], "/"], decision = "forbidden", justification = "deletes the system")
prefix_rule(pattern = ["terraform", ["apply", "destroy"]], decision = "prompt")
prefix_rule(pattern = ["kubectl", ["apply", "delete"]], decision = "prompt")
prefix_rule(pattern = ["cat"], decision = "allow")
RULES

export WARDEN WORK="$work" RUNS CODEX_NODE CODEX_NATIVE
python3 - <<'PY'
import os, statistics, subprocess, time
runs = int(os.environ["RUNS"])
warden = os.environ["WARDEN"]
rules = os.path.join(os.environ["WORK"], "bench.rules")
commands = [
    ["git", "status"],
    ["git", "push", "origin", "main"],
    ["cargo", "test", "--workspace"],
    ["rm", "-rf", "/"],
    ["terraform", "apply", "-auto-approve"],
    ["cat", "README.md"],
]
tools = {"warden": lambda argv: [warden, "check", "--json", "--"] + argv}
native = os.environ.get("CODEX_NATIVE") or ""
node = os.environ.get("CODEX_NODE") or ""
if native and os.path.exists(native):
    tools["codex (native binary)"] = lambda argv: [native, "execpolicy", "check", "-r", rules] + argv
if node and os.path.exists(node):
    tools["codex (npm launcher)"] = lambda argv: [node, "execpolicy", "check", "-r", rules] + argv

import json, shlex, shutil, tempfile
HYPERFINE = shutil.which("hyperfine")
tools["bare /bin/true (process floor)"] = lambda argv: ["/bin/true"]
# The warden binary doing nothing but start: what loading it costs before `check` does any work.
tools["bare warden --version (binary floor)"] = lambda argv: [warden, "--version"]

def sample(cmd, n):
    """Median seconds of `cmd` over n runs: hyperfine without a shell when installed (it
    subtracts nothing and adds no interpreter overhead), else a Python loop."""
    if HYPERFINE:
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            subprocess.run([HYPERFINE, "-N", "--warmup", "5", "--runs", str(n), "--export-json", f.name,
                            shlex.join(cmd)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            return json.load(open(f.name))["results"][0]["median"]
    out = []
    for _ in range(n):
        t = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
        if p.returncode != 0:
            raise SystemExit(f"{cmd} exited {p.returncode}")
    return statistics.median(out)

medians = {t: [] for t in tools}
print(f"runs per command and tool: {runs} ({'hyperfine -N' if HYPERFINE else 'python loop'})")
print(f"{'command':38}" + "".join(f"{t[:22]:>24}" for t in tools))
for argv in commands:
    row = f"{' '.join(argv)[:37]:38}"
    for t, mk in tools.items():
        m = sample(mk(argv), runs) * 1000
        medians[t].append(m)
        row += f"{m:>21.2f} ms"
    print(row)
print()
w = statistics.median(medians["warden"])
print(f"warden check, median over commands: {w:.2f} ms per process (target <= 3 ms)")
floor = statistics.median(medians["bare /bin/true (process floor)"])
print(f"process floor (/bin/true): {floor:.2f} ms; warden's own work: {w - floor:.2f} ms")
print(f"warden check / bin/true = {w / floor:.2f}x (target <= 3.5x)")
bfloor = statistics.median(medians["bare warden --version (binary floor)"])
print(f"binary floor (warden --version): {bfloor:.2f} ms = {bfloor / floor:.2f}x /bin/true; check's own work: {w - bfloor:.2f} ms")
for t in tools:
    if t == "warden" or t.startswith("bare"):
        continue
    c = statistics.median(medians[t])
    print(f"{t}: {c:.2f} ms per process; ratio {t} / warden = {c / w:.2f}x")

# CPU time of each process (perf stat task-clock), which other work on a shared machine
# disturbs far less than elapsed time.
PERF = shutil.which("perf")
if PERF:
    def cpu_ms(cmd):
        p = subprocess.run([PERF, "stat", "-x", ",", "-e", "task-clock", "-r", str(runs)] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in p.stderr.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("task-clock"):
                return float(fields[0])
        return None
    true_cpu = cpu_ms(["/bin/true"])
    version_cpu = cpu_ms([warden, "--version"])
    check_cpu = [cpu_ms(tools["warden"](argv)) for argv in commands]
    if true_cpu and version_cpu and all(check_cpu):
        c = statistics.median(check_cpu)
        print(f"CPU time (perf stat task-clock): warden check {c:.2f} ms, warden --version {version_cpu:.2f} ms, "
              f"/bin/true {true_cpu:.2f} ms; check / true = {c / true_cpu:.2f}x, check's own work {c - version_cpu:.2f} ms")
PY
