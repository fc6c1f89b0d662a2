# Sourced by hack/demo.sh: the canary walkthrough of test/fixtures/seed-canary-*.yaml.
# shellcheck shell=bash
ro_field() { kubectl get rollout rollouts-demo -n $NS -o jsonpath="$1"; }
# counts of zero are left out of the status: read them as 0
ro_count() { local v; v=$(ro_field "{.status.$1}"); echo "${v:-0}"; }
rs_count() { kubectl get rs -n $NS -l app=rollouts-demo --no-headers | wc -l; }

say "Canary walkthrough (test/fixtures/seed-canary-rollout.yaml and seed-canary-service.yaml)"
run kubectl apply -n $NS -f test/fixtures/seed-canary-rollout.yaml
run kubectl apply -n $NS -f test/fixtures/seed-canary-service.yaml
wait_for "rollouts-demo to be Healthy" 60 phase_is rollouts-demo Healthy
run kubectl argo rollouts get rollout rollouts-demo -n $NS --no-color
kubectl get rs rollouts-demo-5cd66ff7ff -n $NS >/dev/null || fail "expected ReplicaSet rollouts-demo-5cd66ff7ff"

say "Update the image: 20% of the pods (1 of 5) move to the new version, then the rollout pauses"
run kubectl argo rollouts set image rollouts-demo rollouts-demo=argoproj/rollouts-demo:yellow -n $NS
paused_at_step() { [ "$(phase rollouts-demo)/$(ro_field '{.status.currentStepIndex}')" = "Paused/$1" ]; }
wait_for "rollouts-demo to pause at step 1" 60 paused_at_step 1
run kubectl argo rollouts get rollout rollouts-demo -n $NS --no-color
[ "$(ro_count updatedReplicas)" = 1 ] || fail "expected 1 updated pod of 5"

say "Promote: 40%, 60% and 80% follow, each after a 10 s pause, then the new version is stable"
run kubectl argo rollouts promote rollouts-demo -n $NS
wait_for "rollouts-demo to be Healthy" 90 phase_is rollouts-demo Healthy
run kubectl argo rollouts get rollout rollouts-demo -n $NS --no-color
YELLOW=$(ro_field '{.status.stableRS}')

say "Update to a version we then abort: the stable version keeps serving"
run kubectl argo rollouts set image rollouts-demo rollouts-demo=argoproj/rollouts-demo:red -n $NS
wait_for "rollouts-demo to pause" 60 phase_is rollouts-demo Paused
run kubectl argo rollouts abort rollouts-demo -n $NS
wait_for "rollouts-demo to be Degraded" 60 phase_is rollouts-demo Degraded
stable_only() { [ "$(ro_count availableReplicas)/$(ro_count updatedReplicas)" = 5/0 ]; }
wait_for "the canary to scale to zero" 60 stable_only
run kubectl argo rollouts get rollout rollouts-demo -n $NS --no-color
[ "$(ro_field '{.status.stableRS}')" = "$YELLOW" ] || fail "stable changed on abort"

say "Set the image back to the stable version: Healthy at once, no new ReplicaSet"
BEFORE=$(rs_count)
run kubectl argo rollouts set image rollouts-demo rollouts-demo=argoproj/rollouts-demo:yellow -n $NS
wait_for "rollouts-demo to be Healthy" 60 phase_is rollouts-demo Healthy
run kubectl argo rollouts get rollout rollouts-demo -n $NS --no-color
[ "$(rs_count)" = "$BEFORE" ] || fail "a new ReplicaSet was created"
