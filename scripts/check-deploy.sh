#!/usr/bin/env bash
# Checks the systemd unit (deploy/systemd/gatehouse.service): `systemd-analyze verify`
# must print nothing (it exits 0 even on unknown keys and bad values), and `systemd-analyze
# security` must rate its exposure at most 2.0 (the threshold counts tenths).
#   usage: scripts/check-deploy.sh [BINARY]   (default: target/debug/gatehouse)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/gatehouse}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# verify checks that ExecStart's program exists: point a copy of the unit at this build.
sed "s|/usr/local/bin/gatehouse|$binary|g" deploy/systemd/gatehouse.service > "$work/gatehouse.service"
if ! out="$(systemd-analyze verify "$work/gatehouse.service" 2>&1)" || [ -n "$out" ]; then
    printf '%s\n' "$out"
    echo "systemd-analyze verify found fault with deploy/systemd/gatehouse.service"
    exit 1
fi
echo "ok: systemd-analyze verify"
if ! out="$(systemd-analyze security --offline=yes --threshold=20 "$work/gatehouse.service" 2>&1)"; then
    printf '%s\n' "$out"
    echo "deploy/systemd/gatehouse.service is exposed above 2.0"
    exit 1
fi
printf '%s\n' "$out" | tail -n 1
