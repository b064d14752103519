#!/usr/bin/env bash
# Instructions per request under valgrind's callgrind: reproducible where wall-clock figures
# are not (shared, noisy machines). Starts the release binary under callgrind on a fresh
# SQLite database seeded with 10,000 users, warms each route up with 30 requests, then counts
# N requests on one keep-alive connection: the read routes, a template write, a refresh
# (each request presents the token the one before got) and two pages of the admin's list.
#
#   bench/callgrind.sh [N]     default N=500
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --quiet --bin gatehouse --example bench_tools
OUT=$(mktemp -d); WORK=$(mktemp -d)
BIN=target/release/gatehouse; TOOLS=target/release/examples/bench_tools
"$TOOLS" seed-users "sqlite://$WORK/db" 10000 >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GATEHOUSE_DATABASE_URL="sqlite://$WORK/db" GATEHOUSE_BIND=127.0.0.1:$PORT GATEHOUSE_LOG=warn GATEHOUSE_RATE_LIMIT_PER_IP=0 \
  GATEHOUSE_TEMPLATES_MAX_COUNT=10000000 GATEHOUSE_TEMPLATES_MAX_BYTES=1099511627776 \
  valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" $BIN serve >"$WORK/log" 2>&1 &
VPID=$!; trap 'kill $VPID 2>/dev/null || true; rm -rf "$WORK" "$OUT"' EXIT
until curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do sleep 0.2; done
python3 - "$PORT" "$N" "$VPID" "$OUT" <<'PY'
import http.client, sys, json, subprocess, glob, os
port, n, pid, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port)
def req(m, p, body=None, tok=None):
    h = {"content-type": "application/json"}
    if tok: h["authorization"] = "Bearer " + tok
    c.request(m, p, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse(); d = r.read(); assert r.status in (200, 201), (p, r.status, d[:200]); return json.loads(d) if d else None
pw = "correct horse battery staple"
req("POST", "/v1/auth/register", {"username": "bench", "password": pw})
tok = req("POST", "/v1/auth/login", {"username": "bench", "password": pw})
access, refresh = tok["access_token"], tok["refresh_token"]
admin = req("POST", "/v1/auth/login", {"username": "bench-admin", "password": pw})["access_token"]
for i in range(20): req("POST", "/v1/templates", {"name": f"seed-{i}", "content": "hello"}, access)
state = {"refresh": refresh, "i": 0}
def refresh_once():
    t = req("POST", "/v1/auth/refresh", {"refresh_token": state["refresh"]}); state["refresh"] = t["refresh_token"]
def post_template():
    state["i"] += 1; req("POST", "/v1/templates", {"name": f"t-{state['i']}", "content": "hello world"}, access)
cases = [("GET /health", lambda: req("GET", "/health")),
         ("GET /v1/auth/me", lambda: req("GET", "/v1/auth/me", tok=access)),
         ("GET /v1/templates", lambda: req("GET", "/v1/templates", tok=access)),
         ("POST /v1/templates", post_template),
         ("POST /v1/auth/refresh", refresh_once),
         ("GET /v1/users page 1", lambda: req("GET", "/v1/users?page=1&per_page=20", tok=admin)),
         ("GET /v1/users page 400", lambda: req("GET", "/v1/users?page=400&per_page=20", tok=admin))]
for name, f in cases:
    for _ in range(30): f()
    subprocess.run(["callgrind_control", "-z", pid], capture_output=True)
    for _ in range(n): f()
    before = set(glob.glob(out + "/cg.*.*"))
    subprocess.run(["callgrind_control", "-d", pid], capture_output=True)
    new = set(glob.glob(out + "/cg.*.*")) - before
    ir = 0
    for fn in new:
        for line in open(fn):
            if line.startswith(("summary:", "totals:")): ir = int(line.split()[1]); break
    print(f"{name:26s} {ir // n:>10d}", flush=True)
PY
