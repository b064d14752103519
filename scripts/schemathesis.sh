#!/usr/bin/env bash
# Contract fuzzing: schemathesis (in a throw-away virtual environment) against the served
# /openapi.json, across every operation, in all four phases (examples, coverage, fuzzing,
# stateful) with every check (`--checks all`); scripts/schemathesis.toml holds the settings
# that the schema cannot state. Bounded by SCHEMATHESIS_MAX_EXAMPLES per operation and a
# time cap per run (SCHEMATHESIS_TIME_CAP seconds).
#
#   scripts/schemathesis.sh [PATH_TO_GATEHOUSE_BINARY]   (default: the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/gatehouse}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
# Each of the three runs; together about 3 minutes on 2 cores, at most three times this.
TIME_CAP=${SCHEMATHESIS_TIME_CAP:-180}
CHECKS=all

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
# Every wrong `current_password` or TOTP code the fuzzer sends counts toward its own
# account's lockout; locked, it could not log in again after a logout.
export GATEHOUSE_LOGIN_MAX_FAILURES=1000000
export GATEHOUSE_MAIL_OUTBOX="$WORK/outbox"
BASE="http://127.0.0.1:$PORT"
# A domain name as the public host, so that passkeys are on and their ceremonies begin.
export GATEHOUSE_PUBLIC_URL="http://localhost:$PORT"
# Read by the dynamic login of scripts/schemathesis.toml.
export GATEHOUSE_FUZZ_PASSWORD="fuzz-admin-Password-7!"
CONFIG="$PWD/scripts/schemathesis.toml"

# Two admins, so that the admin operations are exercised past their 403: `fuzzer` for
# every operation but two, `wrecker` for changing and deleting users; and `member`, a
# signed-in user without a role, for every operation as the answers a plain user gets.
echo "$GATEHOUSE_FUZZ_PASSWORD" | "$BIN" user create fuzzer --admin >/dev/null
echo "$GATEHOUSE_FUZZ_PASSWORD" | "$BIN" user create wrecker --admin >/dev/null
echo "$GATEHOUSE_FUZZ_PASSWORD" | "$BIN" user create member >/dev/null
# SCHEMATHESIS_SERVER_LOG: where to keep the server's log (default: thrown away with the rest).
LOG=${SCHEMATHESIS_SERVER_LOG:-$WORK/server.log}
"$BIN" serve >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/health" >/dev/null

# run USER [filters...]: one schemathesis run as USER, every phase, every check.
run() {
    local user=$1
    shift
    # From the scratch directory, so that schemathesis's cache does not land in the tree.
    (cd "$WORK" && GATEHOUSE_FUZZ_USER=$user timeout "$TIME_CAP" "$VENV/bin/schemathesis" --config-file "$CONFIG" \
        run "$BASE/openapi.json" \
        --checks "$CHECKS" \
        --phases examples,coverage,fuzzing,stateful \
        --max-examples "$MAX_EXAMPLES" \
        --request-timeout 10 \
        --workers 1 \
        --suppress-health-check too_slow,filter_too_much \
        --no-color \
        "$@")
}

# An admin that changes or deletes users may disable or delete itself once another admin
# exists: those two operations run apart, as `wrecker`, whose id no answer of that run
# shows (only the users it registers are changed). Every other operation, logout and
# session revocation included, runs as `fuzzer`, logged in again after each 401.
STATUS=0
echo "== schemathesis: every operation but changing and deleting users"
run fuzzer --exclude-operation-id patch_user --exclude-operation-id delete_user || STATUS=$?
echo "== schemathesis: registering, reading, changing and deleting users"
# (No stateful phase here: the schema links none of these four to another, and links
# schemathesis would guess are off, see schemathesis.toml.)
run wrecker --include-operation-id register --include-operation-id get_user \
    --include-operation-id patch_user --include-operation-id delete_user --phases examples,coverage,fuzzing || STATUS=$?
echo "== schemathesis: every operation as a signed-in user who is no admin"
run member || STATUS=$?

if grep -qiE 'panic|internal error' "$LOG"; then
    echo "the server logged errors:"
    grep -iE 'panic|internal error' "$LOG" | head -20
    STATUS=1
fi
if [ "$STATUS" = 124 ]; then echo "schemathesis hit the time cap of ${TIME_CAP}s"; fi
if [ "$STATUS" = 0 ]; then echo "== schemathesis passed"; else echo "== schemathesis FAILED ($STATUS)"; fi
exit "$STATUS"
