#!/usr/bin/env bash
# Instructions per request under valgrind's callgrind: reproducible where wall-clock figures
# are not (shared, noisy machines). Starts the release binary under callgrind on a fresh
# SQLite database, warms each route up, then counts N requests on one keep-alive connection.
#
#   bench/callgrind.sh [N]     default N=1000; callgrind files are left in target/callgrind
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --quiet --bin gatehouse
OUT=target/callgrind; rm -rf "$OUT"; mkdir -p "$OUT"
WORK=$(mktemp -d); trap 'kill "$VPID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
GATEHOUSE_DATABASE_URL="sqlite://$WORK/db" GATEHOUSE_BIND=127.0.0.1:$PORT GATEHOUSE_LOG=warn GATEHOUSE_RATE_LIMIT_PER_IP=0 \
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.%p" target/release/gatehouse serve >"$WORK/log" 2>&1 &
VPID=$!
until curl -fs "$BASE/health" >/dev/null 2>&1; do sleep 0.2; done
post() { curl -fs "$BASE$1" -H 'content-type: application/json' -d "$2"; }
post /v1/auth/register '{"username":"bench","password":"correct horse battery staple"}' >/dev/null
TOKEN=$(post /v1/auth/login '{"username":"bench","password":"correct horse battery staple"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
for path in /health /v1/auth/me /v1/templates; do
    python3 - "$PORT" "$path" "$TOKEN" 50 <<'PY' # warm-up: pools, caches
import http.client, sys
port, path, token, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", path, headers={"authorization": "Bearer " + token})
    r = c.getresponse(); r.read(); assert r.status == 200, (path, r.status)
PY
    callgrind_control -z "$VPID" >/dev/null 2>&1
    python3 - "$PORT" "$path" "$TOKEN" "$N" <<'PY'
import http.client, sys
port, path, token, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", path, headers={"authorization": "Bearer " + token})
    r = c.getresponse(); r.read(); assert r.status == 200, (path, r.status)
PY
    callgrind_control -d "${path//\//_}" "$VPID" >/dev/null 2>&1
done
for f in "$OUT"/callgrind.*.*; do
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    route=$(awk '/^desc: Trigger: dump / {print $4; exit}' "$f" | tr _ /)
    printf '%-16s %12s instructions per request\n' "$route" "$(( ir / N ))"
done
echo "(callgrind_annotate --inclusive=yes $OUT/callgrind.<pid>.<n> for the profile)"
