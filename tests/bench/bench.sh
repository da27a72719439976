#!/usr/bin/env bash
# Throughput, latency, CPU and memory of slotproxy against the cluster it fronts. A benchmark,
# not a test: it prints numbers and judges nothing.
#
# Starts its own 6-node cluster (deploy/local/cluster.sh, 127.0.2.1-6:6379) and a release
# slotproxy on 127.0.2.100:6379, then for ROUNDS rounds runs redis-benchmark (SET then GET,
# -r 100000 -d 64 --threads BENCH_THREADS) in three configurations, alternating the targets
# A B A B ...:
#   A  the cluster directly:  redis-benchmark --cluster -h 127.0.2.1 -p 6379
#   B  slotproxy:             redis-benchmark -h 127.0.2.100 -p 6379
# and reads slotproxy's CPU time (utime+stime in /proc/PID/stat) around every B run, and the six
# redis-servers' around every run. Prints the medians over the rounds (and the range of single
# rounds' ratios), and slotproxy's RSS idle and holding IDLE_CONNS idle clients. The cluster's
# CPU per request on the direct side is the yardstick for this machine's speed: CPU figures
# from different machines (or days of one VM) compare only through it.
#
# Environment:
#   SLOTPROXY_BIN       binary (default <repo>/build/release/proxy/slotproxy; build it with
#                       cmake --preset release && cmake --build --preset release)
#   PROXY_ARGS          extra slotproxy flags, split on spaces (e.g. "--sched-slice 0")
#   ROUNDS=3            rounds; the table shows medians
#   N_P1=1000000        requests per command for -c 50 -P 1
#   N_P16=5000000       requests per command for -c 50 -P 16
#   N_C1=60000          requests per command for -c 1 -P 1
#                       (each run lasts seconds: see Notes)
#   IDLE_CONNS=1000     idle client connections for the memory figure
#   BENCH_THREADS=1     redis-benchmark threads, the same on both sides (see Notes)
#   BENCH_DIR           working dir (default <repo>/build/bench): cluster, logs, raw results
#   BENCH_DIRECT_ONLY=1 only the direct runs (no slotproxy needed)
#
# Notes: the load generator must be the same on both sides, or the ratio measures it rather than
# the proxy. redis-benchmark --cluster silently runs one thread per primary (3 here) unless told
# otherwise, and one thread against a single endpoint: with those defaults, direct GET at
# -c 50 -P 1 got 199k ops/s from 3 threads and 136-157k from 1 on the same cluster. So both sides
# get --threads BENCH_THREADS. With --cluster, redis-benchmark gives each of its -c connections
# one primary and keys tagged for it; so "-c 1" direct talks to one primary, while through the
# proxy its keys spread over all three. SET and GET run as separate redis-benchmark invocations
# (same order as -t get,set) so that CPU is measured per command. SET comes first so that GET
# finds values: the two sides use different keys (--cluster tags each primary's keys,
# "key:{06S}:000000012345"; through the proxy they are "key:000000012345"), and a GET of a
# missing key is cheaper (an ad-hoc -P 16 run whose proxy GETs all missed showed 0.86 of direct
# where hits give 0.6-0.65). On a shared 2-core machine the load generator, the proxy and the
# cluster compete for CPU: compare ratios, not absolute numbers. The scheduler moves those processes between the cores every second or two, and
# throughput depends on where they are (through the proxy at -c 50 -P 1 GET, between about
# 105k and 160k ops/s on a 2-core VM): so each run lasts several seconds, to average over
# placements rather than draw one. With runs of 1-2 s, single -P 1 rounds ranged 0.75-1.2.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
# shellcheck source=deploy/local/lib.sh
source "$REPO_ROOT/deploy/local/lib.sh"

