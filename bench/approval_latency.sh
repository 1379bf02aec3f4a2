#!/usr/bin/env bash
# Approval latency and throughput of `warden serve`, on SQLite, SQLite with `--audit-log`, and
# PostgreSQL (a private cluster started here, fsync on).
#
#  1. Decision -> action start: a real `warden run` of a `sync` action waits on the server; an
#     approver approves over the API; we take the time the approve call returned and the time the
#     action itself started (its first command is `date +%s%N`, written to a file), many samples,
#     and report p50/p90/p99 (target: p99 <= 50 ms on loopback).
#       anchors: the loopback HTTP round trip of `GET /healthz` on the same server, and the
#       start-up of `warden run` for an `auto` action (spawn -> action start), which the approved
#       run has to go through too (sandbox set-up) once its approval arrives.
#     The SQLite backend is measured a second time over HTTPS (`--tls-cert`/`--tls-key`, a CA
#     made here with openssl, trusted through WARDEN_CA_FILE): the same p99 target applies.
#  2. Decisions per second: N pending requests approved by T concurrent approver connections.
#       anchor: the same connections doing authenticated `GET /whoami`, requests per second.
#
#   bench/approval_latency.sh [SAMPLES] [DECISIONS]     (default 150 samples, 600 decisions)
#   BENCH_BACKENDS="sqlite sqlite-https" bench/approval_latency.sh   (only those backends)
#   Needs root or a user that can run PostgreSQL's initdb (scripts/setup-approvals.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${1:-150}"
decisions="${2:-600}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

sh scripts/setup-approvals.sh >/dev/null
cargo build --quiet --release -p warden
warden="$CARGO_TARGET_DIR/release/warden"

work=$(mktemp -d)
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    as_pg "$pgbin/pg_ctl" -m immediate -D "$work/pg/data" stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

chmod 711 "$work"  # the postgres user must reach its cluster directory inside
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$work/pg"
as_pg "$pgbin/initdb" -A trust -U postgres -D "$work/pg/data" >/dev/null
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$pgbin/pg_ctl" -w -D "$work/pg/data" -l "$work/pg/log" \
    -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" start >/dev/null

python3 - "$warden" "$work" "$samples" "$decisions" "postgres://postgres@127.0.0.1:$pgport/postgres" <<'PY'
import http.client, json, os, ssl, statistics, subprocess, sys, threading, time

warden, work, samples, decisions, pg_url = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ADMIN = "wdn_bench_admin_token"
POLICY = """
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["credential-access", "bench"]
groups = ["security"]
timeout = "300s"
"""

TLS = {}  # set for the HTTPS run: {"ca": path, "ctx": ssl context}

class Api:
    """One keep-alive HTTP(S) connection to the server."""
    def __init__(self, addr, token):
        host, port = addr.rsplit(":", 1)
        if TLS:
            self.c = http.client.HTTPSConnection(host, int(port), timeout=60, context=TLS["ctx"])
        else:
            self.c = http.client.HTTPConnection(host, int(port), timeout=60)
        self.h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    def call(self, method, path, body=None):
        self.c.request(method, path, body=None if body is None else json.dumps(body), headers=self.h)
        r = self.c.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data[:1] in (b"{", b"[") else data)

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]

