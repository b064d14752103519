#!/usr/bin/env bash
# The Gatehouse benchmark: builds the release binary, starts it on a fresh SQLite database
# (and on PostgreSQL when its server binaries are here), seeds it, drives load with wrk on
# loopback, and prints one table of figures and ratios from this one run.
#
#   bench/run.sh           short mode: 5 s a scenario, 100,000 seeded users
#   bench/run.sh --full    full mode: 20 s a scenario, 1,000,000 seeded users
#
# GATEHOUSE_PG_BINDIR names PostgreSQL's server binaries; by default the newest
# /usr/lib/postgresql/*/bin, then PATH. Without them only SQLite is measured.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=short DURATION=5 SEED_USERS=100000 CONNECTIONS=16
# Refresh chains: each wrk thread keeps one connection and follows its own session's
# rotation chain (two connections on one chain would present rotated tokens).
CHAINS=16
if [ "${1:-}" = "--full" ]; then MODE=full DURATION=20 SEED_USERS=1000000; fi
# For a smoke test of the script itself: BENCH_DURATION=1 BENCH_USERS=1000 bench/run.sh
# BENCH_RUNS (default 3): runs of each CPU-per-request scenario, whose medians are printed.
# BENCH_ONLY=cpu: only the CPU-per-request scenarios (about a minute a store in short mode).
DURATION=${BENCH_DURATION:-$DURATION} SEED_USERS=${BENCH_USERS:-$SEED_USERS} RUNS=${BENCH_RUNS:-3}
ONLY_CPU=0; [ "${BENCH_ONLY:-}" = cpu ] && ONLY_CPU=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi

