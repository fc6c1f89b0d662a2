# Sourced by hack/demo.sh: a canary whose analysis step asks a real Prometheus for the new
# version's success rate. The traffic simulator (test/trafficsim) makes up request
# counters for every Ready rollout pod, half of them failing for images tagged bad-*;
# Prometheus (test/prometheus) scrapes it every second.
# shellcheck shell=bash

# free_port N: the first port from N on that nothing listens on.
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
AN_DIR=$(dirname "$STATE_DIR")/demo-analysis
SIM_PORT=$(free_port 19191)
PROM_PORT=$(free_port $((SIM_PORT + 1)))
SIM_PID=
PROM_ENV=(PROMETHEUS_PORT="$PROM_PORT" PROMETHEUS_DIR="$AN_DIR/prometheus" TRAFFICSIM_ADDR="127.0.0.1:$SIM_PORT")

# The demo's cleanup stops the controller and the cluster; this stops what this part
# started, by PID, first. KEEP=1 leaves them running with the rest.
analysis_cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "left running: traffic simulator pid $SIM_PID, Prometheus on http://127.0.0.1:$PROM_PORT (env ${PROM_ENV[*]} test/prometheus/down.sh)"
    return
  fi
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi
  env "${PROM_ENV[@]}" test/prometheus/down.sh --purge >/dev/null 2>&1 || true
}
trap 'demo_status=$?; analysis_cleanup; (exit $demo_status); cleanup' EXIT

an_field() { kubectl get rollout analysis-demo -n $NS -o jsonpath="$1"; }
an_runs() { kubectl get analysisruns -n $NS -l rollouts-pod-template-hash="$1" -o jsonpath='{range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}'; }
an_run_phase_is() { an_runs "$1" | grep -q "=$2\$"; }
# Predicates for wait_for, which retries a command: they read the cluster on every try.
an_hash_other_than() { local h; h=$(an_field '{.status.currentPodHash}'); [ -n "$h" ] && [ "$h" != "$1" ]; }
an_has_runs() { [ -n "$(an_runs "$1")" ]; }
an_healthy_on() { [ "$(phase analysis-demo)/$(an_field '{.status.stableRS}')" = "Healthy/$1" ]; }
an_ready_is() { [ "$(ready_pods "$1")" = "$2" ]; }
ready_pods() {
  kubectl get pods -n $NS -l rollouts-pod-template-hash="$1" \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true
}

say "Analysis walkthrough: a canary that checks the new version's success rate in Prometheus"
mkdir -p "$AN_DIR"
"${GO:-go}" build -o bin/tern-trafficsim ./test/trafficsim
bin/tern-trafficsim --kubeconfig "$KUBECONFIG" --listen "127.0.0.1:$SIM_PORT" >"$AN_DIR/trafficsim.log" 2>&1 &
SIM_PID=$!
wait_for "the traffic simulator" 30 curl -fsS "http://127.0.0.1:$SIM_PORT/healthz"
say "traffic simulator on http://127.0.0.1:$SIM_PORT/metrics (pid $SIM_PID)"
PROM_URL=$(env "${PROM_ENV[@]}" test/prometheus/up.sh) || fail "Prometheus did not start (test/prometheus/up.sh)"
say "Prometheus on $PROM_URL, scraping the simulator every second"

