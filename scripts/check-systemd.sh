#!/usr/bin/env bash
# Starts deploy/systemd/gatehouse.service for real, under systemd as PID 1 in a podman
# container made from a Debian root (mmdebstrap; about 3 minutes the first time, then
# cached in target/): the service starts as its dynamic user, answers /health, takes a
# registration and a login, and `gatehouse user list` run through systemd-run as the same
# user (the way docs/production.md gives) sees the user. Not part of .ci/run (its time);
# run it after changing the unit.
#   usage: scripts/check-systemd.sh [BINARY]   (default: target/debug/gatehouse)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-${CARGO_TARGET_DIR:-target}/debug/gatehouse}"
root_tar="${CARGO_TARGET_DIR:-target}/debian-systemd.tar"
base=localhost/gatehouse-debian-systemd
tag="localhost/gatehouse-systemd-check:$$"
name="gatehouse-systemd-check-$$"
context="$(mktemp -d)"
cleanup() {
    podman rm -f "$name" >/dev/null 2>&1 || true
    podman rmi -f "$tag" >/dev/null 2>&1 || true
    rm -rf "$context"
}
trap cleanup EXIT

if ! podman image exists "$base"; then
    if [ ! -f "$root_tar" ]; then
        command -v mmdebstrap >/dev/null || { echo "mmdebstrap is needed: apt-get install mmdebstrap"; exit 1; }
        mmdebstrap --quiet --variant=minbase --include=systemd,systemd-sysv,dbus,curl bookworm "$root_tar"
    fi
    podman import --quiet "$root_tar" "$base" >/dev/null
fi
cp "$binary" "$context/gatehouse"
cp deploy/systemd/gatehouse.service "$context/"
echo 'GATEHOUSE_PUBLIC_URL=http://localhost:8080' > "$context/gatehouse.env"
cat > "$context/Containerfile" <<INNER
FROM $base
COPY gatehouse /usr/local/bin/gatehouse
COPY gatehouse.service /etc/systemd/system/gatehouse.service
COPY gatehouse.env /etc/gatehouse/gatehouse.env
RUN systemctl enable gatehouse
CMD ["/sbin/init"]
INNER
podman build --quiet --runtime runc --format docker -t "$tag" "$context" >/dev/null
podman run -d --name "$name" --runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
    --systemd=always --cap-add SYS_ADMIN "$tag" >/dev/null
inside() { podman exec "$name" "$@"; }
for _ in $(seq 1 60); do
    if inside curl -fsS -m 2 http://127.0.0.1:8080/health >/dev/null 2>&1; then break; fi
    sleep 0.5
done
if ! inside curl -fsS -m 2 http://127.0.0.1:8080/health >/dev/null 2>&1; then
    inside journalctl -u gatehouse --no-pager -n 30 || true
    echo "the service did not answer /health"
    exit 1
fi
echo "ok: started under systemd, /health answers"
body='{"username":"systemd-check","password":"correct horse battery staple"}'
for route in register login; do
    code="$(inside curl -sS -m 10 -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$body" "http://127.0.0.1:8080/v1/auth/$route")"
    case "$route:$code" in register:201 | login:200) echo "ok: $route" ;; *) echo "$route answered $code"; exit 1 ;; esac
done
# Captured first: under pipefail, `grep -q` leaving early would fail the writer with SIGPIPE.
listed="$(inside systemd-run --quiet --pipe --wait --collect -p DynamicUser=yes -p User=gatehouse -p StateDirectory=gatehouse \
    -p StateDirectoryMode=0700 -p WorkingDirectory=/var/lib/gatehouse -p EnvironmentFile=/etc/gatehouse/gatehouse.env \
    /usr/local/bin/gatehouse user list 2>&1)" || { echo "user list through systemd-run failed: $listed"; exit 1; }
grep -qw 'systemd-check' <<<"$listed" || { echo "user list through systemd-run lacks systemd-check: $listed"; exit 1; }
echo "ok: gatehouse user list as the service's user"
echo "systemd check passed"
