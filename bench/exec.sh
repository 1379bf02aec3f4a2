#!/usr/bin/env bash
# Cost of exec governance (every execve/execveat inside the sandbox waits for the supervisor),
# side by side in one run, release build:
#   1. exec storm: a shell loop of 2,000 `/bin/true` (median of 3 runs per column);
#   2. a real build with many execs: `make -j2` of a generated C project (60 files, gcc: every
#      file execs gcc, cc1 and as; then the link), no network (median of 3 runs per column,
#      after one that warms the page cache);
#   3. per-exec latency: a small C program timing 2,000 fork+exec+wait of /bin/true, p50/p99.
# Columns:
#   bwrap            bubblewrap (`--unshare-all`), the anchor outside Warden
#   sandbox          `warden sandbox` (no exec governance)
#   crate            the sandbox crate alone (examples/sandbox_exec.rs, no proxy), no notification
#   notify           the same with exec notification and a decider that lets everything proceed:
#                    the notification path alone (compare with `crate`)
#   sandbox --govern `warden sandbox --govern`: classification and a durable `nested` audit
#                    record per exec (only when this warden has the flag)
#   --govern buffered the same with `[audit] nested = "buffered"` (records of execs that proceed
#                    durable within 50 ms, docs/audit-nested.md)
#   floor notify     bubblewrap running bench/notify_floor.c: every exec notified and answered by
#                    the least any governor must do (read the path, answer) — compare with `bwrap`
#   floor durable    the same, each exec also written durably first (one O_DIRECT 4 KiB block and
#                    fdatasync): this machine's floor for durable nested records, whatever the design
# Targets (issue 14): storm `--govern` <= 1.5x `sandbox`; build <= 1.05x `sandbox`.
# Runs alternate between the columns (BENCH_RUNS rounds, default 5; medians), so that a machine
# that slows down for a while slows every column alike.
#   bench/exec.sh          (needs gcc, make, bwrap; scripts/setup-sandbox.sh installs bwrap)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
bash scripts/setup-sandbox.sh --bench >/dev/null 2>&1 || true
for tool in gcc make bwrap python3; do
    command -v "$tool" >/dev/null || {
        echo "bench/exec.sh needs $tool" >&2
        exit 1
    }
done
# BENCH_PROFILE=debug: a quick check of this script itself (figures meaningless).
profile="${BENCH_PROFILE:-release}"
if [ "$profile" = release ]; then
    cargo build --quiet --release -p warden -p warden-sandbox --bins --example sandbox_exec
else
    cargo build --quiet -p warden -p warden-sandbox --bins --example sandbox_exec
fi
rel="$CARGO_TARGET_DIR/$profile"
warden="$rel/warden"
notify="$rel/examples/sandbox_exec"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ws="$work/ws"
mkdir -p "$ws"
git -C "$ws" init -q
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r)"

# The C project: 60 translation units with a little real code each, and a Makefile.
mkdir -p "$ws/proj"
for i in $(seq 1 60); do
    cat >"$ws/proj/unit$i.c" <<C
#include <stdio.h>
#include <string.h>
struct item$i { int key; char name[32]; };
static int compare$i(const void *a, const void *b) {
    return ((const struct item$i *)a)->key - ((const struct item$i *)b)->key;
}
int unit$i(int n) {
    struct item$i items[16];
    for (int k = 0; k < 16; k++) { items[k].key = (k * 7 + n) % 16; snprintf(items[k].name, 32, "x%d", k); }
    qsort(items, 16, sizeof items[0], compare$i);
    return items[0].key + (int)strlen(items[15].name);
}
C
done
{
    echo '#include <stdio.h>'
    for i in $(seq 1 60); do echo "int unit$i(int);"; done
    echo 'int main(void) { int s = 0;'
    for i in $(seq 1 60); do echo "s += unit$i($i);"; done
    echo 'printf("%d\n", s); return 0; }'
} >"$ws/proj/main.c"
printf 'OBJS := $(patsubst %%.c,%%.o,$(wildcard *.c))\napp: $(OBJS)\n\tgcc -o $@ $(OBJS)\n%%.o: %%.c\n\tgcc -O1 -c $< -o $@\nclean:\n\trm -f *.o app\n' >"$ws/proj/Makefile"

