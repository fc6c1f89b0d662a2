package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// restartAt: a 3-replica canary with a PodDisruptionBudget that allows one disruption
// gets every pod replaced through evictions, never with more than one pod unavailable,
// and status.restartedAt records the restart. maxUnavailable 2 lets Tern evict two pods
// at once, so it is the budget (a 429 from the Eviction API) that holds the second back.
func TestCanaryRestartAt(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-restart")
	r := fixture.Given(t, ns, "rst", framework.CanaryManifest("rst", "nginx:1", 3, "maxUnavailable: 2\nsteps:\n- setWeight: 50\n- pause: {}")+`---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: rst}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: rst}
`)
	r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	framework.Eventually(t, timeout, func() (bool, string) {
		n := len(r.Pods())
		return n == 3 && r.ReadyPods(r.Get().Status.CurrentPodHash) == 3, fmt.Sprintf("%d pods", n)
	})
	old := map[types.UID]bool{}
	for _, p := range r.Pods() {
		old[p.UID] = true
	}
	// Pod creation times have a resolution of one second: a restartAt in the next second
	// is after every pod that exists now.
	at := time.Now().Add(time.Second).UTC().Truncate(time.Second)
	stop := r.WatchReady()
	r.PatchSpec(types.MergePatchType, fmt.Sprintf(`{"spec":{"restartAt":%q}}`, at.Format(time.RFC3339)))
	ro := r.Until("restarted", 90*time.Second, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.RestartedAt != nil && ro.Status.RestartedAt.Time.Equal(at) && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy
	})
	framework.Eventually(t, timeout, func() (bool, string) {
		pods := r.Pods()
		ready, stale := 0, 0
		for i := range pods {
			if old[pods[i].UID] {
				stale++
			}
			if fixture.PodIsReady(&pods[i]) {
				ready++
			}
		}
		return stale == 0 && ready == 3, fmt.Sprintf("%d pods, %d ready, %d not restarted", len(pods), ready, stale)
	})
	if lowest := stop(); lowest < 2 {
		t.Fatalf("only %d pods were ready at one point: more than one unavailable", lowest)
	}
	if got := r.ReplicaSets(); len(got) != 1 || got["rst-"+ro.Status.StableRS] != 3 {
		t.Fatalf("a restart must not change the ReplicaSets: %v", got)
	}
}

// canaryMetadata/stableMetadata reach the live pods: stable labels on the initial
// deploy, canary labels on the new version during the update, stable labels once it is
// promoted, and the canary-only label taken away.
func TestCanaryEphemeralMetadataOnPods(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-meta")
	r := fixture.Given(t, ns, "meta", framework.CanaryManifest("meta", "nginx:1", 4, `canaryMetadata:
  labels: {role: canary, canary-only: "yes"}
  annotations: {note: canary}
stableMetadata:
  labels: {role: stable}
steps:
- setWeight: 50
- pause: {}`))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.PodLabels(stable, 4, map[string]string{"role": "stable"}, timeout)

	r.SetImage("nginx:2")
	canary := r.Phase(v1alpha1.RolloutPhasePaused, timeout).Status.CurrentPodHash
	r.PodLabels(canary, 2, map[string]string{"role": "canary", "canary-only": "yes"}, timeout)
	r.PodLabels(stable, 2, map[string]string{"role": "stable"}, timeout)
	for _, p := range r.Pods() {
		if p.Labels[v1alpha1.DefaultRolloutUniqueLabelKey] == canary && p.Annotations["note"] != "canary" {
			t.Fatalf("canary pod %s annotations %v", p.Name, p.Annotations)
		}
	}

	r.Promote()
	r.Until("promoted", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == canary
	})
	r.PodLabels(canary, 4, map[string]string{"role": "stable", "canary-only": ""}, timeout)
	for _, p := range r.Pods() {
		if _, ok := p.Annotations["note"]; ok {
			t.Fatalf("pod %s kept the canary annotation: %v", p.Name, p.Annotations)
		}
		if p.Labels["app"] != "meta" {
			t.Fatalf("pod %s lost a label of its template: %v", p.Name, p.Labels)
		}
	}
}

