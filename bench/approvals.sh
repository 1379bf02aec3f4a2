#!/bin/sh
# Approval server throughput: N full cycles (file async request, approve with digest, consume)
# over loopback HTTP with curl, against SQLite (default) or PostgreSQL (DB=postgres://...).
# Usage: bench/approvals.sh [N]   (WARDEN=path/to/warden, default target/release/warden)
set -eu
N=${1:-200}
WARDEN=${WARDEN:-target/release/warden}
DB=${DB:-}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
ADMIN=wdn_bench_admin
[ -n "$DB" ] || DB="sqlite:$dir/a.db"
WARDEN_ADMIN_TOKEN=$ADMIN "$WARDEN" serve --db "$DB" --listen 127.0.0.1:0 >/dev/null 2>"$dir/err" &
pid=$!
while ! grep -q "listening on" "$dir/err"; do sleep 0.1; done
URL=$(sed -n 's/.*listening on //p' "$dir/err")
mk() { curl -sf -H "Authorization: Bearer $ADMIN" -d "{\"role\":\"$1\",\"name\":\"$2\",\"groups\":[\"maintainers\"]}" "$URL/tokens" | sed 's/.*"token":"\([^"]*\)".*/\1/'; }
AG=$(mk agent bot); AP=$(mk approver alice)
start=$(date +%s.%N)
i=0
while [ "$i" -lt "$N" ]; do
    r=$(curl -sf -H "Authorization: Bearer $AG" -d "{\"tier\":\"async\",\"category\":\"bench\",\"rule\":\"r\",\"action_text\":\"echo $i\",\"action\":{\"kind\":\"exec\",\"argv\":[\"echo\",\"$i\"]},\"cwd\":\"/\",\"workspace\":\"/\",\"policy_digest\":\"p\"}" "$URL/requests")
    id=$(echo "$r" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
    dg=$(echo "$r" | sed 's/.*"action_digest":"\([0-9a-f]*\)".*/\1/')
    curl -sf -o /dev/null -H "Authorization: Bearer $AP" -d "{\"action_digest\":\"$dg\"}" "$URL/requests/$id/approve"
    curl -sf -o /dev/null -H "Authorization: Bearer $AG" -d "{\"action_digest\":\"$dg\"}" "$URL/requests/$id/consume"
    i=$((i + 1))
done
end=$(date +%s.%N)
echo "$N cycles (file + approve + consume) in $(echo "$end - $start" | bc) s" \
    "= $(echo "scale=2; ($end - $start) * 1000 / $N" | bc) ms per cycle (3 HTTP calls + 3 curl starts)"
