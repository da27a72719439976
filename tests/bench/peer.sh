#!/usr/bin/env bash
# slotproxy against a peer proxy measured on the same machine in the same run: twemproxy
# (Debian's nutcracker package: a widely deployed Redis proxy in C, one thread, epoll, pipelined).
# A benchmark, not a test: it prints numbers and judges nothing.
#
# CPU seconds per request depend on the machine (the same code measured 0.49 and 1.17 proxy
# CPU-s per 1M GETs at -c 50 -P 16 on two VMs), so a proxy's CPU figure says little unless a
# peer is measured beside it. twemproxy is not cluster-aware: it shards keys over standalone
# servers itself. So the two proxies get the same number of primaries doing the same work:
#   slotproxy   127.0.4.100:6379 in front of a 6-node cluster on 127.0.4.1-6 (3 primaries)
#   nutcracker  127.0.5.100:6379 in front of 3 standalone redis-servers on 127.0.5.1-3
#               (ketama over fnv1a_64; one connection per server, its default)
# then for ROUNDS rounds runs redis-benchmark (SET then GET, -r 100000 -d 64 --threads 1,
# -c 50 with -P 1 and -P 16), alternating the proxies, and reads each proxy's and its
# backends' CPU time (utime+stime in /proc/PID/stat) around every run. Prints medians. The
# cluster's replicas take part in SET (replication), so compare SET's Redis CPU with that in
# mind; GET is the like-for-like row.
#
# Environment: SLOTPROXY_BIN, ROUNDS=3, N_P1=1000000, N_P16=5000000, BENCH_DIR (default
# <repo>/build/bench-peer). Installs nutcracker with deploy/setup.sh if it is missing.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
# shellcheck source=deploy/local/lib.sh
source "$REPO_ROOT/deploy/local/lib.sh"

readonly PROXY_BIN="${SLOTPROXY_BIN:-$REPO_ROOT/build/release/proxy/slotproxy}"
readonly BENCH_DIR="${BENCH_DIR:-$REPO_ROOT/build/bench-peer}"
readonly ROUNDS="${ROUNDS:-3}" N_P1="${N_P1:-1000000}" N_P16="${N_P16:-5000000}"
readonly CBASE=127.0.4 SP_IP=127.0.4.100 TBASE=127.0.5 TW_IP=127.0.5.100 PORT=6379
readonly CLUSTER=("$REPO_ROOT/deploy/local/cluster.sh" --base "$CBASE" --dir "$BENCH_DIR/cluster")
readonly CONFIGS=("c50-P1|-c 50 -P 1|$N_P1" "c50-P16|-c 50 -P 16|$N_P16")

say() { echo "peer: $*" >&2; }
die() { echo "peer: $*" >&2; exit 1; }

for v in ROUNDS N_P1 N_P16; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ -x $PROXY_BIN ]] || die "no slotproxy binary at $PROXY_BIN: build it (cmake --preset release && cmake --build --preset release) or set SLOTPROXY_BIN"
command -v nutcracker >/dev/null || "$REPO_ROOT/deploy/setup.sh" nutcracker >&2
for cmd in nutcracker redis-server redis-cli redis-benchmark python3 getconf; do
  command -v "$cmd" >/dev/null || die "$cmd not found (run deploy/setup.sh nutcracker)"
done

rm -rf "$BENCH_DIR/standalone"
mkdir -p "$BENCH_DIR/standalone"
readonly RESULTS="$BENCH_DIR/results.tsv"