// workloadRef to a Deployment with scaleDown onsuccess: the rollout runs the
// Deployment's template, the Deployment goes to zero once the rollout is Healthy, and a
// change of the Deployment's template is a canary update.
func TestWorkloadRefDeployment(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "workload-ref")
	r := fixture.Given(t, ns, "wr", `apiVersion: apps/v1
kind: Deployment
metadata: {name: wr}
spec:
  replicas: 3
  selector:
    matchLabels: {app: wr}
  template:
    metadata:
      labels: {app: wr}
    spec:
      containers:
      - name: app
        image: nginx:1
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: wr}
spec:
  replicas: 3
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: wr, scaleDown: onsuccess}
  strategy:
    canary:
      steps:
      - setWeight: 34
      - pause: {}
`)
	ro := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if ro.Status.Selector != "app=wr" {
		t.Fatalf("status.selector %q, want the Deployment's", ro.Status.Selector)
	}
	first := ro.Status.CurrentPodHash
	framework.Eventually(t, timeout, func() (bool, string) {
		d := r.Deployment("wr")
		return *d.Spec.Replicas == 0 && r.ReadyPods(first) == 3, fmt.Sprintf("deployment at %d, %d rollout pods ready", *d.Spec.Replicas, r.ReadyPods(first))
	})
	// Scaling the Deployment down bumped its generation (to 2): the rollout follows it
	// without a new version, since the template did not change.
	r.Until("workload generation recorded", timeout, func(ro *v1alpha1.Rollout) bool {
		gen := fmt.Sprint(r.Deployment("wr").Generation)
		return ro.Annotations[v1alpha1.WorkloadGenerationAnnotation] == gen && ro.Status.WorkloadObservedGeneration == gen &&
			ro.Status.CurrentPodHash == first && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy
	})

	framework.Kubectl(t, "-n", ns, "set", "image", "deployment/wr", "app=nginx:2")
	ro = r.Until("paused on the Deployment's new template", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && ro.Status.CurrentPodHash != first &&
			ro.Status.WorkloadObservedGeneration == fmt.Sprint(r.Deployment("wr").Generation)
	})
	second := ro.Status.CurrentPodHash
	if got := r.ReplicaSets(); got["wr-"+first] != 2 || got["wr-"+second] != 1 {
		t.Fatalf("replicasets at 34%%: %v", got)
	}
	r.Promote()
	r.Until("promoted", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == second
	})
	if d := r.Deployment("wr"); *d.Spec.Replicas != 0 {
		t.Fatalf("deployment scaled back to %d", *d.Spec.Replicas)
	}
}

// A workloadRef to an object that does not exist yet is InvalidSpec with a message
// naming it; creating the object lets the rollout go ahead.
func TestWorkloadRefMissingPodTemplate(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "workload-missing")
	r := fixture.Given(t, ns, "wm", `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: wm}
spec:
  replicas: 2
  selector:
    matchLabels: {app: wm}
  workloadRef: {apiVersion: v1, kind: PodTemplate, name: wm-template}
  strategy:
    canary: {}
`)
	ro := r.Phase(v1alpha1.RolloutPhaseDegraded, timeout)
	if !strings.Contains(ro.Status.Message, `podtemplates "wm-template" not found`) {
		t.Fatalf("message %q", ro.Status.Message)
	}
	framework.Apply(t, ns, []byte(`apiVersion: v1
kind: PodTemplate
metadata: {name: wm-template}
template:
  metadata:
    labels: {app: wm}
  spec:
    containers:
    - name: app
      image: nginx:1
`))
	ro = r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	if r.ReadyPods(ro.Status.CurrentPodHash) != 2 {
		t.Fatal("rollout pods not ready")
	}
}

