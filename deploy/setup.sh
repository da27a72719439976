#!/usr/bin/env bash
# Installs what slotproxy needs to build, test and run its local demo on Debian 12. Idempotent:
# asks dpkg which packages are missing and apt-installs only those (apt-get update only then).
#
#   deploy/setup.sh [EXTRA_PACKAGE ...]
#
# Debian's redis-server package starts a system redis on 127.0.0.1:6379 (where slotproxy
# listens); this script stops it and keeps it from starting at boot. Our clusters run their own
# redis-server processes (deploy/local/cluster.sh, the test fixture).
# Prints one line saying what it did.
set -euo pipefail

readonly PACKAGES=(
  build-essential cmake pkg-config g++ clang clang-format clang-tidy libclang-rt-14-dev
  libuv1-dev node-llhttp libxxhash-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libhiredis-dev
  redis-server redis-tools python3 procps iproute2 curl
  prometheus
)

die() { echo "setup.sh: $*" >&2; exit 1; }

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || die "not root and sudo is not installed"
  sudo_cmd=(sudo)
fi
as_root() { "${sudo_cmd[@]}" "$@"; }

command -v dpkg-query >/dev/null || die "dpkg-query not found: this script is for Debian 12"

did=()

# --- packages -------------------------------------------------------------------------------
missing=()
for pkg in "${PACKAGES[@]}" "$@"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
if (( ${#missing[@]} > 0 )); then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 ||
    die "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
  did+=("installed ${missing[*]}")
fi

# --- the package's own redis on 127.0.0.1:6379 ----------------------------------------------
# Pids of redis-server processes that belong to the Debian service: the one in its pidfile, and
# any redis-server run by the 'redis' user listening on port 6379 (the package's config).
package_redis_pids() {
  local pid pids=()
  if [[ -r /run/redis/redis-server.pid ]]; then
    pid=$(<"/run/redis/redis-server.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && is_package_redis "$pid"; then pids+=("$pid"); fi
  fi
  if command -v ss >/dev/null; then
    for pid in $(ss -ltnpH 'sport = :6379' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
      if is_package_redis "$pid" && [[ " ${pids[*]} " != *" $pid "* ]]; then pids+=("$pid"); fi
    done
  fi
  echo "${pids[@]}"
}
is_package_redis() {
  local pid=$1
  [[ -r /proc/$pid/cmdline ]] || return 1
  [[ $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) != Z ]] || return 1
  # Debian's /usr/bin/redis-server is a symlink to redis-check-rdb: look at the argv, not exe.
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *redis-server* ]] || return 1
  [[ $(ps -o user= -p "$pid" 2>/dev/null | tr -d ' ') == redis ]]
}

if dpkg-query -W -f='${Status}' redis-server 2>/dev/null | grep -q "install ok installed"; then
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    if systemctl is-enabled --quiet redis-server 2>/dev/null || systemctl is-active --quiet redis-server 2>/dev/null; then
      as_root systemctl disable --now --quiet redis-server >&2
      did+=("disabled and stopped the system redis-server (systemd)")
    fi
  else
    if [[ -n $(package_redis_pids) ]] && command -v service >/dev/null && [[ -x /etc/init.d/redis-server ]]; then
      as_root service redis-server stop >/dev/null 2>&1 || true
      [[ -z $(package_redis_pids) ]] && did+=("stopped the system redis-server (service)")
    fi
    if compgen -G '/etc/rc[2345].d/S*redis-server' >/dev/null && command -v update-rc.d >/dev/null; then
      as_root update-rc.d redis-server disable >/dev/null 2>&1 || true
      did+=("disabled its boot start (update-rc.d)")
    fi
  fi
  # Whatever is still left of the package's redis (no service manager, or it failed): kill it.
  left=$(package_redis_pids)
  if [[ -n $left ]]; then
    # shellcheck disable=SC2086  # a list of pids
    as_root kill -TERM $left 2>/dev/null || true
    for _ in $(seq 1 100); do
      [[ -z $(package_redis_pids) ]] && break
      sleep 0.1
    done
    [[ -z $(package_redis_pids) ]] || die "the system redis-server (pids $left) did not exit"
    did+=("killed the system redis-server (pids $left)")
  fi
fi

if (( ${#did[@]} == 0 )); then
  echo "setup.sh: nothing to do: all ${#PACKAGES[@]} packages${*:+ and $*} installed, no system redis-server running"
else
  (IFS=';'; echo "setup.sh: ${did[*]}" | sed 's/;/; /g')
fi
