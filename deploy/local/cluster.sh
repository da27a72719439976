#!/usr/bin/env bash
# A local 6-node Redis Cluster (3 primaries + 3 replicas), one loopback address per node like
# pods: node i listens on <base>.i:6379 and also connects out from that address
# (bind-source-addr), so CLUSTER NODES shows 127.0.X.1 ... 127.0.X.6 as a real cluster shows
# pod IPs. See shared REDIS-NOTES for why.
#
#   cluster.sh start|stop|status [--base 127.0.X] [--dir DIR] [--node-timeout MS] [--timeout S]
#
# start   starts the nodes that are not running, creates the cluster if it is not formed yet, then
#         polls until every node says cluster_state:ok and every replica says
#         master_link_status:up. Idempotent: running it on a running cluster just re-checks.
# stop    stops exactly the processes that `start` started (their pidfiles) and waits for them to
#         exit. The node dirs (nodes.conf) stay: the next `start` brings the same cluster back.
# status  prints CLUSTER NODES (and which nodes are not running).
#
# Defaults: --base 127.0.1, --dir <repo>/.run/cluster, --node-timeout 5000, --timeout 60.
# Exit codes: 0 ok, 1 failure (message on stderr), 2 usage.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
# shellcheck source=deploy/local/lib.sh
source "$REPO_ROOT/deploy/local/lib.sh"
readonly NODES=6
readonly PORT=6379

base=127.0.1
dir="$REPO_ROOT/.run/cluster"
node_timeout=5000
timeout_s=60

usage() {
  sed -n '6,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "cluster.sh: $*" >&2; exit 1; }

cmd=""
while [[ $# -gt 0 ]]; do  # options may come before or after the command
  case $1 in
    start|stop|status) [[ -z $cmd ]] || usage; cmd=$1; shift ;;
    --base) base=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --node-timeout) node_timeout=${2:?}; shift 2 ;;
    --timeout) timeout_s=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "cluster.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ -n $cmd ]] || usage