// The scale subresource (what `kubectl scale` and an HPA use): scaling a canary paused
// at 20% of 5 to 10 keeps the weight (2 canary, 8 stable) and never grows the stable
// side beyond its share; /scale reports the selector and the replicas.
func TestCanaryScaleSubresource(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-scale")
	r := fixture.Given(t, ns, "hpa", framework.CanaryManifest("hpa", "nginx:1", 5, "steps:\n- setWeight: 20\n- pause: {}"))
	stable := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout).Status.CurrentPodHash
	r.SetImage("nginx:2")
	canary := r.PausedAt(1, timeout).Status.CurrentPodHash
	if got := r.ReplicaSets(); got["hpa-"+stable] != 4 || got["hpa-"+canary] != 1 {
		t.Fatalf("replicasets at 20%%: %v", got)
	}

	framework.Kubectl(t, "-n", ns, "scale", "rollout/hpa", "--replicas=10")
	framework.Eventually(t, timeout, func() (bool, string) {
		got := r.ReplicaSets()
		if got["hpa-"+stable] > 8 {
			t.Fatalf("stable side inflated: %v", got)
		}
		return got["hpa-"+stable] == 8 && got["hpa-"+canary] == 2 && r.ReadyPods(stable)+r.ReadyPods(canary) == 10, fmt.Sprint(got)
	})
	ro := r.Until("counts reported", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.HPAReplicas == 10 && ro.Status.Replicas == 10
	})
	if ro.Status.Phase != v1alpha1.RolloutPhasePaused || fixture.StepIndex(ro) != 1 {
		t.Fatalf("the scaling moved the rollout: phase %s step %d", ro.Status.Phase, fixture.StepIndex(ro))
	}

	var scale struct {
		Spec   struct{ Replicas int32 }
		Status struct {
			Replicas int32
			Selector string
		}
	}
	raw := framework.Kubectl(t, "get", "--raw", "/apis/argoproj.io/v1alpha1/namespaces/"+ns+"/rollouts/hpa/scale")
	if err := json.Unmarshal([]byte(raw), &scale); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	if scale.Spec.Replicas != 10 || scale.Status.Replicas != 10 || scale.Status.Selector != "app=hpa" {
		t.Fatalf("scale subresource %s", raw)
	}

	r.Promote()
	r.Until("promoted at 10", timeout, func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == canary && ro.Status.AvailableReplicas == 10
	})
}

// A ReplicaSet without a controller whose labels the Rollout's selector matches (left by a
// deleted Deployment, say) is adopted: the Rollout becomes its controller and scales it
// away once its own version is up. A ReplicaSet with another controller is left alone.
func TestCanaryAdoptsOrphanReplicaSet(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "canary-adopt")
	// the controller of the one that is not an orphan: any object, so long as it exists
	other := framework.Apply(t, ns, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"))[0]
	orphan := func(name string, owned bool) string {
		meta := ""
		if owned {
			meta = fmt.Sprintf("\n  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: other, uid: %s, controller: true}]", other.GetUID())
		}
		return fmt.Sprintf(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: %s
  labels: {app: adopt}%s
spec:
  replicas: 1
  selector:
    matchLabels: {app: adopt, legacy: %q}
  template:
    metadata:
      labels: {app: adopt, legacy: %q}
    spec:
      containers:
      - name: app
        image: nginx:0
`, name, meta, name, name)
	}
	framework.Apply(t, ns, []byte(orphan("legacy", false)+"---\n"+orphan("theirs", true)))
	c := fixture.Client(t)
	framework.Eventually(t, timeout, func() (bool, string) {
		rs := &appsv1.ReplicaSet{}
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "legacy"}, rs); err != nil {
			return false, err.Error()
		}
		return rs.Status.AvailableReplicas == 1, "legacy not available yet"
	})

	r := fixture.Given(t, ns, "adopt", framework.CanaryManifest("adopt", "nginx:1", 2, "steps:\n- setWeight: 50\n- pause: {}"))
	ro := r.Phase(v1alpha1.RolloutPhaseHealthy, timeout)
	r.Until("the orphan adopted and scaled away", timeout, func(*v1alpha1.Rollout) bool {
		rs := &appsv1.ReplicaSet{}
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "legacy"}, rs); err != nil {
			t.Fatal(err)
		}
		return ownedBy(rs.OwnerReferences, "adopt") && rs.Spec.Replicas != nil && *rs.Spec.Replicas == 0
	})
	if r.ReadyPods(ro.Status.CurrentPodHash) != 2 {
		t.Fatal("the rollout's own pods are not ready")
	}
	theirs := &appsv1.ReplicaSet{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "theirs"}, theirs); err != nil {
		t.Fatal(err)
	}
	if ownedBy(theirs.OwnerReferences, "adopt") || *theirs.Spec.Replicas != 1 {
		t.Fatalf("a ReplicaSet with another controller was taken: owners %v, replicas %d", theirs.OwnerReferences, *theirs.Spec.Replicas)
	}
}