sp_pid="" tw_pid="" standalone_pids=()
cleanup() {
  local rc=$? pid
  trap '' INT TERM
  [[ -n $sp_pid ]] && stop_pid "$sp_pid" slotproxy 15
  [[ -n $tw_pid ]] && stop_pid "$tw_pid" nutcracker 15
  for pid in "${standalone_pids[@]}"; do stop_pid "$pid" redis-server 15; done
  "${CLUSTER[@]}" stop >/dev/null 2>&1 || say "could not stop the cluster: ${CLUSTER[*]} stop"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

answers() { [[ $(redis-cli -h "$1" -p "$PORT" ping 2>/dev/null) == PONG ]]; }

# --- backends and proxies ---------------------------------------------------------------------
for ip in "$SP_IP" "$TW_IP" "$TBASE.1" "$TBASE.2" "$TBASE.3"; do
  port_in_use "$ip" "$PORT" && die "$ip:$PORT is already in use"
done
say "starting the cluster on $CBASE.1-6:$PORT"
"${CLUSTER[@]}" start >&2 || die "the cluster did not start"
cluster_pids=()
for i in 1 2 3 4 5 6; do cluster_pids+=("$(<"$BENCH_DIR/cluster/node-$i/redis.pid")"); done

say "starting 3 standalone redis-servers on $TBASE.1-3:$PORT"
for i in 1 2 3; do
  d="$BENCH_DIR/standalone/node-$i"
  mkdir -p "$d"
  # The cluster nodes' settings (deploy/local/cluster.sh) without the cluster.
  setsid redis-server --port "$PORT" --bind "$TBASE.$i" --protected-mode no --dir "$d" \
    --save "" --appendonly no --logfile "$d/redis.log" </dev/null >/dev/null 2>&1 &
  standalone_pids+=($!)
done
for i in 1 2 3; do poll_until "redis-server on $TBASE.$i" 30 answers "$TBASE.$i" || die "no redis-server"; done

say "starting slotproxy on $SP_IP:$PORT and nutcracker on $TW_IP:$PORT"
env -u SLOTPROXY_BIN setsid "$PROXY_BIN" --listen "$SP_IP:$PORT" --seeds "$CBASE.1:$PORT,$CBASE.2:$PORT,$CBASE.3:$PORT" \
  --admin "$SP_IP:9379" >"$BENCH_DIR/slotproxy.log" 2>&1 </dev/null &
sp_pid=$!
cat >"$BENCH_DIR/nutcracker.yml" <<EOF
peer:
  listen: $TW_IP:$PORT
  redis: true
  hash: fnv1a_64
  distribution: ketama
  preconnect: true
  server_connections: 1
  auto_eject_hosts: false
  servers:
   - $TBASE.1:$PORT:1
   - $TBASE.2:$PORT:1
   - $TBASE.3:$PORT:1
EOF
setsid nutcracker -c "$BENCH_DIR/nutcracker.yml" -o "$BENCH_DIR/nutcracker.log" -a "$TW_IP" -s 22222 \
  </dev/null >/dev/null 2>&1 &
tw_pid=$!
poll_until "slotproxy" 30 answers "$SP_IP" || { tail -n 20 "$BENCH_DIR/slotproxy.log" >&2; die "slotproxy not ready"; }
# twemproxy answers no PING before 0.5; a GET through it reaches a server.
tw_ready() { redis-cli -h "$TW_IP" -p "$PORT" get peer:ready >/dev/null 2>&1; }
poll_until "nutcracker" 30 tw_ready || { tail -n 20 "$BENCH_DIR/nutcracker.log" >&2; die "nutcracker not ready"; }

# --- the runs ---------------------------------------------------------------------------------
# run_one ROUND CONFIG TARGET CMD FLAGS N: appends "round config target cmd rps p50 p99
# proxy_ticks backend_ticks" to $RESULTS.
run_one() {
  local round=$1 config=$2 target=$3 cmd=$4 flags=$5 n=$6 ip proxy backends p0 b0 out line
  if [[ $target == slotproxy ]]; then ip=$SP_IP proxy=$sp_pid backends=("${cluster_pids[@]}")
  else ip=$TW_IP proxy=$tw_pid backends=("${standalone_pids[@]}"); fi
  pid_alive "$proxy" || die "$target died"
  p0=$(cpu_ticks "$proxy") b0=$(cpu_ticks "${backends[@]}")
  # shellcheck disable=SC2086  # flags are words by design
  out=$(redis-benchmark -h "$ip" -p "$PORT" -t "$cmd" -r 100000 -d 64 -n "$n" $flags --threads 1 \
    --csv 2>"$BENCH_DIR/last-stderr.log") || true
  line=$(grep "^\"${cmd^^}\"," <<<"$out" | tail -n 1 | tr -d '"') || true
  [[ -n $line ]] || { tail -n 5 "$BENCH_DIR/last-stderr.log" >&2; die "round $round $config $target ${cmd^^}: no result"; }
  IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$line"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$config" "$target" "${cmd^^}" "$rps" "$p50" "$p99" \
    $(( $(cpu_ticks "$proxy") - p0 )) $(( $(cpu_ticks "${backends[@]}") - b0 )) >>"$RESULTS"
  say "round $round $config $target ${cmd^^}: $rps ops/s p50 $p50 ms p99 $p99 ms"
}

: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for spec in "${CONFIGS[@]}"; do
    IFS='|' read -r config flags n <<<"$spec"
    for target in slotproxy nutcracker; do
      run_one "$round" "$config" "$target" set "$flags" "$n"
      run_one "$round" "$config" "$target" get "$flags" "$n"
    done
  done
done

python3 - "$RESULTS" "$(getconf CLK_TCK)" "$ROUNDS" "$N_P1" "$N_P16" "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nutcracker -V 2>&1 | head -n 1 | sed "s/^This is //")" <<'EOF'
import statistics, sys
path, clk, rounds, n_p1, n_p16, ncpu, load, twver = sys.argv[1:9]
clk = int(clk)
n_of = {"c50-P1": int(n_p1), "c50-P16": int(n_p16)}
flags = {"c50-P1": "-c 50 -P 1", "c50-P16": "-c 50 -P 16"}
d = {}
for l in open(path):
    rnd, config, target, cmd, rps, p50, p99, pt, bt = l.split()
    v = d.setdefault((config, cmd, target), {"rps": [], "p50": [], "p99": [], "pt": [], "bt": []})
    for k, x in (("rps", rps), ("p50", p50), ("p99", p99), ("pt", pt), ("bt", bt)):
        v[k].append(float(x))
def per_m(ticks, config):
    return "%.2f" % (statistics.median(ticks) / clk / (n_of[config] / 1e6))
rows = [["config", "cmd", "slotproxy ops/s", "nutcracker ops/s", "proxy CPU s/1M sp/nc",
         "CPU ratio sp/nc", "p50/p99 ms sp", "p50/p99 ms nc", "Redis CPU s/1M sp/nc"]]
for config in ("c50-P1", "c50-P16"):
    for cmd in ("SET", "GET"):
        a, b = d[(config, cmd, "slotproxy")], d[(config, cmd, "nutcracker")]
        m = statistics.median
        rows.append([flags[config], cmd, "%.0f" % m(a["rps"]), "%.0f" % m(b["rps"]),
                     per_m(a["pt"], config) + "/" + per_m(b["pt"], config),
                     "%.2f" % (m(a["pt"]) / m(b["pt"])),
                     "%.3f/%.3f" % (m(a["p50"]), m(a["p99"])), "%.3f/%.3f" % (m(b["p50"]), m(b["p99"])),
                     per_m(a["bt"], config) + "/" + per_m(b["bt"], config)])
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
print()
print("slotproxy (sp) and %s (nc) on the same machine: median of %s rounds; redis-benchmark"
      " -r 100000 -d 64 --threads 1; %s CPUs, load %s" % (twver, rounds, ncpu, load))
for k, r in enumerate(rows):
    print("  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(r)))
    if k == 0:
        print("  ".join("-" * x for x in w))
EOF