say "The AnalysisTemplate: success rate of the version's requests over 10 s, at least 95%, 3 measurements 2 s apart"
cat >"$AN_DIR/analysis-demo.yaml" <<EOF
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: hash
  metrics:
  - name: success-rate
    initialDelay: 5s
    interval: 2s
    count: 3
    successCondition: result[0] >= 0.95
    failureLimit: 0
    provider:
      prometheus:
        address: $PROM_URL
        query: |
          sum(rate(http_requests_total{namespace="$NS",rollouts_pod_template_hash="{{args.hash}}",code!~"5.."}[10s]))
          /
          sum(rate(http_requests_total{namespace="$NS",rollouts_pod_template_hash="{{args.hash}}"}[10s]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: analysis-demo
spec:
  replicas: 4
  revisionHistoryLimit: 3
  selector:
    matchLabels: {app: analysis-demo}
  template:
    metadata:
      labels: {app: analysis-demo}
    spec:
      containers:
      - name: analysis-demo
        image: argoproj/rollouts-demo:blue
  strategy:
    canary:
      canaryService: analysis-demo-canary
      stableService: analysis-demo-stable
      steps:
      - setWeight: 25
      - analysis:
          templates: [{templateName: success-rate}]
          args:
          - name: hash
            valueFrom: {podTemplateHashValue: Latest}
      - setWeight: 50
      - pause: {duration: 5}
---
apiVersion: v1
kind: Service
metadata: {name: analysis-demo-canary}
spec:
  selector: {app: analysis-demo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: analysis-demo-stable}
spec:
  selector: {app: analysis-demo}
  ports: [{port: 80, targetPort: 8080}]
EOF
sed -n '/^kind: AnalysisTemplate/,/^---/p' "$AN_DIR/analysis-demo.yaml" | sed '$d'
run kubectl apply -n $NS -f "$AN_DIR/analysis-demo.yaml"
wait_for "analysis-demo to be Healthy" 60 phase_is analysis-demo Healthy
BLUE=$(an_field '{.status.stableRS}')
run kubectl argo rollouts get rollout analysis-demo -n $NS --no-color

say "Update to a good version: 1 of 4 pods moves, the analysis step measures it, and the rollout promotes itself"
run kubectl argo rollouts set image analysis-demo analysis-demo=argoproj/rollouts-demo:yellow -n $NS
wait_for "the new version's hash" 30 an_hash_other_than "$BLUE"
YELLOW=$(an_field '{.status.currentPodHash}')
wait_for "the AnalysisRun to start" 60 an_has_runs "$YELLOW"
run kubectl argo rollouts get rollout analysis-demo -n $NS --no-color
wait_for "analysis-demo to be Healthy on the new version" 120 an_healthy_on "$YELLOW"
run kubectl argo rollouts get rollout analysis-demo -n $NS --no-color
an_run_phase_is "$YELLOW" Successful || fail "the AnalysisRun of $YELLOW is not Successful: $(an_runs "$YELLOW")"
run kubectl get analysisruns -n $NS

say "Update to a bad version (bad-red: half its requests fail): the analysis fails and the rollout aborts on its own"
run kubectl argo rollouts set image analysis-demo analysis-demo=argoproj/rollouts-demo:bad-red -n $NS
wait_for "the bad version's hash" 30 an_hash_other_than "$YELLOW"
RED=$(an_field '{.status.currentPodHash}')
wait_for "the AnalysisRun to start" 60 an_has_runs "$RED"
run kubectl argo rollouts get rollout analysis-demo -n $NS --no-color
wait_for "analysis-demo to abort" 120 phase_is analysis-demo Degraded
wait_for "the canary pods to go" 60 an_ready_is "$RED" 0
run kubectl argo rollouts get rollout analysis-demo -n $NS --no-color
an_run_phase_is "$RED" Failed || fail "the AnalysisRun of $RED did not fail: $(an_runs "$RED")"
MSG=$(an_field '{.status.message}')
case "$MSG" in
  *'RolloutAborted:'*'Metric "success-rate" assessed Failed'*) ;;
  *) fail "unexpected message: $MSG" ;;
esac
[ "$(an_field '{.status.stableRS}')" = "$YELLOW" ] || fail "the stable version changed on the abort"
say "The stable version still serves: the stable Service selects it and all 4 of its pods are Ready"
run kubectl get svc analysis-demo-stable analysis-demo-canary -n $NS -o custom-columns='SERVICE:.metadata.name,SELECTS:.spec.selector.rollouts-pod-template-hash'
[ "$(selector analysis-demo-stable)" = "$YELLOW" ] || fail "the stable Service does not select $YELLOW"
[ "$(ready_pods "$YELLOW")" = 4 ] || fail "the stable version has $(ready_pods "$YELLOW") Ready pods, want 4"
run kubectl get analysisruns -n $NS