readonly BASE=127.0.2
readonly PROXY_IP=127.0.2.100 PROXY_PORT=6379 ADMIN_ADDR=127.0.2.100:9379
readonly SEEDS="$BASE.1:6379,$BASE.2:6379,$BASE.3:6379,$BASE.4:6379,$BASE.5:6379,$BASE.6:6379"
readonly PROXY_BIN="${SLOTPROXY_BIN:-$REPO_ROOT/build/release/proxy/slotproxy}"
readonly BENCH_DIR="${BENCH_DIR:-$REPO_ROOT/build/bench}"
readonly ROUNDS="${ROUNDS:-3}"
readonly N_P1="${N_P1:-1000000}" N_P16="${N_P16:-5000000}" N_C1="${N_C1:-60000}"
readonly IDLE_CONNS="${IDLE_CONNS:-1000}" BENCH_THREADS="${BENCH_THREADS:-1}"
readonly DIRECT_ONLY="${BENCH_DIRECT_ONLY:-0}"
readonly CLUSTER=("$REPO_ROOT/deploy/local/cluster.sh" --base "$BASE" --dir "$BENCH_DIR/cluster")
# name | redis-benchmark flags | requests per command
readonly CONFIGS=("c50-P1|-c 50 -P 1|$N_P1" "c50-P16|-c 50 -P 16|$N_P16" "c1-P1|-c 1 -P 1|$N_C1")

say() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

for cmd in redis-server redis-cli redis-benchmark python3 getconf; do
  command -v "$cmd" >/dev/null || die "$cmd not found (run deploy/setup.sh)"
done
for v in ROUNDS N_P1 N_P16 N_C1 IDLE_CONNS BENCH_THREADS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
if [[ $DIRECT_ONLY != 1 && ! -x $PROXY_BIN ]]; then
  die "no slotproxy binary at $PROXY_BIN: build it (cmake --preset release && cmake --build --preset release), set SLOTPROXY_BIN, or run with BENCH_DIRECT_ONLY=1 for the direct numbers only"
fi

mkdir -p "$BENCH_DIR"
readonly RESULTS="$BENCH_DIR/results.tsv"
CLK_TCK="$(getconf CLK_TCK)"
readonly CLK_TCK

proxy_pid=""
cleanup() {
  local rc=$?
  trap '' INT TERM
  [[ -n $proxy_pid ]] && stop_pid "$proxy_pid" slotproxy 15
  "${CLUSTER[@]}" stop >/dev/null 2>&1 || say "could not stop the cluster: ${CLUSTER[*]} stop"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# slotproxy's resident memory in kB.
proxy_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$proxy_pid/status"; }
cluster_pids=()  # the six redis-servers, read once the cluster is up

# --- cluster and proxy ------------------------------------------------------------------------
say "starting the cluster on $BASE.1-6:6379"
"${CLUSTER[@]}" start >&2 || die "the cluster did not start"
for i in 1 2 3 4 5 6; do
  cluster_pids+=("$(<"$BENCH_DIR/cluster/node-$i/redis.pid")")
done

proxy_rss_idle="" proxy_rss_conns="" proxy_rss_after=""
if [[ $DIRECT_ONLY != 1 ]]; then
  port_in_use "$PROXY_IP" "$PROXY_PORT" && die "$PROXY_IP:$PROXY_PORT is already in use"
  # 1000 idle clients plus the proxy's own sockets need more than the default 1024 descriptors.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  read -ra extra_args <<<"${PROXY_ARGS:-}"
  say "starting $PROXY_BIN ${extra_args[*]} on $PROXY_IP:$PROXY_PORT (log: $BENCH_DIR/slotproxy.log)"
  # env -u: slotproxy rejects SLOTPROXY_* variables it does not know, and SLOTPROXY_BIN is ours.
  env -u SLOTPROXY_BIN setsid "$PROXY_BIN" --listen "$PROXY_IP:$PROXY_PORT" --seeds "$SEEDS" --admin "$ADMIN_ADDR" \
    "${extra_args[@]}" >"$BENCH_DIR/slotproxy.log" 2>&1 </dev/null &
  proxy_pid=$!
  proxy_ready() {
    pid_alive "$proxy_pid" || { tail -n 20 "$BENCH_DIR/slotproxy.log" >&2; die "slotproxy exited"; }
    [[ $(redis-cli -h "$PROXY_IP" -p "$PROXY_PORT" ping 2>/dev/null) == PONG ]]
  }
  poll_until "slotproxy to answer PING" 30 proxy_ready || die "slotproxy not ready"
  proxy_rss_idle=$(proxy_rss_kb)

  # --- memory with idle clients: each sends one PING (so the proxy has surely accepted and set
  # it up), reads PONG, then stays open and idle until we close its stdin.
  say "opening $IDLE_CONNS idle client connections"
  read -r -d '' hold_script <<'EOF' || true
import resource, socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 64, hard), hard))
socks = []
try:
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        socks.append(s)
    for s in socks:
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = s.recv(64)
            if not chunk:
                raise ConnectionError("closed by the proxy")
            buf += chunk
        if buf != b"+PONG\r\n":
            raise ConnectionError("unexpected reply %r" % buf)
