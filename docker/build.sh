#!/usr/bin/env bash
# Builds the slotproxy image with podman on a machine without a registry (Debian 12):
# installs podman/runc/debootstrap if missing, makes the debian:bookworm-slim base image from
# Debian's packages once (debootstrap), then builds docker/Dockerfile as slotproxy:dev and checks
# that the image runs (`--version`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/deploy/setup.sh" podman runc debootstrap >&2
mkdir -p "$root/build"
conf="$root/build/containers.conf"
cat >"$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$conf"
base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base"; then
  mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
  tar -C "$rootfs" -c . | podman import - "$base" >&2
fi
podman build --isolation=chroot --pull=never -f "$root/docker/Dockerfile" -t slotproxy:dev "$root"
podman run --rm --network=host slotproxy:dev --version
