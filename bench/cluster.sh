#!/usr/bin/env bash
# The benchmark's own control plane: test/cluster/up.sh on private ports, etcd on tmpfs, plus a
# second API user for the controller under test, so that the API server counts that controller's
# requests apart from everyone else's (authenticated_user_requests{username="client"}).
#
# usage: bench/cluster.sh up | down | env
# env:   BENCH_STATE_DIR  default /dev/shm/tern-bench (tmpfs: etcd must not wait on a disk)
#        NODES            fake nodes, 110 pods each (default 6)
#        BENCH_API_PORT, BENCH_ETCD_PORT, ... private ports (48443 48379 48380 48257 48259 48247)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER=$HERE/../test/cluster
export STATE_DIR=${BENCH_STATE_DIR:-/dev/shm/tern-bench}
export API_PORT=${BENCH_API_PORT:-48443} ETCD_PORT=${BENCH_ETCD_PORT:-48379} ETCD_PEER_PORT=${BENCH_ETCD_PEER_PORT:-48380}
export KCM_PORT=${BENCH_KCM_PORT:-48257} SCHED_PORT=${BENCH_SCHED_PORT:-48259} KWOK_PORT=${BENCH_KWOK_PORT:-48247}
export NODES=${NODES:-6}
# "client" is one of the few user names kube-apiserver's authenticated_user_requests metric
# reports verbatim (others become "other"); every control-plane component of test/cluster and
# the harness use "admin", so the "client" series is the controller under test alone.
CONTROLLER_USER=client
ts() { printf '[bench/cluster.sh %(%T)T] %s\n' -1 "$*" >&2; }

# the controller's kubeconfig lives under pki/ because down.sh --purge only removes what up.sh
# creates
env_line() { echo "KUBECONFIG=$STATE_DIR/kubeconfig CONTROLLER_KUBECONFIG=$STATE_DIR/pki/controller.kubeconfig"; }

up() {
  case $STATE_DIR in
    /dev/shm/*|/run/*) ;;
    *) [ "$(stat -f -c %T "$(dirname "$STATE_DIR")")" = tmpfs ] || ts "warning: $STATE_DIR is not on tmpfs; etcd may become the bottleneck" ;;
  esac
  local avail
  avail=$(df -Pk "$(dirname "$STATE_DIR")" | awk 'NR==2 {print $4}')
  [ "$avail" -gt $((2 * 1024 * 1024)) ] || ts "warning: only $((avail / 1024)) MiB free under $(dirname "$STATE_DIR")"
  local kubectl=${BIN_DIR:-$HOME/.cache/tern/bin-${K8S_VERSION:-v1.37.2}}/kubectl have
  if [ -s "$STATE_DIR/kubeconfig" ] && have=$("$kubectl" --kubeconfig "$STATE_DIR/kubeconfig" get nodes -l type=kwok -o name 2>/dev/null | wc -l) &&
    [ "$have" -gt 0 ] && [ "$have" -lt "$NODES" ]; then
    # up.sh adds nodes only when it starts a cluster; this one is the bench's own, so restart it
    ts "the running bench cluster has $have nodes, $NODES wanted: restarting it"
    "$CLUSTER/down.sh" --purge >&2
  fi
  "$CLUSTER/up.sh" >&2
  local pki=$STATE_DIR/pki
  if ! grep -q ",$CONTROLLER_USER," "$pki/tokens.csv"; then
    # The token file is read once at API server start, and up.sh writes it only with a new
    # PKI: add the user, then restart the API server (etcd data and the rest keep running).
    local tok
    tok=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    echo "$tok,$CONTROLLER_USER,bench-controller,system:masters" >> "$pki/tokens.csv"
    echo "$tok" > "$pki/controller.token"
    chmod 600 "$pki/controller.token"
    ts "added API user '$CONTROLLER_USER' for the controller under test; restarting kube-apiserver"
    "$CLUSTER/up.sh" --restart-apiserver >&2
  fi
  sed -e "s/^    token: .*/    token: $(cat "$pki/controller.token")/" -e "s/^- name: admin$/- name: $CONTROLLER_USER/" \
    -e "s/user: admin,/user: $CONTROLLER_USER,/" "$STATE_DIR/kubeconfig" > "$STATE_DIR/pki/controller.kubeconfig"
  chmod 600 "$STATE_DIR/pki/controller.kubeconfig"
  # the CRDs of this tree; another controller under test may need its own applied over them
  "$kubectl" --kubeconfig "$STATE_DIR/kubeconfig" apply --server-side --force-conflicts -f "$HERE/../config/crd/bases" >/dev/null
  # served only once Established: a client asking earlier finds no such kind
  "$kubectl" --kubeconfig "$STATE_DIR/kubeconfig" wait --for=condition=Established --timeout=60s -f "$HERE/../config/crd/bases" >/dev/null
  env_line
}

case "${1:-}" in
  up) up ;;
  down) "$CLUSTER/down.sh" --purge >&2 ;;
  env) env_line ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
