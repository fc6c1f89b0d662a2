#!/usr/bin/env bash
# End-to-end check of a cluster started by up.sh, in a throw-away namespace (~8 s):
#  - a 3-replica Deployment becomes Running+Ready;
#  - its update to an image tagged :bad-ready gets pods that run but never become Ready, and the
#    Deployment stalls with ProgressDeadlineExceeded while the old pods stay Ready;
#  - meanwhile one Deployment per other behaviour: image :bad-crash and annotation
#    tern.dev/behavior: crash crash-loop, tern.dev/behavior: never-ready never gets Ready,
#    tern.dev/ready-delay: 2s gets Ready 2 s late, tern.dev/fail-after: 1s turns unready.
# usage: smoke.sh [BIN_DIR]      env: STATE_DIR, BIN_DIR (as for up.sh)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -z "${1:-}" ] || BIN_DIR=$1
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ -s "$KUBECONFIG_FILE" ] || die "no $KUBECONFIG_FILE: start the cluster with up.sh first"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
fail() { echo "FAIL: $*" >&2; K -n "$NS" get deploy,rs,pods -o wide >&2 || true; exit 1; }
NS=smoke-$$
K create namespace "$NS" >/dev/null
trap 'K delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
until K -n "$NS" get serviceaccount default >/dev/null 2>&1; do sleep 0.1; done

deploy() { # name image replicas [annotation-key annotation-value]
  cat <<YAML
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $3
  progressDeadlineSeconds: 5
  selector: {matchLabels: {app: $1}}
  template:
    metadata:
      labels: {app: $1}
      annotations: {${4:+"$4": "$5"}}
    spec:
      containers: [{name: app, image: "$2"}]
YAML
}
# pods APP: one line per pod of APP: "phase ready waiting-reason restarts"
pods() {
  K -n "$NS" get pods -l "app=$1" -o jsonpath='{range .items[*]}{.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].restartCount}{"\n"}{end}'
}
# wait_pods APP REGEX [TIMEOUT_S]: until every pod of APP (at least one) matches REGEX
wait_pods() {
  local end=$(( $(date +%s) + ${3:-20} )) out
  while :; do
    out=$(pods "$1")
    [ -n "$out" ] && ! grep -qvE "$2" <<<"$out" && return 0
    [ "$(date +%s)" -lt "$end" ] || fail "pods of $1 do not all match /$2/: ${out:-none}"
    sleep 0.1
  done
}

s=$(date +%s%N)
{
  deploy web example.invalid/web:v1 3
  deploy img-crash example.invalid/app:bad-crash 1
  deploy ann-never example.invalid/app:v1 1 tern.dev/behavior never-ready
  deploy ann-crash example.invalid/app:v1 1 tern.dev/behavior crash
  deploy delay example.invalid/app:v1 1 tern.dev/ready-delay 2s
  deploy fail-after example.invalid/app:v1 1 tern.dev/fail-after 1s
} | K -n "$NS" apply -f - >/dev/null
K -n "$NS" rollout status deploy/web --timeout=60s >/dev/null
echo "ok: web 3/3 pods Running+Ready $(ms "$s") ms after apply"

s=$(date +%s%N)
K -n "$NS" set image deploy/web app=example.invalid/web:bad-ready >/dev/null
if K -n "$NS" rollout status deploy/web --timeout=30s >/dev/null 2>&1; then fail "the :bad-ready rollout completed"; fi
reason=$(K -n "$NS" get deploy web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')
[ "$reason" = ProgressDeadlineExceeded ] || fail "Progressing reason=$reason, want ProgressDeadlineExceeded"
new=$(K -n "$NS" get pods -l app=web -o jsonpath='{range .items[?(@.spec.containers[0].image=="example.invalid/web:bad-ready")]}{.status.phase}/{.status.conditions[?(@.type=="Ready")].status} {end}')
[ -n "$new" ] || fail "no :bad-ready pod"
for p in $new; do [ "$p" = Running/False ] || fail ":bad-ready pod is $p, want Running/False"; done
ready=$(K -n "$NS" get deploy web -o jsonpath='{.status.readyReplicas}')
[ "$ready" -ge 2 ] || fail "old pods no longer serve: readyReplicas=$ready"
echo "ok: :bad-ready update stalled ($reason) after $(ms "$s") ms; new pods Running/not Ready: $new; readyReplicas=$ready"

wait_pods img-crash '^Running False CrashLoopBackOff 3$'
echo "ok: image :bad-crash -> Running, CrashLoopBackOff, not Ready"
wait_pods ann-crash '^Running False CrashLoopBackOff 3$'
echo "ok: tern.dev/behavior=crash -> CrashLoopBackOff"
wait_pods ann-never '^Running False  0$'
echo "ok: tern.dev/behavior=never-ready -> Running, not Ready"
wait_pods delay '^Running True  0$'
late=$(K -n "$NS" get pods -l app=delay -o jsonpath='{.items[0].metadata.creationTimestamp} {.items[0].status.conditions[?(@.type=="Ready")].lastTransitionTime}')
read -r c r <<<"$late"
d=$(( $(date -d "$r" +%s) - $(date -d "$c" +%s) ))
[ "$d" -ge 2 ] || fail "tern.dev/ready-delay=2s pod Ready ${d}s after creation"
echo "ok: tern.dev/ready-delay=2s -> Ready ${d}s after creation"
wait_pods fail-after '^Running False CrashLoopBackOff 1$'
echo "ok: tern.dev/fail-after=1s -> Ready, then not Ready (CrashLoopBackOff)"
echo "SMOKE PASSED"
