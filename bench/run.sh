#!/usr/bin/env bash
# Whole-process start-up cost of Warden's sandbox: `warden run -- true` (classify, record, proxy,
# namespaces, Landlock, seccomp, run) and `warden sandbox -- true`, against bare `true`,
# bubblewrap (`bwrap --unshare-all ... true`) and Codex's Linux sandbox (`codex sandbox ... true`,
# from the @openai/codex npm package installed into a temporary folder). Several runs each;
# prints medians and ratios.
#   Targets: `warden run -- true` within 2x of bubblewrap, and >= 4x faster than `codex sandbox`.
#   bench/run.sh [RUNS]          (default 30 runs per command; needs root for the apt installs)
# `warden` is benchmarked as installed: with the small `warden-sandbox-init` next to it (the
# init each sandbox starts; without it `warden` re-executes itself, ~1 ms more per start).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"
repo="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

bash scripts/setup-sandbox.sh --bench >/dev/null
cargo build --quiet --release -p warden   # warden and warden-sandbox-init
warden="$CARGO_TARGET_DIR/release/warden"
test -x "$CARGO_TARGET_DIR/release/warden-sandbox-init" || {
    echo "warden-sandbox-init was not built" >&2
    exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ws="$work/ws"
mkdir -p "$ws"
git -C "$ws" init -q

# Codex CLI (npm); its Linux sandbox subcommand changed over versions: detect it.
codex_cmd=""
if command -v npm >/dev/null 2>&1 &&
    npm install --prefix "$work/codex" --silent --no-audit --no-fund @openai/codex >/dev/null 2>&1; then
    codex="$work/codex/node_modules/.bin/codex"
    if "$codex" sandbox --help 2>/dev/null | grep -qE '^\s+linux\b'; then
        codex_cmd="$codex sandbox linux true"
    else
        codex_cmd="$codex sandbox -- true"
    fi
    if ! (cd "$ws" && $codex_cmd) >/dev/null 2>&1; then
        echo "codex: \`$codex_cmd\` does not run here: $( (cd "$ws" && $codex_cmd) 2>&1 | tail -1)"
        codex_cmd=""
    fi
else
    echo "codex: could not install @openai/codex with npm; skipping it"
fi

bwrap_cmd="bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --bind $ws $ws true"
# The same warden without the small init next to it (it re-executes itself as the init).
mkdir -p "$work/solo"
ln "$warden" "$work/solo/warden" 2>/dev/null || cp "$warden" "$work/solo/warden"
names=(true "warden run" "warden sandbox" bwrap "run, self-init")
cmds=("true" "$warden run -- true" "$warden sandbox -- true" "$bwrap_cmd" "$work/solo/warden run -- true")
if [ -n "$codex_cmd" ]; then
    names+=("codex sandbox")
    cmds+=("$codex_cmd")
fi

# Which init the sandbox runs as PID 1 (its command line), to show the small one is used.
echo "sandbox init: $(cd "$ws" && "$warden" sandbox -- sh -c 'tr "\0" " " </proc/1/cmdline' | cut -d' ' -f1)"

results="$work/results.txt"
: >"$results"
cd "$ws"
if command -v hyperfine >/dev/null 2>&1; then
    # Several short rounds instead of one block per command, so a change in the machine's load
    # during the run affects every command alike; the median is over all rounds' runs.
    rounds=5
    per=$(((runs + rounds - 1) / rounds))
    for r in $(seq "$rounds"); do
        hyperfine -N --warmup 3 --runs "$per" --export-json "$work/h$r.json" "${cmds[@]}" >/dev/null 2>&1
    done
    python3 - "$work" "$rounds" "${names[@]}" >"$results" <<'PY'
import json, statistics, sys
work, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times = [[] for _ in names]
for r in range(1, rounds + 1):
    for i, res in enumerate(json.load(open(f"{work}/h{r}.json"))["results"]):
        times[i].extend(res["times"])
for name, t in zip(names, times):
    print(f"{name}\t{statistics.median(t) * 1000:.3f}")
PY
else
    for i in "${!cmds[@]}"; do
        times=()
        for _ in $(seq "$runs"); do
            s=$(date +%s%N)
            ${cmds[$i]} >/dev/null 2>&1 || true
            e=$(date +%s%N)
            times+=($(((e - s) / 1000)))
        done
        median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        printf '%s\t%s\n' "${names[$i]}" "$(awk "BEGIN {printf \"%.3f\", $median / 1000}")" >>"$results"
    done
fi

cd "$repo"
python3 - "$results" <<'PY'
import sys
rows = dict(line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip())
rows = {k: float(v) for k, v in rows.items()}
print(f"{'command':<16} {'median ms':>10}")
for k, v in rows.items():
    print(f"{k:<16} {v:>10.2f}")
w = rows["warden run"]
print()
print(f"warden run / true           = {w / rows['true']:.1f}x")
print(f"warden run / bwrap          = {w / rows['bwrap']:.2f}x   (target <= 2.0)")
print(f"warden sandbox / bwrap      = {rows['warden sandbox'] / rows['bwrap']:.2f}x")
print(f"run, self-init / bwrap      = {rows['run, self-init'] / rows['bwrap']:.2f}x   (without warden-sandbox-init)")
if "codex sandbox" in rows:
    print(f"codex sandbox / warden run  = {rows['codex sandbox'] / w:.2f}x   (target >= 4.0)")
else:
    print("codex sandbox: not measured (see above)")
PY