except Exception as e:  # report it; the memory figure then says how many were held
    print("error after %d connections: %s" % (len(socks), e), flush=True)
else:
    print("ready %d" % len(socks), flush=True)
sys.stdin.read()  # hold them until our stdin closes
EOF
  coproc HOLD { python3 -c "$hold_script" "$PROXY_IP" "$PROXY_PORT" "$IDLE_CONNS"; }
  hold_line=""
  read -r -t 60 hold_line <&"${HOLD[0]}" || true
  held=0
  if [[ $hold_line == ready* ]]; then
    held=${hold_line#ready }
  else
    say "idle connections: ${hold_line:-no answer within 60 s}"
  fi
  proxy_rss_conns=$(proxy_rss_kb)
  # shellcheck disable=SC2153  # HOLD_PID is set by coproc
  hold_pid=$HOLD_PID
  eval "exec ${HOLD[1]}>&-"  # EOF on its stdin: it exits and closes the sockets
  wait "$hold_pid" 2>/dev/null || true
fi

# --- the runs ---------------------------------------------------------------------------------
# run_one ROUND CONFIG TARGET CMD FLAGS N: one redis-benchmark; appends a line to $RESULTS:
# round config target cmd rps p50_ms p99_ms cpu_ticks redis_cpu_ticks (cpu only for the proxy,
# else -; redis_cpu: the six nodes together).
run_one() {
  local round=$1 config=$2 target=$3 cmd=$4 flags=$5 n=$6
  local args out line cpu0="" cpu1="" cpu="-" rcpu0 rcpu
  # shellcheck disable=SC2206  # flags are words by design
  args=(-t "$cmd" -r 100000 -d 64 -n "$n" $flags --threads "$BENCH_THREADS" --csv)
  if [[ $target == direct ]]; then
    args=(--cluster -h "$BASE.1" -p 6379 "${args[@]}")
  else
    args=(-h "$PROXY_IP" -p "$PROXY_PORT" "${args[@]}")
    cpu0=$(cpu_ticks "$proxy_pid")
  fi
  rcpu0=$(cpu_ticks "${cluster_pids[@]}")
  out=$(redis-benchmark "${args[@]}" 2>"$BENCH_DIR/last-stderr.log") || true
  if [[ $target == proxy ]]; then
    cpu1=$(cpu_ticks "$proxy_pid")
    cpu=$((cpu1 - cpu0))
  fi
  rcpu=$(( $(cpu_ticks "${cluster_pids[@]}") - rcpu0 ))
  line=$(grep "^\"${cmd^^}\"," <<<"$out" | tail -n 1 | tr -d '"') || true
  if [[ -z $line ]]; then
    say "round $round $config $target ${cmd^^}: no result; redis-benchmark said:"
    tail -n 5 "$BENCH_DIR/last-stderr.log" >&2
    grep -v '^"' <<<"$out" | tail -n 5 >&2 || true
    printf '%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\n' "$round" "$config" "$target" "${cmd^^}" >>"$RESULTS"
    return
  fi
  # test,rps,avg,min,p50,p95,p99,max
  IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$line"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$config" "$target" "${cmd^^}" \
    "$rps" "$p50" "$p99" "$cpu" "$rcpu" >>"$RESULTS"
  say "round $round $config $target ${cmd^^}: $rps ops/s p50 ${p50} ms p99 ${p99} ms"
}

: >"$RESULTS"
targets=(direct proxy)
[[ $DIRECT_ONLY == 1 ]] && targets=(direct)
say "$ROUNDS rounds; raw results in $RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for spec in "${CONFIGS[@]}"; do
    IFS='|' read -r config flags n <<<"$spec"
    for target in "${targets[@]}"; do
      if [[ $target == proxy ]] && ! pid_alive "$proxy_pid"; then
        tail -n 20 "$BENCH_DIR/slotproxy.log" >&2
        die "slotproxy died during the benchmark"
      fi
      run_one "$round" "$config" "$target" set "$flags" "$n"
      run_one "$round" "$config" "$target" get "$flags" "$n"
    done
  done
done
[[ -n $proxy_pid ]] && proxy_rss_after=$(proxy_rss_kb)

# --- the table --------------------------------------------------------------------------------
python3 - "$RESULTS" "$CLK_TCK" "$ROUNDS" "${proxy_rss_idle:--}" "${proxy_rss_conns:--}" \
  "${held:-0}" "${proxy_rss_after:--}" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$N_P1" "$N_P16" "$N_C1" "${PROXY_ARGS:-}" "$BENCH_THREADS" <<'EOF'
import statistics, sys
path, clk_tck, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rss_idle, rss_conns, held, rss_after, ncpu, load = sys.argv[4:10]
# Requests per run, to turn CPU ticks into seconds per million requests.
n_of = {"c50-P1": int(sys.argv[10]), "c50-P16": int(sys.argv[11]), "c1-P1": int(sys.argv[12])}
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
configs = []
data = {}  # (config, cmd, target) -> lists
per_round = {}  # (config, cmd, round) -> {target: ops/s}
for rnd, config, target, cmd, rps, p50, p99, cpu, rcpu in rows:
    if config not in configs:
        configs.append(config)
    if rps != "-":
        per_round.setdefault((config, cmd, rnd), {})[target] = float(rps)
    d = data.setdefault((config, cmd, target),
                        {"rps": [], "p50": [], "p99": [], "cpu": [], "rcpu": []})
    if rps != "-":
        d["rps"].append(float(rps)); d["p50"].append(float(p50)); d["p99"].append(float(p99))
        d["rcpu"].append(int(rcpu))
    if cpu not in ("-", ""):
        d["cpu"].append(int(cpu))

def med(v, fmt):
    return fmt % statistics.median(v) if v else "-"

flags = {"c50-P1": "-c 50 -P 1", "c50-P16": "-c 50 -P 16", "c1-P1": "-c 1 -P 1"}

def cpu_per_m(ticks, config):
    return "%.2f" % (statistics.median(ticks) / clk_tck / (n_of[config] / 1e6)) if ticks else "-"

header = ["config", "cmd", "direct ops/s", "proxy ops/s", "ratio", "rounds", "direct p50/p99 ms",
          "proxy p50/p99 ms", "proxy CPU s/1M req", "Redis CPU s/1M direct/proxy"]
table = [header]
for config in configs:
    for cmd in ("SET", "GET"):
        empty = {"rps": [], "p50": [], "p99": [], "cpu": [], "rcpu": []}
        a = data.get((config, cmd, "direct"), empty)
        b = data.get((config, cmd, "proxy"), empty)
        ratio = "-"
        if a["rps"] and b["rps"]:
            ratio = "%.2f" % (statistics.median(b["rps"]) / statistics.median(a["rps"]))
        # The spread of the ratios of single rounds (each proxy run over the direct run before it).
        ratios = [r["proxy"] / r["direct"] for (c, m, _), r in per_round.items()
                  if c == config and m == cmd and "proxy" in r and r.get("direct")]
        spread = "%.2f-%.2f" % (min(ratios), max(ratios)) if ratios else "-"
        cpu = cpu_per_m(b["cpu"], config)
        rcpu = cpu_per_m(a["rcpu"], config) + "/" + cpu_per_m(b["rcpu"], config)
        table.append([flags.get(config, config), cmd, med(a["rps"], "%.0f"), med(b["rps"], "%.0f"),
                      ratio, spread, med(a["p50"], "%.3f") + "/" + med(a["p99"], "%.3f"),
                      med(b["p50"], "%.3f") + "/" + med(b["p99"], "%.3f"), cpu, rcpu])
widths = [max(len(r[i]) for r in table) for i in range(len(header))]
print()
print("slotproxy benchmark: median of %s rounds; redis-benchmark -r 100000 -d 64 --threads %s"
      " (both sides); %s CPUs, load %s" % (rounds, sys.argv[14], ncpu, load))
if sys.argv[13].strip():
    print("slotproxy flags: " + sys.argv[13].strip())
for k, r in enumerate(table):
    print("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)))
    if k == 0:
        print("  ".join("-" * w for w in widths))
print()
if rss_idle != "-":
    line = "slotproxy RSS: idle %s kB; with %s idle clients %s kB" % (rss_idle, held, rss_conns)
    if int(held) > 0:
        line += " (%.1f kB per connection)" % ((int(rss_conns) - int(rss_idle)) / int(held))
    line += "; after the runs %s kB" % rss_after
    print(line)
else:
    print("slotproxy: not run (BENCH_DIRECT_ONLY=1)")
EOF