echo "building the release binary..." >&2
cargo build --release --quiet --bin gatehouse --example bench_tools
BIN=target/release/gatehouse
TOOLS=target/release/examples/bench_tools
WORK=$(mktemp -d)
SERVER_PID=
PG_DIR=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -n "$PG_DIR" ] && pg_stop || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
to_ms() { # wrk latency like 1.23ms, 456.00us, 1.02s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

# PostgreSQL, when its server binaries are here: a throwaway cluster in a temp dir, on
# loopback, with the default durability (fsync on, synchronous_commit on). It refuses to
# run as root: as root, every server command runs as the postgres user.
pg_bindir() {
    local d
    for d in "${GATEHOUSE_PG_BINDIR:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"; do
        [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
    done
}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
    PG_BIN=$1
    PG_DIR=$(mktemp -d)
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
    PG_PORT=$(free_port)
    as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
        -o "-k $PG_DIR -p $PG_PORT -c listen_addresses=127.0.0.1" start >/dev/null
    PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}
pg_stop() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"; PG_DIR=; }

# start_server DATABASE_URL [VAR=VALUE...]: starts Gatehouse, waits for a healthy /health,
# sets STARTUP_MS.
start_server() {
    local url=$1; shift
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
    local t0; t0=$(now_ms)
    # The load comes from one address and one user: the per-address limit, the lockout and
    # the template quota (a POST scenario makes thousands) would measure their refusals.
    env GATEHOUSE_DATABASE_URL="$url" GATEHOUSE_BIND="127.0.0.1:$PORT" GATEHOUSE_LOG=warn \
        GATEHOUSE_RATE_LIMIT_PER_IP=0 GATEHOUSE_LOGIN_MAX_FAILURES=1000000 \
        GATEHOUSE_TEMPLATES_MAX_COUNT=10000000 GATEHOUSE_TEMPLATES_MAX_BYTES=1099511627776 "$@" \
        "$BIN" serve >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    until curl -fs "$BASE/health" >/dev/null 2>&1; do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
        sleep 0.005
    done
    STARTUP_MS=$(( $(now_ms) - t0 ))
}

stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

post() { curl -fs "$BASE$1" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$2"; }
json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\1/"; }

# Lua scripts for wrk: each thread keeps one connection, its own session and counters.
write_scripts() {
    cat >"$WORK/common.lua" <<'LUA'
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread) thread_id = thread_id + 1; thread:set("tid", thread_id); table.insert(threads, thread) end
function next_name(prefix) counter = counter + 1; return prefix .. tid .. "x" .. counter .. "x" .. math.random(1, 1e9) end
LUA
    cat >"$WORK/login.lua" <<LUA
wrk.method = "POST"; wrk.headers["content-type"] = "application/json"
wrk.body = '{"username":"bench","password":"correct horse battery staple"}'
LUA
    cat >"$WORK/register.lua" <<LUA
dofile("$WORK/common.lua")
function request()
  return wrk.format("POST", "/v1/auth/register", {["content-type"] = "application/json"},
    '{"username":"' .. next_name("r") .. '","password":"correct horse battery staple"}')
end
LUA
    cat >"$WORK/refresh.lua" <<LUA
dofile("$WORK/common.lua")
local token = nil
function init(args) local f = io.open("$WORK/refresh_tokens"); local i = 0
  for line in f:lines() do i = i + 1; if i == tid then token = line end end; f:close() end
function request()
  return wrk.format("POST", "/v1/auth/refresh", {["content-type"] = "application/json"}, '{"refresh_token":"' .. token .. '"}')
end
function response(status, headers, body)
  local fresh = body:match('"refresh_token":"([^"]+)"'); if fresh then token = fresh end
end
LUA
    cat >"$WORK/templates_post.lua" <<LUA
dofile("$WORK/common.lua")
function request()
  return wrk.format("POST", "/v1/templates", {["content-type"] = "application/json", ["authorization"] = "Bearer $ACCESS"},
    '{"name":"' .. next_name("t") .. '","content":"Hello {{name}}, welcome aboard."}')
end
LUA
}

CLK_TCK=$(getconf CLK_TCK)
# proc_ticks PID [WITH_CHILDREN]: user+system CPU of a process in clock ticks (with 1, plus
# that of its children already reaped).
proc_ticks() { awk -v c="${2:-0}" '{sub(/^.*\) /, ""); print $12 + $13 + c * ($14 + $15)}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# cpu_ticks: the server's CPU so far; on PostgreSQL plus the cluster's (the postmaster with
# its reaped backends, and the live backends), since each query costs CPU there too.
cpu_ticks() {
    local t; t=$(proc_ticks "$SERVER_PID")
    if [ "${KIND:-}" = postgres ] && [ -n "$PG_DIR" ]; then
        local pm c; pm=$(head -1 "$PG_DIR/data/postmaster.pid")
        # Live backends first, then the postmaster's reaped ones: a backend that exits
        # between the two reads is counted twice (a tick or two) rather than lost (which
        # made a sample smaller than the one before it).
        for c in $(ps -o pid= --ppid "$pm"); do t=$(( t + $(proc_ticks "$c") )); done
        t=$(( t + $(proc_ticks "$pm" 1) ))
    fi
    echo "$t"
}
# cpu_per_request TICKS REQUESTS: microseconds of CPU per request.
cpu_per_request() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN {printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0)}'; }
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

ROWS=()
# load NAME PATH CONNECTIONS [SCRIPT] [TOKEN] [THREADS]: one wrk run; appends a table row.
load() {
    local name=$1 path=$2 conns=$3 script=${4:-} token=${5:-}
    local threads=${6:-$(( conns < 2 ? conns : 2 ))}
    local args=(-t "$threads" -c "$conns" -d "${DURATION}s" --latency --timeout 10s)
    [ -n "$script" ] && args+=(-s "$script")
    [ -n "$token" ] && args+=(-H "authorization: Bearer $token")
    local peak_file="$WORK/peak" ; echo 0 >"$peak_file"
    ( peak=0; while kill -0 "$SERVER_PID" 2>/dev/null; do r=$(rss_kib "$SERVER_PID"); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$peak_file"; sleep 0.05; done ) &
    local sampler=$!
    local ticks; ticks=$(cpu_ticks)
    wrk "${args[@]}" "$BASE$path" >"$WORK/wrk.out" 2>&1 || true
    ticks=$(( $(cpu_ticks) - ticks ))
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    local rps p50 p99 non2xx cpu
    cpu=$(cpu_per_request "$ticks" "$(awk '/requests in/ {print $1}' "$WORK/wrk.out")")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$WORK/wrk.out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$WORK/wrk.out"); non2xx=${non2xx:-0}
    LAST_RPS=$rps LAST_P99=$p99 LAST_CPU=$cpu
    ROWS+=("$(printf '| %-30s | %9s | %10s | %9s | %9s | %8s | %7s |' "$name" "$rps" "$cpu" "$p50" "$p99" "$(( $(cat "$peak_file") / 1024 ))" "$non2xx")")
}

# cpu_scenario NAME PATH [TOKEN]: the issue's method for CPU per request, wrk -t1 -c32,
# BENCH_RUNS runs; appends the medians of CPU per request and req/s to CPU_ROWS.
cpu_scenario() {
    local name=$1 path=$2 token=${3:-} cpus=() rpss=() i
    for i in $(seq 1 "$RUNS"); do
        local args=(-t 1 -c 32 -d "${DURATION}s")
        [ -n "$token" ] && args+=(-H "authorization: Bearer $token")
        local ticks; ticks=$(cpu_ticks)
        wrk "${args[@]}" "$BASE$path" >"$WORK/wrk.out" 2>&1 || true
        ticks=$(( $(cpu_ticks) - ticks ))
        cpus+=("$(cpu_per_request "$ticks" "$(awk '/requests in/ {print $1}' "$WORK/wrk.out")")")
        rpss+=("$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$WORK/wrk.out")")
    done
    LAST_CPU_MEDIAN=$(printf '%s\n' "${cpus[@]}" | median)
    CPU_ROWS+=("$(printf '| %-30s | %10s | %9s | %-24s |' "$name" "$LAST_CPU_MEDIAN" \
        "$(printf '%s\n' "${rpss[@]}" | median)" "${cpus[*]}")")
}

# bare_axum_scenario: the reference, measured the same way beside the server's scenarios: a
# bare axum route answering a string (bench_tools bare-axum), on its own port.
bare_axum_scenario() {
    local saved_pid=$SERVER_PID saved_base=$BASE saved_kind=$KIND port
    port=$(free_port)
    "$TOOLS" bare-axum "127.0.0.1:$port" >/dev/null 2>&1 &
    SERVER_PID=$! BASE="http://127.0.0.1:$port" KIND=bare
    until curl -fs "$BASE/" >/dev/null 2>&1; do sleep 0.05; done
    cpu_scenario "a bare axum route (reference)" /
    kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=$saved_pid BASE=$saved_base KIND=$saved_kind
}

# refresh_tokens: CHAINS fresh sessions of `bench`, one refresh token a line for refresh.lua.
refresh_tokens() {
    : >"$WORK/refresh_tokens"
    for _ in $(seq 1 "$CHAINS"); do
        post /v1/auth/login '{"username":"bench","password":"correct horse battery staple"}' | json_field refresh_token >>"$WORK/refresh_tokens"
        echo >>"$WORK/refresh_tokens"
    done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# bench_store LABEL URL KIND: KIND sqlite runs every scenario, the durability comparison
# and the flood; KIND postgres runs the key scenarios.
bench_store() {
    local label=$1 url=$2 kind=$3
    echo "== $label: seeding $SEED_USERS users through the store..." >&2
    local t0; t0=$(now_ms)
    "$TOOLS" seed-users "$url" "$SEED_USERS" >&2
    local seed_ms=$(( $(now_ms) - t0 ))
    if [ "$kind" = postgres ]; then
        # What autovacuum would do a little later: statistics and the visibility map that
        # lets the deep page's OFFSET walk be an index-only scan.
        psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'VACUUM ANALYZE' >&2
    fi
    start_server "$url"
    local startup_ms=$STARTUP_MS
    sleep 1
    local idle_kib; idle_kib=$(rss_kib "$SERVER_PID")
    post /v1/auth/register '{"username":"bench","password":"correct horse battery staple"}' >/dev/null
    ACCESS=$(post /v1/auth/login '{"username":"bench","password":"correct horse battery staple"}' | json_field access_token)
    ADMIN=$(post /v1/auth/login '{"username":"bench-admin","password":"correct horse battery staple"}' | json_field access_token)
    refresh_tokens
    for i in $(seq 1 20); do post /v1/templates "{\"name\":\"seed-$i\",\"content\":\"hello\"}" "$ACCESS" >/dev/null; done
    write_scripts
    ROWS=() CPU_ROWS=() KIND=$kind
    echo "== $label: CPU per request, $RUNS runs of ${DURATION}s each..." >&2
    cpu_scenario "GET /health" /health
    cpu_scenario "GET /v1/auth/me" /v1/auth/me "$ACCESS"
    # The same with an active org in the token (the issue: within 10% of without).
    local org_id; org_id=$(post /v1/orgs '{"slug":"bench-org","name":"Bench"}' "$ADMIN" | json_field id)
    ORG_ACCESS=$(curl -fs -X PUT "$BASE/v1/auth/session/org" -H 'content-type: application/json' -H "authorization: Bearer $ADMIN" \
        -d "{\"org_id\":\"$org_id\"}" | json_field access_token)
    cpu_scenario "GET /v1/auth/me with an org" /v1/auth/me "$ORG_ACCESS"
    cpu_scenario "GET /.well-known/jwks.json" /.well-known/jwks.json
    cpu_scenario "an unmatched route (404)" /no/such/route
    local unmatched_cpu=$LAST_CPU_MEDIAN
    if [ "$kind" = sqlite ]; then
        bare_axum_scenario
        CPU_NOTE="an unmatched route costs $unmatched_cpu µs, a bare axum route $LAST_CPU_MEDIAN µs beside it: the middleware \
(request id, tracing, metrics, limits, headers) is $(ratio "$unmatched_cpu" "$LAST_CPU_MEDIAN") times a bare route"
    else
        CPU_NOTE=
    fi
    if [ "$ONLY_CPU" = 1 ]; then
        stop_server
        print_cpu_table "$label"
        return
    fi
    echo "== $label: scenarios, ${DURATION}s each..." >&2
    load "GET /health" /health "$CONNECTIONS"; local health_rps=$LAST_RPS
    load "GET /v1/auth/me" /v1/auth/me "$CONNECTIONS" "" "$ACCESS"; local me_rps=$LAST_RPS
    load "POST /v1/auth/login" /v1/auth/login "$CONNECTIONS" "$WORK/login.lua"; local login_rps=$LAST_RPS
    if [ "$kind" = sqlite ]; then
        load "POST /v1/auth/refresh (FULL)" /v1/auth/refresh "$CHAINS" "$WORK/refresh.lua" "" "$CHAINS"; local full_rps=$LAST_RPS
        load "POST /v1/auth/register" /v1/auth/register "$CONNECTIONS" "$WORK/register.lua"
    else
        load "POST /v1/auth/refresh" /v1/auth/refresh "$CHAINS" "$WORK/refresh.lua" "" "$CHAINS"
    fi
    load "GET /v1/templates" /v1/templates "$CONNECTIONS" "" "$ACCESS"
    load "POST /v1/templates" /v1/templates "$CONNECTIONS" "$WORK/templates_post.lua"
    load "GET /v1/users page 1" "/v1/users?page=1&per_page=20" "$CONNECTIONS" "" "$ADMIN"
    load "GET /v1/users page 5000" "/v1/users?page=5000&per_page=20" "$CONNECTIONS" "" "$ADMIN"
    stop_server

    local flood_p99="-" flood_mib=0 normal_rps=0
    if [ "$kind" = sqlite ]; then
        # The same database and refresh scenario with synchronous=NORMAL, right after FULL:
        # the price of an fsync per commit, side by side.
        start_server "$url" GATEHOUSE_SQLITE_SYNCHRONOUS=normal
        refresh_tokens
        load "POST /v1/auth/refresh (NORMAL)" /v1/auth/refresh "$CHAINS" "$WORK/refresh.lua" "" "$CHAINS"; normal_rps=$LAST_RPS
        stop_server
        # The flood: 500 concurrent logins while /health is measured beside them, on a freshly
        # started server, so that its memory is the flood's and not what earlier scenarios left.
        start_server "$url"
        local flood_peak="$WORK/flood_peak"; echo 0 >"$flood_peak"
        wrk -t 2 -c 500 -d "${DURATION}s" --timeout 30s -s "$WORK/login.lua" "$BASE/v1/auth/login" >"$WORK/flood.out" 2>&1 &
        local flood=$!
        ( peak=0; while kill -0 "$flood" 2>/dev/null; do r=$(rss_kib "$SERVER_PID"); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$flood_peak"; sleep 0.05; done ) &
        local sampler=$!
        sleep 1
        wrk -t 1 -c 4 -d "$(( DURATION - 2 > 1 ? DURATION - 2 : 1 ))s" --latency "$BASE/health" >"$WORK/flood_health.out" 2>&1 || true
        wait "$flood" 2>/dev/null || true; kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
        flood_p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/flood_health.out")")
        flood_mib=$(( $(cat "$flood_peak") / 1024 ))
        stop_server
    fi

    local cores; cores=$(nproc)
    local bound; bound=$(awk -v c="$cores" -v h="$HASH_MS" 'BEGIN {printf "%.0f", c * 1000 / h}')
    echo
    echo "### $label ($MODE mode, ${DURATION}s a scenario, $CONNECTIONS connections, $cores cores, $SEED_USERS seeded users)"
    echo
    echo "| scenario                       | req/s     | CPU µs/req | p50 ms    | p99 ms    | peak MiB | non-2xx |"
    echo "|--------------------------------|-----------|------------|-----------|-----------|----------|---------|"
    printf '%s\n' "${ROWS[@]}"
    print_cpu_table "$label"
    echo
    echo "| figure | value |"
    echo "|---|---|"
    echo "| argon2id hash (m=19 MiB, t=2, p=1), median of 20 | ${HASH_MS} ms |"
    echo "| argon2 bound (cores / hash time) | ${bound} logins/s |"
    echo "| me / health | $(ratio "$me_rps" "$health_rps") |"
    echo "| login / argon2 bound | $(ratio "$login_rps" "$bound") |"
    if [ "$kind" = sqlite ]; then
        echo "| refresh NORMAL / refresh FULL | $(ratio "$normal_rps" "$full_rps") |"
        echo "| /health p99 during 500 concurrent logins | ${flood_p99} ms |"
        echo "| peak memory during 500 concurrent logins | ${flood_mib} MiB (limit $(( cores * 20 + 40 )) MiB) |"
    fi
    echo "| idle memory after start | $(( idle_kib / 1024 )) MiB |"
    echo "| start-up to a healthy /health | ${startup_ms} ms |"
    echo "| seeding $SEED_USERS users through the store | ${seed_ms} ms |"
}

# print_cpu_table LABEL: the CPU-per-request scenarios.
print_cpu_table() {
    local what="server process"; [ "$KIND" = postgres ] && what="server process and PostgreSQL cluster"
    echo
    echo "#### $1: CPU per request ($what, user+system), wrk -t1 -c32, median of $RUNS runs"
    echo
    echo "| scenario                       | CPU µs/req | req/s     | CPU µs/req of each run   |"
    echo "|--------------------------------|------------|-----------|--------------------------|"
    printf '%s\n' "${CPU_ROWS[@]}"
    if [ -n "${CPU_NOTE:-}" ]; then echo; echo "$CPU_NOTE."; fi
}

HASH_MS=$("$TOOLS" hash-ms 20)
bench_store "SQLite" "sqlite://$WORK/bench.db" sqlite
PG_BIN=$(pg_bindir)
if [ -n "$PG_BIN" ]; then
    pg_start "$PG_BIN"
    bench_store "PostgreSQL $("$PG_BIN/pg_ctl" --version | awk '{print $3}')" "$PG_URL" postgres
    pg_stop
else
    echo
    echo "PostgreSQL: no server binaries found (set GATEHOUSE_PG_BINDIR); not measured."
fi
