#!/usr/bin/env bash
# Soak: a release build under a mixed load (wrk + scripts/soak.lua) for DURATION seconds
# (default 600) on loopback, with resident memory sampled at start, after warm-up, in the
# middle and at the end. Fails on any 5xx, on socket errors, or when memory at the end is
# more than 10% above the figure after warm-up. Not part of `cargo test`.
#
#   scripts/soak.sh [DURATION_SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-600}
CONNECTIONS=${2:-8}

if ! command -v wrk >/dev/null 2>&1; then
    echo "== installing wrk"
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk; else sudo apt-get install -y wrk; fi
fi

if [ -z "${SOAK_SKIP_BUILD:-}" ]; then
    echo "== cargo build --release"
    cargo build --release --quiet
fi
BIN=${SOAK_BIN:-target/release/gatehouse}

WORK=$(mktemp -d)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export GATEHOUSE_DATABASE_URL="sqlite://$WORK/soak.db"
export GATEHOUSE_BIND="127.0.0.1:$PORT"
export GATEHOUSE_LOG=warn
export GATEHOUSE_ACCESS_TTL=$((DURATION + 3600))
export GATEHOUSE_RATE_LIMIT_PER_IP=0
export GATEHOUSE_MAIL_OUTBOX="$WORK/outbox"
BASE="http://127.0.0.1:$PORT"
ADMIN_PASSWORD="soak-admin-Password-7!"

echo "$ADMIN_PASSWORD" | "$BIN" user create soakadmin --admin >/dev/null
"$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/health" >/dev/null

SOAK_ADMIN_TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"username\":\"soakadmin\",\"password\":\"$ADMIN_PASSWORD\"}" "$BASE/v1/auth/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
export SOAK_ADMIN_TOKEN

rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
WARMUP=$((DURATION / 10 < 60 ? DURATION / 10 : 60))
RSS_START=$(rss)
echo "== soak: ${DURATION}s, $CONNECTIONS connections, server pid $PID, RSS at start ${RSS_START} KiB"

wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s scripts/soak.lua "$BASE" >"$WORK/wrk.out" 2>&1 &
WRK=$!
sleep "$WARMUP"
RSS_WARM=$(rss)
echo "RSS after warm-up (${WARMUP}s): ${RSS_WARM} KiB"
sleep $((DURATION / 2 - WARMUP))
RSS_MID=$(rss)
echo "RSS in the middle ($((DURATION / 2))s): ${RSS_MID} KiB"
wait "$WRK" || true
RSS_END=$(rss)
echo "RSS at the end (${DURATION}s): ${RSS_END} KiB"
cat "$WORK/wrk.out"

FAIL=0
if ! curl -fsS "$BASE/health" >/dev/null; then echo "FAIL: /health after the soak"; FAIL=1; fi
FIVE=$(awk '$1 == "SOAK" && $2 == "status" && $3 >= 500 {n += $4} END {print n + 0}' "$WORK/wrk.out")
SOCKET=$(awk '$1 == "SOAK" && $2 == "socket" {print $5 + $7 + $9 + $11}' "$WORK/wrk.out")
if ! grep -q '^SOAK requests' "$WORK/wrk.out"; then echo "FAIL: wrk did not report"; FAIL=1; fi
if [ "$FIVE" != 0 ]; then echo "FAIL: $FIVE answers were 5xx"; FAIL=1; fi
if [ "${SOCKET:-0}" != 0 ]; then echo "FAIL: $SOCKET socket errors"; FAIL=1; fi
GROWTH=$(python3 -c "print(round(100 * ($RSS_END - $RSS_WARM) / $RSS_WARM, 1))")
echo "RSS growth from warm-up to end: ${GROWTH}%"
if python3 -c "import sys; sys.exit(0 if $RSS_END > 1.10 * $RSS_WARM else 1)"; then echo "FAIL: memory grew more than 10%"; FAIL=1; fi
if grep -qiE 'panic|internal error' "$WORK/server.log"; then echo "FAIL: the server log holds errors:"; grep -iE 'panic|internal error' "$WORK/server.log" | head; FAIL=1; fi
[ "$FAIL" = 0 ] && echo "== soak passed"
exit "$FAIL"
