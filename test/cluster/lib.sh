# Shared by up.sh, down.sh and smoke.sh (sourced, not run): defaults, timestamps, PID checks.
# shellcheck shell=bash

K8S_VERSION=${K8S_VERSION:-v1.37.2}
STATE_DIR=${STATE_DIR:-$HOME/.cache/tern/cluster}
# settings of the running cluster (ports, BIN_DIR), saved by up.sh: a restart or smoke.sh
# started later talks to the same ports without repeating the environment
if [ -s "$STATE_DIR/cluster.env" ]; then
  # shellcheck disable=SC1091
  . "$STATE_DIR/cluster.env"
fi
BIN_DIR=${BIN_DIR:-$HOME/.cache/tern/bin-$K8S_VERSION}
HOST=127.0.0.1
API_PORT=${API_PORT:-16443}
ETCD_PORT=${ETCD_PORT:-12379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-12380}
KCM_PORT=${KCM_PORT:-11257}
SCHED_PORT=${SCHED_PORT:-11259}
KWOK_PORT=${KWOK_PORT:-11247}
KUBECONFIG_FILE=$STATE_DIR/kubeconfig
# start order; stopped in reverse
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

T0=$(date +%s%N)
ts() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[%3d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"; }
die() { echo "$(basename "$0"): $*" >&2; exit 1; }
K() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# pid_of NAME: the saved PID of component NAME if that process still runs the NAME binary
# (argv[0] ends in /NAME: guards against a PID reused by another process), else nothing.
pid_of() {
  local f=$STATE_DIR/pids/$1.pid pid argv0
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  [ -r "/proc/$pid/cmdline" ] || return 0
  argv0=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | head -n1) || return 0
  [ "$(basename -- "$argv0")" = "$1" ] && echo "$pid"
  return 0
}

# stop SIGNAL NAME...: signal the components NAME... (those still running, by their saved PIDs)
# at once, wait for them to exit (SIGKILL after 5 s) and remove their PID files.
stop() {
  local sig=$1 name pid; shift
  local -A pids=()
  for name in "$@"; do
    pid=$(pid_of "$name")
    if [ -n "$pid" ]; then kill -s "$sig" "$pid" 2>/dev/null || true; pids[$name]=$pid; fi
  done
  for name in "$@"; do
    pid=${pids[$name]:-}
    if [ -n "$pid" ]; then
      for _ in $(seq 100); do [ -n "$(pid_of "$name")" ] || break; sleep 0.05; done
      if [ -n "$(pid_of "$name")" ]; then
        echo "$name ($pid) ignored SIG$sig for 5 s, sending SIGKILL"
        kill -s KILL "$pid" 2>/dev/null || true
        for _ in $(seq 100); do [ -n "$(pid_of "$name")" ] || break; sleep 0.05; done
      fi
      ts "stopped $name (pid $pid, SIG$sig)"
    fi
    rm -f "$STATE_DIR/pids/$name.pid"
  done
}

# port_free PORT: true when nothing listens on 127.0.0.1:PORT
port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
