#!/usr/bin/env bash
# Contract fuzzing: schemathesis (in a throw-away virtual environment) against the served
# /openapi.json, with an admin's bearer token, across every operation. Checks: no 5xx,
# every response matches its declared schema, every status code is declared. Bounded by
# SCHEMATHESIS_MAX_EXAMPLES per operation and a time cap (SCHEMATHESIS_TIME_CAP seconds).
#
#   scripts/schemathesis.sh [PATH_TO_GATEHOUSE_BINARY]   (default: the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/gatehouse}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-30}
TIME_CAP=${SCHEMATHESIS_TIME_CAP:-300}
CHECKS=not_a_server_error,status_code_conformance,response_schema_conformance

if [ ! -x "$BIN" ]; then
    echo "== cargo build"
    cargo build --quiet
fi

WORK=$(mktemp -d)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# SCHEMATHESIS_VENV: an existing virtual environment to reuse (created there if missing).
VENV=$(realpath -m "${SCHEMATHESIS_VENV:-$WORK/venv}")
if [ ! -x "$VENV/bin/schemathesis" ]; then
    echo "== installing schemathesis into a virtual environment"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check schemathesis
fi
"$VENV/bin/schemathesis" --version

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export GATEHOUSE_DATABASE_URL="sqlite://$WORK/fuzz.db"
export GATEHOUSE_BIND="127.0.0.1:$PORT"
export GATEHOUSE_LOG=${GATEHOUSE_LOG:-warn}
export GATEHOUSE_ACCESS_TTL=3600
export GATEHOUSE_RATE_LIMIT_PER_IP=0
export GATEHOUSE_MAIL_OUTBOX="$WORK/outbox"
BASE="http://127.0.0.1:$PORT"
PASSWORD="fuzz-admin-Password-7!"

# Admins, so that the admin operations are exercised past their 403: `fuzzer` for the
# main run, `wrecker` for the operations that can end its own session or account.
echo "$PASSWORD" | "$BIN" user create fuzzer --admin >/dev/null
echo "$PASSWORD" | "$BIN" user create wrecker --admin >/dev/null
echo "$PASSWORD" | "$BIN" user create leaver >/dev/null
# SCHEMATHESIS_SERVER_LOG: where to keep the server's log (default: thrown away with the rest).
LOG=${SCHEMATHESIS_SERVER_LOG:-$WORK/server.log}
"$BIN" serve >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/health" >/dev/null

login() {
    curl -fsS -H 'Content-Type: application/json' -d "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" "$BASE/v1/auth/login" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# run USER [filters...]: one schemathesis run with a fresh token of USER.
run() {
    local user=$1 token
    shift
    token=$(login "$user") || { echo "cannot log in as $user"; return 1; }
    # From the scratch directory, so that schemathesis's cache does not land in the tree.
    (cd "$WORK" && timeout "$TIME_CAP" "$VENV/bin/schemathesis" run "$BASE/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks "$CHECKS" \
        --phases examples,coverage,fuzzing \
        --max-examples "$MAX_EXAMPLES" \
        --request-timeout 10 \
        --workers 1 \
        --suppress-health-check too_slow,filter_too_much \
        --no-color \
        "$@")
}

# Operations that can revoke the caller's own session or remove its account: schemathesis
# reuses ids it has seen in answers (GET /v1/auth/sessions, say), so they run apart, last.
STATUS=0
echo "== schemathesis: every operation but those that can end the caller's session"
run fuzzer --exclude-operation-id logout --exclude-operation-id delete_session \
    --exclude-operation-id delete_user --exclude-operation-id patch_user || STATUS=$?
echo "== schemathesis: delete_session, delete_user, patch_user"
run wrecker --include-operation-id delete_session --include-operation-id delete_user --include-operation-id patch_user || STATUS=$?
echo "== schemathesis: logout"
run leaver --include-operation-id logout || STATUS=$?

if grep -qiE 'panic|internal error' "$LOG"; then
    echo "the server logged errors:"
    grep -iE 'panic|internal error' "$LOG" | head -20
    STATUS=1
fi
if [ "$STATUS" = 124 ]; then echo "schemathesis hit the time cap of ${TIME_CAP}s"; fi
if [ "$STATUS" = 0 ]; then echo "== schemathesis passed"; else echo "== schemathesis FAILED ($STATUS)"; fi
exit "$STATUS"
