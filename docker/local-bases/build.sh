#!/bin/sh
# Build local stand-ins for the public base images on a host that cannot pull them, then print the
# variables that point docker/compose.yaml at them (append them to docker/.env):
#   sudo docker/local-bases/build.sh >> docker/.env
# Needs root (debootstrap), a running Docker engine and Debian's mirror (the one apt already uses).
# Idempotent: the root file system is made once; later runs reuse the image and Docker's cache.
set -eu
cd "$(dirname "$0")/../.."
DEBIAN_IMAGE=rnnflow-local/debian:bookworm
say() { echo "local-bases: $*" >&2; }

if ! docker image inspect "$DEBIAN_IMAGE" > /dev/null 2>&1; then
    mirror=$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
             | head -n 1 | awk '{print $2}')
    mirror=${mirror:-http://deb.debian.org/debian}
    rootfs=$(mktemp -d /var/tmp/rnnflow-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    say "debootstrap bookworm from $mirror"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" > /dev/null
    # The host's own CAs (a TLS-inspecting proxy's, say): without them pip and uv cannot reach PyPI.
    if ls /usr/local/share/ca-certificates/*.crt > /dev/null 2>&1; then
        cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
        chroot "$rootfs" update-ca-certificates > /dev/null
    fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import - "$DEBIAN_IMAGE" > /dev/null
    say "imported $DEBIAN_IMAGE"
fi
for target in python postgres redis tensorflow; do
    say "building rnnflow-local/$target:bookworm"
    DOCKER_BUILDKIT=0 docker build --quiet --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" \
        -f docker/local-bases/Dockerfile --target "$target" -t "rnnflow-local/$target:bookworm" . > /dev/null
done
cat <<VARS
PYTHON_IMAGE=rnnflow-local/python:bookworm
TENSORFLOW_GPU_IMAGE=rnnflow-local/tensorflow:bookworm
POSTGRES_IMAGE=rnnflow-local/postgres:bookworm
REDIS_IMAGE=rnnflow-local/redis:bookworm
VARS
