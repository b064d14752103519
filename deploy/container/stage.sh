#!/usr/bin/env bash
# Fills the build context of deploy/container/Dockerfile from a gatehouse binary built on
# this machine: the binary (stripped), every shared library `ldd` says it loads (glibc's
# among them; the image runs the host's build unchanged), CA certificates for outbound
# TLS, and /etc/passwd naming the user 10001.
#   usage: deploy/container/stage.sh BINARY CONTEXT_DIR
set -euo pipefail
binary="$1"
context="$2"
root="$context/rootfs"
rm -rf "$context"
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$context/data/outbox"
chmod 1777 "$root/tmp"
cp "$binary" "$root/usr/local/bin/gatehouse"
strip "$root/usr/local/bin/gatehouse" 2>/dev/null || true
# `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and the loader's own line.
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u | while read -r lib; do
    cp --parents -L "$lib" "$root"
done
# Where the distribution keeps its CA bundle (Debian, then Fedora), under Debian's name.
for bundle in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
    if [ -f "$bundle" ]; then
        mkdir -p "$root/etc/ssl/certs"
        cp -L "$bundle" "$root/etc/ssl/certs/ca-certificates.crt"
        break
    fi
done
echo 'gatehouse:x:10001:10001:Gatehouse:/data:/nonexistent' > "$root/etc/passwd"
echo 'gatehouse:x:10001:' > "$root/etc/group"
echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
echo "staged $(du -sh "$root" | cut -f1) in $context"
