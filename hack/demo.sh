#!/usr/bin/env bash
# `make demo`: starts the local control plane and the controller, then runs the seed
# walkthroughs, printing each command and what it answers. Set KEEP=1 to leave the
# cluster and controller running afterwards.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
: "${K8S_VERSION:=v1.37.2}"
: "${BIN_DIR:=$HOME/.cache/tern/bin-$K8S_VERSION}"
: "${STATE_DIR:=$HOME/.cache/tern/demo-cluster}"
export BIN_DIR K8S_VERSION STATE_DIR
export KUBECONFIG=$STATE_DIR/kubeconfig
# kubectl finds the plugin on PATH, as `kubectl tern` and as `kubectl argo rollouts`.
export PATH="$ROOT/bin:$BIN_DIR:$PATH"
NS=default

bold=$'\033[1m'; dim=$'\033[2m'; off=$'\033[0m'
[ -t 1 ] || { bold=; dim=; off=; }
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$off"; }
run() { printf '%s$ %s%s\n' "$bold" "$*" "$off"; "$@"; }
fail() { echo "demo: $*" >&2; exit 1; }
# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND until it succeeds. Pass a function
# or command, never "$(...)": a substitution would be evaluated once, before the first try.
wait_for() {
  local what=$1 t=$2; shift 2
  local end=$(( $(date +%s) + t ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out waiting for $what"
    sleep 0.5
  done
}
phase() { kubectl get rollout "$1" -n $NS -o jsonpath='{.status.phase}'; }
phase_is() { [ "$(phase "$1")" = "$2" ]; }
selector() { kubectl get svc "$1" -n $NS -o jsonpath='{.spec.selector.rollouts-pod-template-hash}'; }

say "Building the controller and the kubectl plugin"
make --no-print-directory build >/dev/null
say "Starting the local control plane (the first run builds it: about 10 minutes)"
test/cluster/build.sh "$BIN_DIR" | tail -1
if [ -f "$STATE_DIR/pids/kube-apiserver.pid" ] && kill -0 "$(cat "$STATE_DIR/pids/kube-apiserver.pid")" 2>/dev/null; then
  test/cluster/down.sh --purge >/dev/null
fi
test/cluster/up.sh "$BIN_DIR" | tail -1
CTL_PID=
cleanup() {
  status=$?
  if [ "${KEEP:-0}" = 1 ]; then
    echo "left running: export KUBECONFIG=$KUBECONFIG PATH=$ROOT/bin:\$PATH  (controller pid $CTL_PID; make cluster-down STATE_DIR=$STATE_DIR)"
    exit $status
  fi
  [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null || true
  test/cluster/down.sh --purge >/dev/null 2>&1 || true
  [ $status -eq 0 ] || echo "demo failed; the controller log was $STATE_DIR/../demo-controller.log" >&2
  exit $status
}
trap cleanup EXIT
run kubectl apply --server-side -f config/crd/bases
kubectl wait --for=condition=Established --timeout=60s -f config/crd/bases >/dev/null
LOG=$(dirname "$STATE_DIR")/demo-controller.log
bin/tern-controller --kubeconfig "$KUBECONFIG" --leader-elect=false >"$LOG" 2>&1 &
CTL_PID=$!
say "tern-controller started (pid $CTL_PID, log $LOG)"
run kubectl argo rollouts version --short

#---------------------------------------------------------------------------------------
say "Blue-green walkthrough (test/fixtures/seed-bluegreen.yaml)"
run kubectl apply -n $NS -f test/fixtures/seed-bluegreen.yaml
wait_for "rollout-bluegreen to be Healthy" 60 phase_is rollout-bluegreen Healthy
selects_something() { [ -n "$(selector "$1")" ]; }
wait_for "the active Service to select the rollout's pods" 30 selects_something rollout-bluegreen-active
run kubectl argo rollouts get rollout rollout-bluegreen -n $NS --no-color
kubectl get rs rollout-bluegreen-558dcdc6d -n $NS >/dev/null || fail "expected ReplicaSet rollout-bluegreen-558dcdc6d"
say "The active Service now selects the pods by their pod-template-hash"
run kubectl get svc rollout-bluegreen-active -n $NS -o jsonpath='{.spec.selector}{"\n"}'
[ "$(selector rollout-bluegreen-active)" = 558dcdc6d ] || fail "active selector is not 558dcdc6d"

say "Update the image: the new version comes up behind the preview Service and the rollout pauses"
run kubectl argo rollouts set image rollout-bluegreen rollouts-demo=argoproj/rollouts-demo:yellow -n $NS
wait_for "rollout-bluegreen to pause" 60 phase_is rollout-bluegreen Paused
NEW=$(kubectl get rollout rollout-bluegreen -n $NS -o jsonpath='{.status.currentPodHash}')
run kubectl argo rollouts get rollout rollout-bluegreen -n $NS --no-color
run kubectl get svc rollout-bluegreen-preview rollout-bluegreen-active -n $NS -o custom-columns='SERVICE:.metadata.name,SELECTS:.spec.selector.rollouts-pod-template-hash'
[ "$(selector rollout-bluegreen-preview)" = "$NEW" ] || fail "preview does not select $NEW"
[ "$(selector rollout-bluegreen-active)" = 558dcdc6d ] || fail "active moved before promotion"

say "Promote: the active Service switches to the new version"
run kubectl argo rollouts promote rollout-bluegreen -n $NS
wait_for "rollout-bluegreen to be Healthy" 60 phase_is rollout-bluegreen Healthy
run kubectl get svc rollout-bluegreen-active -n $NS -o jsonpath='{.spec.selector}{"\n"}'
[ "$(selector rollout-bluegreen-active)" = "$NEW" ] || fail "active does not select $NEW"
say "The old version stays up for scaleDownDelaySeconds (30 s), then scales to zero"
rs_size() { kubectl get rs "$1" -n $NS -o jsonpath='{.spec.replicas}/{.status.replicas}'; }
# A count of zero is left out of the status, so a scaled-down ReplicaSet reads "0/".
scaled_down() { case "$(rs_size "$1")" in 0/|0/0) return 0 ;; esac; return 1; }
wait_for "the old ReplicaSet to scale down" 60 scaled_down rollout-bluegreen-558dcdc6d
[ "$(rs_size "rollout-bluegreen-$NEW")" = 2/2 ] || fail "the new ReplicaSet is not at 2/2"
run kubectl get rs -n $NS -l app=rollout-bluegreen
run kubectl argo rollouts get rollout rollout-bluegreen -n $NS --no-color

if [ -f hack/demo-canary.sh ]; then
  # shellcheck source=/dev/null
  . hack/demo-canary.sh
fi
if [ -f hack/demo-analysis.sh ]; then . hack/demo-analysis.sh; fi
say "Demo complete"
