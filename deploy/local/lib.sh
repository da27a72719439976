# Helpers shared by deploy/local/*.sh and tests/bench/*.sh. Source it; it defines functions only.
# shellcheck shell=bash

now_ms() { date +%s%3N; }

# poll_until DESC TIMEOUT_S CMD...: runs CMD every 0.1 s until it succeeds; on timeout prints
# "timed out after Ns waiting for DESC" to stderr and returns 1.
poll_until() {
  local desc=$1 limit=$2; shift 2
  local deadline=$(( $(now_ms) + limit * 1000 ))
  until "$@"; do
    if (( $(now_ms) > deadline )); then
      echo "timed out after ${limit}s waiting for $desc" >&2
      return 1
    fi
    sleep 0.1
  done
}

# pid_alive PID: the process exists and is not a zombie (on machines whose init does not reap,
# an exited daemon stays a zombie forever).
pid_alive() {
  local st
  [[ $1 =~ ^[0-9]+$ && -r /proc/$1/stat ]] || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $st && $st != Z ]]
}
pid_gone() { ! pid_alive "$1"; }

# pidfile_pid FILE PATTERN: prints the pid from FILE if that process is alive and its command
# line contains PATTERN (so a recycled pid is never taken for ours).
pidfile_pid() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  echo "$pid"
}

# stop_pid PID NAME [TIMEOUT_S]: SIGTERM, wait up to TIMEOUT_S (default 10) for exit, then
# SIGKILL. Reaps it if it is our child.
stop_pid() {
  local pid=$1 name=$2 limit=${3:-10}
  pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  if ! poll_until "$name (pid $pid) to exit after SIGTERM" "$limit" pid_gone "$pid" 2>/dev/null; then
    echo "$name (pid $pid) ignored SIGTERM for ${limit}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    poll_until "$name (pid $pid) to exit after SIGKILL" 5 pid_gone "$pid" || return 1
  fi
  wait "$pid" 2>/dev/null || true
}

# port_in_use HOST PORT: something accepts TCP connections there.
port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# cpu_ticks PID...: the processes' CPU time together (utime+stime), in clock ticks.
cpu_ticks() {
  local pid f total=0
  for pid in "$@"; do
    read -ra f <<<"$(sed 's/.*) //' "/proc/$pid/stat")"
    total=$(( total + f[11] + f[12] ))  # utime, stime: fields 14 and 15, counted after "comm)"
  done
  echo "$total"
}