# Per-exec latency probe.
cat >"$work/execlat.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t p = fork();
        if (p == 0) { execl("/bin/true", "true", (char *)0); _exit(127); }
        int st; waitpid(p, &st, 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%ld\n", (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec));
    }
    return 0;
}
C
gcc -O2 -o "$ws/execlat" "$work/execlat.c"
gcc -O2 -o "$ws/notify_floor" bench/notify_floor.c

storm='i=0; while [ $i -lt 2000 ]; do /bin/true; i=$((i+1)); done'
build='make -s -C proj clean && make -s -j2 -C proj'

bwrap="bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --bind $ws $ws --chdir $ws"
names=(bwrap "floor notify" "floor durable" sandbox crate notify)
prefixes=("$bwrap"
    "$bwrap $ws/notify_floor --"
    "$bwrap $ws/notify_floor --durable $ws/floor.ring --"
    "$warden sandbox --workspace $ws --"
    "$notify --"
    "$notify --govern --")
if "$warden" sandbox --help 2>/dev/null | grep -q -- '--govern'; then
    names+=("sandbox --govern")
    prefixes+=("$warden sandbox --govern --workspace $ws --")
    printf '[audit]\nnested = "buffered"\n' >"$work/buffered.toml"
    names+=("--govern buffered")
    prefixes+=("$warden sandbox --govern --policy $work/buffered.toml --workspace $ws --")
fi

cd "$ws"
BENCH_RUNS="${BENCH_RUNS:-5}" python3 - "$work" "${#names[@]}" "${names[@]}" "${prefixes[@]}" <<PY
import os, statistics, subprocess, sys, time
work, n = sys.argv[1], int(sys.argv[2])
names, prefixes = sys.argv[3:3 + n], sys.argv[3 + n:3 + 2 * n]
storm, build = """$storm""", """$build"""

def timed(prefix, script):
    t = time.perf_counter()
    r = subprocess.run(prefix.split() + ["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"{prefix}: exit {r.returncode}: {r.stderr.decode()[-400:]}")
    return time.perf_counter() - t, r.stdout.decode()

runs = int(os.environ["BENCH_RUNS"])
columns = list(zip(names, prefixes))
storms, builds = {n: [] for n in names}, {n: [] for n in names}
timed(prefixes[0], build)  # warm the page cache for the compiler
for _ in range(runs):
    for name, prefix in columns:
        storms[name].append(timed(prefix, storm)[0])
    for name, prefix in columns:
        builds[name].append(timed(prefix, build)[0])
rows = {}
for name, prefix in columns:
    _, out = timed(prefix, "./execlat 2000")
    lat = sorted(int(x) for x in out.split())
    p50, p99 = lat[len(lat) // 2] / 1000, lat[int(len(lat) * 0.99)] / 1000
    rows[name] = (statistics.median(storms[name]), statistics.median(builds[name]), p50, p99)

print(f"{'':18} {'storm 2000 true':>16} {'make -j2 (60 C)':>16} {'exec p50 us':>12} {'exec p99 us':>12}")
for name, (s, b, p50, p99) in rows.items():
    print(f"{name:18} {s:15.3f}s {b:15.3f}s {p50:12.0f} {p99:12.0f}")
base = rows["sandbox"]
print()
for name, (s, b, p50, p99) in rows.items():
    if name == "sandbox":
        continue
    print(f"{name:18} / sandbox: storm {s / base[0]:.2f}x, build {b / base[1]:.3f}x, "
          f"added per exec p50 {p50 - base[2]:+.0f} us, p99 {p99 - base[3]:+.0f} us")
bw = rows["bwrap"]
for col in ("floor notify", "floor durable"):
    f = rows[col]
    print(f"{col:18} / bwrap:   storm {f[0] / bw[0]:.2f}x, build {f[1] / bw[1]:.3f}x, "
          f"added per exec p50 {f[2] - bw[2]:+.0f} us (this machine's least for any design)")
n, c = rows["notify"], rows["crate"]
print(f"notify / crate (exec notification alone): storm {n[0] / c[0]:.2f}x, build {n[1] / c[1]:.3f}x, "
      f"added per exec p50 {n[2] - c[2]:+.0f} us, p99 {n[3] - c[3]:+.0f} us")
for col in ("sandbox --govern", "--govern buffered"):
    if col in rows:
        g = rows[col]
        print(f"targets ({col}): storm {g[0] / base[0]:.2f}x sandbox (<= 1.5), "
              f"build {g[1] / base[1]:.3f}x (<= 1.05)")
PY