def start_server(name, db, extra):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "policy.toml"), "w") as f:
        f.write(POLICY)
    p = subprocess.Popen([warden, "serve", "--db", db, "--listen", "127.0.0.1:0", "--policy", "policy.toml", *extra],
                         cwd=d, env={**os.environ, "WARDEN_ADMIN_TOKEN": ADMIN},
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:
        line = p.stderr.readline()
        if not line:
            sys.exit(f"{name}: server did not start")
        if "listening on http" in line:
            addr = line.strip().rsplit("://", 1)[1]
            break
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    return p, addr, d

def run_backend(name, db, extra):
    # BENCH_BACKENDS="sqlite sqlite-https" measures only those.
    if os.environ.get("BENCH_BACKENDS") and name not in os.environ["BENCH_BACKENDS"].split():
        return
    proc, addr, d = start_server(name, db, extra)
    try:
        admin = Api(addr, ADMIN)
        tok = lambda role, n: admin.call("POST", "/tokens", {"role": role, "name": n, "groups": ["security"] if role == "approver" else []})[1]["token"]
        agent_tok, approver_tok = tok("agent", "bot"), tok("approver", "alice")
        approver = Api(addr, approver_tok)
        ws = os.path.join(d, "ws")
        os.makedirs(os.path.join(ws, ".git"), exist_ok=True)
        with open(os.path.join(ws, ".env"), "w") as f:
            f.write("SECRET=x\n")
        scheme = "https://" if TLS else "http://"
        env = {**os.environ, "WARDEN_SERVER": scheme + addr, "WARDEN_TOKEN": agent_tok}
        if TLS:
            env["WARDEN_CA_FILE"] = TLS["ca"]

        # Anchor: loopback round trip.
        rtt = []
        for _ in range(200):
            t = time.perf_counter_ns(); approver.call("GET", "/healthz"); rtt.append(time.perf_counter_ns() - t)
        # Anchor: `warden run` start-up for an auto action.
        startup = []
        for i in range(min(samples, 50)):
            f = os.path.join(ws, f"auto-{i}")
            t = time.time_ns()
            subprocess.run([warden, "run", "--", "sh", "-c", f"date +%s%N > {f}"], cwd=ws, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            startup.append(int(open(f).read()) - t)

        lat, lat_sent = [], []
        for i in range(samples):
            f = f"started-{i}"
            # `cat .env` makes it `sync`; `date` first so the action's start is what we time.
            run = subprocess.Popen([warden, "run", "--", "sh", "-c", f"date +%s%N > {f}; cat .env >/dev/null"],
                                   cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            t_wait = time.monotonic()
            while True:
                st, pending = approver.call("GET", "/requests?status=pending")
                if pending:
                    break
                if run.poll() is not None:
                    sys.exit(f"{name}: warden run ended ({run.returncode}) without waiting: {run.stderr.read()}")
                if time.monotonic() - t_wait > 30:
                    sys.exit(f"{name}: no pending request")
                time.sleep(0.005)
            req = pending[0]
            time.sleep(0.2)  # let `warden run` enter its long-poll
            t_sent = time.time_ns()
            st, _ = approver.call("POST", f"/requests/{req['id']}/approve", {"action_digest": req["action_digest"]})
            t_dec = time.time_ns()
            assert st == 200, st
            _, err = run.communicate(timeout=60)
            assert run.returncode == 0, err
            started = int(open(os.path.join(ws, f)).read())
            lat.append(started - t_dec)
            lat_sent.append(started - t_sent)

        # Decisions per second.
        agent = Api(addr, agent_tok)
        todo = []
        for i in range(decisions):
            st, r = agent.call("POST", "/requests", {"tier": "async", "category": "bench", "rule": "r",
                "action_text": f"echo {i}", "action": {"kind": "exec", "argv": ["echo", str(i)]},
                "cwd": "/", "workspace": "/", "policy_digest": "p"})
            assert st == 201, r
            todo.append((r["id"], r["action_digest"]))
        threads = 4
        def rate(work_of):
            chunks = [todo[k::threads] for k in range(threads)]
            conns = [Api(addr, approver_tok) for _ in range(threads)]
            for c in conns:
                c.call("GET", "/healthz")
            errs = []
            def go(c, chunk):
                for item in chunk:
                    st = work_of(c, item)
                    if st != 200:
                        errs.append(st)
            ts = [threading.Thread(target=go, args=(c, ch)) for c, ch in zip(conns, chunks)]
            t = time.perf_counter()
            for x in ts: x.start()
            for x in ts: x.join()
            el = time.perf_counter() - t
            assert not errs, errs[:5]
            return len(todo) / el
        whoami_rate = rate(lambda c, item: c.call("GET", "/whoami")[0])
        decide_rate = rate(lambda c, item: c.call("POST", f"/requests/{item[0]}/approve", {"action_digest": item[1]})[0])
        ms = lambda ns: ns / 1e6
        print(f"\n== {name} ==")
        print(f"decision -> action start ({samples} samples): p50 {ms(pct(lat,50)):.1f} ms, p90 {ms(pct(lat,90)):.1f} ms, "
              f"p99 {ms(pct(lat,99)):.1f} ms, max {ms(max(lat)):.1f} ms   (target p99 <= 50 ms: {'met' if pct(lat,99) <= 50e6 else 'NOT met'})")
        print(f"  from the approve call being sent: p50 {ms(pct(lat_sent,50)):.1f} ms, p99 {ms(pct(lat_sent,99)):.1f} ms")
        print(f"  anchor GET /healthz round trip: p50 {ms(pct(rtt,50)):.3f} ms -> latency p50 = {pct(lat,50)/pct(rtt,50):.0f}x")
        print(f"  anchor `warden run` start-up, auto action: p50 {ms(pct(startup,50)):.1f} ms -> latency p50 = "
              f"{pct(lat,50)/pct(startup,50):.2f}x")
        print(f"decisions per second ({decisions} approvals, {threads} connections): {decide_rate:.0f}/s; "
              f"anchor GET /whoami {whoami_rate:.0f}/s -> ratio {decide_rate/whoami_rate:.2f}")
    finally:
        proc.kill(); proc.wait()

run_backend("sqlite", "sqlite:approvals.db", [])
run_backend("sqlite+audit-log", "sqlite:approvals.db", ["--audit-log", "audit.jsonl"])
run_backend("postgresql", pg_url, [])

# The same SQLite server over HTTPS: a CA and a 127.0.0.1 certificate made with openssl.
pki = os.path.join(work, "pki")
os.makedirs(pki)
def ossl(*args):
    subprocess.run(["openssl", *args], cwd=pki, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
     "-subj", "/CN=warden bench CA", "-keyout", "ca.key", "-out", "ca.pem")
ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
     "-keyout", "key.pem", "-out", "req.csr")
with open(os.path.join(pki, "ext.cnf"), "w") as f:
    f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
ossl("x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
     "-extfile", "ext.cnf", "-out", "cert.pem")
TLS["ca"] = os.path.join(pki, "ca.pem")
TLS["ctx"] = ssl.create_default_context(cafile=TLS["ca"])
run_backend("sqlite-https", "sqlite:approvals.db",
            ["--tls-cert", os.path.join(pki, "cert.pem"), "--tls-key", os.path.join(pki, "key.pem")])
PY
