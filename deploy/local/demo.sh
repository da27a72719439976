#!/usr/bin/env bash
# The local demo, from any directory:
#   1. deploy/setup.sh (Debian packages; stops the system redis on 127.0.0.1:6379)
#   2. release build of slotproxy (cmake --preset release)
#   3. a 6-node Redis Cluster on 127.0.1.1-6:6379 (deploy/local/cluster.sh)
#   4. slotproxy on 127.0.0.1:6379 (admin on 127.0.0.1:9379), seeded with the 6 nodes
#   5. the hit counter app on 127.0.0.1:8080, talking to slotproxy as to one plain Redis
# then curls the app 3 times and stays in the foreground until Ctrl-C / SIGTERM. On exit it
# stops everything it started. deploy/local/stop.sh cleans up if a demo was left running.
#
# Environment:
#   DEMO_ONESHOT=1     exit (and clean up) right after the 3 curls
#   DEMO_SKIP_BUILD=1  skip setup and build (use the binary as it is)
#   SLOTPROXY_BIN      binary to run (default <repo>/build/release/proxy/slotproxy)
# shellcheck disable=SC2317  # functions below run from traps and poll_until
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
# shellcheck source=deploy/local/lib.sh
source "$REPO_ROOT/deploy/local/lib.sh"

readonly RUN_DIR="$REPO_ROOT/.run/demo"
readonly CLUSTER=("$REPO_ROOT/deploy/local/cluster.sh")  # defaults: base 127.0.1, .run/cluster
readonly PROXY_BIN="${SLOTPROXY_BIN:-$REPO_ROOT/build/release/proxy/slotproxy}"
readonly PROXY_HOST=127.0.0.1 PROXY_PORT=6379 ADMIN_ADDR=127.0.0.1:9379
readonly APP_HOST=127.0.0.1 APP_PORT=8080
readonly SEEDS="127.0.1.1:6379,127.0.1.2:6379,127.0.1.3:6379,127.0.1.4:6379,127.0.1.5:6379,127.0.1.6:6379"

say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }

app_pid="" proxy_pid="" started_cluster=0 cleaned=0
cleanup() {
  local rc=$?
  (( cleaned )) && return
  cleaned=1
  trap '' INT TERM  # a second Ctrl-C must not interrupt the cleanup
  [[ -n $app_pid ]] && stop_pid "$app_pid" "hit_counter" 5
  [[ -n $proxy_pid ]] && stop_pid "$proxy_pid" "slotproxy" 15
  rm -f "$RUN_DIR/app.pid" "$RUN_DIR/proxy.pid"
  if (( started_cluster )); then
    "${CLUSTER[@]}" stop >/dev/null || echo "demo: could not stop the cluster; run deploy/local/stop.sh" >&2
  fi
  if [[ -n $app_pid$proxy_pid ]] || (( started_cluster )); then
    say "stopped everything it started (logs in ${RUN_DIR#"$PWD"/})"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$RUN_DIR"

# 1 + 2: packages and build.
if [[ ${DEMO_SKIP_BUILD:-0} != 1 ]]; then
  "$REPO_ROOT/deploy/setup.sh" curl
  say "building the release build (log: $RUN_DIR/build.log)"
  if ! (cd "$REPO_ROOT" && cmake --preset release &&
        cmake --build --preset release -j"$(nproc)" --target slotproxy) >"$RUN_DIR/build.log" 2>&1; then
    tail -n 30 "$RUN_DIR/build.log" >&2
    die "build failed; full log in $RUN_DIR/build.log"
  fi
fi
[[ -x $PROXY_BIN ]] || die "no slotproxy binary at $PROXY_BIN"
for cmd in redis-server redis-cli curl python3; do
  command -v "$cmd" >/dev/null || die "$cmd not found (run deploy/setup.sh curl)"
done

# Nothing may already listen where the demo serves: a stray redis on 6379 would answer our PING.
for addr in "$PROXY_HOST:$PROXY_PORT" "$ADMIN_ADDR" "$APP_HOST:$APP_PORT"; do
  if port_in_use "${addr%:*}" "${addr##*:}"; then
    die "something already listens on $addr; stop it first (a demo left running: deploy/local/stop.sh)"
  fi
done

# 3: the cluster. Stopped at exit only if this run started it.
if ! "${CLUSTER[@]}" status >/dev/null 2>&1; then
  started_cluster=1
fi
"${CLUSTER[@]}" start | sed 's/^/demo: /' || die "the cluster did not start"

# 4: slotproxy.
say "starting $PROXY_BIN on $PROXY_HOST:$PROXY_PORT (log: $RUN_DIR/slotproxy.log)"
# setsid: its own session, so a Ctrl-C reaches only this script, which then stops things in order.
# env -u: slotproxy rejects SLOTPROXY_* variables it does not know, and SLOTPROXY_BIN is ours.
env -u SLOTPROXY_BIN setsid "$PROXY_BIN" --listen "$PROXY_HOST:$PROXY_PORT" --seeds "$SEEDS" --admin "$ADMIN_ADDR" \
  >"$RUN_DIR/slotproxy.log" 2>&1 </dev/null &
proxy_pid=$!
echo "$proxy_pid" >"$RUN_DIR/proxy.pid"
proxy_ready() {
  pid_alive "$proxy_pid" || { tail -n 20 "$RUN_DIR/slotproxy.log" >&2; die "slotproxy exited; log above"; }
  [[ $(redis-cli -h "$PROXY_HOST" -p "$PROXY_PORT" ping 2>/dev/null) == PONG ]]
}
poll_until "slotproxy to answer PING on $PROXY_HOST:$PROXY_PORT" 30 proxy_ready || die "slotproxy not ready"
say "slotproxy answers PING"

# 5: the app.
REDIS_ADDR="$PROXY_HOST:$PROXY_PORT" LISTEN_ADDR="$APP_HOST:$APP_PORT" \
  setsid python3 "$REPO_ROOT/deploy/local/hit_counter.py" >"$RUN_DIR/hit_counter.log" 2>&1 </dev/null &
app_pid=$!
echo "$app_pid" >"$RUN_DIR/app.pid"
app_ready() {
  pid_alive "$app_pid" || { tail -n 20 "$RUN_DIR/hit_counter.log" >&2; die "hit_counter exited; log above"; }
  curl -sf -o /dev/null "http://$APP_HOST:$APP_PORT/healthz"
}
poll_until "hit_counter on $APP_HOST:$APP_PORT" 15 app_ready || die "hit_counter not ready"

for _ in 1 2 3; do
  say "curl http://$APP_HOST:$APP_PORT/ -> $(curl -sS "http://$APP_HOST:$APP_PORT/")"
done

if [[ ${DEMO_ONESHOT:-0} == 1 ]]; then
  exit 0
fi

cat <<EOF

The demo is running:
  curl http://$APP_HOST:$APP_PORT/          # the hit counter (one INCR per request, through slotproxy)
  redis-cli -p $PROXY_PORT                  # slotproxy: the whole cluster as one Redis
  curl http://$ADMIN_ADDR/metrics   # slotproxy's metrics
  deploy/local/cluster.sh status      # the cluster behind it
Ctrl-C stops everything.
EOF

# Foreground until a signal, or until the proxy or the app dies on its own.
set +e
wait -n "$proxy_pid" "$app_pid"
rc=$?
set -e
(( rc > 128 )) && exit "$rc"
pid_alive "$proxy_pid" || die "slotproxy exited (status $rc); see $RUN_DIR/slotproxy.log"
die "hit_counter exited (status $rc); see $RUN_DIR/hit_counter.log"
