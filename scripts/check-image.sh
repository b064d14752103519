#!/usr/bin/env bash
# Builds the container image (deploy/container) from a binary cargo built, runs it with
# podman and checks it through the published port: /health, the image's HEALTHCHECK
# (`gatehouse healthcheck`), a registration and a login, and the user still there after
# the container is replaced on the same /data volume.
#   usage: scripts/check-image.sh [BINARY]   (default: target/debug/gatehouse)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-${CARGO_TARGET_DIR:-target}/debug/gatehouse}"
tag="localhost/gatehouse-check:$$"
name="gatehouse-check-$$"
volume="gatehouse-check-$$"
context="$(mktemp -d)"
port="${GATEHOUSE_CHECK_PORT:-18480}"
base="http://127.0.0.1:$port"
# crun refuses mixed cgroups on some hosts, and an unprivileged root may not raise limits.
run_flags=(--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768)

cleanup() {
    podman rm -f "$name" >/dev/null 2>&1 || true
    podman volume rm -f "$volume" >/dev/null 2>&1 || true
    podman rmi -f "$tag" >/dev/null 2>&1 || true
    rm -rf "$context"
}
trap cleanup EXIT

deploy/container/stage.sh "$binary" "$context"
podman build --quiet --runtime runc --format docker -t "$tag" -f deploy/container/Dockerfile "$context" >/dev/null
echo "image $tag: $(podman image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
[ "$(podman image inspect --format '{{.Config.User}}' "$tag")" = "10001:10001" ] || { echo "the image must run as 10001"; exit 1; }
podman volume create "$volume" >/dev/null

start() {
    # podman cannot reach systemd here to time health checks; `healthcheck run` below runs one.
    podman run -d --name "$name" "${run_flags[@]}" -p "127.0.0.1:$port:8080" -v "$volume:/data" \
        -e GATEHOUSE_PUBLIC_URL="http://localhost:$port" -e GATEHOUSE_LOG=warn "$tag" 2>/dev/null >/dev/null
    for _ in $(seq 1 60); do
        if curl -fsS -m 2 "$base/health" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    podman logs "$name" || true
    echo "the container did not answer /health"
    exit 1
}

post() { curl -sS -m 10 -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$2" "$base$1"; }
expect() { if [ "$2" != "$3" ]; then echo "$1: expected $3, got $2"; podman logs "$name" || true; exit 1; fi; echo "ok: $1"; }

start
expect "/health" "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$base/health")" 200
podman healthcheck run "$name" 2>/dev/null || { echo "HEALTHCHECK (gatehouse healthcheck) failed"; exit 1; }
echo "ok: HEALTHCHECK"
credentials='{"username":"image-check","password":"correct horse battery staple"}'
expect "registration" "$(post /v1/auth/register "$credentials")" 201
expect "login" "$(post /v1/auth/login "$credentials")" 200
# Captured first: `grep -q` stops reading at the match, and under pipefail the writer's
# SIGPIPE would fail the check on a fast machine.
listed="$(podman exec "$name" gatehouse user list 2>&1)" || { echo "gatehouse user list in the container failed: $listed"; exit 1; }
grep -qw 'image-check' <<<"$listed" || { echo "gatehouse user list in the container lacks image-check: $listed"; exit 1; }
echo "ok: gatehouse user list in the container"

# A new container on the same volume: the user registered above is still there.
podman rm -f "$name" >/dev/null 2>&1
start
expect "login after the container was replaced" "$(post /v1/auth/login "$credentials")" 200
expect "the same name registered again" "$(post /v1/auth/register "$credentials")" 409
echo "image check passed"
