#!/usr/bin/env bash
# Stops whatever deploy/local/demo.sh left running: the hit counter, slotproxy (their pidfiles in
# .run/demo) and the local cluster (deploy/local/cluster.sh stop). Safe to run any time.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
# shellcheck source=deploy/local/lib.sh
source "$REPO_ROOT/deploy/local/lib.sh"
readonly RUN_DIR="$REPO_ROOT/.run/demo"

stopped=()
if pid=$(pidfile_pid "$RUN_DIR/app.pid" hit_counter.py); then
  stop_pid "$pid" hit_counter 5 && stopped+=("hit_counter (pid $pid)")
fi
if pid=$(pidfile_pid "$RUN_DIR/proxy.pid" slotproxy); then
  stop_pid "$pid" slotproxy 15 && stopped+=("slotproxy (pid $pid)")
fi
rm -f "$RUN_DIR/app.pid" "$RUN_DIR/proxy.pid"
(( ${#stopped[@]} == 0 )) || echo "stop.sh: stopped ${stopped[*]}"
"$REPO_ROOT/deploy/local/cluster.sh" stop "$@"