[[ $base =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "--base must look like 127.0.X (loopback only), got '$base'"
[[ $node_timeout =~ ^[0-9]+$ ]] || die "--node-timeout must be a number of ms, got '$node_timeout'"
[[ $timeout_s =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds, got '$timeout_s'"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

ip_of() { echo "$base.$1"; }
node_dir() { echo "$dir/node-$1"; }
pidfile_of() { echo "$dir/node-$1/redis.pid"; }
cli() { local i=$1; shift; redis-cli -h "$(ip_of "$i")" -p "$PORT" "$@"; }

# Prints the pid of node i if the process from its pidfile is alive and is a redis-server.
running_pid() { pidfile_pid "$(pidfile_of "$1")" redis-server; }

write_conf() {
  local i=$1 d; d=$(node_dir "$i")
  mkdir -p "$d"
  cat >"$d/redis.conf" <<EOF
# Written by deploy/local/cluster.sh; rewritten on every start.
port $PORT
bind $(ip_of "$i")
bind-source-addr $(ip_of "$i")
protected-mode no
cluster-enabled yes
cluster-config-file "$d/nodes.conf"
cluster-node-timeout $node_timeout
dir "$d"
daemonize yes
pidfile "$d/redis.pid"
logfile "$d/redis.log"
save ""
appendonly no
repl-diskless-sync-delay 0
EOF
}

node_answers() { [[ $(cli "$1" ping 2>/dev/null) == PONG ]]; }

start_node() {
  local i=$1
  if running_pid "$i" >/dev/null; then
    return 0
  fi
  write_conf "$i"
  rm -f "$(pidfile_of "$i")"
  redis-server "$(node_dir "$i")/redis.conf" ||
    die "redis-server failed to start node $i; see $(node_dir "$i")/redis.log"
  started+=("$i")
}

all_nodes_answer() {
  local i
  for i in $(seq 1 $NODES); do
    if ! running_pid "$i" >/dev/null; then
      # Redis writes its pidfile only once it listens, a moment after redis-server returns. A
      # node still without one after a few seconds died at startup (address in use, bad config)
      # and will not come back: fail fast.
      if ((SECONDS - nodes_started_at < 5)); then
        return 1
      fi
      echo "cluster.sh: node $i ($(ip_of "$i"):$PORT) is not running; last log lines:" >&2
      tail -n 5 "$(node_dir "$i")/redis.log" >&2 2>/dev/null || true
      exit 1
    fi
    node_answers "$i" || return 1
  done
}

info_field() { # info_field NODE SECTION FIELD
  cli "$1" info "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"
}

cluster_field() { # cluster_field NODE FIELD
  cli "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

cluster_formed() {
  [[ $(cluster_field 1 cluster_slots_assigned) == 16384 && $(cluster_field 1 cluster_known_nodes) == "$NODES" ]]
}

cluster_fresh() {
  local i
  for i in $(seq 1 $NODES); do
    [[ $(cluster_field "$i" cluster_known_nodes) == 1 && $(cluster_field "$i" cluster_slots_assigned) == 0 ]] || return 1
  done
}

last_status=""
cluster_healthy() {
  local i role replicas=0
  for i in $(seq 1 $NODES); do
    if [[ $(cluster_field "$i" cluster_state) != ok ]]; then
      last_status="node $i ($(ip_of "$i")) cluster_state is not ok"; return 1
    fi
    if [[ $(cluster_field "$i" cluster_known_nodes) != "$NODES" ]]; then
      last_status="node $i ($(ip_of "$i")) does not know all $NODES nodes yet"; return 1
    fi
    # Every node must also see the replicas as replicas: a role change reaches the other nodes
    # by gossip, after the replica itself reports it (redis-benchmark --cluster trips on that).
    local seen
    seen=$(cli "$i" cluster nodes 2>/dev/null | awk '$3 ~ /(^|,)slave(,|$)/' | wc -l)
    if (( seen != NODES / 2 )); then
      last_status="node $i ($(ip_of "$i")) sees $seen replicas, not $((NODES / 2)), yet"; return 1
    fi
    role=$(info_field "$i" replication role)
    if [[ $role == slave ]]; then
      replicas=$((replicas + 1))
      if [[ $(info_field "$i" replication master_link_status) != up ]]; then
        last_status="replica $i ($(ip_of "$i")) master_link_status is not up"; return 1
      fi
    fi
  done
  if (( replicas != NODES / 2 )); then
    last_status="expected $((NODES / 2)) replicas, found $replicas"; return 1
  fi
}

do_start() {
  command -v redis-server >/dev/null || die "redis-server not found (run deploy/setup.sh)"
  command -v redis-cli >/dev/null || die "redis-cli not found (run deploy/setup.sh)"
  local ver
  ver=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
  [[ -n $ver && $ver -ge 7 ]] || die "redis-server 7.0 or newer is needed (bind-source-addr), found: $(redis-server --version)"

  started=()
  nodes_started_at=$SECONDS
  local i
  for i in $(seq 1 $NODES); do start_node "$i"; done
  poll_until "all $NODES nodes to answer PING" 20 all_nodes_answer

  if cluster_formed; then
    :
  elif cluster_fresh; then
    local addrs=()
    for i in $(seq 1 $NODES); do addrs+=("$(ip_of "$i"):$PORT"); done
    local out
    if ! out=$(redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes 2>&1); then
      echo "$out" >&2
      die "redis-cli --cluster create failed"
    fi
    echo "$out" >"$dir/create.log"
  else
    # Half-formed: e.g. a node's dir was removed by hand. Refuse rather than guess.
    die "the nodes in $dir are neither a formed cluster nor all fresh; run '$0 stop' and remove $dir"
  fi

  if ! poll_until "cluster_state:ok on every node and replicas in sync" "$timeout_s" cluster_healthy; then
    echo "cluster.sh: last check: $last_status" >&2
    exit 1
  fi
  local msg="cluster ok: $NODES nodes on $base.1-$NODES:$PORT (dir $dir)"
  (( ${#started[@]} > 0 )) && msg+=", started nodes ${started[*]}"
  echo "$msg"
}

do_stop() {
  local i pid pids=() stopped=()
  for i in $(seq 1 $NODES); do
    if pid=$(running_pid "$i"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); stopped+=("$i")
    fi
  done
  all_exited() {
    local p
    for p in "${pids[@]}"; do pid_gone "$p" || return 1; done
  }
  if ! poll_until "redis nodes to exit after SIGTERM" 15 all_exited; then
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    poll_until "redis nodes to exit after SIGKILL" 5 all_exited || die "could not stop pids ${pids[*]}"
  fi
  for i in "${stopped[@]}"; do rm -f "$(pidfile_of "$i")"; done
  if (( ${#stopped[@]} > 0 )); then
    echo "cluster stopped: nodes ${stopped[*]} ($base.x)"
  else
    echo "cluster not running ($base.x, dir $dir)"
  fi
}

do_status() {
  local i first="" down=()
  for i in $(seq 1 $NODES); do
    if running_pid "$i" >/dev/null && node_answers "$i"; then
      [[ -n $first ]] || first=$i
    else
      down+=("$(ip_of "$i")")
    fi
  done
  [[ -n $first ]] || { echo "cluster not running ($base.x, dir $dir)"; return 3; }
  cli "$first" cluster nodes
  (( ${#down[@]} == 0 )) || echo "not running: ${down[*]}"
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) usage ;;
esac
